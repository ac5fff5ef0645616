/**
 * Switching the tfjs backend of the docs' live blocks and demo, through `@robust-ft/backend-web` so a
 * lost GPU (WebGPU device, WebGL context) is rebuilt when the reader runs again instead of breaking
 * every later run until a reload, and each backend recovers on its own. Each backend package is
 * imported only when picked, so a page that never runs a snippet downloads none of them.
 */
import type * as Web from '@robust-ft/backend-web';
import type * as TF from '@tensorflow/tfjs';

export const BACKENDS = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

export function isBackendName(value: string): value is BackendName {
  return (BACKENDS as readonly string[]).includes(value);
}

/**
 * Makes `name` the active backend of `tf` (forced: software GPUs are accepted, a backend that cannot
 * start throws). A backend whose device was lost is rebuilt first. `wasmBase` is the URL folder holding
 * the tfjs wasm binaries (the site copies them into its public folder, so nothing is fetched from a
 * CDN).
 */
export async function activateBackend(
  tf: typeof TF,
  web: typeof Web,
  name: BackendName,
  wasmBase: string,
): Promise<void> {
  if (tf.getBackend() === name && web.backendLoss(name) === null) return;
  await web.useBestBackend({ force: name, wasmPath: wasmBase, logger: null });
  await tf.ready();
}
