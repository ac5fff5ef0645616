import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  convolveChannels,
  coordinateGrid,
  diskKernel,
  fractalNoise,
  gaussianBlur,
  gaussianKernel1d,
  grey,
  motionKernel,
  normalizeKernel,
  sampleBilinear,
} from '../src/corruptions/image-ops';
import './setup-backend';

/** The corruption building blocks against plain float64 loops (and hand-worked kernels). */
const read = (t: tf.Tensor) => {
  const v = Array.from(t.dataSync());
  t.dispose();
  return v;
};
const expectClose = (got: number[], want: number[], digits = 5) => {
  expect(got).toHaveLength(want.length);
  got.forEach((g, i) => {
    expect(g, `index ${i}`).toBeCloseTo(want[i] as number, digits);
  });
};
/** Deterministic test values of an `[n, h, w, c]` batch. */
const values = (n: number, h: number, w: number, c: number) =>
  Array.from({ length: n * h * w * c }, (_, i) => ((i * 37 + 11) % 53) / 52);

/** Correlation of each channel with `k`, padded by reflection (or zeros), as convolveChannels documents. */
function convolveReference(
  x: number[],
  [n, h, w, c]: number[],
  k: number[][],
  pad: 'reflect' | 'zero',
): number[] {
  const kh = k.length;
  const kw = (k[0] as number[]).length;
  const ph = Math.floor((kh - 1) / 2);
  const pw = Math.floor((kw - 1) / 2);
  const reflect = (i: number, size: number) => (i < 0 ? -i : i >= size ? 2 * (size - 1) - i : i);
  const out: number[] = [];
  for (let b = 0; b < n!; b++)
    for (let r = 0; r < h!; r++)
      for (let col = 0; col < w!; col++)
        for (let ch = 0; ch < c!; ch++) {
          let sum = 0;
          for (let i = 0; i < kh; i++)
            for (let j = 0; j < kw; j++) {
              let rr = r + i - ph;
              let cc = col + j - pw;
              if (pad === 'reflect') {
                rr = reflect(rr, h!);
                cc = reflect(cc, w!);
              } else if (rr < 0 || rr >= h! || cc < 0 || cc >= w!) continue;
              sum += (k[i]![j] as number) * (x[((b * h! + rr) * w! + cc) * c! + ch] as number);
            }
          out.push(sum);
        }
  return out;
}

describe('convolveChannels', () => {
  it('correlates every channel with the kernel, reflect-padded (odd, even and asymmetric kernels)', () => {
    const shape = [2, 5, 6, 3];
    const x = values(2, 5, 6, 3);
    for (const k of [
      [[0, 0, 1]], // a shift: out[j] = x[j + 1], reflected at the right edge
      [[1], [2]], // even height: pads 0 rows above, 1 below
      [
        [0.1, -0.2, 0.3],
        [0.4, 0.5, -0.6],
        [0.7, 0.8, 0.9],
      ],
      [
        [1, 2, 3, 4],
        [5, 6, 7, 8],
      ],
    ]) {
      const got = read(convolveChannels(tf.tensor4d(x, shape as [number, number, number, number]), k));
      expectClose(got, convolveReference(x, shape, k, 'reflect'), 4);
    }
  });

  it('falls back to zero padding when a reflection would not fit in the image', () => {
    // Each case breaks exactly one of: top pad < H, bottom pad < H, left pad < W, right pad < W.
    const cases: Array<[number[], number[][]]> = [
      [
        [1, 2, 3, 1],
        [[0.5], [1], [2], [3], [0.25]],
      ], // 5×1 on H = 2: top and bottom pads 2
      [
        [1, 2, 3, 1],
        [[1], [2], [3], [4]],
      ], // 4×1 on H = 2: top pad 1, bottom pad 2
      [[1, 3, 2, 1], [[1, 2, 3, 4]]], // 1×4 on W = 2: left pad 1, right pad 2
      [[1, 3, 2, 2], [[0.5, 1, 2, 3, 0.25]]], // 1×5 on W = 2
    ];
    for (const [shape, k] of cases) {
      const x = values(shape[0]!, shape[1]!, shape[2]!, shape[3]!);
      const got = read(convolveChannels(tf.tensor4d(x, shape as [number, number, number, number]), k));
      expectClose(got, convolveReference(x, shape, k, 'zero'), 4);
    }
    // Pads of exactly H − 1 and W − 1 still reflect.
    const x = values(1, 3, 3, 1);
    const k = [
      [1, 2, 3, 4, 5],
      [6, 7, 8, 9, 10],
      [11, 12, 13, 14, 15],
      [16, 17, 18, 19, 20],
      [21, 22, 23, 24, 25],
    ];
    expectClose(
      read(convolveChannels(tf.tensor4d(x, [1, 3, 3, 1]), k)),
      convolveReference(x, [1, 3, 3, 1], k, 'reflect'),
      3,
    );
  });
});

