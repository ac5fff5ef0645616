/**
 * The data mapping of the digits tier as pure functions of bytes and text: no Node imports, so the
 * docs site's live demo runs the same code in the browser on the files it serves. `datasets.ts` and
 * `idx.ts` read the files from disk and call these.
 */
import { createRng } from '@robust-ft/core';
import { PIXELS, resizeBilinear, SIDE } from './image';

/** A parsed IDX file (the MNIST container): unsigned bytes with their shape. */
export interface IdxArray {
  shape: number[];
  data: Uint8Array;
}

export function parseIdx(buf: Uint8Array): IdxArray {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (view.getUint16(0) !== 0 || view.getUint8(2) !== 0x08) {
    throw new Error('not an unsigned-byte IDX file');
  }
  const dims = view.getUint8(3);
  const shape: number[] = [];
  for (let i = 0; i < dims; i++) shape.push(view.getUint32(4 + 4 * i));
  const offset = 4 + 4 * dims;
  const size = shape.reduce((a, b) => a * b, 1);
  if (buf.byteLength < offset + size)
    throw new Error(`truncated IDX file: ${buf.byteLength} < ${offset + size}`);
  return { shape, data: buf.subarray(offset, offset + size) };
}

/** Grey 28×28 images in [0, 1] (row-major, N×784) with integer labels 0–9. */
export interface Dataset {
  readonly name: string;
  readonly x: Float32Array;
  readonly y: Int32Array;
  readonly n: number;
}

export function fromBytes(name: string, images: Uint8Array, labels: Uint8Array, n: number): Dataset {
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

/**
 * The UCI optical-recognition digits (sklearn's `load_digits`, 1,797 images of 8×8 with 17 grey levels,
 * 13 writers not in its training set), mapped to MNIST framing: bilinear 8→20, zero padding to 28×28,
 * each image rescaled to max intensity 1 (MNIST digits are saturated, these are counts 0–16).
 */
export function uciDigitsFromCsv(text: string): Dataset {
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
