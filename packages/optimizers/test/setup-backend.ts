import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import * as tf from '@tensorflow/tfjs-core';

tf.env().set('PROD', true);
// cpu by default; ROBUST_FT_TEST_BACKEND=wasm reruns the same suites (e.g. the golden replay) on wasm.
await tf.setBackend(process.env.ROBUST_FT_TEST_BACKEND ?? 'cpu');
