/**
 * The built site in Debian's Chromium: every live snippet is run on WebGPU, WebGL and wasm (WebGPU
 * and WebGL on SwiftShader), and the first one of each page on cpu; its printed lines are compared
 * with the expected block, and each block is screenshotted into screenshots/ (git-ignored). The demo
 * page fine-tunes the real pre-trained CNN on each GPU-or-wasm backend; the benchmark page must show
 * its plots.
 * Needs the site built first (`pnpm --filter @robust-ft/docs build`; turbo runs it before `test`).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, type BackendName } from '../src/backends';
import { compareOutput, type Snippet } from '../src/snippets';
import { allSnippets, docsRoot, slug } from './collect';
import { type StaticServer, serveStatic } from './static-server';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const DIST = join(docsRoot, '.vitepress', 'dist');
const SHOTS = join(docsRoot, 'screenshots');
const ARGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--use-webgpu-adapter=swiftshader',
  // Nothing but 127.0.0.1 may be contacted: silence Chromium's own background traffic.
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-domain-reliability',
  '--no-first-run',
  '--disable-quic',
  '--metrics-recording-only',
  '--no-pings',
];

if (!existsSync(CHROMIUM)) {
  throw new Error(
    `Chromium not found at ${CHROMIUM}: install it (apt-get install -y chromium) or set CHROMIUM_PATH.`,
  );
}
if (!existsSync(join(DIST, 'index.html'))) {
  throw new Error(
    `the site is not built (${DIST} is missing): run pnpm --filter @robust-ft/docs build first.`,
  );
}

const snippets = allSnippets();
const byPage = new Map<string, Snippet[]>();
for (const s of snippets) byPage.set(s.page, [...(byPage.get(s.page) ?? []), s]);

let server: StaticServer;
let context: BrowserContext;
let profile: string;
const offsite: string[] = [];

beforeAll(async () => {
  server = await serveStatic(DIST);
  profile = mkdtempSync(join(tmpdir(), 'docs-chromium-'));
  mkdirSync(SHOTS, { recursive: true });
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 900 },
  });
  context.on('request', (request) => {
    if (
      !request.url().startsWith(server.url) &&
      !request.url().startsWith('data:') &&
      !request.url().startsWith('blob:')
    ) {
      offsite.push(request.url());
    }
  });
});

afterAll(async () => {
  await context?.close();
  await server?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

async function openPage(page: Page, path: string): Promise<void> {
  await page.goto(`${server.url}/${path.replace(/\.md$/, '.html')}`, { waitUntil: 'load' });
  // The live blocks hydrate client-side; wait until Vue has mounted them.
  await page.waitForSelector('.live-code .live-code-run', { timeout: 30_000 });
}

async function runBlock(page: Page, snippet: Snippet, backend: BackendName): Promise<string[]> {
  const block = page.locator(`[data-snippet-id="${snippet.id}"]`);
  await block.locator('select').selectOption(backend);
  await block.locator('.live-code-run').click();
  await expect
    .poll(() => block.getAttribute('data-status'), { timeout: 90_000, interval: 200 })
    .toMatch(/^(ok|mismatch|error)$/);
  await block.scrollIntoViewIfNeeded();
  await block.screenshot({ path: join(SHOTS, `${slug(snippet.id)}-${backend}.png`) });
  const text = (await block.locator('.live-code-output').textContent()) ?? '';
  return text.split('\n');
}

const tally: Record<BackendName, { passed: number; total: number }> = {
  webgpu: { passed: 0, total: 0 },
  webgl: { passed: 0, total: 0 },
  wasm: { passed: 0, total: 0 },
  cpu: { passed: 0, total: 0 },
};

async function runAll(
  page: Page,
  runs: readonly (readonly [Snippet, BackendName])[],
  failures: string[],
): Promise<void> {
  for (const [snippet, backend] of runs) {
    const lines = await runBlock(page, snippet, backend);
    const problem = compareOutput(lines, snippet.expected);
    tally[backend].total++;
    if (problem === null) tally[backend].passed++;
    else failures.push(`${snippet.id} on ${backend}: ${problem}\n${lines.join('\n')}`);
  }
}

describe('live snippets in Chromium', () => {
  it('finds the snippets', () => {
    expect(snippets.length).toBeGreaterThanOrEqual(18);
  });

  for (const [path, pageSnippets] of byPage) {
    it(`${path}: every snippet prints its expected output on webgpu, webgl, wasm and cpu`, async () => {
      const failures: string[] = [];
      const errors: string[] = [];
      // All four backends in one page, WebGPU first: whatever happens to one backend's device must
      // not take the others' results with it.
      const page = await context.newPage();
      page.on('pageerror', (e) => errors.push(e.message));
      try {
        await openPage(page, path);
        const blocks = await page.locator('.live-code').count();
        expect(blocks, 'live blocks on the page vs run fences in the markdown').toBe(pageSnippets.length);
        // The picker shows the same backend the state holds once hydrated (webgl unless saved).
        expect(await page.locator('.live-code select').first().inputValue()).toBe(
          await page.evaluate(() => localStorage.getItem('robust-ft-docs-backend') ?? 'webgl'),
        );
        const runs: [Snippet, BackendName][] = [];
        for (const backend of BACKENDS) for (const s of pageSnippets) runs.push([s, backend]);
        await runAll(page, runs, failures);
        await page.screenshot({ path: join(SHOTS, `page-${slug(path)}.png`), fullPage: true });
      } finally {
        await page.close();
      }
      expect(failures, failures.join('\n\n')).toEqual([]);
      expect(errors, 'uncaught page errors').toEqual([]);
    });
  }

  it('prints one line per backend: every snippet passes on every backend', () => {
    const lines = BACKENDS.map((b) => `snippets on ${b}: ${tally[b].passed}/${tally[b].total} passed`);
    for (const line of lines) console.log(line);
    for (const b of BACKENDS) {
      expect(tally[b].total, b).toBe(snippets.length);
      expect(tally[b].passed, lines.join('\n')).toBe(tally[b].total);
    }
  });

  it('the picker keeps the saved backend through hydration', async () => {
    const page = await context.newPage();
    try {
      await openPage(page, 'guide/getting-started.md');
      await page.evaluate(() => localStorage.setItem('robust-ft-docs-backend', 'wasm'));
      await openPage(page, 'guide/getting-started.md');
      await expect.poll(() => page.locator('.live-code select').first().inputValue()).toBe('wasm');
      await page.evaluate(() => localStorage.removeItem('robust-ft-docs-backend'));
    } finally {
      await page.close();
    }
  });

  /**
   * Runs the demo for 1 epoch over `train` images with 150 test images per set, and returns every
   * status message it showed, recorded as it changed.
   */
  async function runDemoPage(query: string, train: number, timeout: number) {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${server.url}/demo.html${query}`, { waitUntil: 'load' });
    const demo = page.locator('.fine-tune-demo');
    await demo.locator('select.demo-epochs').selectOption('1');
    await demo.locator('select.demo-train').selectOption(String(train));
    await demo.locator('select.demo-test').selectOption('150');
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { demoMessages: string[] }).demoMessages = seen;
      const target = document.querySelector('.fine-tune-demo .demo-message') as Element;
      new MutationObserver(() => {
        const text = target.textContent ?? '';
        if (seen.at(-1) !== text) seen.push(text);
      }).observe(target, { childList: true, characterData: true, subtree: true });
    });
    await demo.locator('.demo-start').click();
    await expect
      .poll(() => demo.getAttribute('data-status'), { timeout, interval: 500 })
      .toMatch(/^(done|error)$/);
    const messages = await page.evaluate(
      () => (window as unknown as { demoMessages: string[] }).demoMessages,
    );
    return { page, demo, errors, messages };
  }

  for (const backend of ['auto', ...BACKENDS] as const) {
    // SwiftShader's WebGPU and WebGL take seconds per step and 15–25 s per scoring pass of 150 images
    // on this shared machine (WebGPU: 256 s for the whole run under load 24): they fine-tune on 64 images
    // (4 steps) and get up to 9 minutes; the others fine-tune on 320 (20 steps).
    const gpu = backend === 'webgpu' || backend === 'webgl';
    it(`demo page on ${backend}: the pre-trained CNN fine-tuned with AdamW and FTP, progress reported as it happens`, {
      timeout: gpu ? 600_000 : 300_000,
    }, async () => {
      const train = gpu ? 64 : 320;
      const total = (train / 32) * 2;
      const { page, demo, errors, messages } = await runDemoPage(
        backend === 'auto' ? '' : `?backend=${backend}`,
        train,
        gpu ? 540_000 : 280_000,
      );
      try {
        const message = (await demo.locator('.demo-message').textContent()) ?? '';
        const chosen = (await demo.locator('.demo-backend').textContent()) ?? '';
        expect(await demo.getAttribute('data-status'), `${message}\n${messages.join('\n')}`).toBe('done');
        // No ?backend=: useBestBackend skips the SwiftShader GPUs and trains on wasm.
        const ran = backend === 'auto' ? 'wasm' : backend;
        expect(message).toContain(`done on ${ran}`);
        if (backend === 'auto') expect(chosen).toMatch(/skipped .*webgpu: .*webgl: /);
        expect(message).toContain(`${total} steps on ${train} UCI digits`);
        // Every step and every scoring pass was shown while it ran: each step, and 2 methods × 2
        // epochs × 3 sets of scoring (epoch 0 before the first step, epoch 1 after the last).
        const stepOf = new RegExp(`: step (\\d+) of ${total}$`);
        const steps = messages.filter((m) => stepOf.test(m));
        expect(steps.map((m) => Number(stepOf.exec(m)?.[1]))).toEqual(
          Array.from({ length: total }, (_, i) => i + 1),
        );
        const scoring = messages.filter((m) => m.startsWith('scoring '));
        expect(scoring, messages.join('\n')).toHaveLength(12);
        // A stratified sample of 150 test images (149 after rounding per class).
        expect(scoring[0]).toMatch(
          new RegExp(`^scoring AdamW after epoch 0 on ${ran}: ID \\(1(49|50) images\\)$`),
        );
        const firstStep = messages.findIndex((m) => m.endsWith(`step 1 of ${total}`));
        const lastStep = messages.findIndex((m) => m.endsWith(`step ${total} of ${total}`));
        expect(messages.slice(0, firstStep).filter((m) => m.startsWith('scoring '))).toHaveLength(6);
        expect(messages.slice(lastStep).filter((m) => m.startsWith('scoring '))).toHaveLength(6);
        expect(await demo.getAttribute('data-points')).toBe('4');
        const rows: string[][] = [];
        for (const row of ['adamw', 'ftp']) {
          const cells = await demo.locator(`.demo-row-${row} td`).allTextContents();
          rows.push(cells);
          expect(cells[1]).toBe('1');
          for (const cell of cells.slice(2)) expect(cell).toMatch(/^\d+\.\d %$/);
          // After 10 steps on UCI digits both copies beat the pre-trained model's 84.4 % ID accuracy.
          if (!gpu) expect(Number.parseFloat(cells[2] ?? '0'), cells.join(' | ')).toBeGreaterThan(86);
        }
        await demo.screenshot({ path: join(SHOTS, `demo-${backend}.png`) });
        console.log(`demo (${backend}): ${message}; ${chosen}; ${rows.map((r) => r.join(' ')).join(' / ')}`);
        expect(errors).toEqual([]);
      } finally {
        await page.close();
      }
    });
  }

  it('the benchmark page embeds the report table and both plots of each tier', async () => {
    const page = await context.newPage();
    try {
      await page.goto(`${server.url}/benchmark/`, { waitUntil: 'load' });
      const images = await page.locator('.vp-doc img').evaluateAll((els) =>
        els.map((e) => ({
          src: (e as HTMLImageElement).getAttribute('src') ?? '',
          ok: (e as HTMLImageElement).complete && (e as HTMLImageElement).naturalWidth > 0,
        })),
      );
      // Vite fingerprints the plots (assets/id-vs-ood.<hash>.svg): one of each per tier, all loaded.
      for (const plot of ['id-vs-ood', 'corruptions']) {
        const found = images.filter((i) => i.src.split('/').pop()?.startsWith(`${plot}.`));
        expect(found.length, `${plot} plots among ${JSON.stringify(images)}`).toBe(2);
        for (const f of found) expect(f.ok, `${f.src} loaded`).toBe(true);
      }
      expect(await page.locator('.vp-doc table').count()).toBeGreaterThanOrEqual(2);
      // Every table fits inside the text column (a wide one scrolls inside it instead of spilling).
      const spill = await page.locator('.vp-doc table').evaluateAll((tables) => {
        const column = (document.querySelector('.vp-doc') as HTMLElement).getBoundingClientRect();
        return tables
          .map((t) => {
            const r = t.getBoundingClientRect();
            const scrolls =
              getComputedStyle(t).overflowX === 'auto' || getComputedStyle(t).overflowX === 'scroll';
            return { right: r.right, limit: column.right, scrolls, wide: t.scrollWidth > t.clientWidth };
          })
          .filter((t) => t.right > t.limit + 1 || (t.wide && !t.scrolls));
      });
      expect(spill).toEqual([]);
      await page.screenshot({ path: join(SHOTS, 'page-benchmark.png'), fullPage: true });
    } finally {
      await page.close();
    }
  });

  it('has a favicon, an API index with one line per package, and no page built from public/', async () => {
    const page = await context.newPage();
    try {
      await page.goto(`${server.url}/api/`, { waitUntil: 'load' });
      const icon = await page.locator('link[rel="icon"]').getAttribute('href');
      expect(icon).toBe('/favicon.svg');
      const favicon = await page.request.get(`${server.url}${icon}`);
      expect(favicon.status()).toBe(200);
      expect(await favicon.text()).toContain('<svg');
      const rows = await page
        .locator('.vp-doc table tr')
        .evaluateAll((trs) =>
          trs
            .slice(1)
            .map((tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent?.trim() ?? '')),
        );
      const names = ['backend-node', 'backend-web', 'core', 'eval', 'losses', 'optimizers'];
      expect(rows.map((r) => r[0])).toEqual(names.map((n) => `@robust-ft/${n}`));
      for (const r of rows) expect((r[1] ?? '').length, r.join(' | ')).toBeGreaterThan(20);
    } finally {
      await page.close();
    }
    expect(existsSync(join(DIST, 'public'))).toBe(false);
  });

  it('contacted nothing but the local server', () => {
    expect(offsite).toEqual([]);
  });
});
