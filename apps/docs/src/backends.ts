/**
 * Switching the tfjs backend of the docs' live blocks. `@tensorflow/tfjs` registers cpu and webgl;
 * wasm and webgpu are separate packages, imported only when picked so a page that never runs a
 * snippet downloads none of them.
 */
import type * as TF from '@tensorflow/tfjs';

export const BACKENDS = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

export function isBackendName(value: string): value is BackendName {
  return (BACKENDS as readonly string[]).includes(value);
}

/**
 * Makes `name` the active backend of `tf`. `wasmBase` is the URL folder holding the tfjs wasm binaries
 * (the site copies them into its public folder, so nothing is fetched from a CDN).
 */
export async function activateBackend(tf: typeof TF, name: BackendName, wasmBase: string): Promise<void> {
  if (tf.getBackend() === name) return;
  if (name === 'wasm' && !tf.findBackendFactory('wasm')) {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(wasmBase);
  }
  if (name === 'webgpu' && !tf.findBackendFactory('webgpu')) {
    if (!('gpu' in navigator)) throw new Error('this browser exposes no WebGPU (navigator.gpu is missing)');
    await import('@tensorflow/tfjs-backend-webgpu');
  }
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`the ${name} backend failed to initialise in this browser`);
  await tf.ready();
}
