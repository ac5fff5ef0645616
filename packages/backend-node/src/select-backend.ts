import {
  type BackendCandidate,
  type BackendDescription,
  type BackendLogger,
  selectBackend,
} from '@robust-ft/core';
import { invalidArgument } from '@robust-ft/core/internal';
import * as tf from '@tensorflow/tfjs-core';
import { type NodeGpuAdapter, probeNodeWebGpu } from './node-webgpu';
import { checkNodeCandidateOptions, checkUseBestBackendOptions } from './option-schemas';
import { patchCpuBackend, patchWasmBackend } from './patch-backends';
import { wasmThreadCount, wasmThreadsInUse, withWasmThreads } from './wasm-threads';

/** The Node backends robust-ft knows, best first. `webgpu` is tfjs-backend-webgpu on Dawn. */
export const NODE_BACKENDS = ['tfjs-node-gpu', 'tfjs-node', 'webgpu', 'wasm', 'cpu'] as const;
/** A Node backend robust-ft knows (one of `NODE_BACKENDS`). */
export type NodeBackendName = (typeof NODE_BACKENDS)[number];

/** Accepted spellings of `ROBUST_FT_BACKEND` beyond the canonical names. */
const ALIASES: Record<string, NodeBackendName> = {
  'node-gpu': 'tfjs-node-gpu',
  gpu: 'tfjs-node-gpu',
  node: 'tfjs-node',
  tensorflow: 'tfjs-node',
  dawn: 'webgpu',
};

/** Options of Node's `useBestBackend`. */
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
  /**
   * Let the `webgpu` candidate use a software adapter (SwiftShader) when no GPU is present: correct,
   * but slower than wasm, so for tests only. Default: `env.ROBUST_FT_ALLOW_SOFTWARE_GPU === '1'`.
   */
  allowSoftwareGpu?: boolean;
  /** Module loader for the optional peers (tests inject failures here). Default: dynamic `import()`. */
  importModule?: (specifier: string) => Promise<unknown>;
  /**
   * Threads for the wasm backend (its threaded SIMD build, on worker threads), fixed when wasm first
   * starts in the process. Default: `env.ROBUST_FT_WASM_THREADS`, else half the logical cores, 1–8.
   */
  threads?: number;
}

/**
 * Options of `nodeCandidates`: how each Node backend is loaded and prepared (those of `useBestBackend`
 * less the selection's own: order, forcing and logging are `selectBackend`'s).
 */
export type NodeCandidateOptions = Pick<
  UseBestBackendOptions,
  'env' | 'patch' | 'allowSoftwareGpu' | 'importModule' | 'threads'
>;

/** Node's description: the shared one, plus the threads it computes with and the GPU adapter. */
export interface NodeBackendDescription extends BackendDescription<NodeBackendName> {
  /** wasm: the XNNPACK thread pool's size (see `threads`); 1 for the other backends. */
  threads: number;
  /** webgpu: the Dawn adapter in use. */
  adapter?: NodeGpuAdapter;
}

/**
 * WebGPU through Dawn (the optional `webgpu` peer, with the optional tfjs-backend-webgpu): `check`
 * finds an adapter — a hardware one, or a software one only when allowed — and installs it.
 */
function webgpuCandidate(
  options: NodeCandidateOptions,
  env: Record<string, string | undefined>,
  load: (s: string) => Promise<unknown>,
  found: { adapter?: NodeGpuAdapter },
): BackendCandidate<NodeBackendName> {
  return {
    name: 'webgpu',
    async check() {
      const allowSoftwareGpu = options.allowSoftwareGpu ?? env.ROBUST_FT_ALLOW_SOFTWARE_GPU === '1';
      const probe = await probeNodeWebGpu(() => load('webgpu'), { allowSoftwareGpu });
      if (probe.adapter === null) return describeError(new Error(probe.reason));
      try {
        await load('@tensorflow/tfjs-backend-webgpu');
      } catch (error) {
        return `@tensorflow/tfjs-backend-webgpu: ${describeError(error)}`;
      }
      found.adapter = probe.adapter;
      return null;
    },
    async activate() {
      if (tf.findBackendFactory('webgpu') === null) throw new Error("backend 'webgpu' was not registered");
      const ok = await tf.setBackend('webgpu');
      if (!ok || tf.getBackend() !== 'webgpu')
        throw new Error("tf.setBackend('webgpu') failed to initialise");
      return [];
    },
  };
}

const defaultImport = (specifier: string): Promise<unknown> => import(/* @vite-ignore */ specifier);

/**
 * Node's candidates for the shared selector: `check` imports an optional peer (absent or broken is a
 * reason, not a crash); `activate` patches wasm/cpu with the training kernels and sets the backend.
 */
