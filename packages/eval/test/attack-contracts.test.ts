import { RobustFtError } from '@robust-ft/core';
import { expectNoTensorLeaks } from '@robust-ft/core/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { numClasses } from '../src/attacks/attack-common';
import { rankedClass } from '../src/attacks/dlr';
import {
  apgdCe,
  apgdDlrTargeted,
  apgdL1,
  autoAttack,
  dlrLossPerSample,
  dlrTargetedLossPerSample,
  fgsm,
  type LogitsModel,
  pgd,
} from '../src/index';
import './setup-backend';
import { caught } from './typed-error';

/*
 * The DLR losses and the class ranking against float64 formulas (values and input gradients), their shape
 * errors, and autoAttack's option errors (argument names and expected forms).
 */

const Z = [
  [3, 1, 2, -1, 0.5],
  [0.2, 0.1, 4, 3.5, -2],
  [-1, 2.5, 0, 1, 2],
];
const Ytrue = [0, 3, 4];
const Ttarget = [2, 1, 0];

/** −(z_y − max_{i≠y} z_i)/(z_π1 − z_π3 + 1e-12). */
function dlr(z: number[], y: number): number {
  const s = [...z].sort((a, b) => b - a);
  const other = Math.max(...z.filter((_, j) => j !== y));
  return -(z[y]! - other) / (s[0]! - s[2]! + 1e-12);
}
/** −(z_y − z_t)/(z_π1 − (z_π3 + z_π4)/2 + 1e-12). */
function dlrT(z: number[], y: number, t: number): number {
  const s = [...z].sort((a, b) => b - a);
  return -(z[y]! - z[t]!) / (s[0]! - 0.5 * (s[2]! + s[3]!) + 1e-12);
}
/** Central differences of f at z. */
const numGrad = (f: (z: number[]) => number, z: number[]) =>
  z.map((_, j) => {
    const h = 1e-6;
    const up = [...z];
    const dn = [...z];
    up[j]! += h;
    dn[j]! -= h;
    return (f(up) - f(dn)) / (2 * h);
  });

describe('DLR losses', () => {
  const logits = tf.keep(tf.tensor2d(Z));
  const targets = tf.keep(tf.oneHot(tf.tensor1d(Ytrue, 'int32'), 5));
  const tc = tf.keep(tf.oneHot(tf.tensor1d(Ttarget, 'int32'), 5));

  it('values and input gradients match the float64 formulas', () => {
    const got = Array.from(dlrLossPerSample(logits, targets).dataSync());
    const gotT = Array.from(dlrTargetedLossPerSample(logits, targets, tc).dataSync());
    Z.forEach((z, i) => {
      expect(got[i]).toBeCloseTo(dlr(z, Ytrue[i]!), 5);
      expect(gotT[i]).toBeCloseTo(dlrT(z, Ytrue[i]!, Ttarget[i]!), 5);
    });
    const g = tf
      .grad((l: tf.Tensor) => tf.sum(dlrLossPerSample(l, targets)))(logits)
      .arraySync() as number[][];
    const gT = tf
      .grad((l: tf.Tensor) => tf.sum(dlrTargetedLossPerSample(l, targets, tc)))(logits)
      .arraySync() as number[][];
    Z.forEach((z, i) => {
      const want = numGrad((v) => dlr(v, Ytrue[i]!), z);
      const wantT = numGrad((v) => dlrT(v, Ytrue[i]!, Ttarget[i]!), z);
      for (const [j, w] of want.entries()) expect(g[i]![j]).toBeCloseTo(w, 3);
      for (const [j, w] of wantT.entries()) expect(gT[i]![j]).toBeCloseTo(w, 3);
    });
  });

  it('rankedClass picks the class of each rank; shape errors name the logits', () => {
    const order = Z.map((z) => z.map((_, j) => j).sort((a, b) => z[b]! - z[a]!));
    for (const rank of [1, 2, 3, 5]) {
      const got = rankedClass(logits, rank).arraySync() as number[][];
      got.forEach((row, i) => {
        expect(row.indexOf(1), `rank ${rank} row ${i}`).toBe(order[i]![rank - 1]);
        expect(row.reduce((s, v) => s + v, 0)).toBe(1);
      });
    }
    const e = caught(() => rankedClass(tf.zeros([2, 3]), 4));
    expect([e.code, e.argument, e.expected]).toEqual([
      'INVALID_ARGUMENT',
      'logits',
      'logits [N, K] with K ≥ 4',
    ]);
    expect(e.message).toBe('logits must be logits [N, K] with K ≥ 4 (received "shape [2,3]")');
    const d = caught(() => dlrLossPerSample(tf.zeros([2, 2]), tf.zeros([2, 2])));
    expect([d.argument, d.expected]).toEqual(['logits', 'logits [N, K] with K ≥ 3']);
    const t = caught(() => dlrTargetedLossPerSample(tf.zeros([2, 3]), tf.zeros([2, 3]), tf.zeros([2, 3])));
    expect([t.argument, t.expected]).toEqual(['logits', 'logits [N, K] with K ≥ 4']);
    expect(caught(() => dlrLossPerSample(tf.zeros([5]), tf.zeros([5]))).message).toBe(
      'logits must be logits [N, K] with K ≥ 3 (received "shape [5]")',
    );
    // K = 3 and K = 4 are enough for the two losses.
    expect(dlrLossPerSample(tf.tensor2d([[1, 2, 3]]), tf.tensor2d([[1, 0, 0]])).shape).toEqual([1]);
    expect(
      dlrTargetedLossPerSample(
        tf.tensor2d([[1, 2, 3, 4]]),
        tf.tensor2d([[1, 0, 0, 0]]),
        tf.tensor2d([[0, 1, 0, 0]]),
      ).shape,
    ).toEqual([1]);
  });
});

