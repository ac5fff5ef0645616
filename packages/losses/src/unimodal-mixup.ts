import { assertPositive } from '@robust-ft/core/internal';
import * as tf from '@tensorflow/tfjs-core';
import { symmetricContrastiveLoss } from './clip-contrastive';
import { flipBatch, geodesicMixup } from './geodesic-mixup';
import { bimodalMixTargets, diagonalAndFlipMask, unimodalMixTargets } from './mix-targets';
import { checkLossOptions } from './option-schemas';
import { assertMixupInputs, guardValues } from './validate-inputs';

/** Options shared by V-Mix, L-Mix and VL-Mix (m²-mix's uni-modal and bi-modal ablations). */
export interface MixupLossOptions {
  /** Temperature τ of the mixed logits (m²-mix's `--tau`). Default 0.01. */
  temperature?: number;
  /**
   * `--original_neg`: keep the mixed logits only on the diagonal and the anti-diagonal (a row and its
   * flip partner) and put the original un-mixed logit everywhere else. Default false.
   */
  originalNegatives?: boolean;
  /** Identical/antipodal threshold of the geodesic mixup. Default 1e-4. */
  epsilon?: number;
  /** Check shapes, finiteness and unit-norm rows first. Default true. */
  validate?: boolean;
  /** Tolerance on |‖row‖ − 1|. Default 1e-3. */
  unitNormTolerance?: number;
}

type Mode = 'vmix' | 'lmix' | 'vlmix';

function mixupLoss(
  mode: Mode,
  image: tf.Tensor2D,
  text: tf.Tensor2D,
  lambda: number,
  options: MixupLossOptions,
): tf.Scalar {
  checkLossOptions(`${mode}Loss`, 'mixup', options);
  const { temperature = 0.01, originalNegatives = false, epsilon = 1e-4 } = options;
  assertPositive('options.temperature', temperature);
  const checks = assertMixupInputs(image, text, lambda, options);
  const n = image.shape[0];
  const mix = (x: tf.Tensor2D) => geodesicMixup(x, flipBatch(x), lambda, { epsilon, validate: false });
  return tf.tidy(() => {
    const left = mode === 'lmix' ? image : mix(image);
    const right = mode === 'vmix' ? text : mix(text);
    let logits = tf.div(tf.matMul(left, right, false, true), temperature) as tf.Tensor2D;
    if (originalNegatives) {
      const keep = diagonalAndFlipMask(n);
      const original = tf.div(tf.matMul(image, text, false, true), temperature);
      logits = tf.add(tf.mul(keep, logits), tf.mul(tf.sub(1, keep), original)) as tf.Tensor2D;
    }
    const targets = mode === 'vlmix' ? bimodalMixTargets(n) : unimodalMixTargets(n, lambda);
    return guardValues(symmetricContrastiveLoss(logits, targets), checks);
  });
}

/** The public signature of the three ablations; `mode` alone tells them apart. */
function ablation(mode: Mode) {
  return (image: tf.Tensor2D, text: tf.Tensor2D, lambda: number, options: MixupLossOptions = {}): tf.Scalar =>
    mixupLoss(mode, image, text, lambda, options);
}

/**
 * V-Mix: image rows mixed with their flip partners, `pos = slerp(img, flip(img), λ)`, logits
 * `pos·txtᵀ/τ`, soft targets `λ·I + (1−λ)·flip(I)`, the symmetric CLIP loss. Unit-norm `[N, D]` inputs.
 */
export const vmixLoss = ablation('vmix');

/** L-Mix: as V-Mix with the text rows mixed, logits `img·slerp(txt, flip(txt), λ)ᵀ/τ`. */
export const lmixLoss = ablation('lmix');

/**
 * VL-Mix: both modalities mixed with the same λ, logits `mix(img)·mix(txt)ᵀ/τ`, targets `I + flip(I)`
 * (un-normalised, as in the reference).
 */
export const vlmixLoss = ablation('vlmix');
