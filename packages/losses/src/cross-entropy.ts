import * as tf from '@tensorflow/tfjs-core';

/**
 * Cross-entropy forms used by every loss in this package. All take logits (never probabilities) and
 * go through `logSoftmax`, which is stable for the large logits a 1/τ = 100 scale produces.
 */

export type Reduction = 'mean' | 'none';

/** −Σ_j T_ij · log_softmax(L_i)_j per row `[N]`; targets may be soft and need not sum to one. */
export function softCrossEntropyPerRow(logits: tf.Tensor2D, targets: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.neg(tf.sum(tf.mul(targets, tf.logSoftmax(logits)), 1)) as tf.Tensor1D);
}

/** Mean over rows of the soft-target cross-entropy (the reference's `cross_entropy(..., 'mean')`). */
export function softCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tf.mean(softCrossEntropyPerRow(logits, targets)));
}

/** Cross-entropy against integer labels `[N]`; `'none'` returns the per-sample losses `[N]`. */
export function labelCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D, reduction: 'none'): tf.Tensor1D;
export function labelCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D, reduction?: 'mean'): tf.Scalar;
export function labelCrossEntropy(
  logits: tf.Tensor2D,
  labels: tf.Tensor1D,
  reduction: Reduction = 'mean',
): tf.Tensor {
  return tf.tidy(() => {
    const oneHot = tf.cast(tf.oneHot(labels, logits.shape[1]), 'float32') as tf.Tensor2D;
    const perRow = softCrossEntropyPerRow(logits, oneHot);
    return reduction === 'mean' ? tf.mean(perRow) : perRow;
  });
}
