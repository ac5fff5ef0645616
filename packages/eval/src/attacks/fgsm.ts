import * as tf from '@tensorflow/tfjs-core';
import type { Labels } from '../checks';
import { checkEvalOptions } from '../option-schemas';
import {
  type AttackBudget,
  ascentDirection,
  type LogitsModel,
  lossAndInputGradient,
  oneHotTargets,
  project,
  resolveBudget,
} from './attack-common';

/**
 * Fast gradient sign method (Goodfellow et al.): one step of size ε along the loss gradient's sign (L∞) or
 * its normalised direction (L2), then clipped to the valid range.
 */
export function fgsm(model: LogitsModel, x: tf.Tensor, y: Labels, options: AttackBudget): tf.Tensor {
  checkEvalOptions('fgsm', 'fgsm', options);
  const budget = resolveBudget(options);
  const targets = oneHotTargets(model, x, y);
  const { grad, losses } = lossAndInputGradient(model, x, targets);
  const out = tf.tidy(() =>
    project(tf.add(x, tf.mul(budget.epsilon, ascentDirection(grad, budget.norm))), x, budget),
  );
  tf.dispose([targets, grad, losses]);
  return out;
}
