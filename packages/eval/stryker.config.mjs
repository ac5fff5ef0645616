import { strykerConfig } from '../../stryker.shared.mjs';

/**
 * `pnpm mutation` mutates all of src (index.ts only re-exports);
 * `pnpm mutation --mutate src/metrics/calibration.ts` mutates one file.
 */
export default strykerConfig('eval', ['src/**/*.ts', '!src/index.ts'], {
  ignorePatterns: ['dist', 'reports', 'bench', '.tmp', 'coverage', 'scripts'],
  // The suite without the bench smoke test (bench/ is not in the sandbox).
  vitest: { configFile: 'vitest.mutation.config.ts', related: true },
});
