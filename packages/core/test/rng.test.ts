import { describe, expect, it } from 'vitest';
import { createRng } from '../src/index';

/**
 * The seeded PRNG's contract, value by value where the algorithm fixes it and by moments (seeded, so
 * deterministic) where it samples a distribution (issue #20: only the Beta(2, 2) mean was checked, which
 * a swapped x/(x + y) passes).
 */
/** One stream for the distribution checks. */
const shared = createRng(13);

const moments = (draw: () => number, n = 20000) => {
  let sum = 0;
  let sq = 0;
  for (let i = 0; i < n; i++) {
    const x = draw();
    sum += x;
    sq += x * x;
  }
  const mean = sum / n;
  return { mean, variance: sq / n - mean * mean };
};
const throwsNaming = (fn: () => unknown, argument: string) =>
  expect(fn).toThrowError(expect.objectContaining({ name: 'RobustFtError', argument }));

describe('createRng', () => {
  it('takes an integer seed ≥ 0', () => {
    for (const seed of [-1, 1.5, Number.NaN]) throwsNaming(() => createRng(seed), 'seed');
    expect(() => createRng(0)).not.toThrow();
  });

  it('nextUint32 is a 32-bit unsigned integer; uniform = nextUint32 / 2³² in [0, 1)', () => {
    const a = createRng(5);
    const b = createRng(5);
    for (let i = 0; i < 1000; i++) {
      const u = a.nextUint32();
      expect(Number.isInteger(u) && u >= 0 && u < 2 ** 32).toBe(true);
      expect(b.uniform()).toBe(u / 2 ** 32);
    }
    const { mean, variance } = moments(createRng(6).uniform);
    expect(mean).toBeCloseTo(0.5, 2);
    expect(variance).toBeCloseTo(1 / 12, 2);
  });

  it('int(n) is uniform over 0 … n − 1 and refuses n < 1', () => {
    const r = createRng(7);
    const counts = [0, 0, 0];
    for (let i = 0; i < 6000; i++) counts[r.int(3)]! += 1;
    for (const c of counts) expect(Math.abs(c - 2000)).toBeLessThan(150);
    expect(counts.reduce((s, c) => s + c, 0)).toBe(6000);
    for (const n of [0, 1.5]) throwsNaming(() => r.int(n), 'n');
    expect(r.int(1)).toBe(0);
  });

  it('normal: mean 0, variance 1, and the two Box–Muller halves are uncorrelated', () => {
    const r = createRng(8);
    let sum = 0;
    let sq = 0;
    let cross = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) {
      const z1 = r.normal();
      const z2 = r.normal();
      sum += z1 + z2;
      sq += z1 * z1 + z2 * z2;
      cross += z1 * z2;
    }
    expect(Math.abs(sum / (2 * n))).toBeLessThan(0.02);
    expect(Math.abs(sq / (2 * n) - 1)).toBeLessThan(0.03);
    expect(Math.abs(cross / n)).toBeLessThan(0.03);
  });

  it('gamma(k) has mean k and variance k, below and above k = 1; refuses k ≤ 0', () => {
    for (const k of [0.3, 0.7, 1, 2.5]) {
      const { mean, variance } = moments(() => shared.gamma(k));
      expect(mean, `mean at ${k}`).toBeCloseTo(k, 1);
      expect(Math.abs(variance - k) / k, `variance at ${k}`).toBeLessThan(0.08);
    }
    throwsNaming(() => createRng(1).gamma(0), 'shape');
  });

  it('beta(a, b) has mean a/(a + b) and variance ab/((a + b)²(a + b + 1))', () => {
    for (const [a, b] of [
      [1, 3],
      [0.2, 0.2],
      [5, 2],
    ] as const) {
      const { mean, variance } = moments(() => shared.beta(a, b));
      expect(mean, `mean of Beta(${a}, ${b})`).toBeCloseTo(a / (a + b), 2);
      expect(variance, `variance of Beta(${a}, ${b})`).toBeCloseTo((a * b) / ((a + b) ** 2 * (a + b + 1)), 2);
    }
  });

  it('tensorSeed is an integer in [0, 2³¹ − 1)', () => {
    const r = createRng(9);
    for (let i = 0; i < 1000; i++) {
      const s = r.tensorSeed();
      expect(Number.isInteger(s) && s >= 0 && s < 2147483647).toBe(true);
    }
  });

  it('shuffle permutes in place, every position reachable for every item', () => {
    const r = createRng(10);
    const seen = Array.from({ length: 4 }, () => new Set<number>());
    for (let i = 0; i < 400; i++) {
      const items = [0, 1, 2, 3];
      const out = r.shuffle(items);
      expect(out).toBe(items);
      expect([...out].sort()).toEqual([0, 1, 2, 3]);
      out.forEach((v, pos) => {
        seen[v]!.add(pos);
      });
    }
    for (const positions of seen) expect(positions.size).toBe(4);
    // The first slot is uniform over the four items.
    const first = [0, 0, 0, 0];
    for (let i = 0; i < 4000; i++) first[r.shuffle([0, 1, 2, 3])[0]!]! += 1;
    for (const c of first) expect(Math.abs(c - 1000)).toBeLessThan(120);
  });

  it('fork: the label and the parent state pick the stream; a fork is reproducible', () => {
    const x = createRng(11).fork('a').uniform();
    expect(createRng(11).fork('a').uniform()).toBe(x);
    expect(createRng(11).fork('b').uniform()).not.toBe(x);
    expect(createRng(12).fork('a').uniform()).not.toBe(x);
    const parent = createRng(11);
    parent.fork('a');
    expect(parent.fork('a').uniform()).not.toBe(x);
  });
});