describe('autoAttack option errors', () => {
  const W = tf.keep(
    tf.tensor2d([
      [1, -1, 0.5, 0.2, -0.3],
      [0.4, 0.3, -1, 0.1, 0.6],
    ]),
  );
  const model: LogitsModel = (x) => tf.matMul(x, W);
  const x = tf.keep(
    tf.tensor2d([
      [0.2, 0.8],
      [0.6, 0.4],
    ]),
  );
  const y = [1, 0];
  const err = async (options: object, yy: unknown = y) => {
    try {
      await autoAttack(model, x, yy as number[], { norm: 'linf', epsilon: 0.1, ...options });
    } catch (e) {
      if (RobustFtError.isInstance(e)) return [e.argument, e.expected];
      throw e;
    }
    throw new Error('expected a RobustFtError');
  };
  it('name the argument and the expected form', async () => {
    expect(await err({ sed: 1 })).toEqual([
      'options.sed',
      'one of norm, epsilon, range, attacks, steps, targets, restarts, batchSize, seed',
    ]);
    expect(await err({ steps: 0 })).toEqual(['options.steps', 'an integer >= 1']);
    expect(await err({ epsilon: -1 })).toEqual(['options.epsilon', 'a finite number >= 0']);
    expect(await err({ norm: 'l0' })).toEqual(['options.norm', 'one of "linf", "l2", "l1"']);
    expect(await err({ range: [1, 1] })).toEqual(['options.range', 'a pair [lo, hi] with lo < hi']);
    expect(await err({}, [0, 7])).toEqual(['y[1]', expect.any(String)]);
  });

  // A small budget keeps rows robust, so APGD-T runs (and its target classes must be disposed).
  it('leaks nothing, with batches that divide the batch exactly or not', async () => {
    for (const batchSize of [1, 2, 3]) {
      const r = await autoAttack(model, x, y, { norm: 'l2', epsilon: 0.01, steps: 1, targets: 2, batchSize });
      expect(r.samples).toBe(2);
      await expectNoTensorLeaks(
        () => autoAttack(model, x, y, { norm: 'l2', epsilon: 0.01, steps: 1, targets: 2, batchSize }),
        { label: `batchSize ${batchSize}` },
      );
    }
  });

  it('apgdL1 starts at random by default; argument names of the APGD option errors', () => {
    const a = apgdL1(model, x, y, { epsilon: 0.3, steps: 2 });
    const b = apgdCe(model, x, y, { epsilon: 0.3, norm: 'l1', steps: 2, randomStart: true, seed: 0 });
    const c = apgdCe(model, x, y, { epsilon: 0.3, norm: 'l1', steps: 2, randomStart: false });
    expect(a.arraySync()).toEqual(b.arraySync());
    expect(a.arraySync()).not.toEqual(c.arraySync());
    tf.dispose([a, b, c]);
    const e = caught(() => apgdDlrTargeted(model, x, y, { epsilon: 0.1, foo: 1 } as never));
    expect(e.argument).toBe('options.foo');
    const r = caught(() => apgdDlrTargeted(model, x, y, { epsilon: 0.1, targetRank: 1 }));
    expect([r.argument, r.expected]).toEqual(['options.targetRank', 'an integer >= 2']);
    const m = caught(() => numClasses((v) => tf.sum(v, 1), x));
    expect(m.message).toBe('model must be a function returning logits [N, K] (received "shape [1]")');
  });

  it('fgsm and pgd name themselves in unknown-option errors', () => {
    expect(caught(() => fgsm(model, x, y, { epsilon: 0.1, eps: 1 } as never)).message).toMatch(
      /^fgsm: unknown option `eps`/,
    );
    expect(caught(() => pgd(model, x, y, { epsilon: 0.1, step: 1 } as never)).message).toMatch(
      /^pgd: unknown option `step`/,
    );
  });
});