describe('kernels', () => {
  it('normalizeKernel divides by the total', () => {
    expect(
      normalizeKernel([
        [1, 3],
        [4, 0],
      ]),
    ).toEqual([
      [0.125, 0.375],
      [0.5, 0],
    ]);
  });

  it('gaussianKernel1d has radius ⌈3σ⌉ (at least 1) and sums to 1', () => {
    for (const [sigma, radius] of [
      [0.2, 1],
      [1, 3],
      [1.1, 4],
    ] as const) {
      const k = gaussianKernel1d(sigma);
      expect(k).toHaveLength(2 * radius + 1);
      const raw = k.map((_, i) => Math.exp(-((i - radius) ** 2) / (2 * sigma * sigma)));
      const total = raw.reduce((a, b) => a + b, 0);
      expectClose(
        k,
        raw.map((v) => v / total),
        12,
      );
    }
  });

  it('diskKernel covers 1 − distance to the rim (clamped to [0, 1]), normalised', () => {
    // Radius 1: centre 1, edges 0.5, corners 1.5 − √2.
    const corner = 1.5 - Math.SQRT2;
    const total = 1 + 4 * 0.5 + 4 * corner;
    const k = diskKernel(1);
    expectClose(
      k.flat(),
      [corner, 0.5, corner, 0.5, 1, 0.5, corner, 0.5, corner].map((v) => v / total),
      12,
    );
    // Radius 1.6: 2·⌈1.6⌉ + 1 = 5 wide, its corners beyond the rim.
    const big = diskKernel(1.6);
    expect(big).toHaveLength(5);
    expect(big[0]?.[0]).toBe(0);
    const raw = Array.from({ length: 25 }, (_, i) =>
      Math.min(1, Math.max(0, 2.1 - Math.hypot(Math.floor(i / 5) - 2, (i % 5) - 2))),
    );
    const sum = raw.reduce((a, b) => a + b, 0);
    expectClose(
      big.flat(),
      raw.map((v) => v / sum),
      12,
    );
  });

  it('motionKernel is a supersampled line through the centre at the given angle', () => {
    // Length 2 at angle 0: 49 samples at x = 1 + t, t ∈ [−1, 1]; 12 round to column 0, 24 to 1, 13 to 2.
    const flat = motionKernel(2, 0);
    expect(flat).toHaveLength(3);
    expectClose(flat.flat(), [0, 0, 0, 12 / 49, 24 / 49, 13 / 49, 0, 0, 0], 12);
    const upright = motionKernel(2, Math.PI / 2);
    expectClose(upright.flat(), [0, 12 / 49, 0, 0, 24 / 49, 0, 0, 13 / 49, 0], 12);
    // Length 3 → 5 × 5; a 45° line fills the diagonal only.
    const diag = motionKernel(3, Math.PI / 4);
    expect(diag).toHaveLength(5);
    diag.forEach((row, i) => {
      row.forEach((v, j) => {
        if (i !== j) expect(v, `(${i}, ${j})`).toBe(0);
      });
    });
    expect(diag.flat().reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(diag[2]?.[2]).toBeGreaterThan(diag[0]?.[0] as number);
  });
});

describe('gaussianBlur', () => {
  it('is the separable Gaussian (reflect-padded); σ ≤ 0 returns a copy', () => {
    const shape = [1, 9, 7, 2];
    const x = values(1, 9, 7, 2);
    const k = gaussianKernel1d(0.8);
    const outer = k.map((a) => k.map((b) => a * b));
    expectClose(
      read(gaussianBlur(tf.tensor4d(x, shape as [number, number, number, number]), 0.8)),
      convolveReference(x, shape, outer, 'reflect'),
      5,
    );
    for (const sigma of [0, -1]) {
      const input = tf.tensor4d(x, shape as [number, number, number, number]);
      const out = gaussianBlur(input, sigma);
      expect(out).not.toBe(input);
      expect(read(out)).toEqual(read(input));
    }
  });
});

describe('sampleBilinear', () => {
  it('interpolates bilinearly per image and channel, clamping coordinates to the image', () => {
    const [n, h, w, c] = [2, 3, 4, 2];
    const x = values(n, h, w, c);
    const ys = [0, 0.5, 1.25, 2, -1, 3.5, 1.75, 0.1, 2.9, 1, 0, 2];
    const xs = [0, 0.5, 2.75, 3, -2, 5, 0.2, 3.9, 1.5, 2.5, 1, 0.6];
    // Coordinates for both images ([n, h, w] = 2 × 3 × 4 = 24): the list above, then reversed.
    const sy = [...ys, ...[...ys].reverse()];
    const sx = [...xs, ...[...xs].reverse()];
    const want: number[] = [];
    for (let b = 0; b < n; b++)
      for (let p = 0; p < h * w; p++) {
        const yy = Math.min(Math.max(sy[b * 12 + p]!, 0), h - 1);
        const xx = Math.min(Math.max(sx[b * 12 + p]!, 0), w - 1);
        const [y0, x0] = [Math.floor(yy), Math.floor(xx)];
        const [y1, x1] = [Math.min(y0 + 1, h - 1), Math.min(x0 + 1, w - 1)];
        const [fy, fx] = [yy - y0, xx - x0];
        const at = (r: number, col: number, ch: number) => x[((b * h + r) * w + col) * c + ch]!;
        for (let ch = 0; ch < c; ch++)
          want.push(
            (1 - fy) * ((1 - fx) * at(y0, x0, ch) + fx * at(y0, x1, ch)) +
              fy * ((1 - fx) * at(y1, x0, ch) + fx * at(y1, x1, ch)),
          );
      }
    const got = read(
      sampleBilinear(tf.tensor4d(x, [n, h, w, c]), tf.tensor3d(sy, [n, h, w]), tf.tensor3d(sx, [n, h, w])),
    );
    expectClose(got, want, 5);
  });

  it('at the pixel grid reproduces the image', () => {
    const x = tf.tensor4d(values(2, 3, 5, 1), [2, 3, 5, 1]);
    const [rows, cols] = coordinateGrid(2, 3, 5);
    expect(read(sampleBilinear(x, rows, cols))).toEqual(read(x));
  });
});

describe('coordinateGrid, grey, fractalNoise', () => {
  it('coordinateGrid gives row and column indices [N, H, W]', () => {
    const [rows, cols] = coordinateGrid(2, 2, 3);
    expect(rows.shape).toEqual([2, 2, 3]);
    expect(read(rows)).toEqual([0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1]);
    expect(read(cols)).toEqual([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2]);
  });

  it('grey is the channel mean, keeping a channel axis', () => {
    const g = grey(tf.tensor4d([0.3, 0.6, 0.9, 0, 0, 0.3], [1, 1, 2, 3]));
    expect(g.shape).toEqual([1, 1, 2, 1]);
    expectClose(read(g), [0.6, 0.1], 6);
  });

  it('fractalNoise sums upsampled uniform grids with amplitude decay^−octave, normalised', () => {
    const [n, h, w] = [2, 20, 12];
    let s = 100;
    const got = read(fractalNoise(n, h, w, () => s++, 1.6, 3));
    // Octave o uses a grid of max(2, ⌈size / 2^(3 − o)⌉): 3 × 2, 5 × 3, 10 × 6.
    const grids: Array<[number, number]> = [
      [3, 2],
      [5, 3],
      [10, 6],
    ];
    const want = tf.tidy(() => {
      let total = tf.zeros([n, h, w, 1]);
      grids.forEach(([gh, gw], o) => {
        const coarse = tf.randomUniform([n, gh, gw, 1], 0, 1, 'float32', 100 + o) as tf.Tensor4D;
        total = tf.add(total, tf.mul(tf.image.resizeBilinear(coarse, [h, w], true), 1.6 ** -o));
      });
      return tf.div(total, 1 + 1 / 1.6 + 1 / 1.6 ** 2);
    });
    expectClose(got, read(want), 5);
    expect(s).toBe(103);
    // Default 4 octaves: four seeds drawn.
    s = 0;
    read(fractalNoise(1, 8, 8, () => s++, 2));
    expect(s).toBe(4);
  });
});
