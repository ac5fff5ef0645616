import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { jpegCompress, quantizationTable } from '../src/corruptions/jpeg';
import './setup-backend';

/** The IJG base tables (ITU-T T.81 Annex K.1 and K.2), row-major. */
const LUMA = [
  [16, 11, 10, 16, 24, 40, 51, 61],
  [12, 12, 14, 19, 26, 58, 60, 55],
  [14, 13, 16, 24, 40, 57, 69, 56],
  [14, 17, 22, 29, 51, 87, 80, 62],
  [18, 22, 37, 56, 68, 109, 103, 77],
  [24, 35, 55, 64, 81, 104, 113, 92],
  [49, 64, 78, 87, 103, 121, 120, 101],
  [72, 92, 95, 98, 112, 100, 103, 99],
].flat();
const CHROMA = [
  [17, 18, 24, 47, 99, 99, 99, 99],
  [18, 21, 26, 66, 99, 99, 99, 99],
  [24, 26, 56, 99, 99, 99, 99, 99],
  [47, 66, 99, 99, 99, 99, 99, 99],
  ...Array.from({ length: 4 }, () => new Array(8).fill(99)),
].flat();

/**
 * JPEG round trip in float64 loops: full-range BT.601 YCbCr, blocks padded at the bottom/right by
 * reflection (zeros when the image is too small to reflect), level shift, orthonormal 8×8 DCT-II,
 * quantisation with the scaled tables, inverse DCT, back to RGB, 8-bit rounding.
 */
function jpegReference(x: number[], [n, h, w, c]: number[], quality: number): number[] {
  const ph = (8 - (h! % 8)) % 8;
  const pw = (8 - (w! % 8)) % 8;
  const [H, W] = [h! + ph, w! + pw];
  const reflect = ph < h! && pw < w!;
  const alpha = (k: number) => (k === 0 ? Math.sqrt(1 / 8) : Math.sqrt(2 / 8));
  const basis = (k: number, i: number) => alpha(k) * Math.cos(((2 * i + 1) * k * Math.PI) / 16);
  const tables = Array.from({ length: c! }, (_, ch) => {
    const base = c === 3 && ch > 0 ? CHROMA : LUMA;
    const s = quality < 50 ? 5000 / quality : 200 - 2 * quality;
    return base.map((v) => Math.min(255, Math.max(1, Math.floor((v * s + 50) / 100))));
  });
  const out = new Array<number>(x.length);
  for (let b = 0; b < n!; b++) {
    // Planes in [0, 255], converted to YCbCr for colour.
    const plane = (ch: number) => {
      const p = new Array<number>(H * W).fill(0);
      for (let r = 0; r < H; r++)
        for (let col = 0; col < W; col++) {
          let [rr, cc] = [r, col];
          if (rr >= h! || cc >= w!) {
            if (!reflect) continue;
            if (rr >= h!) rr = 2 * (h! - 1) - rr;
            if (cc >= w!) cc = 2 * (w! - 1) - cc;
          }
          const px = (k: number) => 255 * Math.min(1, Math.max(0, x[((b * h! + rr) * w! + cc) * c! + k]!));
          if (c === 1) p[r * W + col] = px(0);
          else {
            const [R, G, B] = [px(0), px(1), px(2)];
            p[r * W + col] = [
              0.299 * R + 0.587 * G + 0.114 * B,
              -0.168736 * R - 0.331264 * G + 0.5 * B + 128,
              0.5 * R - 0.418688 * G - 0.081312 * B + 128,
            ][ch]!;
          }
        }
      return p;
    };
    const restored = Array.from({ length: c! }, (_, ch) => {
      const p = plane(ch);
      const q = tables[ch]!;
      const res = new Array<number>(H * W).fill(0);
      for (let by = 0; by < H; by += 8)
        for (let bx = 0; bx < W; bx += 8) {
          const coef: number[] = [];
          for (let u = 0; u < 8; u++)
            for (let v = 0; v < 8; v++) {
              let s = 0;
              for (let i = 0; i < 8; i++)
                for (let j = 0; j < 8; j++)
                  s += basis(u, i) * basis(v, j) * (p[(by + i) * W + bx + j]! - 128);
              coef.push(Math.round(s / q[u * 8 + v]!) * q[u * 8 + v]!);
            }
          for (let i = 0; i < 8; i++)
            for (let j = 0; j < 8; j++) {
              let s = 0;
              for (let u = 0; u < 8; u++)
                for (let v = 0; v < 8; v++) s += basis(u, i) * basis(v, j) * coef[u * 8 + v]!;
              res[(by + i) * W + bx + j] = s + 128;
            }
        }
      return res;
    });
    for (let r = 0; r < h!; r++)
      for (let col = 0; col < w!; col++) {
        const at = (ch: number) => restored[ch]![r * W + col]!;
        const rgb =
          c === 1
            ? [at(0)]
            : [
                at(0) + 1.402 * (at(2) - 128),
                at(0) - 0.344136 * (at(1) - 128) - 0.714136 * (at(2) - 128),
                at(0) + 1.772 * (at(1) - 128),
              ];
        rgb.forEach((v, k) => {
          out[((b * h! + r) * w! + col) * c! + k] = Math.round(Math.min(255, Math.max(0, v))) / 255;
        });
      }
  }
  return out;
}

