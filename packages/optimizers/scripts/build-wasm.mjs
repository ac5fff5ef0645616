// Compiles src/fused/wasm/steps.wat to bytes and embeds them (base64) in steps.generated.ts, so the
// library loads its SIMD kernels without file IO or a bundler plugin. Run: pnpm --filter
// @robust-ft/optimizers build:wasm (the generated file is committed; CI checks it is up to date with --check).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import createWabt from 'wabt';
import { buildWatModule } from '../../../scripts/wat-module.mjs';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'fused', 'wasm');

/**
 * The method constants live once, in src/hyper-adam.ts; steps.wat names them as `$NAME` in
 * `(f64.const $NAME)` and this build writes their values in (an unknown name fails the build).
 */
function withConstants(source) {
  const ts = readFileSync(join(dir, '..', '..', 'hyper-adam.ts'), 'utf8');
  const values = new Map();
  for (const m of ts.matchAll(/^export const ([A-Z0-9_]+) = ([-+0-9.e]+);$/gm)) values.set(m[1], m[2]);
  return source.replace(/\(f(32|64)\.const \$([A-Z0-9_]+)\)/g, (_, bits, name) => {
    const value = values.get(name);
    if (value === undefined)
      throw new Error(`steps.wat: unknown constant $${name} (not exported by hyper-adam.ts)`);
    return `(f${bits}.const ${value})`;
  });
}

await buildWatModule({
  createWabt,
  dir,
  wat: 'steps.wat',
  generated: 'steps.generated.ts',
  prefix: 'STEPS',
  title: 'The SIMD step module',
  transform: withConstants,
});
