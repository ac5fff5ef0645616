import { invalidArgument } from '@robust-ft/core/internal';
import * as tf from '@tensorflow/tfjs-core';

// Masks picked entries out of later maxima. Finite (not -Infinity) because 0·∞ would put NaN in the
// gradient of the entries that were not picked.
const PICKED = 1e30;

/**
 * The m largest logits per row, largest first, each `[N]`. Built from argMax + oneHot masks, which have
 * (zero) gradients in tfjs, so the values stay differentiable — `tf.topk` has no gradient.
 */
function largest(logits: tf.Tensor2D, m: number): tf.Tensor1D[] {
  const k = logits.shape[1];
  const out: tf.Tensor1D[] = [];
  let rest: tf.Tensor2D = logits;
  for (let j = 0; j < m; j++) {
    const pick = tf.oneHot(tf.argMax(rest, 1), k);
    out.push(tf.sum(tf.mul(logits, pick), 1) as tf.Tensor1D);
    rest = tf.sub(rest, tf.mul(pick, PICKED)) as tf.Tensor2D;
  }
  return out;
}

function checkLogits(argument: string, logits: tf.Tensor, minClasses: number): tf.Tensor2D {
  if (logits.rank !== 2 || (logits.shape[1] as number) < minClasses)
    throw invalidArgument(argument, `logits [N, K] with K ≥ ${minClasses}`, `shape [${logits.shape}]`);
  return logits as tf.Tensor2D;
}

/**
 * Difference of Logits Ratio (Croce & Hein 2020), per sample, from one-hot `targets` `[N, K]`:
 * `−(z_y − max_{i≠y} z_i) / (z_π1 − z_π3 + 1e-12)` with π the logits sorted in decreasing order. Shift-
 * and scale-invariant in the logits, so a model cannot hide behind saturated softmax. Needs K ≥ 3.
 * Differentiable; the attacks maximise it.
 */
export function dlrLossPerSample(logits: tf.Tensor, targets: tf.Tensor): tf.Tensor1D {
  const z = checkLogits('logits', logits, 3);
  return tf.tidy(() => {
    const zy = tf.sum(tf.mul(z, targets), 1);
    const other = tf.max(tf.sub(z, tf.mul(targets, PICKED)), 1);
    const [z1, , z3] = largest(z, 3) as [tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
    return tf.neg(tf.div(tf.sub(zy, other), tf.add(tf.sub(z1, z3), 1e-12))) as tf.Tensor1D;
  });
}

/**
 * Targeted DLR (Croce & Hein 2020), per sample: `−(z_y − z_t) / (z_π1 − (z_π3 + z_π4)/2 + 1e-12)` with
 * one-hot true classes `targets` and one-hot target classes `targetClasses`, both `[N, K]`. Needs K ≥ 4.
 */
export function dlrTargetedLossPerSample(
  logits: tf.Tensor,
  targets: tf.Tensor,
  targetClasses: tf.Tensor,
): tf.Tensor1D {
  const z = checkLogits('logits', logits, 4);
  return tf.tidy(() => {
    const zy = tf.sum(tf.mul(z, targets), 1);
    const zt = tf.sum(tf.mul(z, targetClasses), 1);
    const [z1, , z3, z4] = largest(z, 4) as [tf.Tensor1D, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
    const scale = tf.add(tf.sub(z1, tf.mul(tf.add(z3, z4), 0.5)), 1e-12);
    return tf.neg(tf.div(tf.sub(zy, zt), scale)) as tf.Tensor1D;
  });
}

/**
 * One-hot of the class ranked `rank` (1 = highest) in each row of `logits` — AutoAttack's choice of
 * target: rank 2 is the strongest wrong class when the model is right. Not differentiable (a constant).
 */
export function rankedClass(logits: tf.Tensor, rank: number): tf.Tensor2D {
  const z = checkLogits('logits', logits, rank);
  return tf.tidy(() => {
    const { indices } = tf.topk(z, rank);
    const last = tf.reshape(tf.slice(indices, [0, rank - 1], [-1, 1]), [-1]) as tf.Tensor1D;
    return tf.oneHot(last, z.shape[1]) as tf.Tensor2D;
  });
}
