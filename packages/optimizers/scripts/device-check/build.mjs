// Packs the optimizers' WebGPU suites and the step bench for a GPU machine that has no Node modules
// and no network (the device machine some sessions are lent): the test files are bundled with
// esbuild, vitest replaced by ./vitest-shim.mjs, and travel with Node itself, Dawn (`webgpu`),
// tfjs-wasm's binaries and the golden vectors. Run from the repo root:
//   node packages/optimizers/scripts/device-check/build.mjs   → .gpuc/ (git-ignored)
// then on the device, from the repo root: `bash .gpuc/run.sh` (carry .gpuc and the Vulkan loader .gl).
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../../../..');
const pkg = join(root, 'packages/optimizers');
const work = join(root, '.gpu');
const out = join(work, 'b');
const requireFrom = (p) => createRequire(join(p, 'package.json'));
const { build } = requireFrom(join(root, 'packages/backend-node'))('esbuild');
const golden = process.env.ROBUST_FT_GOLDEN_OPTIMIZERS ?? join(root, '../shared/golden/optimizers');

rmSync(work, { recursive: true, force: true });
mkdirSync(join(work, 'entries'), { recursive: true });
// tfjs-backend-webgpu registers itself only once navigator.gpu exists, so the bundle evaluates it
// lazily: backend-node's runtime import of the package reaches the stub below, which runs this.
writeFileSync(
  join(work, 'entries/webgpu-loader.ts'),
  "(globalThis as Record<string, unknown>).__loadWebgpuBackend = () => import('@tensorflow/tfjs-backend-webgpu');\n",
);
const entries = { 'bench-optimizers': join(pkg, 'bench/optimizers.ts') };
for (const t of ['golden-replay', 'fused-webgpu', 'fused-guard', 'webgpu-precheck']) {
  const f = join(work, `entries/${t}.ts`);
  writeFileSync(
    f,
    `import './webgpu-loader';\nimport '${join(pkg, `test/${t}.test.ts`)}';\nimport { runAll } from 'vitest';\nprocess.exitCode = (await runAll('${t}')).failed ? 1 : 0;\n`,
  );
  entries[t] = f;
}
await build({
  entryPoints: entries,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outdir: out,
  outExtension: { '.js': '.mjs' },
  logLevel: 'error',
  ignoreAnnotations: true,
  nodePaths: [join(pkg, 'node_modules')],
  alias: { vitest: join(here, 'vitest-shim.mjs') },
  external: ['webgpu'],
  // tfjs's CJS node bundles use require/__dirname (var: some bundled modules declare their own).
  banner: {
    js: "import { createRequire as __cr } from 'node:module'; import { fileURLToPath as __fu } from 'node:url'; const require = __cr(import.meta.url); var __filename = __fu(import.meta.url); var __dirname = __filename.slice(0, __filename.lastIndexOf('/'));",
  },
});

const webgpu = dirname(requireFrom(join(root, 'packages/backend-node')).resolve('webgpu/package.json'));
mkdirSync(join(out, 'node_modules/webgpu/dist/linux-x64'), { recursive: true });
for (const f of ['package.json', 'index.js'])
  copyFileSync(join(webgpu, f), join(out, 'node_modules/webgpu', f));
copyFileSync(
  join(webgpu, 'dist/linux-x64/dawn.node'),
  join(out, 'node_modules/webgpu/dist/linux-x64/dawn.node'),
);
const stub = join(out, 'node_modules/@tensorflow/tfjs-backend-webgpu');
mkdirSync(stub, { recursive: true });
writeFileSync(
  join(stub, 'package.json'),
  '{"name":"@tensorflow/tfjs-backend-webgpu","type":"module","main":"index.js"}\n',
);
writeFileSync(join(stub, 'index.js'), 'await globalThis.__loadWebgpuBackend();\nexport {};\n');
const wasmOut = join(
  dirname(requireFrom(pkg).resolve('@tensorflow/tfjs-backend-wasm/package.json')),
  'wasm-out',
);
for (const f of readdirSync(wasmOut)) if (f.endsWith('.wasm')) copyFileSync(join(wasmOut, f), join(out, f));
cpSync(golden, join(work, 'golden'), { recursive: true });

const carry = join(root, '.gpuc');
rmSync(carry, { recursive: true, force: true });
mkdirSync(carry);
execFileSync('sh', ['-c', `xz -T0 -6 -c "${process.execPath}" > "${join(carry, 'node.xz')}"`]);
execFileSync('sh', ['-c', `tar -C "${work}" -cf - b golden | xz -T0 -6 > "${join(carry, 'pack.tar.xz')}"`]);
copyFileSync(join(here, 'run.sh'), join(carry, 'run.sh'));
console.log(`device check packed in ${carry}`);