/** Smooth test images with some texture, values in [0, 1] (and a few outside, to be clipped). */
const image = (n: number, h: number, w: number, c: number) =>
  Array.from({ length: n * h * w * c }, (_, i) => {
    const k = i % c;
    const col = Math.floor(i / c) % w;
    const r = Math.floor(i / (c * w)) % h;
    return 0.5 + 0.45 * Math.sin(0.7 * r + 0.3 * col + k) + 0.15 * Math.cos(2.1 * col * (k + 1) - r) - 0.05;
  });

function expectMatchesReference(shape: [number, number, number, number], quality: number): void {
  const x = image(...shape);
  const got = Array.from(jpegCompress(tf.tensor4d(x, shape), quality).dataSync());
  const want = jpegReference(x, shape, quality);
  // float32 against float64: a rounding may land one level apart (1/255), rarely; nothing more.
  const off = got.filter((g, i) => Math.abs(g - want[i]!) > 1e-6);
  expect(off.length, `${shape} q${quality}`).toBeLessThanOrEqual(Math.ceil(0.02 * got.length));
  got.forEach((g, i) => {
    expect(Math.abs(g - want[i]!), `${shape} q${quality} index ${i}`).toBeLessThanOrEqual(1 / 255 + 1e-6);
  });
  // Decoded 8-bit pixels.
  expect(got.every((g) => Math.abs(g * 255 - Math.round(g * 255)) < 1e-4)).toBe(true);
}

describe('jpegCompress', () => {
  it('matches a float64 JPEG round trip on grey images (whole blocks)', () => {
    expectMatchesReference([1, 16, 16, 1], 25);
    expectMatchesReference([2, 8, 16, 1], 7);
  });

  it('matches on colour images through YCbCr with the chroma table, partial blocks reflected', () => {
    expectMatchesReference([1, 11, 13, 3], 15);
    expectMatchesReference([1, 9, 10, 3], 60);
  });

  it('pads with zeros when the image is too small to reflect a block', () => {
    expectMatchesReference([1, 3, 9, 1], 18); // 5 rows of padding ≥ 3 rows
    expectMatchesReference([1, 9, 3, 1], 18); // 5 columns of padding ≥ 3 columns
    expectMatchesReference([1, 3, 3, 3], 10);
    expectMatchesReference([1, 4, 9, 1], 18); // 4 rows of padding = 4 rows: no reflection either
    expectMatchesReference([1, 9, 4, 1], 18);
  });
});

describe('quantizationTable', () => {
  it('scales by 5000/q below quality 50 and by 200 − 2q from 50, floored, within [1, 255]', () => {
    expect(quantizationTable([100], 49)).toEqual([102]); // ⌊(100·5000/49 + 50)/100⌋
    expect(quantizationTable([100], 50)).toEqual([100]);
    expect(quantizationTable([100], 51)).toEqual([98]);
    expect(quantizationTable([16, 11, 99], 10)).toEqual([80, 55, 255]);
    expect(quantizationTable([16, 11, 99], 90)).toEqual([3, 2, 20]);
    // Quality is clamped to [1, 100]; the table to [1, 255].
    expect(quantizationTable([3, 99], 0)).toEqual(quantizationTable([3, 99], 1));
    expect(quantizationTable([3, 99], 1)).toEqual([150, 255]);
    expect(quantizationTable([3, 99], 101)).toEqual([1, 1]);
    expect(quantizationTable([3, 99], 100)).toEqual([1, 1]);
    expect(quantizationTable([1], 99)).toEqual([1]); // ⌊(2 + 50)/100⌋ = 0 → 1
  });
});
