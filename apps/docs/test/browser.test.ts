/**
 * The built site in Debian's Chromium: every live snippet is run on WebGL and wasm (and the first
 * one of each page on cpu; WebGPU only where reads are async, see WEBGPU_PAGES), its printed lines are compared with
 * the expected block, and each block is screenshotted into screenshots/ (git-ignored).
 * Needs the site built first (`pnpm --filter @robust-ft/docs build`; turbo runs it before `test`).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackendName } from '../src/backends';
import { compareOutput, type Snippet } from '../src/snippets';
import { allSnippets, docsRoot, slug } from './collect';
import { type StaticServer, serveStatic } from './static-server';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const DIST = join(docsRoot, '.vitepress', 'dist');
const SHOTS = join(docsRoot, 'screenshots');
const WEBGPU_PAGES = new Set(['guide/live-snippets.md']);
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

describe('live snippets in Chromium', () => {
  it('finds the snippets', () => {
    expect(snippets.length).toBeGreaterThan(0);
  });

  for (const [path, pageSnippets] of byPage) {
    it(`${path}: every snippet prints its expected output on webgl and wasm`, async () => {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      try {
        await openPage(page, path);
        const blocks = await page.locator('.live-code').count();
        expect(blocks, 'live blocks on the page vs run fences in the markdown').toBe(pageSnippets.length);
        const runs: [Snippet, BackendName][] = [];
        for (const backend of ['webgl', 'wasm'] as const)
          for (const s of pageSnippets) runs.push([s, backend]);
        const first = pageSnippets[0];
        if (first) runs.push([first, 'cpu']);
        // WebGPU (SwiftShader here): synchronous reads (dataSync, which the packages and most snippets
        // use) come back as zeros in this Chromium, so only the async-only snippets run on it.
        if (first && WEBGPU_PAGES.has(path)) runs.push([first, 'webgpu']);
        for (const [snippet, backend] of runs) {
          const lines = await runBlock(page, snippet, backend);
          expect(
            compareOutput(lines, snippet.expected),
            `${snippet.id} on ${backend}:\n${lines.join('\n')}`,
          ).toBeNull();
        }
        await page.screenshot({ path: join(SHOTS, `page-${slug(path)}.png`), fullPage: true });
        expect(errors, 'uncaught page errors').toEqual([]);
      } finally {
        await page.close();
      }
    });
  }

  for (const backend of ['webgl', 'wasm'] as const) {
    it(`demo page: a short side-by-side run on ${backend} plots both methods`, async () => {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      try {
        await page.goto(`${server.url}/demo.html?backend=${backend}`, { waitUntil: 'load' });
        const demo = page.locator('.fine-tune-demo');
        await demo.locator('select').selectOption('3');
        await demo.locator('.demo-start').click();
        await expect
          .poll(() => demo.getAttribute('data-status'), { timeout: 120_000, interval: 500 })
          .toMatch(/^(done|error)$/);
        const message = (await demo.locator('.demo-message').textContent()) ?? '';
        expect(await demo.getAttribute('data-status'), message).toBe('done');
        expect(message).toContain(`done on ${backend}`);
        // Epochs 0..3 for each of the two methods.
        expect(await demo.getAttribute('data-points')).toBe('8');
        for (const row of ['adamw', 'ftp']) {
          const cells = await demo.locator(`.demo-row-${row} td`).allTextContents();
          expect(cells[1]).toBe('3');
          expect(cells[2]).toMatch(/^\d+\.\d %$/);
          expect(cells[3]).toMatch(/^\d+\.\d %$/);
        }
        await demo.screenshot({ path: join(SHOTS, `demo-${backend}.png`) });
        expect(errors).toEqual([]);
      } finally {
        await page.close();
      }
    });
  }

  it('contacted nothing but the local server', () => {
    expect(offsite).toEqual([]);
  });
});
