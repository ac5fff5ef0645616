/**
 * Files the site serves that live elsewhere in the repo, copied in when the config loads (for both
 * `vitepress dev` and `vitepress build`), into git-ignored folders:
 * - tfjs' wasm binaries → public/tfjs-wasm/ (the wasm backend fetches them from the site, not a CDN);
 * - apps/bench/report/ → benchmark/report/ plus the generated benchmark/_report.md the page includes;
 * - the bench's pre-trained digits model and data → public/demo/ for the live demo;
 * - @robust-ft/eval's corruption preview sheet → public/eval/ for the corruptions page.
 * A missing bench report or model is not an error: the pages then say how to produce them.
 */
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';

const require = createRequire(import.meta.url);

export interface SiteAssetsReport {
  wasmFiles: number;
  benchReport: boolean;
  demoFiles: string[];
}

function copyTree(from: string, to: string, keep: (file: string) => boolean): string[] {
  const copied: string[] = [];
  for (const entry of readdirSync(from, { recursive: true, encoding: 'utf8' })) {
    const source = join(from, entry);
    if (!statSync(source).isFile() || !keep(entry)) continue;
    mkdirSync(dirname(join(to, entry)), { recursive: true });
    copyFileSync(source, join(to, entry));
    copied.push(entry);
  }
  return copied;
}

export function prepareSiteAssets(docsRoot: string, srcDir: string): SiteAssetsReport {
  const repoRoot = resolve(docsRoot, '../..');
  const publicDir = join(srcDir, 'public');

  const wasmDist = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  const wasmOut = join(publicDir, 'tfjs-wasm');
  rmSync(wasmOut, { recursive: true, force: true });
  const wasmFiles = copyTree(join(wasmDist, 'dist'), wasmOut, (f) => !f.includes('/') && f.endsWith('.wasm'));

  const benchReport = copyBenchReport(join(repoRoot, 'apps/bench/report'), join(srcDir, 'benchmark'));

  const demoOut = join(publicDir, 'demo');
  rmSync(demoOut, { recursive: true, force: true });
  const demoFiles: string[] = [];
  for (const folder of ['assets', 'data']) {
    const from = join(repoRoot, 'apps/bench', folder);
    if (existsSync(from)) {
      demoFiles.push(...copyTree(from, join(demoOut, folder), () => true).map((f) => `${folder}/${f}`));
    }
  }
  const evalOut = join(publicDir, 'eval');
  rmSync(evalOut, { recursive: true, force: true });
  copyTree(join(repoRoot, 'packages/eval/assets'), evalOut, (f) => f.endsWith('.svg'));

  return { wasmFiles: wasmFiles.length, benchReport, demoFiles };
}

const REPORT_MISSING = `::: warning The benchmark report has not been produced yet
The site copies \`apps/bench/report/\` when it is built. Produce it with \`pnpm bench\` at the
repository root (a few minutes on a laptop CPU), then rebuild the docs with \`pnpm docs:build\`.
:::
`;

const tierMissing = (tier: string) => `::: info The optional ${tier} tier has not been run
Run \`node apps/bench/dist/cli.js --tier ${tier}\` (it writes apps/bench/report/${tier}; see the
bench README), then rebuild the docs.
:::
`;

/**
 * Copies the report folder (plots, JSON, HTML) next to the benchmark page and writes the includes:
 * `_report.md` (the default digits run) and `_report-<tier>.md` for the optional tiers. Relative
 * links in each report.md are re-rooted at the page; its headings are demoted below the page's.
 */
function copyBenchReport(reportDir: string, pageDir: string): boolean {
  const out = join(pageDir, 'report');
  rmSync(out, { recursive: true, force: true });
  const found = existsSync(join(reportDir, 'report.md'));
  if (found) copyTree(reportDir, out, (f) => /\.(svg|png|json|html|csv)$/.test(f));
  writeInclude(
    join(reportDir, 'report.md'),
    join(pageDir, '_report.md'),
    relative(pageDir, out),
    1,
    REPORT_MISSING,
  );
  for (const tier of ['mobilenetv2', 'clip']) {
    writeInclude(
      join(reportDir, tier, 'report.md'),
      join(pageDir, `_report-${tier}.md`),
      relative(pageDir, join(out, tier)),
      2,
      tierMissing(tier),
    );
  }
  return found;
}

function writeInclude(
  source: string,
  include: string,
  prefix: string,
  demote: number,
  missing: string,
): void {
  if (!existsSync(source)) {
    writeFileSync(include, missing);
    return;
  }
  const hashes = '#'.repeat(demote);
  const markdown = readFileSync(source, 'utf8')
    .replace(
      /(!?\[[^\]]*\]\()(?!https?:|\/|#)([^)\s]+)/g,
      (_, head: string, path: string) => `${head}./${prefix}/${path}`,
    )
    .replace(
      /(<img[^>]*\ssrc=")(?!https?:|\/|#)([^"]+)/g,
      (_, head: string, path: string) => `${head}./${prefix}/${path}`,
    )
    .replace(/^(#{1,6}) /gm, (_, h: string) => `${`${h}${hashes}`.slice(0, 6)} `);
  writeFileSync(include, markdown);
}
