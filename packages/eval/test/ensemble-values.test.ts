import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  interpolateProbabilities,
  outputEnsemble,
  outputSpaceEnsemble,
  searchTemperature,
  weightedEnsemble,
  wiseFt,
} from '../src/index';
import './setup-backend';

/** Values, defaults and options of the ensembles, computed independently in float64 (issue #20). */

const rows = (t: tf.Tensor) => t.arraySync() as number[][];
const softmax = (row: number[], t = 1) => {
  const m = Math.max(...row.map((v) => v / t));
  const e = row.map((v) => Math.exp(v / t - m));
  const s = e.reduce((a, v) => a + v, 0);
  return e.map((v) => v / s);
};
function expectRowsClose(got: number[][], want: number[][], digits = 5) {
  expect(got.length).toBe(want.length);
  got.forEach((row, i) => {
    row.forEach((v, j) => {
      expect(v).toBeCloseTo(want[i]![j]!, digits);
    });
  });
}
/** The call throws a RobustFtError naming `argument`. */
const throwsNaming = (fn: () => unknown, argument: string) =>
  expect(fn).toThrowError(expect.objectContaining({ name: 'RobustFtError', argument }));
/** The async call rejects with a RobustFtError naming `argument`. */
const rejectsNaming = (fn: () => Promise<unknown>, argument: string) =>
  expect(fn()).rejects.toThrowError(expect.objectContaining({ name: 'RobustFtError', argument }));

const z1 = [
  [2, 0, -1],
  [0.5, 1.5, 0],
];
const z2 = [
  [-1, 1, 3],
  [0, 0, 2],
];

describe('weightedEnsemble', () => {
  it('defaults: probability space, weight 1, temperature 1 (the mean of the softmaxes)', () => {
    const got = rows(weightedEnsemble([{ logits: tf.tensor2d(z1) }, { logits: tf.tensor2d(z2) }]));
    const want = z1.map((r, i) => softmax(r).map((p, j) => (p + softmax(z2[i]!)[j]!) / 2));
    expectRowsClose(got, want);
  });

  it('normalises weights and divides each member by its temperature', () => {
    const got = rows(
      weightedEnsemble([
        { logits: tf.tensor2d(z1), weight: 3, temperature: 2 },
        { logits: tf.tensor2d(z2), weight: 1, temperature: 0.5 },
      ]),
    );
    const want = z1.map((r, i) => softmax(r, 2).map((p, j) => 0.75 * p + 0.25 * softmax(z2[i]!, 0.5)[j]!));
    expectRowsClose(got, want);
    const logits = rows(
      weightedEnsemble(
        [
          { logits: tf.tensor2d(z1), weight: 3, temperature: 2 },
          { logits: tf.tensor2d(z2), weight: 1, temperature: 0.5 },
        ],
        'logits',
      ),
    );
    expectRowsClose(
      logits,
      z1.map((r, i) => r.map((v, j) => (0.75 * v) / 2 + (0.25 * z2[i]![j]!) / 0.5)),
    );
    // A zero weight drops a member.
    expectRowsClose(
      rows(weightedEnsemble([{ logits: tf.tensor2d(z1), weight: 0 }, { logits: tf.tensor2d(z2) }])),
      z2.map((r) => softmax(r)),
    );
  });

  it('validates members, naming them', () => {
    const z = tf.tensor2d(z1);
    throwsNaming(() => weightedEnsemble([{ logits: z }, { logits: z, weight: -1 }]), 'members[1].weight');
    throwsNaming(() => weightedEnsemble([{ logits: z, temperature: 0 }]), 'members[0].temperature');
    throwsNaming(() => weightedEnsemble([{ logits: z, temperature: Number.NaN }]), 'members[0].temperature');
    throwsNaming(() => weightedEnsemble([{ logits: z, weight: 0 }]), 'members');
    throwsNaming(() => weightedEnsemble([{ logits: tf.tensor1d([1, 2]) }]), 'members[0].logits');
    throwsNaming(() => weightedEnsemble([{ logits: z }, { logits: tf.tensor1d([1]) }]), 'members[1].logits');
  });

  it('says what each refusal expected, and names a shape mismatch as one', () => {
    const z = tf.tensor2d(z1);
    const refusal = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        const { code, argument, expected, message } = e as Record<string, unknown>;
        return { code, argument, expected, message };
      }
      throw new Error('expected a refusal');
    };
    expect(refusal(() => weightedEnsemble([]))).toMatchObject({
      code: 'INVALID_ARGUMENT',
      argument: 'members',
      expected: 'at least one ensemble member',
    });
    expect(refusal(() => weightedEnsemble([{ logits: z }, { logits: tf.tensor2d([[1, 2]]) }]))).toEqual({
      code: 'SHAPE_MISMATCH',
      argument: 'members[1].logits',
      expected: undefined,
      message: 'members[1].logits has shape [1,2], expected [2,3]',
    });
    expect(refusal(() => weightedEnsemble([{ logits: z, temperature: -1 }]))).toMatchObject({
      argument: 'members[0].temperature',
      expected: 'a number > 0',
    });
    expect(refusal(() => weightedEnsemble([{ logits: z, weight: 0 }]))).toMatchObject({
      argument: 'members',
      expected: 'weights with a positive sum',
    });
  });
});

