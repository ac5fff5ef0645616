/**
 * Writes assets/corruptions-preview.svg: the first printed digit of apps/bench's font-digits set (or a
 * drawn ring when that file is missing) under every corruption family and severity.
 * Run: pnpm --filter @robust-ft/eval preview
 */
import '@tensorflow/tfjs-backend-cpu';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import * as tf from '@tensorflow/tfjs-core';
import { corruptionPreviewSvg } from '../src/report/corruption-preview';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = resolve(here, '..');
const idx = resolve(pkg, '../../apps/bench/data/font-digits-images-idx3-ubyte.gz');
const index = Number(process.argv[2] ?? 3);

function loadDigit(): tf.Tensor4D {
  if (existsSync(idx)) {
    const bytes = gunzipSync(readFileSync(idx));
    const offset = 16 + index * 784;
    return tf.tensor4d(
      Array.from(bytes.subarray(offset, offset + 784), (v) => v / 255),
      [1, 28, 28, 1],
    );
  }
  const ring = Array.from({ length: 784 }, (_, i) => {
    const d = Math.hypot((i % 28) - 13.5, Math.floor(i / 28) - 13.5);
    return Math.max(0, 1 - Math.abs(d - 8) / 2.5);
  });
  return tf.tensor4d(ring, [1, 28, 28, 1]);
}

await tf.setBackend('cpu');
const digit = loadDigit();
mkdirSync(resolve(pkg, 'assets'), { recursive: true });
const out = resolve(pkg, 'assets/corruptions-preview.svg');
writeFileSync(out, await corruptionPreviewSvg(digit, { seed: 1 }));
console.log(`wrote ${out}`);
