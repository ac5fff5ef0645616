import * as tf from '@tensorflow/tfjs-core';
import type { Labels } from '../checks';
import { checkEvalOptions } from '../option-schemas';
import {
  type AttackBudget,
  ascentDirection,
  checkSteps,
  type LogitsModel,
  lossAndInputGradient,
  oneHotTargets,
  project,
  resolveBudget,
} from './attack-common';

export interface ApgdOptions extends AttackBudget {
  /** Iterations. Default 10 (the Guide's training attack). */
  steps?: number;
}

/**
 * APGD-CE (Croce & Hein 2020) as in the Guide's `corruptions/apgd.py`: no random start, initial step 2ε,
 * momentum 0.75 after the first step, step halving at checkpoints (first after ⌊0.22·steps⌋ iterations,
 * then intervals shrinking by ⌊0.03·steps⌋ down to ⌊0.06·steps⌋, each at least 1) for samples whose loss
 * oscillated or stalled, restarting them from their best point. Returns the highest-loss point found, per
 * sample — not the first misclassified one.
 */
export function apgdCe(model: LogitsModel, x: tf.Tensor, y: Labels, options: ApgdOptions): tf.Tensor {
  checkEvalOptions('apgdCe', 'apgd', options);
  const budget = resolveBudget(options);
  const { steps = 10 } = options;
  checkSteps('options.steps', steps);
  const n = x.shape[0] as number;
  const targets = oneHotTargets(model, x, y);
  const bshape = [n, ...x.shape.slice(1).map(() => 1)];
  const rowMask = (flags: ArrayLike<number>) =>
    tf.tidy(() =>
      tf.reshape(
        tf.tensor1d(
          Uint8Array.from(flags, (f) => (f ? 1 : 0)),
          'bool',
        ),
        bshape,
      ),
    );
  // Per sample, the (adversarial input, gradient) pair of `chosen` where `flags` is set, of `other`
  // elsewhere: how both the running best and the restarts swap rows.
  const pickRows = (
    flags: ArrayLike<number>,
    chosen: [tf.Tensor, tf.Tensor],
    other: [tf.Tensor, tf.Tensor],
  ) => {
    const m = rowMask(flags);
    const picked = [tf.where(m, chosen[0], other[0]), tf.where(m, chosen[1], other[1])] as const;
    m.dispose();
    return picked;
  };

  const n2 = Math.max(Math.floor(0.22 * steps), 1);
  const nMin = Math.max(Math.floor(0.06 * steps), 1);
  const sizeDecr = Math.max(Math.floor(0.03 * steps), 1);
  let k = n2;
  const stepSize = new Float64Array(n).fill(2 * budget.epsilon);
  const lossSteps: Float64Array[] = Array.from({ length: steps }, () => new Float64Array(n));

  let adv = tf.clipByValue(x, budget.lo, budget.hi);
  let best = tf.clone(adv);
  const first = lossAndInputGradient(model, adv, targets);
  let grad = first.grad;
  let gradBest = tf.clone(grad);
  const lossBest = Float64Array.from(first.losses.dataSync());
  first.losses.dispose();
  let lossBestLastCheck = Float64Array.from(lossBest);
  let reducedLastCheck = new Float64Array(n).fill(1);
  let advOld = tf.clone(adv);
  let counter = 0;

  for (let i = 0; i < steps; i++) {
    const a = i > 0 ? 0.75 : 1.0;
    const next = tf.tidy(() => {
      const momentum = tf.sub(adv, advOld);
      const size = tf.reshape(tf.tensor1d(Float32Array.from(stepSize), 'float32'), bshape);
      const z = project(tf.add(adv, tf.mul(size, ascentDirection(grad, budget.norm))), x, budget);
      return project(tf.add(tf.add(adv, tf.mul(tf.sub(z, adv), a)), tf.mul(momentum, 1 - a)), x, budget);
    });
    advOld.dispose();
    advOld = adv;
    adv = next;

    const step = lossAndInputGradient(model, adv, targets);
    // The reference skips the last backward pass; its gradient is never used, so computing it changes nothing.
    grad.dispose();
    grad = step.grad;
    const losses = step.losses.dataSync();
    step.losses.dispose();
    const improved = new Uint8Array(n);
    for (let s = 0; s < n; s++) {
      const l = losses[s] as number;
      (lossSteps[i] as Float64Array)[s] = l;
      if (l > (lossBest[s] as number)) {
        improved[s] = 1;
        lossBest[s] = l;
      }
    }
    const [newBest, newGradBest] = pickRows(improved, [adv, grad], [best, gradBest]);
    tf.dispose([best, gradBest]);
    best = newBest;
    gradBest = newGradBest;

    counter++;
    if (counter === k) {
      const reduce = new Uint8Array(n);
      for (let s = 0; s < n; s++) {
        let increases = 0;
        for (let c = 0; c < k; c++) {
          // Negative indices wrap around, as in the reference's `loss_steps[j - c - 1]`.
          const cur = lossSteps[(i - c + steps) % steps] as Float64Array;
          const prev = lossSteps[(i - c - 1 + steps) % steps] as Float64Array;
          if ((cur[s] as number) > (prev[s] as number)) increases++;
        }
        const oscillation = increases <= k * 0.75;
        const noImprovement =
          (1 - (reducedLastCheck[s] as number)) *
          ((lossBestLastCheck[s] as number) >= (lossBest[s] as number) ? 1 : 0);
        reduce[s] = oscillation || noImprovement > 0 ? 1 : 0;
      }
      reducedLastCheck = Float64Array.from(reduce);
      lossBestLastCheck = Float64Array.from(lossBest);
      if (reduce.some((r) => r === 1)) {
        for (let s = 0; s < n; s++) if (reduce[s]) stepSize[s] = (stepSize[s] as number) / 2;
        const [restarted, restartedGrad] = pickRows(reduce, [best, gradBest], [adv, grad]);
        tf.dispose([adv, grad]);
        adv = restarted;
        grad = restartedGrad;
      }
      counter = 0;
      k = Math.max(k - sizeDecr, nMin);
    }
  }
  tf.dispose([adv, advOld, grad, gradBest, targets]);
  return best;
}
