import { invalidArgument } from '@robust-ft/core';
import {
  type BackendCandidate,
  type BackendChoice,
  type BackendLogger,
  parseBackendName,
  selectBackend,
  WEB_BACKENDS,
  type WebBackendName,
} from './select-backend';
import { type WebCandidateOptions, webCandidates } from './web-candidates';

export interface UseBestBackendOptions extends WebCandidateOptions {
  /**
   * Force one backend (`'auto'` or absent: choose). A forced backend that cannot start throws
   * `BACKEND_UNAVAILABLE` rather than falling back, so a misconfigured page fails loudly.
   */
  backend?: WebBackendName | 'auto';
  /**
   * The page query parameter that may force a backend when `backend` is not given, e.g.
   * `?backend=wasm` (the browser's counterpart of `ROBUST_FT_BACKEND`). Default `'backend'`; `false`
   * ignores the URL.
   */
  queryParam?: string | false;
  /** Which backends to consider, in order. Default `['webgpu', 'webgl', 'wasm', 'cpu']`. */
  candidates?: readonly WebBackendName[];
  /** Receives the one line describing the choice. Default `console`; `false` silences it. */
  logger?: BackendLogger | false;
}

function queryValue(param: string): string | null {
  const search = (globalThis as { location?: { search?: string } }).location?.search;
  return search === undefined ? null : new URLSearchParams(search).get(param);
}

/** Resolves the forced backend and where it came from; exported for tests. */
export function resolveForcedBackend(
  options: Pick<UseBestBackendOptions, 'backend' | 'queryParam'>,
  readQuery: (param: string) => string | null = queryValue,
): { forced: WebBackendName | undefined; forcedBy: string } {
  if (options.backend !== undefined) {
    return { forced: parseBackendName(options.backend, 'options.backend'), forcedBy: 'options.backend' };
  }
  const param = options.queryParam ?? 'backend';
  if (param === false) return { forced: undefined, forcedBy: 'options.backend' };
  if (typeof param !== 'string' || param === '') {
    throw invalidArgument('options.queryParam', 'a non-empty string or false', param);
  }
  const by = `the page URL (?${param}=)`;
  return { forced: parseBackendName(readQuery(param) ?? undefined, by), forcedBy: by };
}

/** Orders and filters candidates by `options.candidates`, validating every name. */
export function orderCandidates(
  all: readonly BackendCandidate[],
  names: readonly WebBackendName[] | undefined,
): BackendCandidate[] {
  if (names === undefined) return [...all];
  if (!Array.isArray(names) || names.length === 0) {
    throw invalidArgument('options.candidates', `a non-empty array of ${WEB_BACKENDS.join(', ')}`, names);
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
 * Each is loaded, initialised and smoke-tested before it is accepted; software GPUs are skipped unless
 * `allowSoftwareGpu` is set or the backend is forced. Logs one line with the choice and the reasons for
 * every skip, and returns the same as `{ name, reasons }`.
 */
export async function useBestBackend(options: UseBestBackendOptions = {}): Promise<BackendChoice> {
  const { forced, forcedBy } = resolveForcedBackend(options);
  const candidates = orderCandidates(webCandidates(options), options.candidates);
  return selectBackend(candidates, {
    forced,
    forcedBy,
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
}
