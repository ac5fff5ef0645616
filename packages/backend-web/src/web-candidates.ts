import type { BackendCandidate } from '@robust-ft/core';
import { invalidArgument } from '@robust-ft/core/internal';
import {
  type KernelWorker,
  registerCpuTrainingKernels,
  registerWasmTrainingKernels,
  resolveWasmThreads,
  setWasmKernelThreads,
} from '@robust-ft/core/kernels';
import * as tf from '@tensorflow/tfjs-core';
import { backendLoss, reinitialiseBackend, watchDeviceLoss } from './device-loss';
import { checkWebOptions } from './option-schemas';
import type { WebBackendName } from './select-backend';

/** A map from each tfjs wasm binary name to its URL, as `setWasmPaths` accepts. */
export type WasmFileMap = Record<
  'tfjs-backend-wasm.wasm' | 'tfjs-backend-wasm-simd.wasm' | 'tfjs-backend-wasm-threaded-simd.wasm',
  string
>;

/** Options of `webCandidates`: how each browser backend is loaded and prepared. */
export interface WebCandidateOptions {
  /**
   * Where the `.wasm` binaries are served: a URL prefix ending in `/`, or one URL per file. Default: the
   * directory of the current page (`new URL('./', location.href)`).
   */
  wasmPath?: string | WasmFileMap;
  /**
   * wasm threads (its threaded SIMD build; the page must be cross-origin isolated, see the README).
   * Default: half of `navigator.hardwareConcurrency`, 1–8; tfjs-wasm 4.22 itself caps the pool at
   * half the reported cores (it assumes hyper-threading). Fixed when wasm first starts.
   */
  threads?: number;
  /**
   * Accept a software GPU (SwiftShader, llvmpipe, a WebGPU fallback adapter) in automatic selection.
   * Default false: software GPUs are 10–150× slower than wasm, so they are skipped unless forced.
   */
  allowSoftwareGpu?: boolean;
  /**
   * Runs after a backend is set and before its smoke test, e.g. to register training kernels for wasm.
   * Return the names of the kernels it added or replaced; they are reported in `patchedKernels`.
   */
  prepare?: (name: WebBackendName) => string[] | undefined | Promise<string[] | undefined>;
  /**
   * Register robust-ft's training kernels (wasm: the missing conv/depthwise gradients and a correct
   * MaxPoolGrad; cpu: a fast conv filter gradient) when no `prepare` is given. Default true.
   */
  patch?: boolean;
}

/** The minimal slices of WebGPU's types we touch (lib.dom in TypeScript 5.9 has no WebGPU). */
interface GpuAdapterInfoLike {
  vendor?: string;
  architecture?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}
interface GpuAdapterLike {
  isFallbackAdapter?: boolean;
  info?: GpuAdapterInfoLike;
}
interface GpuLike {
  requestAdapter(): Promise<GpuAdapterLike | null>;
}

const SOFTWARE_RENDERER = /swiftshader|llvmpipe|softpipe|lavapipe|software|basic render/i;

/**
 * A forward check with values worked out by hand, so a backend that initialises but computes garbage
 * (a broken driver, a shader that fails to compile lazily) is caught before training starts on it.
 * relu([[1,2],[3,4]] @ [[5,-6],[7,1]]) = relu([[19,-4],[43,-14]]).
 */
async function smokeTest(name: WebBackendName): Promise<void> {
  const expected = [19, 0, 43, 0];
  const out = tf.tidy(() =>
    tf.relu(tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.tensor2d([5, -6, 7, 1], [2, 2]))),
  );
  try {
    const got = Array.from(await out.data());
    if (got.length !== 4 || got.some((v, i) => !(Math.abs(v - expected[i]!) < 1e-3))) {
      throw new Error(`${name} smoke test computed [${got.join(', ')}] instead of [${expected.join(', ')}]`);
    }
  } finally {
    out.dispose();
  }
}

/**
 * tfjs's GPU backends run small ops on the CPU when their inputs still live there (`*_CPU_FORWARD`);
 * the smoke test turns that off so it exercises the GPU kernels it is meant to vouch for.
 */
async function withoutCpuForward<T>(fn: () => Promise<T>): Promise<T> {
  const env = tf.env();
  const saved: [string, boolean][] = [];
  for (const flag of ['WEBGL_CPU_FORWARD', 'WEBGPU_CPU_FORWARD']) {
    try {
      saved.push([flag, env.getBool(flag)]);
      env.set(flag, false);
    } catch {
      // The flag is registered only once its backend package is loaded.
    }
  }
  try {
    return await fn();
  } finally {
    for (const [flag, value] of saved) env.set(flag, value);
  }
}

async function setAndCheck(name: WebBackendName, options: WebCandidateOptions): Promise<string[]> {
  // A lost device or context is rebuilt here, so picking the backend again recovers without a reload.
  if (backendLoss(name) !== null) reinitialiseBackend(name);
  const ok = await tf.setBackend(name);
  if (!ok || tf.getBackend() !== name) {
    throw new Error(`tf.setBackend('${name}') failed to initialise it (see the tfjs warning above)`);
  }
  const prepare = options.prepare ?? (options.patch === false ? undefined : defaultPrepare);
  const patched = (await prepare?.(name)) ?? [];
  watchDeviceLoss(name);
  await withoutCpuForward(() => smokeTest(name));
  return patched;
}

function defaultPrepare(name: WebBackendName): string[] | undefined {
  if (name === 'wasm') return registerWasmTrainingKernels();
  if (name === 'cpu') return registerCpuTrainingKernels();
  return undefined;
}