function nodeCandidate(
  name: NodeBackendName,
  options: NodeCandidateOptions,
  load: (s: string) => Promise<unknown>,
): BackendCandidate<NodeBackendName> {
  const patch = options.patch ?? true;
  const optionalPeer = name === 'tfjs-node-gpu' || name === 'tfjs-node';
  return {
    name,
    async check() {
      if (!optionalPeer) return null;
      try {
        await load(`@tensorflow/${name}`);
        return null;
      } catch (error) {
        return describeError(error);
      }
    },
    async activate() {
      let patched: string[] = [];
      let tfName: string;
      if (optionalPeer) {
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
      const set = () => tf.setBackend(tfName);
      const ok = await (name === 'wasm'
        ? withWasmThreads(wasmThreadCount(options.threads, options.env ?? process.env), set)
        : set());
      if (!ok || tf.getBackend() !== tfName)
        throw new Error(`tf.setBackend('${tfName}') failed to initialise`);
      return patched;
    },
  };
}

/** The candidates of `names` (`webgpu` records its Dawn adapter in `found` when its check passes). */
function candidatesOf(
  names: readonly NodeBackendName[],
  options: NodeCandidateOptions,
  found: { adapter?: NodeGpuAdapter },
): BackendCandidate<NodeBackendName>[] {
  const env = options.env ?? process.env;
  const load = options.importModule ?? defaultImport;
  return names.map((n) =>
    n === 'webgpu' ? webgpuCandidate(options, env, load, found) : nodeCandidate(n, options, load),
  );
}

/**
 * Node's backends as candidates for core's `selectBackend`, best first (`NODE_BACKENDS`): the Node
 * counterpart of backend-web's `webCandidates`, the same ones `useBestBackend` selects from, for a
 * caller that orders, filters or logs the selection itself. Each optional peer is imported only when
 * its candidate is checked; wasm and cpu get the training kernels on activation unless `patch` is false.
 */
export function nodeCandidates(options: NodeCandidateOptions = {}): BackendCandidate<NodeBackendName>[] {
  checkNodeCandidateOptions(options);
  // A bad thread count is the caller's error, not a reason to fall through to cpu.
  wasmThreadCount(options.threads, options.env ?? process.env);
  return candidatesOf(NODE_BACKENDS, options, {});
}

function describeError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  if (
    code === 'ERR_MODULE_NOT_FOUND' ||
    code === 'MODULE_NOT_FOUND' ||
    /Cannot find (module|package)|Could not resolve/.test(message)
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

function normalise(raw: string): NodeBackendName {
  const v = raw.trim().toLowerCase();
  if ((NODE_BACKENDS as readonly string[]).includes(v)) return v as NodeBackendName;
  const alias = ALIASES[v];
  if (alias) return alias;
  throw invalidArgument('ROBUST_FT_BACKEND', `one of ${NODE_BACKENDS.join(', ')}`, raw);
}

/**
 * Picks the best Node backend that starts: tfjs-node-gpu, tfjs-node (optional peers; absent or broken
 * is a normal fall-through), then WebGPU through Dawn when a hardware adapter is present (a software
 * one only with `allowSoftwareGpu`), then wasm with robust-ft's training kernels, then cpu with its fast
 * filter gradient. `ROBUST_FT_BACKEND` (or `options.force`) forces one and throws
 * `BACKEND_UNAVAILABLE` if it cannot start. Logs the choice and the reasons once.
 */
export async function useBestBackend(options: UseBestBackendOptions = {}): Promise<NodeBackendDescription> {
  checkUseBestBackendOptions(options);
  const env = options.env ?? process.env;
  const load = options.importModule ?? defaultImport;
  const logger = options.logger === undefined ? console : options.logger;
  if (options.prod ?? true) tf.env().set('PROD', true);
  const forcedRaw = options.force ?? env.ROBUST_FT_BACKEND;
  const forced = forcedRaw !== undefined && forcedRaw.trim() !== '' ? normalise(forcedRaw) : undefined;
  const names: readonly NodeBackendName[] = forced ? [forced] : (options.candidates ?? NODE_BACKENDS);
  if (names.length === 0)
    throw invalidArgument('options.candidates', 'a non-empty list of backend names', []);
  for (const name of names)
    if (!(NODE_BACKENDS as readonly string[]).includes(name))
      throw invalidArgument('options.candidates', `names from ${NODE_BACKENDS.join(', ')}`, name);
  // A bad thread count is the caller's error, not a reason to fall through to cpu.
  if (names.includes('wasm')) wasmThreadCount(options.threads, env);
  const found: { adapter?: NodeGpuAdapter } = {};
  const choice = await selectBackend(candidatesOf(names, options, found), {
    forced,
    forcedBy: options.force === undefined ? 'ROBUST_FT_BACKEND' : 'options.force',
    logger,
  });
  const gradients = await ensureGradients(load);
  if (!gradients && logger)
    (logger.warn ?? logger.info).call(
      logger,
      "robust-ft: no tfjs gradients are registered; import '@tensorflow/tfjs' (or tfjs-core's register_all_gradients) to train",
    );
  const threads = choice.name === 'wasm' ? await wasmThreadsInUse() : 1;
  const description: NodeBackendDescription = {
    ...choice,
    tfBackend: tf.getBackend(),
    forced: forced !== undefined,
    gradients,
    threads,
  };
  if (choice.name === 'webgpu' && found.adapter) description.adapter = found.adapter;
  return description;
}
