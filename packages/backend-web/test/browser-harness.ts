import { registerWasmTrainingKernels } from '@robust-ft/core/kernels';
import * as tf from '@tensorflow/tfjs-core';
import { useBestBackend } from '../src/index';

/** The browser backends under test; cpu (in the same page) is the oracle. */
export const GPU_AND_WASM = ['webgpu', 'webgl', 'wasm'] as const;
export type TestedBackend = (typeof GPU_AND_WASM)[number];

/** The .wasm files are served at the site root by vitest.browser.config.ts (`publicDir`). */
export const WASM_PATH = '/';

/**
 * Switches to `name` through the library (forced, so a failure is loud), and turns off tfjs's
 * CPU forwarding for small tensors: without that, tiny test shapes on webgl/webgpu would run on the
 * CPU kernels and the suite would test nothing GPU-specific.
 */
export async function activate(name: TestedBackend | 'cpu'): Promise<void> {
  await useBestBackend({
    force: name,
    wasmPath: WASM_PATH,
    logger: null,
    prepare: (backend) => (backend === 'wasm' ? registerWasmTrainingKernels() : undefined),
  });
  for (const flag of ['WEBGL_CPU_FORWARD', 'WEBGPU_CPU_FORWARD']) {
    try {
      tf.env().set(flag, false);
    } catch {
      // registered only once the backend package has loaded
    }
  }
}

/** A deterministic generator (an LCG), so every backend sees the same inputs without a shared seed API. */
export function values(count: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(count);
  let s = seed >>> 0;
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32 - 0.5) * 2 * scale;
  }
  return out;
}

/** max |a − b| / max(1, |b|): an absolute error for small values, a relative one for large. */
export function maxRelError(actual: ArrayLike<number>, oracle: ArrayLike<number>): number {
  if (actual.length !== oracle.length) return Number.POSITIVE_INFINITY;
  let worst = 0;
  for (let i = 0; i < oracle.length; i++) {
    const a = actual[i]!;
    const b = oracle[i]!;
    const err = Math.abs(a - b) / Math.max(1, Math.abs(b));
    if (!(err <= worst)) worst = Number.isNaN(err) ? Number.POSITIVE_INFINITY : err;
  }
  return worst;
}