describe('deprecated names', () => {
  it('outputEnsemble and outputSpaceEnsemble are the renamed functions themselves', () => {
    expect(outputEnsemble).toBe(weightedEnsemble);
    expect(outputSpaceEnsemble).toBe(interpolateProbabilities);
  });
});

describe('interpolateProbabilities', () => {
  it('is α·softmax(fine-tuned) + (1 − α)·softmax(zero-shot)', () => {
    const got = rows(interpolateProbabilities(tf.tensor2d(z1), tf.tensor2d(z2), 0.25));
    expectRowsClose(
      got,
      z1.map((r, i) => softmax(r).map((p, j) => 0.75 * p + 0.25 * softmax(z2[i]!)[j]!)),
    );
    throwsNaming(() => interpolateProbabilities(tf.tensor2d(z1), tf.tensor2d(z2), 1.5), 'alpha');
  });
});

describe('wiseFt with Fisher weights', () => {
  it('θ = (c0·θ0 + c1·θ1)/(c0 + c1) with c = (1 − α)·max(F0, floor), α·max(F1, floor)', () => {
    const theta0 = { w: tf.tensor1d([1, 2, 3]) };
    const theta1 = { w: tf.tensor1d([5, 6, 7]) };
    const fishers = [{ w: tf.tensor1d([1, 0, 3]) }, { w: tf.tensor1d([3, 2, 0]) }] as const;
    const alpha = 0.25;
    const got = Array.from(wiseFt(theta0, theta1, alpha, { fishers, fisherFloor: 0.5 }).w!.dataSync());
    const want = [0, 1, 2].map((i) => {
      const c0 = (1 - alpha) * Math.max([1, 0, 3][i]!, 0.5);
      const c1 = alpha * Math.max([3, 2, 0][i]!, 0.5);
      return (c0 * [1, 2, 3][i]! + c1 * [5, 6, 7][i]!) / (c0 + c1);
    });
    got.forEach((v, i) => {
      expect(v).toBeCloseTo(want[i]!, 5);
    });
    // The default floor is 1e-8: a zero Fisher on one side leaves the other side's weight.
    const d = Array.from(wiseFt(theta0, theta1, 0.5, { fishers }).w!.dataSync());
    expect(d[1]).toBeCloseTo(6, 5);
    expect(d[2]).toBeCloseTo(3, 5);
    throwsNaming(() => wiseFt(theta0, theta1, 0.5, { fisherFloor: -1 }), 'options.fisherFloor');
  });

  it('a name without Fishers interpolates plainly; integer tensors keep θ1', () => {
    const theta0 = { w: tf.tensor1d([0, 4]), n: tf.tensor1d([1], 'int32') };
    const theta1 = { w: tf.tensor1d([2, 8]), n: tf.tensor1d([7], 'int32') };
    const out = wiseFt(theta0, theta1, 0.25, { fishers: [{}, {}] });
    expect(Array.from(out.w!.dataSync())).toEqual([0.5, 5]);
    expect(out.n!.dtype).toBe('int32');
    expect(Array.from(out.n!.dataSync())).toEqual([7]);
    expect(out.n).not.toBe(theta1.n);
  });
});

