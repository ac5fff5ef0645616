import { createRng, type Rng } from '@robust-ft/core';
import { expectNoTensorLeaks } from '@robust-ft/core/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  consistencyLoss,
  consistencyRegularizer,
  cosineDistance,
  functionSpaceRegularizer,
  jsDivergence,
  klDivergence,
  logitMse,
  symmetricKlDivergence,
  type ViewFn,
} from '../src/index';
import { caught, expectPoisoned, randomMatrix } from './helpers';
import './setup-backend';

const value = (t: tf.Tensor) => t.dataSync()[0]!;
const p = randomMatrix(4, 5, 1, 2);
const q = randomMatrix(4, 5, 2, 2);

/** KL(softmax(a/T) ‖ softmax(b/T))·T² per row, in float64 JS: an independent path for the check. */
function klByHand(a: number[][], b: number[][], t: number): number[] {
  const softmax = (row: number[]) => {
    const m = Math.max(...row.map((v) => v / t));
    const e = row.map((v) => Math.exp(v / t - m));
    const s = e.reduce((x, y) => x + y, 0);
    return e.map((v) => v / s);
  };
  return a.map((row, i) => {
    const pa = softmax(row);
    const pb = softmax(b[i]!);
    return t * t * pa.reduce((s, v, j) => s + v * Math.log(v / pb[j]!), 0);
  });
}

describe('output distances', () => {
  it('KL matches a float64 hand computation at T = 1 and T = 2 (with the T² factor)', () => {
    for (const t of [1, 2]) {
      const ours = klDivergence(p, q, { temperature: t, reduction: 'none' }).dataSync();
      const ref = klByHand(p.arraySync(), q.arraySync(), t);
      for (const [i, r] of ref.entries()) expect(ours[i]).toBeCloseTo(r, 5);
    }
  });

  it('symmetric KL and JS are symmetric; JS ≤ ln 2; all vanish for identical inputs', () => {
    expect(value(symmetricKlDivergence(p, q))).toBeCloseTo(value(symmetricKlDivergence(q, p)), 5);
    const kl = klByHand(p.arraySync(), q.arraySync(), 1);
    const lk = klByHand(q.arraySync(), p.arraySync(), 1);
    expect(value(symmetricKlDivergence(p, q))).toBeCloseTo(
      kl.reduce((s, v, i) => s + (v + lk[i]!) / 2, 0) / 4,
      5,
    );
    expect(value(jsDivergence(p, q))).toBeCloseTo(value(jsDivergence(q, p)), 6);
    const far = tf.tensor2d([[100, -100]]);
    expect(value(jsDivergence(far, tf.neg(far) as tf.Tensor2D))).toBeCloseTo(Math.LN2, 5);
    for (const d of [klDivergence, symmetricKlDivergence, jsDivergence, logitMse, cosineDistance]) {
      expect(Math.abs(value(d(p, p)))).toBeLessThan(1e-6);
    }
  });

  it('MSE and cosine distance', () => {
    expect(value(logitMse(tf.tensor2d([[1, 2]]), tf.tensor2d([[3, 2]])))).toBeCloseTo(2, 6);
    expect(value(cosineDistance(tf.tensor2d([[1, 0]]), tf.tensor2d([[0, 2]])))).toBeCloseTo(1, 6);
    expect(value(cosineDistance(tf.tensor2d([[1, 1]]), tf.tensor2d([[-2, -2]])))).toBeCloseTo(2, 6);
    // A zero feature vector gives distance 1, not NaN.
    expect(value(cosineDistance(tf.tensor2d([[0, 0]]), tf.tensor2d([[1, 2]])))).toBeCloseTo(1, 6);
  });

  it('rejects mismatched shapes and NaN with typed errors', () => {
    const e = caught(() => klDivergence(p, randomMatrix(4, 3, 1)));
    expect([e.code, e.argument]).toEqual(['SHAPE_MISMATCH', 'predictionLogits']);
    const nan = tf.tensor2d([[Number.NaN, 1]]);
    const inf = tf.tensor2d([[1, Number.POSITIVE_INFINITY]]);
    const one = tf.tensor2d([[1, 1]]);
    for (const fn of [klDivergence, jsDivergence, symmetricKlDivergence, logitMse, cosineDistance]) {
      expectPoisoned((x, y) => fn(x as tf.Tensor2D, y as tf.Tensor2D), [nan, one]);
      expectPoisoned((x, y) => fn(x as tf.Tensor2D, y as tf.Tensor2D, { reduction: 'none' }), [one, inf]);
    }
  });
});

/** A linear classifier with its own variables. */
function linear(seed: number, trainable = true) {
  const w = tf.variable(randomMatrix(6, 3, seed, 0.5), trainable);
  return { w, model: (x: tf.Tensor) => tf.matMul(x as tf.Tensor2D, w) as tf.Tensor2D };
}

const noise: ViewFn = (x: tf.Tensor, rng: Rng) =>
  tf.add(x, tf.mul(0.3, tf.randomNormal(x.shape, 0, 1, 'float32', rng.tensorSeed())));

