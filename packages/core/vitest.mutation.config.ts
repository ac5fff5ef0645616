import { defineConfig } from 'vitest/config';

/*
 * For Stryker only (`pnpm mutation`): the tests of vitest.config.ts, sharing one module graph per worker.
 * Importing tfjs, its wasm backend and the package again for every covering test file was most of each
 * mutant's time. Static mutants (module-level code) need fresh modules: run them with
 * ROBUST_FT_MUTATION_ISOLATE=1 (see the README).
 */
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    pool: 'forks',
    isolate: process.env.ROBUST_FT_MUTATION_ISOLATE === '1',
    setupFiles: ['test/mutation-setup.ts'],
  },
});
