import { RobustFtError } from '@robust-ft/core';
import { assertFiniteNumber, assertInteger, assertRank, invalidArgument } from '@robust-ft/core/internal';
import * as tf from '@tensorflow/tfjs-core';
import { assertNonEmpty } from '../checks';
import { checkEvalOptions } from '../option-schemas';

/**
 * Representation metrics of m²-mix (`loss.py`): Wang & Isola uniformity and alignment, and the
 * "relative alignment" the m²-mix code reports. All return differentiable scalar tensors.
 */

/** Squared Euclidean distances ‖a_i − b_j‖², `[N, M]`, via the Gram form (memory O(N·M), not O(N·M·D)). */
export function pairwiseSquaredDistances(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const an = tf.reshape(tf.sum(tf.square(a), 1), [-1, 1]);
    const bn = tf.reshape(tf.sum(tf.square(b), 1), [1, -1]);
    // Rounding can make a zero distance slightly negative; relu clamps it and has a gradient.
    return tf.relu(tf.sub(tf.add(an, bn), tf.mul(2, tf.matMul(a, b, false, true)))) as tf.Tensor2D;
  });
}

function check2d(argument: string, x: tf.Tensor): void {
  assertRank(argument, x, 2);
  assertNonEmpty(argument, x);
}

/**
 * `lunif(x, t) = log(mean_{i<j} exp(−t‖x_i − x_j‖²))` over all unordered pairs (as `torch.pdist`).
 * Lower is more uniform. m²-mix's `do_valid` passes `concat([img, img])` (sic); the intended
 * multimodal form is `concat([img, txt])`.
 */
export function uniformity(x: tf.Tensor2D, t = 2): tf.Scalar {
  check2d('x', x);
  assertFiniteNumber('t', t);
  const n = x.shape[0];
  if (n < 2) throw invalidArgument('x', 'at least 2 rows (uniformity needs a pair)', n);
  return tf.tidy(() => {
    // The pair mask is a constant built off the tape: bandPart has no gradient and needs none.
    const upper = tf.sub(tf.linalg.bandPart(tf.ones([n, n]), 0, -1), tf.eye(n));
    const d = pairwiseSquaredDistances(x, x);
    const pairs = (n * (n - 1)) / 2;
    return tf.log(tf.div(tf.sum(tf.mul(tf.exp(tf.mul(-t, d)), upper)), pairs)) as tf.Scalar;
  });
}

/** `lalign(x, y, α) = mean_i ‖x_i − y_i‖^α` (paired rows). Lower is better aligned. */
export function alignment(x: tf.Tensor2D, y: tf.Tensor2D, alpha = 2): tf.Scalar {
  check2d('x', x);
  check2d('y', y);
  if (x.shape[0] !== y.shape[0] || x.shape[1] !== y.shape[1]) {
    throw new RobustFtError('SHAPE_MISMATCH', `y has shape [${y.shape}], expected [${x.shape}]`, {
      argument: 'y',
    });
  }
  if (!(alpha > 0)) throw invalidArgument('alpha', 'a number > 0', alpha);
  return tf.tidy(() => {
    const sq = tf.sum(tf.square(tf.sub(x, y)), 1);
    // α = 2 avoids the sqrt, whose gradient is infinite at a zero distance.
    return tf.mean(alpha === 2 ? sq : tf.pow(sq, alpha / 2)) as tf.Scalar;
  });
}

/** Options of `relativeAlignment`. */
export interface RelativeAlignmentOptions {
  /**
   * Which negatives a row is compared with. `1` (default, the only mode `do_valid` uses): the nearest
   * non-matching y_j. `-1`: the row mean, and `k > 1`: the mean of the k **largest** entries — both as in the
   * reference `rel_lalign`, which keeps the masked diagonal's fill value inside them (a known bug, kept so
   * numbers match the code; see the README).
   */
  neighbor?: number;
  /** `'diff'` (default): mean(pos − neg). `'ratio'`: mean(pos / neg). */
  relative?: 'diff' | 'ratio';
  /** Value written on the diagonal before taking negatives. Default 10000, as in the code. */
  diagonalFill?: number;
}

/**
 * Relative alignment: mean_i (‖x_i − y_i‖² − min_{j≠i} ‖x_i − y_j‖²) with the defaults
 * (`rel_lalign_torch`). Negative means each x_i is closer to its own y_i than to any other y_j.
 * `do_valid` calls it as `relativeAlignment(text, image)`.
 */
export function relativeAlignment(
  x: tf.Tensor2D,
  y: tf.Tensor2D,
  options: RelativeAlignmentOptions = {},
): tf.Scalar {
  checkEvalOptions('relativeAlignment', 'relativeAlignment', options);
  const { neighbor = 1, relative = 'diff', diagonalFill = 10000 } = options;
  check2d('x', x);
  check2d('y', y);
  if (x.shape[0] !== y.shape[0] || x.shape[1] !== y.shape[1]) {
    throw new RobustFtError('SHAPE_MISMATCH', `y has shape [${y.shape}], expected [${x.shape}]`, {
      argument: 'y',
    });
  }
  const n = x.shape[0];
  if (neighbor !== -1) assertInteger('options.neighbor', neighbor, 1);
  if (neighbor > n) throw invalidArgument('options.neighbor', `-1 or an integer in [1, ${n}]`, neighbor);
  if (neighbor === 1 && n < 2) throw invalidArgument('x', 'at least 2 rows', n);
  return tf.tidy(() => {
    const eye = tf.eye(n);
    const d = pairwiseSquaredDistances(x, y);
    const pos = tf.sum(tf.mul(d, eye), 1);
    const masked = tf.add(tf.mul(d, tf.sub(1, eye)), tf.mul(eye, diagonalFill));
    let neg: tf.Tensor;
    if (neighbor === 1) neg = tf.min(masked, 1);
    else if (neighbor === -1) neg = tf.mean(masked, 1);
    else neg = tf.mean(tf.topk(masked, neighbor).values, 1);
    return tf.mean(relative === 'ratio' ? tf.div(pos, neg) : tf.sub(pos, neg)) as tf.Scalar;
  });
}
