import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type DefaultTheme, defineConfig, type Plugin } from 'vitepress';
import { SNIPPET_MODULES } from '../src/snippets';
import { liveFencePlugin } from './live-fence';
import { prepareSiteAssets } from './site-assets';

const requireFromDocs = createRequire(import.meta.url);
const docsRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = join(docsRoot, 'content');
const assets = prepareSiteAssets(docsRoot, srcDir);
console.log(
  `[docs] copied ${assets.wasmFiles} wasm binaries; bench report: ${assets.benchReport ? 'yes' : 'not produced yet'}; demo files: ${assets.demoFiles.length}`,
);

/**
 * Snippets may import `SNIPPET_MODULES`; each becomes a static `import()` so Vite bundles the built
 * package (its dist, through the workspace link) and the live block's `require` shim can reach it.
 */
function snippetModules(): Plugin {
  const id = 'virtual:snippet-modules';
  return {
    name: 'robust-ft-snippet-modules',
    resolveId: (source) => (source === id ? `\0${id}` : undefined),
    load(loaded) {
      if (loaded !== `\0${id}`) return undefined;
      const entries = SNIPPET_MODULES.map((name) => {
        const key = JSON.stringify(name);
        if (isBuilt(name)) return `  ${key}: () => import(${key}),`;
        // An unbuilt package must not break the whole site; its snippets fail loudly instead.
        console.warn(`[docs] ${name} has no build output; its snippets will fail until it is built`);
        const message = JSON.stringify(
          `${name} was not built when this site was built (pnpm docs:build builds it)`,
        );
        return `  ${key}: () => Promise.reject(new Error(${message})),`;
      });
      return `export default {\n${entries.join('\n')}\n};\n`;
    },
  };
}

function isBuilt(name: string): boolean {
  try {
    requireFromDocs.resolve(name);
    return true;
  } catch {
    return false;
  }
}

/** Sidebar entries for the generated API reference: one per package, its index page. */
function apiSidebar(): DefaultTheme.SidebarItem[] {
  const scope = join(srcDir, 'api', '@robust-ft');
  if (!existsSync(scope)) return [{ text: 'not generated — run the build', link: '/api/' }];
  return readdirSync(scope)
    .sort()
    .map((name) => ({ text: `@robust-ft/${name}`, link: `/api/@robust-ft/${name}/` }));
}

/**
 * The API reference's landing page: every package with the one line of its package.json description
 * (TypeDoc's own index lists bare names). Written after TypeDoc ran (the build script runs it first).
 */
function writeApiIndex(): void {
  const scope = join(srcDir, 'api', '@robust-ft');
  if (!existsSync(scope)) return;
  const rows = readdirSync(scope)
    .sort()
    .map((name) => {
      const manifest = join(docsRoot, '..', '..', 'packages', name, 'package.json');
      const description = existsSync(manifest)
        ? ((JSON.parse(readFileSync(manifest, 'utf8')) as { description?: string }).description ?? '')
        : '';
      return `| [@robust-ft/${name}](./@robust-ft/${name}/) | ${description.replace(/\|/g, '\\|')} |`;
    });
  writeFileSync(
    join(srcDir, 'api', 'index.md'),
    `# API reference\n\nGenerated from each package's public entry point.\n\n| package | what it is |\n| --- | --- |\n${rows.join('\n')}\n`,
  );
}
writeApiIndex();

const base = process.env.DOCS_BASE ?? '/';

const version = (JSON.parse(readFileSync(join(docsRoot, 'package.json'), 'utf8')) as { version: string })
  .version;

export default defineConfig({
  title: 'robust-ft',
  description: 'Robust fine-tuning of pre-trained models for TensorFlow.js',
  srcDir: 'content',
  // public/ is copied as is (the demo data's README is not a page).
  srcExclude: ['**/_*.md', 'benchmark/report/**', 'public/**'],
  base,
  head: [['link', { rel: 'icon', type: 'image/svg+xml', href: `${base}favicon.svg` }]],
  lastUpdated: false,
  cleanUrls: false,
  markdown: {
    config: (md) => liveFencePlugin(md),
  },
  vite: {
    plugins: [snippetModules()],
    resolve: { dedupe: ['@tensorflow/tfjs-core'] },
    build: { chunkSizeWarningLimit: 4000 },
    // tfjs is loaded on first Run only; pre-bundling it in dev would only slow the server start.
    optimizeDeps: { exclude: ['@tensorflow/tfjs-backend-wasm'] },
  },
  themeConfig: {
    nav: [
      { text: 'Guide', link: '/guide/getting-started' },
      { text: 'Optimizers', link: '/optimizers/' },
      { text: 'Losses', link: '/losses/m2mix-clip' },
      { text: 'Evaluation', link: '/eval/corruptions' },
      { text: 'Live demo', link: '/demo' },
      { text: 'API', link: '/api/' },
      { text: `v${version}`, link: '/guide/getting-started' },
    ],
    sidebar: {
      '/api/': [{ text: 'API reference', link: '/api/', items: apiSidebar() }],
      '/': [
        {
          text: 'Guide',
          items: [
            { text: 'Getting started', link: '/guide/getting-started' },
            { text: 'Backends', link: '/guide/backends' },
            { text: 'Live snippets', link: '/guide/live-snippets' },
          ],
        },
        {
          text: 'Optimizers',
          items: [
            { text: 'Overview', link: '/optimizers/' },
            { text: 'FTP', link: '/optimizers/ftp' },
            { text: 'SPD', link: '/optimizers/spd' },
            { text: 'DiGraP', link: '/optimizers/digrap' },
            { text: 'TPGM', link: '/optimizers/tpgm' },
            { text: 'L2-SP', link: '/optimizers/l2sp' },
            { text: 'AdamW and SGD', link: '/optimizers/adamw-sgd' },
            { text: 'Step speed (fused kernels)', link: '/optimizers/speed' },
          ],
        },
        {
          text: 'Losses',
          items: [
            { text: 'm²-mix and CLIP', link: '/losses/m2mix-clip' },
            { text: 'Function space and consistency', link: '/losses/function-space' },
            { text: 'AT and TRADES', link: '/losses/adversarial' },
          ],
        },
        {
          text: 'Evaluation',
          items: [
            { text: 'Corruptions', link: '/eval/corruptions' },
            { text: 'Attacks', link: '/eval/attacks' },
            { text: 'Metrics', link: '/eval/metrics' },
            { text: 'Ensembles: WiSE-FT and VRF', link: '/eval/ensembles' },
            { text: 'Reports', link: '/eval/reports' },
          ],
        },
        {
          text: 'Results',
          items: [
            { text: 'Benchmark', link: '/benchmark/' },
            { text: 'Live demo', link: '/demo' },
            { text: 'API reference', link: '/api/' },
          ],
        },
      ],
    },
    search: { provider: 'local' },
    outline: [2, 3],
  },
});
