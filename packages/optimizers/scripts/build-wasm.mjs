// Compiles src/fused/wasm/steps.wat to bytes and embeds them (base64) in steps.generated.ts, so the
// library loads its SIMD kernels without file IO or a bundler plugin. Run: pnpm --filter
// @robust-ft/optimizers build:wasm (the generated file is committed; CI checks it is up to date with --check).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import createWabt from 'wabt';
import { buildWatModule } from '../../../scripts/wat-module.mjs';

await buildWatModule({
  createWabt,
  dir: join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'fused', 'wasm'),
  wat: 'steps.wat',
  generated: 'steps.generated.ts',
  prefix: 'STEPS',
  title: 'The SIMD step module',
});
