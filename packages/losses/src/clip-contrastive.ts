import { assertPositive, invalidArgument } from '@robust-ft/core/internal';
import * as tf from '@tensorflow/tfjs-core';
import { softCrossEntropy } from './cross-entropy';
import { checkLossOptions } from './option-schemas';
import {
  assertEmbeddingPair,
  DEFAULT_UNIT_NORM_TOLERANCE,
  guardValues,
  type ValueCheck,
} from './validate-inputs';

/** Options of the CLIP contrastive loss (`clipContrastiveLoss`, `clipContrastive`). */
export interface ClipContrastiveOptions {
  /**
   * Fixed temperature τ: logits = ⟨img, txt⟩/τ. m²-mix's `--tau` (default 0.01, i.e. scale 100) is fixed,
   * not learned. Give either this or `logitScale`. Default 0.01 when neither is given.
   */
  temperature?: number;
  /**
   * CLIP's learnable log-scale (a scalar variable): logits = exp(min(s, ln maxScale))·⟨img, txt⟩. The
   * clamp mirrors CLIP/OpenCLIP, which keep the scale ≤ 100; beyond it the gradient on `s` is zero.
   */
  logitScale?: tf.Scalar;
  /** Upper bound on exp(logitScale). Default 100. */
  maxScale?: number;
  /** Require L2-normalised rows (CLIP normalises its features). Default false: any embeddings. */
  requireUnitNorm?: boolean;
  /** Tolerance on |‖row‖ − 1| when `requireUnitNorm`. Default 1e-3. */
  unitNormTolerance?: number;
  /** Check shapes and finiteness first (reads the values back). Default true. */
  validate?: boolean;
}

/** The scale applied to cosine logits: a number (fixed 1/τ) or a scalar tensor (learnable). */
export type LogitScale = number | tf.Scalar;

export function resolveLogitScale(options: ClipContrastiveOptions): LogitScale {
  const { temperature, logitScale, maxScale = 100 } = options;
  if (temperature !== undefined && logitScale !== undefined) {
    throw invalidArgument('options', 'either temperature or logitScale, not both');
  }
  if (logitScale !== undefined) {
    assertPositive('options.maxScale', maxScale);
    if (typeof logitScale !== 'object' || logitScale === null || logitScale.rank !== 0) {
      throw invalidArgument('options.logitScale', 'a scalar tensor (log of the logit scale)', logitScale);
    }
    return tf.tidy(() => tf.exp(tf.minimum(logitScale, Math.log(maxScale))) as tf.Scalar);
  }
  const tau = temperature ?? 0.01;
  assertPositive('options.temperature', tau);
  return 1 / tau;
}

/**
 * The symmetric contrastive loss on a logit matrix, m²-mix's `clip_loss`:
 * mean_i ½(CE(L_i, T_i) + CE((Lᵀ)_i, (Tᵀ)_i)), with soft targets T (identity when omitted).
 */
export function symmetricContrastiveLoss(logits: tf.Tensor2D, targets?: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const t = targets ?? (tf.eye(logits.shape[0], logits.shape[1]) as tf.Tensor2D);
    const imageToText = softCrossEntropy(logits, t);
    const textToImage = softCrossEntropy(tf.transpose(logits), tf.transpose(t));
    return tf.mul(0.5, tf.add(imageToText, textToImage)) as tf.Scalar;
  });
}

/**
 * CLIP's contrastive (InfoNCE) loss between paired image and text embeddings `[N, D]`: logits
 * `scale·img·txtᵀ`, identity targets, the mean of the image→text and text→image cross-entropies.
 */
export function clipContrastiveLoss(
  image: tf.Tensor2D,
  text: tf.Tensor2D,
  options: ClipContrastiveOptions = {},
): tf.Scalar {
  const checks: ValueCheck[] = [];
  checkLossOptions('clipContrastiveLoss', 'clipContrastive', options);
  if (options.validate ?? true) {
    checks.push(
      ...assertEmbeddingPair(image, text, {
        unitNorm: options.requireUnitNorm ?? false,
        tolerance: options.unitNormTolerance ?? DEFAULT_UNIT_NORM_TOLERANCE,
      }),
    );
  }
  return tf.tidy(() => {
    const scale = resolveLogitScale(options);
    const loss = symmetricContrastiveLoss(tf.mul(tf.matMul(image, text, false, true), scale));
    // A learnable scale is checked with the embeddings: a non-finite one makes the loss NaN.
    if (typeof options.logitScale === 'object' && options.logitScale !== null)
      checks.push({ tensor: options.logitScale });
    return guardValues(loss, checks);
  });
}

/** Config factory: fixes the options and returns `(image, text) => loss`. */
export function clipContrastive(
  options: ClipContrastiveOptions = {},
): (image: tf.Tensor2D, text: tf.Tensor2D) => tf.Scalar {
  checkLossOptions('clipContrastive', 'clipContrastive', options);
  // Validate the configuration once, up front, so a bad config fails where it is written.
  const probe = resolveLogitScale(options);
  if (typeof probe !== 'number') probe.dispose();
  return (image, text) => clipContrastiveLoss(image, text, options);
}
