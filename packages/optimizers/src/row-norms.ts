import type { Tensor } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';

/**
 * Per-row L1 norm (rows = indices of axis 0), reducing every other axis and keeping dims so it
 * broadcasts against the tensor. For rank ≤ 1 the references reduce the WHOLE tensor (torch's
 * `sum(dim=())` reduces all axes), so a bias gets one norm, not one per element.
 */
export function rowL1(x: Tensor): Tensor {
  if (x.rank <= 1) return tf.sum(tf.abs(x));
  const axes = Array.from({ length: x.rank - 1 }, (_, i) => i + 1);
  return tf.sum(tf.abs(x), axes, true);
}

/** The shape `rowL1` returns for a tensor of `shape`. */
export function rowShape(shape: readonly number[]): number[] {
  return shape.length <= 1 ? [] : [shape[0]!, ...shape.slice(1).map(() => 1)];
}
