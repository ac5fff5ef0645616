import { strykerConfig } from '../../stryker.shared.mjs';

/**
 * The TypeScript of the optimizers: composed transformations, options, the fused JS drivers
 * (fused/loops.ts, the cpu engine) and the dispatch. Left out: index.ts (re-exports) and fused/wasm,
 * fused/webgpu (the WAT/WGSL kernels and their glue, which only run on those backends and are checked
 * by the cross-backend oracle tests, the golden-wasm and golden-webgpu projects).
 * `pnpm mutation --mutate src/fused/loops.ts` mutates one file.
 */
export default strykerConfig(
  'optimizers',
  ['src/**/*.ts', '!src/index.ts', '!src/fused/wasm/**', '!src/fused/webgpu/**'],
  { vitest: { configFile: 'vitest.mutation.config.ts', related: true } },
);