function hardwareConcurrency(): number {
  return (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1;
}

function gpu(): GpuLike | undefined {
  return (globalThis as { navigator?: { gpu?: GpuLike } }).navigator?.gpu;
}

function describeAdapter(adapter: GpuAdapterLike): { software: boolean; text: string } {
  const info = adapter.info ?? {};
  const text = [info.vendor, info.architecture, info.description].filter((s) => s).join(' ') || 'unknown';
  const software =
    adapter.isFallbackAdapter === true || info.isFallbackAdapter === true || SOFTWARE_RENDERER.test(text);
  return { software, text };
}

function webglRenderer(): string | null {
  const canvas =
    typeof OffscreenCanvas !== 'undefined'
      ? new OffscreenCanvas(1, 1)
      : typeof document !== 'undefined'
        ? document.createElement('canvas')
        : undefined;
  if (canvas === undefined) return null;
  const gl = (canvas.getContext('webgl2') ?? canvas.getContext('webgl')) as WebGLRenderingContext | null;
  if (gl === null) return null;
  const debug = gl.getExtension('WEBGL_debug_renderer_info');
  const renderer = String(gl.getParameter(debug ? debug.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
  // Free the probe's context at once: browsers cap live WebGL contexts and tfjs needs its own.
  gl.getExtension('WEBGL_lose_context')?.loseContext();
  return renderer;
}

function defaultWasmPath(): string | undefined {
  const href = (globalThis as { location?: { href?: string } }).location?.href;
  return href === undefined ? undefined : new URL('./', href).href;
}

function validateWasmPath(path: WebCandidateOptions['wasmPath']): void {
  if (path === undefined) return;
  if (typeof path === 'string') {
    if (!path.endsWith('/')) {
      throw invalidArgument('options.wasmPath', 'a URL prefix ending in "/" or a map of file URLs', path);
    }
    return;
  }
  if (typeof path !== 'object' || path === null) {
    throw invalidArgument('options.wasmPath', 'a URL prefix ending in "/" or a map of file URLs', path);
  }
}

/**
 * A helper worker for robust-ft's wasm kernels: the script from a Blob URL, on a cross-origin-isolated
 * page (the only place the wasm heap is shared); null elsewhere or where the page's policy refuses it.
 */
export function browserKernelWorker(source: string): KernelWorker | null {
  const g = globalThis as { crossOriginIsolated?: boolean; Worker?: new (url: string) => KernelWorker };
  if (g.crossOriginIsolated !== true || typeof g.Worker !== 'function') return null;
  const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
  try {
    return new g.Worker(url);
  } catch {
    return null;
  } finally {
    // The worker has fetched (or started fetching) the script; the URL is not needed after that.
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }
}

/** The real browser candidates, best first. Each backend package is loaded only when it is tried. */
export function webCandidates(options: WebCandidateOptions = {}): BackendCandidate<WebBackendName>[] {
  checkWebOptions('webCandidates', options);
  validateWasmPath(options.wasmPath);
  // A bad count is the caller's error, not a reason to fall through to the next backend.
  if (options.threads !== undefined) resolveWasmThreads(options.threads, 1, 'options.threads');
  const allowSoftware = options.allowSoftwareGpu === true;
  return [
    {
      name: 'webgpu',
      async check({ forced }) {
        const g = gpu();
        if (g === undefined) return 'navigator.gpu is missing (no WebGPU in this browser or context)';
        const adapter = await g.requestAdapter();
        if (adapter === null) return 'navigator.gpu.requestAdapter() returned no adapter';
        const { software, text } = describeAdapter(adapter);
        if (software && !allowSoftware && !forced) {
          return `only a software adapter (${text}); set allowSoftwareGpu to use it`;
        }
        return null;
      },
      async activate() {
        await import('@tensorflow/tfjs-backend-webgpu');
        return setAndCheck('webgpu', options);
      },
    },
    {
      name: 'webgl',
      async check({ forced }) {
        const renderer = webglRenderer();
        if (renderer === null) return 'no WebGL context could be created';
        if (SOFTWARE_RENDERER.test(renderer) && !allowSoftware && !forced) {
          return `software renderer (${renderer}); set allowSoftwareGpu to use it`;
        }
        return null;
      },
      async activate() {
        await import('@tensorflow/tfjs-backend-webgl');
        return setAndCheck('webgl', options);
      },
    },
    {
      name: 'wasm',
      async check() {
        return typeof WebAssembly === 'object' ? null : 'WebAssembly is not available';
      },
      async activate() {
        const wasm = await import('@tensorflow/tfjs-backend-wasm');
        // setWasmPaths must run before the first initialisation; later calls would be ignored or throw.
        if (tf.findBackend('wasm') === null) {
          const path = options.wasmPath ?? defaultWasmPath();
          if (path !== undefined) wasm.setWasmPaths(path);
          // Threads need a cross-origin-isolated page (SharedArrayBuffer); elsewhere tfjs loads the
          // single-threaded build and ignores the count.
          const threads = resolveWasmThreads(options.threads, hardwareConcurrency(), 'options.threads');
          wasm.setThreadsCount(threads);
          // robust-ft's own SIMD kernels split their larger passes with threads − 1 helper workers
          // over the threaded build's shared heap (core's tile-threads.ts); without isolation the heap
          // is not shared and none start.
          setWasmKernelThreads(threads, browserKernelWorker);
        }
        return setAndCheck('wasm', options);
      },
    },
    {
      name: 'cpu',
      async check() {
        return null;
      },
      async activate() {
        await import('@tensorflow/tfjs-backend-cpu');
        return setAndCheck('cpu', options);
      },
    },
  ];
}
