import { invalidArgument, RobustFtError } from '@robust-ft/core';
import * as tf from '@tensorflow/tfjs-core';
import { checkUseBestBackendOptions } from './option-schemas';
import { patchCpuBackend, patchWasmBackend } from './patch-backends';

/** The Node backends robust-ft knows, best first. */
export const NODE_BACKENDS = ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'] as const;
export type NodeBackendName = (typeof NODE_BACKENDS)[number];

/** Accepted spellings of `ROBUST_FT_BACKEND` beyond the canonical names. */
const ALIASES: Record<string, NodeBackendName> = {
  'node-gpu': 'tfjs-node-gpu',
  gpu: 'tfjs-node-gpu',
  node: 'tfjs-node',
  tensorflow: 'tfjs-node',
};

export interface BackendLogger {
  info(message: string): void;
  warn?(message: string): void;
}

export interface UseBestBackendOptions {
  /** Candidates to try, in order. Default: all of `NODE_BACKENDS`. */
  candidates?: readonly NodeBackendName[];
  /** Force one backend (fails loudly if it cannot start). Default: `env.ROBUST_FT_BACKEND`. */
  force?: string;
  /** Environment to read `ROBUST_FT_BACKEND` from. Default: `process.env`. */
  env?: Record<string, string | undefined>;
  /** Where the one-line choice is reported; `null` silences it. Default: `console`. */
  logger?: BackendLogger | null;
  /** Set tfjs's PROD flag, which silences the "looks like you are running in Node" banner. Default true. */
  prod?: boolean;
  /** Register robust-ft's training kernels on wasm and cpu. Default true. */
  patch?: boolean;
  /** Module loader for the optional peers (tests inject failures here). Default: dynamic `import()`. */
  importModule?: (specifier: string) => Promise<unknown>;
}

export interface BackendDescription {
  /** The robust-ft candidate that was chosen. */
  name: NodeBackendName;
  /** `tf.getBackend()` after selection ('tensorflow' for tfjs-node(-gpu)). */
  tfBackend: string;
  /** True when chosen through `force`/`ROBUST_FT_BACKEND`. */
  forced: boolean;
  /** Why each better candidate was skipped. */
  reasons: Partial<Record<NodeBackendName, string>>;
  /** Kernels robust-ft added or replaced on the chosen backend. */
  patchedKernels: string[];
  /** Whether tfjs gradients are registered (tfjs-core alone registers none). */
  gradients: boolean;
}

const defaultImport = (specifier: string): Promise<unknown> => import(/* @vite-ignore */ specifier);

async function start(
  name: NodeBackendName,
  options: UseBestBackendOptions,
  load: (s: string) => Promise<unknown>,
): Promise<string[]> {
  const patch = options.patch ?? true;
  let patched: string[] = [];
  let tfName: string;
  if (name === 'tfjs-node-gpu' || name === 'tfjs-node') {
    await load(`@tensorflow/${name}`);
    tfName = 'tensorflow';
  } else if (name === 'wasm') {
    if (patch) patched = await patchWasmBackend();
    else await import('@tensorflow/tfjs-backend-wasm');
    tfName = 'wasm';
  } else {
    if (patch) patched = await patchCpuBackend();
    else await import('@tensorflow/tfjs-backend-cpu');
    tfName = 'cpu';
  }
  if (tf.findBackendFactory(tfName) === null) throw new Error(`backend '${tfName}' was not registered`);
  const ok = await tf.setBackend(tfName);
  if (!ok || tf.getBackend() !== tfName) throw new Error(`tf.setBackend('${tfName}') failed to initialise`);
  return patched;
}

function describeError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  if (
    code === 'ERR_MODULE_NOT_FOUND' ||
    code === 'MODULE_NOT_FOUND' ||
    /Cannot find (module|package)/.test(message)
  )
    return 'not installed';
  return message.split('\n')[0] ?? message;
}

