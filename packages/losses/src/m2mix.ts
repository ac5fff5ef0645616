import { assertOneOf, assertPositive } from '@robust-ft/core/internal';
import * as tf from '@tensorflow/tfjs-core';
import { softCrossEntropy } from './cross-entropy';
import { geodesicMixup } from './geodesic-mixup';
import { identityTargets } from './mix-targets';
import { checkLossOptions } from './option-schemas';
import { assertMixupInputs, guardValues } from './validate-inputs';

/** Options of `m2mixLogits` and `m2mixLoss`. */
export interface M2mixOptions {
  /** τ₂, the temperature of the hard-negative logits (`--tau2`, used with `--sep_scale`). Default 0.07. */
  temperature?: number;
  /**
   * Scale of the diagonal (positive) logits. Default 1/temperature, as in `main.py`. The README's
   * OpenCLIP preview uses the model's logit scale here and `m_tau` (= 1/temperature) off the diagonal.
   */
  positiveScale?: number;
  /**
   * How the image-row and text-row losses are combined: 'sum' (`main.py`'s `clip_loss2`, default) or
   * 'mean' (the README's OpenCLIP preview).
   */
  combineDirections?: 'sum' | 'mean';
  /** Identical/antipodal threshold of the geodesic mixup. Default 1e-4. */
  epsilon?: number;
  /** Check shapes, finiteness and unit-norm rows first. Default true. */
  validate?: boolean;
  /** Tolerance on |‖row‖ − 1|. Default 1e-3. */
  unitNormTolerance?: number;
}

/** What `m2mixLogits` returns: the hard-negative logits per image and per text. */
export interface M2mixLogits {
  /** `[N, N]`: ⟨img_i, neg_j⟩/τ₂ off the diagonal, ⟨img_i, txt_i⟩·positiveScale on it. */
  perImage: tf.Tensor2D;
  /** `[N, N]`: ⟨txt_i, neg_j⟩/τ₂ off the diagonal, ⟨img_i, txt_i⟩·positiveScale on it. */
  perText: tf.Tensor2D;
}

/**
 * m²-mix logits. The hard negatives `neg = slerp(img, txt, λ)` mix image j with its OWN caption j; every
 * off-diagonal logit of both rows (image rows and text rows) is replaced by the similarity to a mixed
 * negative, and the diagonal keeps the original positive ⟨img_i, txt_i⟩.
 */
export function m2mixLogits(
  image: tf.Tensor2D,
  text: tf.Tensor2D,
  lambda: number,
  options: M2mixOptions = {},
): M2mixLogits {
  checkLossOptions('m2mixLogits', 'm2mix', options);
  const { temperature = 0.07, epsilon = 1e-4 } = options;
  assertPositive('options.temperature', temperature);
  const positiveScale = options.positiveScale ?? 1 / temperature;
  assertPositive('options.positiveScale', positiveScale);
  const checks = assertMixupInputs(image, text, lambda, options);
  const n = image.shape[0];
  const [perImage, perText] = tf.tidy(() => {
    const negatives = geodesicMixup(image, text, lambda, { epsilon, validate: false });
    const eye = identityTargets(n);
    const offDiagonal = tf.sub(1, eye);
    const positives = tf.mul(tf.mul(eye, positiveScale), tf.sum(tf.mul(image, text), 1, true));
    const withPositives = (x: tf.Tensor2D) =>
      tf.add(positives, tf.div(tf.mul(offDiagonal, tf.matMul(x, negatives, false, true)), temperature));
    return [
      guardValues(withPositives(image), checks),
      guardValues(withPositives(text), checks),
    ] as tf.Tensor2D[];
  });
  return { perImage: perImage!, perText: perText! };
}

/**
 * The m²-mix term: `CE(perImage, I) + CE(perText, I)` over the m2mixLogits — the SUM of the two
 * directions (the reference's `clip_loss2`), not their average (`combineDirections: 'mean'` gives the
 * README preview's average). It contains only mixed negatives; the
 * original negatives enter through the base CLIP loss it is added to.
 */
export function m2mixLoss(
  image: tf.Tensor2D,
  text: tf.Tensor2D,
  lambda: number,
  options: M2mixOptions = {},
): tf.Scalar {
  checkLossOptions('m2mixLoss', 'm2mix', options);
  assertOneOf('options.combineDirections', options.combineDirections ?? 'sum', ['sum', 'mean']);
  const { perImage, perText } = m2mixLogits(image, text, lambda, options);
  return tf.tidy(() => {
    const eye = identityTargets(image.shape[0]);
    const sum = tf.add(softCrossEntropy(perImage, eye), softCrossEntropy(perText, eye));
    const loss = (options.combineDirections === 'mean' ? tf.mul(0.5, sum) : sum) as tf.Scalar;
    perImage.dispose();
    perText.dispose();
    return loss;
  });
}
