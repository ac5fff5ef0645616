import { defineConfig } from 'tsup';

// An application, not a library: ESM only, no declarations; workspace packages and tfjs stay external
// so the bench uses the same tfjs instance (and registered kernels) as the packages it exercises.
export default defineConfig({
  entry: {
    cli: 'src/cli.ts',
    'scripts/pretrain': 'scripts/pretrain.ts',
    'scripts/pretrain-clip': 'scripts/pretrain-clip.ts',
    'scripts/render-font-digits': 'scripts/render-font-digits.ts',
  },
  format: ['esm'],
  dts: false,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  platform: 'node',
  external: [/^@tensorflow\//, /^@robust-ft\//, '@napi-rs/canvas'],
});
