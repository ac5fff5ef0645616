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
  },
});
