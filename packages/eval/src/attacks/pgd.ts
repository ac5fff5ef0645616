import { createRng } from '@robust-ft/core';
import { assertInteger, assertPositive } from '@robust-ft/core/internal';
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
  perSampleNorm,
  project,
  resolveBudget,
} from './attack-common';

/** Options of `pgd`. */
export interface PgdOptions extends AttackBudget {
  /** Default 10. */
  steps?: number;
  /** Step size in pixel scale. Default 2.5·ε/steps (Madry et al.). */
  stepSize?: number;
  /** Start from a uniform point in the ball (L∞) or a random direction and radius (L2). Default true. */
  randomStart?: boolean;
  /** Seeds the random start. Default 0. */
  seed?: number;
}

/** Random point in the ε-ball: uniform per coordinate for L∞; uniform direction, radius ε·u for L2. */
function randomStart(x: tf.Tensor, epsilon: number, norm: 'linf' | 'l2', seed: number): tf.Tensor {
  const rng = createRng(seed);
  return tf.tidy(() => {
    if (norm === 'linf') return tf.randomUniform(x.shape, -epsilon, epsilon, 'float32', rng.tensorSeed());
    const dir = tf.randomNormal(x.shape, 0, 1, 'float32', rng.tensorSeed());
    const n = x.shape[0] as number;
    const radius = tf.reshape(tf.mul(epsilon, tf.randomUniform([n], 0, 1, 'float32', rng.tensorSeed())), [
      n,
      ...x.shape.slice(1).map(() => 1),
    ]);
    return tf.mul(tf.div(dir, tf.add(perSampleNorm(dir), 1e-12)), radius);
  });
}

/**
 * Projected gradient descent on the cross-entropy (Madry et al.), L∞ or L2. Returns the last iterate, which
 * always lies in the ε-ball around x and in the valid range.
 */
export function pgd(model: LogitsModel, x: tf.Tensor, y: Labels, options: PgdOptions): tf.Tensor {
  checkEvalOptions('pgd', 'pgd', options);
  const budget = resolveBudget(options);
  const { steps = 10, randomStart: rs = true, seed = 0 } = options;
  checkSteps('options.steps', steps);
  assertInteger('options.seed', seed, 0);
  const stepSize = options.stepSize ?? (2.5 * budget.epsilon) / steps;
  if (options.stepSize !== undefined) assertPositive('options.stepSize', stepSize);
  const targets = oneHotTargets(model, x, y);
  let adv = rs
    ? tf.tidy(() => project(tf.add(x, randomStart(x, budget.epsilon, budget.norm, seed)), x, budget))
    : tf.clone(x);
  for (let i = 0; i < steps; i++) {
    const { grad, losses } = lossAndInputGradient(model, adv, targets);
    const next = tf.tidy(() =>
      project(tf.add(adv, tf.mul(stepSize, ascentDirection(grad, budget.norm))), x, budget),
    );
    tf.dispose([grad, losses, adv]);
    adv = next;
  }
  targets.dispose();
  return adv;
}
