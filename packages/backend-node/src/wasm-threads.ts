import { createRequire } from 'node:module';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { type KernelWorker, resolveWasmThreads, setWasmKernelThreads } from '@robust-ft/core/kernels';
import * as tf from '@tensorflow/tfjs-core';

/**
 * Threads for tfjs-backend-wasm 4.22 in Node. tfjs turns them off there (`WASM_HAS_MULTITHREAD_SUPPORT`
 * is hard-coded false under `IS_NODE`, tfjs issue #3830) because its threaded build cannot start in
 * Node as shipped, for three reasons, each worked around here only while the backend initialises:
 * 1. the pthread worker script is handed to emscripten as a `blob:` URL, which `worker_threads`
 *    rejects (`ERR_WORKER_PATH`): `URL.createObjectURL` returns our `wasm-thread-worker.cjs` instead
 *    for that one Blob (the only 'application/javascript' one tfjs makes);
 * 2. the worker then imports the main script from another Blob, which Node cannot read synchronously:
 *    our worker loads the same glue from `wasm-out/` instead;
 * 3. tfjs's C++ caps the pool at `cores / 2` (it assumes hyper-threading), so a 2-core machine gets
 *    1 thread whatever is asked: `os.cpus()` reports twice the requested count during start-up.
 * The count must be chosen before the wasm backend first starts; a running backend keeps its own.
 */

/** The thread count for wasm: `requested`, else `ROBUST_FT_WASM_THREADS`, else half the cores (1–8). */
export function wasmThreadCount(
  requested?: number,
  env: Record<string, string | undefined> = process.env,
): number {
  if (requested !== undefined) return resolveWasmThreads(requested, 0, 'options.threads');
  return resolveWasmThreads(env.ROBUST_FT_WASM_THREADS, os.availableParallelism(), 'ROBUST_FT_WASM_THREADS');
}

interface WasmModule {
  setThreadsCount(n: number): void;
  getThreadsCount(): number;
}

function workerScript(): string {
  // ESM builds and bundles have import.meta.url; tsup's CJS build has __filename instead.
  const from = typeof __filename === 'string' ? __filename : import.meta.url;
  return createRequire(from).resolve('@robust-ft/backend-node/wasm-thread-worker.cjs');
}

/**
 * Runs `start` (which must initialise the wasm backend, e.g. `tf.setBackend('wasm')`) with `threads`
 * threads configured. One thread uses tfjs's plain SIMD build. Returns what `start` returns.
 */
export async function withWasmThreads<T>(threads: number, start: () => Promise<T>): Promise<T> {
  const wasm = (await import('@tensorflow/tfjs-backend-wasm')) as unknown as WasmModule;
  wasm.setThreadsCount(threads);
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', threads > 1);
  setWasmKernelThreads(threads, threads > 1 ? nodeKernelWorker : null);
  if (threads <= 1) return start();
  const worker = workerScript();
  const createObjectURL = URL.createObjectURL;
  const cpus = os.cpus;
  URL.createObjectURL = (obj: Blob | MediaSource) =>
    obj instanceof Blob && obj.type === 'application/javascript' ? worker : createObjectURL(obj);
  os.cpus = () => {
    const real = cpus();
    return Array.from({ length: Math.max(real.length, 2 * threads) }, (_, i) => real[i % real.length]!);
  };
  try {
    const result = await start();
    unrefWorkers();
    return result;
  } finally {
    URL.createObjectURL = createObjectURL;
    os.cpus = cpus;
  }
}

/**
 * A helper thread for robust-ft's own SIMD kernels (core's tile-threads.ts), which run beside tfjs's
 * pthread pool over the same shared heap. Unref'd like the pool's workers: it only computes while a
 * kernel on the main thread waits for it. (It inherits this process's flags, so its script must also
 * run as a module: see the script's start.)
 */
export function nodeKernelWorker(source: string): KernelWorker {
  const w = new Worker(source, { eval: true });
  w.unref();
  // A helper that fails to start only leaves its share to the main thread: never an uncaught error.
  w.on('error', () => undefined);
  return w;
}

interface PThreadLike {
  unusedWorkers?: { unref?: () => void }[];
  runningWorkers?: { unref?: () => void }[];
}

/**
 * XNNPACK's pool threads never exit, and a running worker keeps Node's event loop alive, so a script
 * would hang at its end. The workers only compute while the main thread waits for them, so they
 * need not hold the process open.
 */
function unrefWorkers(): void {
  const backend = tf.findBackend('wasm') as { wasm?: { PThread?: PThreadLike } } | null;
  const pthread = backend?.wasm?.PThread;
  for (const w of [...(pthread?.unusedWorkers ?? []), ...(pthread?.runningWorkers ?? [])]) w.unref?.();
}

/** The threads the running wasm backend uses (1 before it starts or without threads). */
export async function wasmThreadsInUse(): Promise<number> {
  const wasm = (await import('@tensorflow/tfjs-backend-wasm')) as unknown as WasmModule;
  try {
    return wasm.getThreadsCount();
  } catch {
    return 1;
  }
}
