import { strykerConfig } from '../../stryker.shared.mjs';

/**
 * `pnpm mutation` mutates all of src (index.ts only re-exports; testing/ holds the test helpers);
 * `pnpm mutation --mutate src/schedules.ts` mutates one file.
 */
export default strykerConfig('core', ['src/**/*.ts', '!src/index.ts', '!src/testing/**']);
