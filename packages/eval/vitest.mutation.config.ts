import { defineConfig } from 'vitest/config';

/*
 * For Stryker only (`pnpm mutation`): the suite of vitest.config.ts without the bench smoke test, which
 * spawns `pnpm run bench` on bench/ (not copied into Stryker's sandbox, and it kills no mutant: the bench
 * is checked for running, not for values).
 */
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/*.browser.test.ts', 'test/bench-smoke.test.ts'],
    testTimeout: 60_000,
    pool: 'forks',
    // One module graph per worker, reused across test files and mutant runs (re-importing tfjs and the
    // package for every covering test file was most of each mutant's time). Static mutants (module-level
    // code) need fresh modules: run them with ROBUST_FT_MUTATION_ISOLATE=1 (see the README).
    isolate: process.env.ROBUST_FT_MUTATION_ISOLATE === '1',
    setupFiles: ['test/mutation-setup.ts'],
  },
});
