/**
 * Regenerates `data/font-digits-*.gz`: printed digits 0–9 rendered from every Latin text font found
 * under /usr/share/fonts, each with `VARIANTS` seeded random affine jitters, framed like MNIST.
 *
 * Run once by a maintainer, not by the bench (users need neither fonts nor a canvas binary):
 *   apt-get install -y fonts-dejavu fonts-liberation fonts-dkg-handwriting fonts-humor-sans \
 *     fonts-urw-base35 fonts-freefont-ttf fonts-comic-neue fonts-cantarell fonts-roboto-unhinted
 *   npm i --prefix /tmp/canvas @napi-rs/canvas@1.1.1
 *   NAPI_CANVAS_DIR=/tmp/canvas pnpm --filter @robust-ft/bench render-fonts
 * The set depends on the installed font files (listed in data/font-digits-fonts.txt).
 */
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createRng } from '@robust-ft/core';
import { encodeIdx } from '../src/data/idx';
import { frameLikeMnist, PIXELS } from '../src/data/image';
import { dataPath } from '../src/data/paths';

const SEED = 7;
const VARIANTS = 2;
const CANVAS = 96;
const FONT_ROOT = '/usr/share/fonts';
/** Symbol, dingbat and math fonts have no ordinary digits. */
const EXCLUDE = /symbol|d050000l|math|standardsymbols|opensymbol/i;

interface CanvasModule {
  createCanvas(
    w: number,
    h: number,
  ): {
    getContext(kind: '2d'): {
      fillStyle: string;
      strokeStyle: string;
      lineWidth: number;
      font: string;
      textAlign: string;
      textBaseline: string;
      fillRect(x: number, y: number, w: number, h: number): void;
      setTransform(a: number, b: number, c: number, d: number, e: number, f: number): void;
      fillText(t: string, x: number, y: number): void;
      strokeText(t: string, x: number, y: number): void;
      getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
    };
  };
  GlobalFonts: { registerFromPath(path: string, alias: string): unknown };
}

async function loadCanvas(): Promise<CanvasModule> {
  const dir = process.env.NAPI_CANVAS_DIR;
  if (dir) return createRequire(join(dir, 'package.json'))('@napi-rs/canvas') as CanvasModule;
  return (await import('@napi-rs/canvas' as string)) as CanvasModule;
}

function listFonts(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const p = join(dir, entry);
    if (statSync(p).isDirectory()) out.push(...listFonts(p));
    else if (/\.(ttf|otf)$/i.test(entry) && !EXCLUDE.test(entry)) out.push(p);
  }
  return out;
}

async function main(): Promise<void> {
  const { createCanvas, GlobalFonts } = await loadCanvas();
  const fonts = listFonts(FONT_ROOT);
  const rng = createRng(SEED);
  const images: number[] = [];
  const labels: number[] = [];
  const used: string[] = [];
  const canvas = createCanvas(CANVAS, CANVAS);
  const ctx = canvas.getContext('2d');
  fonts.forEach((path, f) => {
    const alias = `bench-font-${f}`;
    GlobalFonts.registerFromPath(path, alias);
    used.push(basename(path));
    for (let digit = 0; digit < 10; digit++) {
      for (let v = 0; v < VARIANTS; v++) {
        // Mild jitter, the range of natural handwriting slant: rotation ±12°, shear ±0.2, and a stroke
        // of 0–3 px that thickens thin fonts toward MNIST's pen width.
        const angle = ((rng.uniform() * 2 - 1) * 12 * Math.PI) / 180;
        const shear = (rng.uniform() * 2 - 1) * 0.2;
        const stroke = rng.uniform() * 3;
        ctx.setTransform(1, 0, 0, 1, 0, 0);
        ctx.fillStyle = '#000';
        ctx.fillRect(0, 0, CANVAS, CANVAS);
        const cos = Math.cos(angle);
        const sin = Math.sin(angle);
        ctx.setTransform(cos, sin, -sin + shear * cos, cos + shear * sin, CANVAS / 2, CANVAS / 2);
        ctx.font = `56px "${alias}"`;
        ctx.textAlign = 'center';
        ctx.textBaseline = 'middle';
        ctx.fillStyle = '#fff';
        ctx.strokeStyle = '#fff';
        ctx.lineWidth = stroke;
        ctx.fillText(String(digit), 0, 0);
        if (stroke > 0.5) ctx.strokeText(String(digit), 0, 0);
        const rgba = ctx.getImageData(0, 0, CANVAS, CANVAS).data;
        const gray = new Float32Array(CANVAS * CANVAS);
        for (let i = 0; i < gray.length; i++) gray[i] = (rgba[i * 4] ?? 0) / 255;
        const framed = frameLikeMnist(gray, CANVAS, CANVAS);
        for (let i = 0; i < PIXELS; i++) images.push(Math.round((framed[i] ?? 0) * 255));
        labels.push(digit);
      }
    }
  });
  const n = labels.length;
  writeFileSync(
    dataPath('font-digits-images-idx3-ubyte.gz'),
    gzipSync(encodeIdx([n, 28, 28], Uint8Array.from(images)), { level: 9 }),
  );
  writeFileSync(
    dataPath('font-digits-labels-idx1-ubyte.gz'),
    gzipSync(encodeIdx([n], Uint8Array.from(labels))),
  );
  writeFileSync(dataPath('font-digits-fonts.txt'), `${used.join('\n')}\n`);
  console.log(`rendered ${n} images from ${used.length} fonts`);
}

await main();
