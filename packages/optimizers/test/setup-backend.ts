import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import * as tf from '@tensorflow/tfjs-core';

tf.env().set('PROD', true);
// cpu by default; ROBUST_FT_TEST_BACKEND=wasm|webgpu reruns the same suites (e.g. the golden replay)
// there. webgpu runs on Dawn in Node (`webgpu` package); without an adapter its suites report skipped.
export const testBackend = process.env.ROBUST_FT_TEST_BACKEND ?? 'cpu';

/** Why the requested backend cannot run here (only webgpu can be missing: no adapter), or null. */
export let backendUnavailable: string | null = null;
if (testBackend === 'webgpu') {
  // Started the way users start it (useBestBackend's Dawn path); a software adapter is allowed here,
  // since CI has no GPU and runs Dawn on SwiftShader.
  const { useBestBackend } = await import('@robust-ft/backend-node');
  try {
    const d = await useBestBackend({ force: 'webgpu', allowSoftwareGpu: true, logger: null });
    console.log(`[webgpu] suites run on Dawn: ${d.adapter?.description ?? 'unknown adapter'}`);
  } catch (e) {
    backendUnavailable = (e as Error).message;
    console.warn(`[webgpu] suites SKIPPED: ${backendUnavailable}`);
  }
}
if (backendUnavailable === null && !(await tf.setBackend(testBackend)))
  throw new Error(`backend ${testBackend} did not initialise`);
