import {
  assertFiniteNumber,
  assertInteger,
  assertNonNegative,
  assertOneOf,
  invalidArgument,
} from '@robust-ft/core/internal';
import * as tf from '@tensorflow/tfjs-core';
import { assertNonEmpty, checkLabelIds, type Labels } from '../checks';

/** A classifier as attacks see it: inputs → logits `[N, K]`. A layers model's `predict` fits. */
export type LogitsModel = (x: tf.Tensor) => tf.Tensor;

/** Norms of the FGSM/PGD threat model. */
export type AttackNorm = 'linf' | 'l2';

/** Norms the APGD family supports: APGD-L1 ("Mind the box") adds the L1 ball intersected with the box. */
export type ApgdNorm = AttackNorm | 'l1';

/** The budget of FGSM and PGD: ε, the norm and the input range. */
export interface AttackBudget {
  /** Perturbation budget in pixel scale of the inputs (e.g. 8/255 for L∞ on [0, 1] images). */
  epsilon: number;
  /** Default `'linf'`. */
  norm?: AttackNorm;
  /** Valid input range; adversarial inputs never leave it. Default [0, 1]. */
  range?: readonly [number, number];
}

export interface ResolvedBudget<N extends ApgdNorm = AttackNorm> {
  epsilon: number;
  norm: N;
  lo: number;
  hi: number;
}

export function resolveBudget(options: AttackBudget): ResolvedBudget;
export function resolveBudget<N extends ApgdNorm>(
  options: { epsilon: number; norm?: N; range?: readonly [number, number] },
  norms: readonly N[],
): ResolvedBudget<N>;
export function resolveBudget(
  options: { epsilon: number; norm?: ApgdNorm; range?: readonly [number, number] },
  norms: readonly ApgdNorm[] = ['linf', 'l2'],
): ResolvedBudget<ApgdNorm> {
  const { epsilon, norm = 'linf', range = [0, 1] } = options;
  assertNonNegative('options.epsilon', epsilon);
  assertOneOf('options.norm', norm, norms);
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
  const k = numClasses(model, x);
  if (labels instanceof tf.Tensor) {
    // A label tensor stays on the device: checking its values would need a synchronous read (zeros on
    // WebGPU), so only its shape is checked; an id outside [0, K) gives an all-zero target row.
    if (labels.rank !== 1 || labels.shape[0] !== n)
      throw invalidArgument('y', `an int tensor [${n}] (one label per row)`, `shape [${labels.shape}]`);
    return tf.tidy(() => tf.oneHot(tf.cast(labels, 'int32') as tf.Tensor1D, k) as tf.Tensor2D);
  }
  const y = checkLabelIds('y', labels, n, k);
  return tf.tidy(() => tf.oneHot(tf.tensor1d(y, 'int32'), k) as tf.Tensor2D);
}

/** K, read from the static shape of one forward pass on the first row (no tensor values are read). */
export function numClasses(model: LogitsModel, x: tf.Tensor): number {
  return tf.tidy(() => {
    const logits = model(tf.slice(x, 0, 1));
    if (logits.rank !== 2)
      throw invalidArgument('model', 'a function returning logits [N, K]', `shape [${logits.shape}]`);
    return logits.shape[1] as number;
  });
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

/** The shape [N, 1, ..., 1] that broadcasts a per-sample value against a batch shaped like x. */
export function rowShape(x: tf.Tensor): number[] {
  return [x.shape[0] as number, ...x.shape.slice(1).map(() => 1)];
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

/**
 * Rejects option keys the function does not know: a misspelt `step: 50` would otherwise silently run the
 * default number of iterations and report a weaker attack as a robust model.
 */
export function assertKnownOptions(argument: string, options: object, known: readonly string[]): void {
  if (typeof options !== 'object' || options === null)
    throw invalidArgument(argument, 'an options object', options);
  for (const key of Object.keys(options))
    if (!known.includes(key)) throw invalidArgument(`${argument}.${key}`, `one of ${known.join(', ')}`, key);
}