async function ensureGradients(load: (s: string) => Promise<unknown>): Promise<boolean> {
  if (tf.getGradient(tf.Conv2D) !== undefined) return true;
  // Bundlers and vitest resolve tfjs-core's ESM registration file; plain Node cannot (its imports
  // have no extensions), so the union package, which bundles the gradients, is the second try.
  for (const specifier of ['@tensorflow/tfjs-core/dist/register_all_gradients.js', '@tensorflow/tfjs']) {
    try {
      await load(specifier);
    } catch {
      // try the next one
    }
    if (tf.getGradient(tf.Conv2D) !== undefined) return true;
  }
  return false;
}

let lastLogged: string | undefined;

function normalise(raw: string): NodeBackendName {
  const v = raw.trim().toLowerCase();
  if ((NODE_BACKENDS as readonly string[]).includes(v)) return v as NodeBackendName;
  const alias = ALIASES[v];
  if (alias) return alias;
  throw invalidArgument('ROBUST_FT_BACKEND', `one of ${NODE_BACKENDS.join(', ')}`, raw);
}

/**
 * Picks the best Node backend that starts: tfjs-node-gpu, tfjs-node (optional peers; absent or broken
 * is a normal fall-through), then wasm with robust-ft's training kernels, then cpu with its fast
 * filter gradient. `ROBUST_FT_BACKEND` (or `options.force`) forces one and throws
 * `BACKEND_UNAVAILABLE` if it cannot start. Logs the choice and the reasons once.
 */
export async function useBestBackend(options: UseBestBackendOptions = {}): Promise<BackendDescription> {
  checkUseBestBackendOptions(options);
  const env = options.env ?? process.env;
  const load = options.importModule ?? defaultImport;
  const logger = options.logger === undefined ? console : options.logger;
  if (options.prod ?? true) tf.env().set('PROD', true);
  const forcedRaw = options.force ?? env.ROBUST_FT_BACKEND;
  const forced = forcedRaw !== undefined && forcedRaw.trim() !== '';
  const candidates: readonly NodeBackendName[] = forced
    ? [normalise(forcedRaw)]
    : (options.candidates ?? NODE_BACKENDS);
  if (candidates.length === 0)
    throw invalidArgument('options.candidates', 'a non-empty list of backend names', []);
  const reasons: Partial<Record<NodeBackendName, string>> = {};
  for (const name of candidates) {
    if (!(NODE_BACKENDS as readonly string[]).includes(name))
      throw invalidArgument('options.candidates', `names from ${NODE_BACKENDS.join(', ')}`, name);
    let patched: string[];
    try {
      patched = await start(name, options, load);
    } catch (cause) {
      reasons[name] = describeError(cause);
      if (forced) {
        throw new RobustFtError(
          'BACKEND_UNAVAILABLE',
          `ROBUST_FT_BACKEND=${forcedRaw} was requested but '${name}' cannot start: ${reasons[name]}`,
          { argument: 'ROBUST_FT_BACKEND', cause },
        );
      }
      continue;
    }
    const gradients = await ensureGradients(load);
    const description: BackendDescription = {
      name,
      tfBackend: tf.getBackend(),
      forced,
      reasons,
      patchedKernels: patched,
      gradients,
    };
    const skipped = Object.entries(reasons).map(([n, r]) => `${n}: ${r}`);
    const line =
      `robust-ft: using backend '${name}'${forced ? ' (forced by ROBUST_FT_BACKEND)' : ''}` +
      (patched.length ? ` with training kernels [${patched.join(', ')}]` : '') +
      (skipped.length ? `; skipped ${skipped.join('; ')}` : '');
    if (logger && line !== lastLogged) {
      lastLogged = line;
      logger.info(line);
      if (!gradients)
        (logger.warn ?? logger.info).call(
          logger,
          "robust-ft: no tfjs gradients are registered; import '@tensorflow/tfjs' (or tfjs-core's register_all_gradients) to train",
        );
    }
    return description;
  }
  throw new RobustFtError(
    'BACKEND_UNAVAILABLE',
    `no Node backend could start (${Object.entries(reasons)
      .map(([n, r]) => `${n}: ${r}`)
      .join('; ')})`,
  );
}
