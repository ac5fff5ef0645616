import {
  type BackendCandidate,
  type BackendDescription,
  type BackendLogger,
  selectBackend,
} from '@robust-ft/core';
import { invalidArgument } from '@robust-ft/core/internal';
import * as tf from '@tensorflow/tfjs-core';
import { candidateOptions, checkWebOptions } from './option-schemas';
import { parseBackendName, WEB_BACKENDS, type WebBackendName } from './select-backend';
import { type WebCandidateOptions, webCandidates } from './web-candidates';

/** Options of the browser's `useBestBackend` (with those of `webCandidates`). */
export interface UseBestBackendOptions extends WebCandidateOptions {
  /** Candidates to try, in order. Default: all of `WEB_BACKENDS` (webgpu, webgl, wasm, cpu). */
  candidates?: readonly WebBackendName[];
  /**
   * Force one backend (`'auto'` or empty: choose). A forced backend that cannot start throws
   * `BACKEND_UNAVAILABLE` instead of falling back, so a misconfigured page fails loudly. Default: the
   * page's `?backend=` query parameter (see `queryParam`).
   */
  force?: string;
  /**
   * The query parameter read when `force` is not given: the browser's counterpart of Node's
   * `ROBUST_FT_BACKEND`. Default `'backend'`; `null` ignores the URL.
   */
  queryParam?: string | null;
  /** Where the one-line choice is reported; `null` silences it. Default: `console`. */
  logger?: BackendLogger | null;
}

function queryValue(param: string): string | null {
  const search = (globalThis as { location?: { search?: string } }).location?.search;
  return search === undefined ? null : new URLSearchParams(search).get(param);
}

/** Resolves the forced backend and where it came from; exported for tests. */
export function resolveForcedBackend(
  options: Pick<UseBestBackendOptions, 'force' | 'queryParam'>,
  readQuery: (param: string) => string | null = queryValue,
): { forced: WebBackendName | undefined; forcedBy: string } {
  if (options.force !== undefined) {
    return { forced: parseBackendName(options.force, 'options.force'), forcedBy: 'options.force' };
  }
  const param = options.queryParam === undefined ? 'backend' : options.queryParam;
  if (param === null) return { forced: undefined, forcedBy: 'options.force' };
  if (typeof param !== 'string' || param === '') {
    throw invalidArgument('options.queryParam', 'a non-empty string or null', param);
  }
  const by = `?${param}=`;
  return { forced: parseBackendName(readQuery(param) ?? undefined, by), forcedBy: by };
}

/** Orders and filters candidates by `options.candidates`, validating every name. */
export function orderCandidates(
  all: readonly BackendCandidate<WebBackendName>[],
  names: readonly WebBackendName[] | undefined,
): BackendCandidate<WebBackendName>[] {
  if (names === undefined) return [...all];
  if (!Array.isArray(names) || names.length === 0) {
    throw invalidArgument('options.candidates', `a non-empty list of ${WEB_BACKENDS.join(', ')}`, names);
  }
  return names.map((n, i) => {
    const found = all.find((c) => c.name === n);
    if (found === undefined) {
      throw invalidArgument(`options.candidates[${i}]`, `one of ${WEB_BACKENDS.join(', ')}`, n);
    }
    return found;
  });
}

/**
 * Picks and activates the best backend this browser offers: WebGPU, then WebGL, then wasm, then cpu.
 * Each is loaded only when tried, initialised and smoke-tested before it is accepted; software GPUs
 * are skipped unless `allowSoftwareGpu` is set or the backend is forced. Logs one line with the
 * choice and the reason for every skip, and returns the same.
 */
export async function useBestBackend(
  options: UseBestBackendOptions = {},
): Promise<BackendDescription<WebBackendName>> {
  checkWebOptions('useBestBackend', options);
  const { forced, forcedBy } = resolveForcedBackend(options);
  const candidates = orderCandidates(webCandidates(candidateOptions(options)), options.candidates);
  const choice = await selectBackend(candidates, {
    forced,
    forcedBy,
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
  const gradients = tf.getGradient(tf.Conv2D) !== undefined;
  const warnings: string[] = [];
  if (!gradients) {
    warnings.push(
      "robust-ft: no tfjs gradients are registered; import '@tensorflow/tfjs' (or tfjs-core's register_all_gradients) to train",
    );
  }
  // tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter (and a MaxPoolGrad that drops the gradient of
  // all-negative windows): say so rather than let a CNN fail mid-training or train on a wrong gradient.
  if (choice.name === 'wasm' && tf.getKernel('Conv2DBackpropFilter', 'wasm') === undefined) {
    warnings.push(
      'robust-ft: the wasm backend has no training kernels (CNN gradients are missing or wrong); leave options.patch on or register them in options.prepare (see the README)',
    );
  }
  if (options.logger !== null) {
    const logger = options.logger ?? console;
    for (const w of warnings) (logger.warn ?? logger.info).call(logger, w);
  }
  return { ...choice, tfBackend: tf.getBackend(), forced: forced !== undefined, gradients };
}
