import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';

// Mutation runs share one module graph across test files (`isolate: false` in vitest.mutation.config.ts),
// so a file's own setup (setup-backend.ts) runs once per worker: start every file on cpu, as a fresh one would.
await tf.setBackend('cpu');
