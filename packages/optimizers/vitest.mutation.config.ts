import { defineConfig } from 'vitest/config';

/*
 * For Stryker only (`pnpm mutation`): the cpu project of vitest.config.ts (less the bench smoke test), where the fused steps run
 * the JS drivers that the mutants live in. The wasm/webgpu golden replays exercise the WAT/WGSL kernels,
 * which are not mutated.
 */
export default defineConfig({
  test: {
    testTimeout: 60_000,
    pool: 'forks',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // test/fused-guard.test.ts leaves out its large-tensor edge case under this flag (see there).
    env: { ROBUST_FT_MUTATION_RUN: '1' },
    // The bench smoke test spawns the bench (bench/ is not copied into Stryker's sandbox) and checks that
    // it runs, not values: it kills no mutant.
    exclude: ['**/node_modules/**', 'test/bench-smoke.test.ts'],
  },
});