describe('functionSpaceRegularizer', () => {
  const x = randomMatrix(8, 6, 5);

  it('is 0 with a zero gradient when the model equals the frozen model, and > 0 after a change', () => {
    const teacher = linear(9);
    const student = linear(9);
    const fsr = functionSpaceRegularizer({ views: noise });
    const { value: v0, grads } = tf.variableGrads(
      () => fsr(student.model, teacher.model, x, createRng(1)),
      [student.w],
    );
    expect(Math.abs(value(v0))).toBeLessThan(1e-6);
    expect(Math.max(...Array.from(grads[student.w.name]!.dataSync()).map(Math.abs))).toBeLessThan(1e-6);
    // Scaling (not shifting: a shift of every weight moves all logits equally) changes the softmax.
    student.w.assign(tf.mul(student.w, 2));
    expect(value(fsr(student.model, teacher.model, x, createRng(1)))).toBeGreaterThan(1e-3);
  });

  it('sends no gradient to the frozen model, even when its weights are trainable variables', () => {
    const teacher = linear(9);
    const student = linear(10);
    const fsr = functionSpaceRegularizer({ views: [noise, noise], distance: 'js', weight: 2 });
    const { grads } = tf.variableGrads(
      () => fsr(student.model, teacher.model, x, createRng(2)),
      [student.w, teacher.w],
    );
    expect(Math.max(...Array.from(grads[teacher.w.name]!.dataSync()).map(Math.abs))).toBe(0);
    expect(Math.max(...Array.from(grads[student.w.name]!.dataSync()).map(Math.abs))).toBeGreaterThan(1e-4);
  });

  it('evaluates both models on the same view, drawn from the given Rng', () => {
    const seen: number[][] = [];
    const recording = (m: (x: tf.Tensor) => tf.Tensor2D) => (input: tf.Tensor) => {
      seen.push(Array.from(input.dataSync()));
      return m(input) as tf.Tensor2D;
    };
    const t = linear(3);
    const s = linear(4);
    functionSpaceRegularizer({ views: noise })(
      recording(s.model),
      recording(t.model),
      x,
      createRng(5),
    ).dispose();
    expect(seen).toHaveLength(2);
    expect(seen[0]).toEqual(seen[1]);
    expect(seen[0]).not.toEqual(Array.from(x.dataSync()));
  });

  it('validates its configuration and inputs', () => {
    expect(caught(() => functionSpaceRegularizer({ views: [] })).argument).toBe('config.views');
    expect(caught(() => functionSpaceRegularizer({ views: noise, distance: 'l1' as never })).argument).toBe(
      'config.distance',
    );
    const fsr = functionSpaceRegularizer({ views: noise });
    const s = linear(1);
    const badTeacher = (input: tf.Tensor) => tf.sum(input, 1) as unknown as tf.Tensor2D;
    expect(caught(() => fsr(s.model, badTeacher, x, createRng(1))).argument).toBe('pretrained');
  });

  it('leaks no tensors, forward and under variableGrads', async () => {
    const t = linear(1);
    const s = linear(2);
    for (const distance of ['kl', 'symmetric-kl', 'js', 'mse', 'cosine'] as const) {
      const fsr = functionSpaceRegularizer({ views: noise, distance, temperature: 2 });
      const rng = createRng(1);
      await expectNoTensorLeaks(() => fsr(s.model, t.model, x, rng), { label: distance });
      await expectNoTensorLeaks(() => tf.variableGrads(() => fsr(s.model, t.model, x, rng), [s.w]), {
        label: `${distance} grads`,
      });
    }
  });
});

describe('consistencyLoss / consistencyRegularizer', () => {
  const x = randomMatrix(8, 6, 7);

  it('is 0 for identical predictions and positive for different views', () => {
    expect(Math.abs(value(consistencyLoss(p, p)))).toBeLessThan(1e-6);
    const s = linear(3);
    const reg = consistencyRegularizer({ views: [noise, noise] });
    expect(value(reg(s.model, x, createRng(3)))).toBeGreaterThan(1e-5);
    const same = consistencyRegularizer({ views: [(v) => tf.clone(v), (v) => tf.clone(v)] });
    expect(Math.abs(value(same(s.model, x, createRng(3))))).toBeLessThan(1e-6);
  });

  it('validates and leaks nothing', async () => {
    expect(caught(() => consistencyRegularizer({ views: [noise] as never })).argument).toBe('config.views');
    expect(caught(() => consistencyLoss(p, randomMatrix(3, 5, 1))).code).toBe('SHAPE_MISMATCH');
    const s = linear(3);
    const reg = consistencyRegularizer({ views: [noise, noise], distance: 'symmetric-kl' });
    const rng = createRng(4);
    await expectNoTensorLeaks(() => consistencyLoss(p, q), { label: 'consistencyLoss' });
    await expectNoTensorLeaks(() => tf.variableGrads(() => reg(s.model, x, rng), [s.w]), {
      label: 'regularizer',
    });
  });
});
