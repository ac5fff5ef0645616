import { defineConfig } from 'vitest/config';

/*
 * For Stryker only (`pnpm mutation`): the cpu project of vitest.config.ts, where the fused steps run
 * the JS drivers that the mutants live in. The wasm/webgpu golden replays exercise the WAT/WGSL kernels,
 * which are not mutated.
 */
export default defineConfig({
  test: { testTimeout: 60_000, pool: 'forks', include: ['src/**/*.test.ts', 'test/**/*.test.ts'] },
});
