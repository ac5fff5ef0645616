import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { apgdCe, type LogitsModel } from '../src/index';
import './setup-backend';

/**
 * An independent, scalar JS transcription of APGD-CE L∞ (Croce & Hein 2020, as in the Guide's apgd.py:
 * no random start, step 2ε, momentum 0.75 after the first step, checkpoint schedule, halving with a restart
 * from the best point) on a two-class model whose logit gap is a concave quadratic, so the loss peaks
 * inside the ball and the step schedule, the momentum and the restarts all shape the answer.
 */
const b = [-6, -5, -9, -4];
const x0 = [0.5, 0.45, 0.55, 0.6];
// The gap peaks at xStar, inside the ε-balls below: 2ε sign steps overshoot it, so the loss oscillates.
const xStar = [0.53, 0.4, 0.57, 0.56];
const a = b.map((v, i) => -v * xStar[i]!);

function lossAndGrad(x: number[]): { loss: number; grad: number[] } {
  const z =
    x.reduce((s, v, i) => s + a[i]! * v + 0.5 * b[i]! * v * v, 0) -
    x0.reduce((s, v, i) => s + a[i]! * v + 0.5 * b[i]! * v * v, 0);
  // Label 0 with logits [0, z]: CE = log(1 + e^z), d/dx = σ(z)·(a + b∘x).
  const sig = 1 / (1 + Math.exp(-z));
  return { loss: Math.log1p(Math.exp(z)), grad: x.map((v, i) => sig * (a[i]! + b[i]! * v)) };
}

function referenceApgd(eps: number, steps: number): number[] {
  const proj = (x: number[]) =>
    x.map((v, i) => Math.min(1, Math.max(0, Math.min(x0[i]! + eps, Math.max(x0[i]! - eps, v)))));
  const n2 = Math.max(Math.floor(0.22 * steps), 1);
  const nMin = Math.max(Math.floor(0.06 * steps), 1);
  const sizeDecr = Math.max(Math.floor(0.03 * steps), 1);
  let k = n2;
  let step = 2 * eps;
  let adv = proj(x0);
  let old = adv;
  let { loss: best, grad } = lossAndGrad(adv);
  let xBest = adv;
  let gBest = grad;
  let bestAtCheck = best;
  let reducedAtCheck = true;
  const lossSteps = new Array<number>(steps).fill(0);
  let counter = 0;
  for (let i = 0; i < steps; i++) {
    const m = i > 0 ? 0.75 : 1;
    const z = proj(adv.map((v, j) => v + step * Math.sign(grad[j]!)));
    const next = proj(adv.map((v, j) => v + m * (z[j]! - v) + (1 - m) * (v - old[j]!)));
    old = adv;
    adv = next;
    const r = lossAndGrad(adv);
    grad = r.grad;
    lossSteps[i] = r.loss;
    if (r.loss > best) {
      best = r.loss;
      xBest = adv;
      gBest = grad;
    }
    if (++counter === k) {
      let ups = 0;
      for (let c = 0; c < k; c++)
        if (lossSteps[(i - c + steps) % steps]! > lossSteps[(i - c - 1 + steps) % steps]!) ups++;
      const reduce: boolean = ups <= 0.75 * k || (!reducedAtCheck && bestAtCheck >= best);
      reducedAtCheck = reduce;
      bestAtCheck = best;
      if (reduce) {
        step /= 2;
        adv = xBest;
        grad = gBest;
      }
      counter = 0;
      k = Math.max(k - sizeDecr, nMin);
    }
  }
  return xBest;
}

describe('apgdCe against a scalar transcription of APGD', () => {
  const A = tf.keep(tf.tensor1d(a));
  const B = tf.keep(tf.tensor1d(b));
  const X0 = tf.keep(tf.tensor1d(x0));
  const model: LogitsModel = (x) => {
    const flat = tf.reshape(x, [x.shape[0] as number, -1]);
    const q = (v: tf.Tensor) => tf.sum(tf.add(tf.mul(A, v), tf.mul(tf.mul(B, 0.5), tf.square(v))), 1, true);
    const z = tf.sub(q(flat), q(tf.reshape(X0, [1, -1])));
    return tf.concat([tf.zerosLike(z), z], 1);
  };
  for (const [eps, steps] of [
    [0.1, 20],
    [0.2, 37],
  ] as const) {
    it(`ε=${eps}, ${steps} steps: same best point`, () => {
      const want = referenceApgd(eps, steps);
      const x = tf.tensor2d([x0]);
      const got = apgdCe(model, x, [0], { epsilon: eps, steps });
      const g = got.arraySync() as number[][];
      for (let i = 0; i < 4; i++) expect(g[0]![i]).toBeCloseTo(want[i]!, 5);
      tf.dispose([x, got]);
    });
  }
});
