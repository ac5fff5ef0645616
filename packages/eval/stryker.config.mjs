import { strykerConfig } from '../../stryker.shared.mjs';

/**
 * `pnpm mutation` mutates all of src (index.ts only re-exports);
 * `pnpm mutation --mutate src/metrics/calibration.ts` mutates one file.
 */
export default strykerConfig('eval', ['src/**/*.ts', '!src/index.ts'], {
  ignorePatterns: ['dist', 'reports', 'bench', '.tmp', 'coverage', 'scripts'],
});
