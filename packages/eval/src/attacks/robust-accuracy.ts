import * as tf from '@tensorflow/tfjs-core';
import type { Labels } from '../checks';
import { accuracy } from '../metrics/top-k';
import type { LogitsModel } from './attack-common';

/** An attack in the uniform `(model, x, y) → xAdv` form; bind its options with a closure. */
export type Attack = (model: LogitsModel, x: tf.Tensor, y: Labels) => tf.Tensor;

/** Accuracy of `model` on `attack(model, x, y)`. Tensors it creates are disposed. */
export async function robustAccuracy(
  model: LogitsModel,
  x: tf.Tensor,
  y: Labels,
  attack: Attack,
): Promise<number> {
  const adv = attack(model, x, y);
  try {
    const logits = tf.tidy(() => model(adv));
    try {
      return await accuracy(logits, y);
    } finally {
      logits.dispose();
    }
  } finally {
    adv.dispose();
  }
}
