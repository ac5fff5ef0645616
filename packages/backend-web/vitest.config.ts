import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // The *.browser.test.ts files need a real browser: vitest.browser.config.ts runs them in Chromium.
    exclude: ['**/node_modules/**', '**/*.browser.test.ts'],
    testTimeout: 60_000,
    pool: 'forks',
  },
});
