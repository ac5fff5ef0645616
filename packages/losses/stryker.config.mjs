import { strykerConfig } from '../../stryker.shared.mjs';

/**
 * `pnpm mutation` mutates all of src (index.ts only re-exports);
 * `pnpm mutation --mutate src/function-space.ts` mutates one file.
 */
export default strykerConfig('losses', ['src/**/*.ts', '!src/index.ts']);
