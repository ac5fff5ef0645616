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
    // One module graph per worker, reused across test files and mutant runs: importing tfjs and the
    // package again for every covering test file was most of each mutant's time. Static mutants
    // (module-level code) need fresh modules: run them with ROBUST_FT_MUTATION_ISOLATE=1 (see the README).
    isolate: process.env.ROBUST_FT_MUTATION_ISOLATE === '1',
    setupFiles: ['test/mutation-setup.ts'],
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // test/fused-guard.test.ts leaves out its large-tensor edge case under this flag (see there).
    env: { ROBUST_FT_MUTATION_RUN: '1' },
    // The bench smoke test spawns the bench (bench/ is not copied into Stryker's sandbox) and checks that
    // it runs, not values: it kills no mutant.
    exclude: ['**/node_modules/**', 'test/bench-smoke.test.ts'],
  },
});
