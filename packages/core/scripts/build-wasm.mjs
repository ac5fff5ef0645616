// Compiles src/kernels/simd/training.wat and forward.wat to bytes and embeds them (base64) in
// training.generated.ts and forward.generated.ts, so the library loads its SIMD kernels without file IO
// or a bundler plugin. Run: pnpm --filter @robust-ft/core build:wasm (the generated files are committed;
// a test checks they are up to date with --check).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import createWabt from 'wabt';
import { buildWatModule } from '../../../scripts/wat-module.mjs';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'kernels', 'simd');
for (const [name, prefix, title] of [
  ['training', 'TRAINING', 'The SIMD training-kernel module'],
  ['forward', 'FORWARD', 'The SIMD forward-kernel module (matrix products, ReLU, 2×2 max pooling)'],
]) {
  await buildWatModule({
    createWabt,
    dir,
    wat: `${name}.wat`,
    generated: `${name}.generated.ts`,
    prefix,
    title,
  });
}