describe('searchTemperature', () => {
  const logits = tf.tensor2d([
    [3, 0, 0],
    [0, 2, 1],
    [1, 0.5, 0],
    [0, 0, 4],
  ]);
  const meanConfidence = (t: number) => rows(logits).reduce((s, r) => s + Math.max(...softmax(r, t)), 0) / 4;

  it('finds T with mean max-softmax confidence within the threshold (default 0.001) of the accuracy', async () => {
    for (const accuracy of [0.5, 0.75, 0.9]) {
      const fit = await searchTemperature(logits, accuracy);
      expect(Math.abs(fit.confidence - accuracy)).toBeLessThanOrEqual(0.001);
      expect(fit.confidence).toBeCloseTo(meanConfidence(fit.temperature), 10);
      expect(fit.iterations).toBeGreaterThanOrEqual(1);
    }
    const loose = await searchTemperature(logits, 0.75, { threshold: 0.05 });
    expect(Math.abs(loose.confidence - 0.75)).toBeLessThanOrEqual(0.05);
    expect(loose.iterations).toBeLessThanOrEqual((await searchTemperature(logits, 0.75)).iterations);
  });

  it('widens the bracket when the target lies outside [tMin, tMax]', async () => {
    // Confidence 0.99 needs a T below the bracket [0.5, 2] (tMin shrinks); 0.4 one above it (tMax grows).
    const low = await searchTemperature(logits, 0.99, { tMin: 0.5, tMax: 2 });
    expect(low.temperature).toBeLessThan(0.5);
    expect(Math.abs(low.confidence - 0.99)).toBeLessThanOrEqual(0.001);
    const high = await searchTemperature(logits, 0.4, { tMin: 0.5, tMax: 2 });
    expect(high.temperature).toBeGreaterThan(2);
    expect(Math.abs(high.confidence - 0.4)).toBeLessThanOrEqual(0.001);
  });

  it('stops after maxIterations (default 1000) with a typed error naming the accuracy', async () => {
    // Below 1/K the target is unreachable.
    await rejectsNaming(() => searchTemperature(logits, 0.2), 'accuracy');
    await expect(searchTemperature(logits, 0.2)).rejects.toThrow('≤ 0.001 in 1000 iterations');
    await expect(searchTemperature(logits, 0.2, { maxIterations: 7 })).rejects.toThrow('in 7 iterations');
    await rejectsNaming(() => searchTemperature(logits, 0.75, { maxIterations: 0 }), 'options.maxIterations');
    await rejectsNaming(() => searchTemperature(logits, 0.75, { threshold: 0 }), 'options.threshold');
    await rejectsNaming(() => searchTemperature(logits, 0.75, { tMin: 0 }), 'options.tMin');
    await rejectsNaming(() => searchTemperature(logits, 0.75, { tMax: -1 }), 'options.tMax');
    await rejectsNaming(() => searchTemperature(logits, 1.5), 'accuracy');
    await rejectsNaming(() => searchTemperature(tf.tensor1d([1, 2]), 0.5), 'logits');
  });

  it('maxIterations counts the last iteration allowed; an unreachable target is NON_FINITE and says 1/K', async () => {
    const { iterations } = await searchTemperature(logits, 0.75);
    expect(iterations).toBeGreaterThan(1);
    expect((await searchTemperature(logits, 0.75, { maxIterations: iterations })).iterations).toBe(
      iterations,
    );
    await expect(searchTemperature(logits, 0.75, { maxIterations: iterations - 1 })).rejects.toThrow(
      `in ${iterations - 1} iterations`,
    );
    const e = await searchTemperature(logits, 0.2).then(
      () => null,
      (x: unknown) => x as Record<string, unknown>,
    );
    expect(e).toMatchObject({
      code: 'NON_FINITE',
      argument: 'accuracy',
      expected: 'a target confidence reachable by softmax, >= 1/3',
    });
    expect(e?.message).toContain(`(accuracy 0.2 may be below 1/K = ${1 / 3})`);
  });
});
