import * as tf from '@tensorflow/tfjs-core';

/**
 * The identity in the forward pass with a zero gradient, so a tensor computed on a gradient tape (a
 * frozen teacher's logits, an attack's adversarial input) is treated as a constant by `tf.grad`,
 * `tf.variableGrads` and `optimizer.minimize`. tfjs-core has no `stopGradient` op; `customGrad` gives
 * one without reading the values back to the host.
 */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: tf.clone(args[0] as tf.Tensor),
    gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
  }));
  return op(x) as T;
}
