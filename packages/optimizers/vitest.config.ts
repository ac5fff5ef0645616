import { defineConfig } from 'vitest/config';

/*
 * Every suite runs on cpu; the golden replay runs again on wasm and on webgpu (Dawn in Node), where the
 * optimizers dispatch to the wasm SIMD and WGSL fused kernels.
 */
const replayOn = (backend: string) => ({
  extends: true as const,
  test: {
    name: `golden-${backend}`,
    include: ['test/golden-replay.test.ts'],
    env: { ROBUST_FT_TEST_BACKEND: backend },
  },
});

export default defineConfig({
  test: {
    testTimeout: 60_000,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'cpu', include: ['src/**/*.test.ts', 'test/**/*.test.ts'] } },
      replayOn('wasm'),
      // The reliability suite (damaged checkpoints, fuzz, failed steps) again on wasm.
      {
        extends: true as const,
        test: {
          name: 'reliability-wasm',
          include: ['test/reliability.test.ts'],
          env: { ROBUST_FT_TEST_BACKEND: 'wasm' },
        },
      },
      replayOn('webgpu'),
    ],
  },
});
