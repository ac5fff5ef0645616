// Bundles bench/<name>.ts with esbuild (a devDependency of this package) into bench/dist and runs it
// with the remaining arguments: `node bench/run.mjs training --smoke`. Bundling (rather than running
// the TypeScript directly) resolves tfjs-core's extension-less ESM and the workspace sources in one step.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const [name, ...args] = process.argv.slice(2);
if (!name) {
  console.error('usage: node bench/run.mjs <backends|training> [flags]');
  process.exit(2);
}
const outfile = join(here, 'dist', `${name}.mjs`);
await build({
  entryPoints: [join(here, `${name}.ts`)],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  logLevel: 'error',
  ignoreAnnotations: true,
  // tfjs's CJS node bundles use require/__dirname; give the ESM bundle both.
  banner: {
    js: "import { createRequire as __cr } from 'node:module'; import { fileURLToPath as __fu } from 'node:url'; const require = __cr(import.meta.url); const __filename = __fu(import.meta.url); const __dirname = __filename.slice(0, __filename.lastIndexOf('/'));",
  },
  outfile,
});
const run = spawnSync(process.execPath, [outfile, ...args], { stdio: 'inherit' });
process.exit(run.status ?? 1);
