import { invalidArgument } from '@robust-ft/core';
import { assertFiniteNumber, assertInteger, assertNonNegative, assertOneOf } from '@robust-ft/core/internal';
import * as tf from '@tensorflow/tfjs-core';
import { assertNonEmpty, type Labels, readLabels } from '../checks';

/** A classifier as attacks see it: inputs → logits `[N, K]`. A layers model's `predict` fits. */
export type LogitsModel = (x: tf.Tensor) => tf.Tensor;

export type AttackNorm = 'linf' | 'l2';

export interface AttackBudget {
  /** Perturbation budget in pixel scale of the inputs (e.g. 8/255 for L∞ on [0, 1] images). */
  epsilon: number;
  /** Default `'linf'`. */
  norm?: AttackNorm;
  /** Valid input range; adversarial inputs never leave it. Default [0, 1]. */
  range?: readonly [number, number];
}

export interface ResolvedBudget {
  epsilon: number;
  norm: AttackNorm;
  lo: number;
  hi: number;
}

export function resolveBudget(options: AttackBudget): ResolvedBudget {
  const { epsilon, norm = 'linf', range = [0, 1] } = options;
  assertNonNegative('options.epsilon', epsilon);
  assertOneOf('options.norm', norm, ['linf', 'l2']);
  const [lo, hi] = range;
  assertFiniteNumber('options.range[0]', lo);
  assertFiniteNumber('options.range[1]', hi);
  if (!(lo < hi)) throw invalidArgument('options.range', 'a pair [lo, hi] with lo < hi', `[${lo}, ${hi}]`);
  return { epsilon, norm, lo, hi };
}

export function checkSteps(argument: string, steps: number): void {
  assertInteger(argument, steps, 1);
}

/**
 * Validates the batch and labels against one forward pass and returns one-hot targets `[N, K]`.
 * The caller disposes the result.
 */
export function oneHotTargets(model: LogitsModel, x: tf.Tensor, labels: Labels): tf.Tensor2D {
  assertNonEmpty('x', x);
  const n = x.shape[0] as number;
  const k = tf.tidy(() => {
    const logits = model(tf.slice(x, 0, 1));
    if (logits.rank !== 2)
      throw invalidArgument('model', 'a function returning logits [N, K]', `shape [${logits.shape}]`);
    return logits.shape[1] as number;
  });
  const y = readLabels('y', labels, n, k);
  return tf.tidy(() => tf.oneHot(tf.tensor1d(y, 'int32'), k) as tf.Tensor2D);
}

/** Per-sample cross-entropy from one-hot targets; built from differentiable ops only. */
export function crossEntropyPerSample(logits: tf.Tensor, targets: tf.Tensor): tf.Tensor1D {
  return tf.neg(tf.sum(tf.mul(targets, tf.logSoftmax(logits)), 1)) as tf.Tensor1D;
}

/** ∂ Σ_i CE_i / ∂x and the per-sample losses at x (one forward and one backward pass). */
export function lossAndInputGradient(
  model: LogitsModel,
  x: tf.Tensor,
  targets: tf.Tensor,
): { grad: tf.Tensor; losses: tf.Tensor1D } {
  let losses: tf.Tensor1D | undefined;
  const { value, grad } = tf.valueAndGrad((input: tf.Tensor) => {
    const l = crossEntropyPerSample(model(input), targets);
    losses = tf.keep(l);
    return tf.sum(l) as tf.Scalar;
  })(x);
  value.dispose();
  return { grad, losses: losses as tf.Tensor1D };
}

/** Per-sample L2 norm broadcastable against x: shape [N, 1, ..., 1]. */
export function perSampleNorm(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const n = x.shape[0] as number;
    const norms = tf.norm(tf.reshape(x, [n, -1]), 'euclidean', 1);
    return tf.reshape(norms, [n, ...x.shape.slice(1).map(() => 1)]);
  });
}

/** Projects x onto the budget ball around x0, then onto the valid range (which keeps it inside the ball). */
export function project(x: tf.Tensor, x0: tf.Tensor, budget: ResolvedBudget): tf.Tensor {
  return tf.tidy(() => {
    const delta = tf.sub(x, x0);
    let clipped: tf.Tensor;
    if (budget.norm === 'linf') clipped = tf.clipByValue(delta, -budget.epsilon, budget.epsilon);
    else {
      const norm = perSampleNorm(delta);
      clipped = tf.mul(delta, tf.minimum(1, tf.div(budget.epsilon, tf.add(norm, 1e-12))));
    }
    return tf.clipByValue(tf.add(x0, clipped), budget.lo, budget.hi);
  });
}

/** The steepest-ascent direction for the norm: sign(g) for L∞, g/‖g‖₂ for L2. */
export function ascentDirection(grad: tf.Tensor, norm: AttackNorm): tf.Tensor {
  return tf.tidy(() => (norm === 'linf' ? tf.sign(grad) : tf.div(grad, tf.add(perSampleNorm(grad), 1e-12))));
}
