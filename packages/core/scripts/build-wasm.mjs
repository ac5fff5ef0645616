// Compiles src/kernels/simd/training.wat to bytes and embeds them (base64) in training.generated.ts, so
// the library loads its SIMD training kernels without file IO or a bundler plugin. Run: pnpm --filter
// @robust-ft/core build:wasm (the generated file is committed; a test checks it is up to date with --check).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import createWabt from 'wabt';
import { buildWatModule } from '../../../scripts/wat-module.mjs';

await buildWatModule({
  createWabt,
  dir: join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'kernels', 'simd'),
  wat: 'training.wat',
  generated: 'training.generated.ts',
  prefix: 'TRAINING',
  title: 'The SIMD training-kernel module',
});

await buildWatModule({
  createWabt,
  dir: join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'kernels', 'simd'),
  wat: 'forward.wat',
  generated: 'forward.generated.ts',
  prefix: 'FORWARD',
  title: 'The SIMD forward-kernel module (matrix products, ReLU, 2×2 max pooling)',
});
