import * as tf from '@tensorflow/tfjs-core';

/**
 * Inputs per AddN kernel. tfjs-webgpu binds every AddN input as a storage buffer in one shader, and
 * WebGPU's default limit is 8 per stage (one is the output): a 64-tensor AddN fails to compile there.
 */
const MAX_ADDN_INPUTS = 7;

/**
 * Elementwise sum of same-shaped tensors, like `tf.addN`, but in AddN kernels of at most 7 inputs so
 * it runs on every backend. Call inside `tf.tidy` (the partial sums are intermediates).
 */
export function addMany<T extends tf.Tensor>(tensors: readonly T[]): T {
  if (tensors.length === 0) throw new Error('addMany needs at least one tensor');
  let level: tf.Tensor[] = [...tensors];
  while (level.length > 1) {
    const next: tf.Tensor[] = [];
    for (let i = 0; i < level.length; i += MAX_ADDN_INPUTS) {
      const chunk = level.slice(i, i + MAX_ADDN_INPUTS);
      next.push(chunk.length === 1 ? chunk[0]! : tf.addN(chunk));
    }
    level = next;
  }
  return level[0] as T;
}
