import { RobustFtError } from '@robust-ft/core';
import { assertPositive, shapeToString } from '@robust-ft/core/internal';
import * as tf from '@tensorflow/tfjs-core';
import type { Reduction } from './cross-entropy';
import { checkLossOptions } from './option-schemas';
import { assertBatchMatrix, guardValues } from './validate-inputs';

/**
 * Distances between two models' outputs on the same inputs `[N, K]` (logits) or `[N, D]` (features).
 * Per-sample values are reduced by the mean over the batch unless `reduction: 'none'`. The first
 * argument is the target side where the distance is asymmetric (KL(p‖q) with p from `target`).
 */

export interface DivergenceOptions {
  /** Softmax temperature T for the distribution distances; the result is scaled by T² (Hinton et al.). Default 1. */
  temperature?: number;
  reduction?: Reduction;
  /** Check shapes first, and finiteness on the device (non-finite inputs give NaN). Default true. */
  validate?: boolean;
}

function checkPair(
  target: tf.Tensor,
  prediction: tf.Tensor,
  validate: boolean,
  names: [string, string],
): void {
  if (!validate) return;
  assertBatchMatrix(names[0], target, 1);
  assertBatchMatrix(names[1], prediction, 1);
  if (target.shape[0] !== prediction.shape[0] || target.shape[1] !== prediction.shape[1]) {
    throw new RobustFtError(
      'SHAPE_MISMATCH',
      `${names[1]} has shape ${shapeToString(prediction.shape)} but ${names[0]} has shape ${shapeToString(target.shape)}`,
      { argument: names[1], expected: `shape ${shapeToString(target.shape)}` },
    );
  }
}

/** Reduces per-sample values and, when validating, guards them on the inputs' finiteness. */
function reduce(
  perSample: tf.Tensor1D,
  reduction: Reduction,
  inputs: readonly tf.Tensor[],
  validate: boolean,
): tf.Tensor {
  const out = reduction === 'mean' ? tf.mean(perSample) : perSample;
  return validate
    ? guardValues(
        out,
        inputs.map((tensor) => ({ tensor })),
      )
    : out;
}

/** Σ_j exp(lp)_j (lp_j − lq_j) per row from log-probabilities: KL(p‖q). Finite when p underflows to 0. */
export function klFromLogProbs(logP: tf.Tensor2D, logQ: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.sum(tf.mul(tf.exp(logP), tf.sub(logP, logQ)), 1));
}

/**
 * The frame every softmax divergence shares: validate, take both sides' log-softmax at temperature T,
 * compute the per-row divergence, scale by T² (so gradients keep their size as T changes) and reduce.
 */
function temperedDivergence(
  a: tf.Tensor2D,
  b: tf.Tensor2D,
  options: DivergenceOptions,
  names: [string, string],
  perRow: (logA: tf.Tensor2D, logB: tf.Tensor2D) => tf.Tensor1D,
): tf.Tensor {
  const { temperature = 1, reduction = 'mean', validate = true } = options;
  assertPositive('options.temperature', temperature);
  checkPair(a, b, validate, names);
  return tf.tidy(() => {
    const la = tf.logSoftmax(tf.div<tf.Tensor2D>(a, temperature));
    const lb = tf.logSoftmax(tf.div<tf.Tensor2D>(b, temperature));
    return reduce(
      tf.mul(perRow(la, lb), temperature * temperature) as tf.Tensor1D,
      reduction,
      [a, b],
      validate,
    );
  });
}

/**
 * KL(softmax(target/T) ‖ softmax(prediction/T))·T² — with `target` the frozen teacher this is the
 * distillation direction: the student is penalised for putting little mass where the teacher puts much.
 */
export function klDivergence(
  targetLogits: tf.Tensor2D,
  predictionLogits: tf.Tensor2D,
  options: DivergenceOptions = {},
): tf.Tensor {
  checkLossOptions('klDivergence', 'divergence', options);
  return temperedDivergence(
    targetLogits,
    predictionLogits,
    options,
    ['targetLogits', 'predictionLogits'],
    klFromLogProbs,
  );
}

/** ½(KL(a‖b) + KL(b‖a))·T², the mean of the two directions (half of Jeffreys' divergence). */
export function symmetricKlDivergence(
  logitsA: tf.Tensor2D,
  logitsB: tf.Tensor2D,
  options: DivergenceOptions = {},
): tf.Tensor {
  checkLossOptions('symmetricKlDivergence', 'divergence', options);
  return temperedDivergence(logitsA, logitsB, options, ['logitsA', 'logitsB'], (la, lb) =>
    tf.mul(0.5, tf.add(klFromLogProbs(la, lb), klFromLogProbs(lb, la))),
  );
}

/**
 * Jensen–Shannon divergence ½KL(a‖m) + ½KL(b‖m), m = ½(p_a + p_b), times T². Bounded by ln 2·T².
 * log m is taken as logsumexp(log p_a, log p_b) − ln 2, which stays finite where both p underflow.
 */
export function jsDivergence(
  logitsA: tf.Tensor2D,
  logitsB: tf.Tensor2D,
  options: DivergenceOptions = {},
): tf.Tensor {
  checkLossOptions('jsDivergence', 'divergence', options);
  return temperedDivergence(logitsA, logitsB, options, ['logitsA', 'logitsB'], (la, lb) => {
    const lm = tf.sub(tf.logSumExp(tf.stack([la, lb]), 0), Math.LN2) as tf.Tensor2D;
    return tf.mul(0.5, tf.add(klFromLogProbs(la, lm), klFromLogProbs(lb, lm)));
  });
}

/** Mean squared difference of logits, averaged over classes per sample. */
export function logitMse(
  logitsA: tf.Tensor2D,
  logitsB: tf.Tensor2D,
  options: Omit<DivergenceOptions, 'temperature'> = {},
) {
  checkLossOptions('logitMse', 'distanceNoTemperature', options);
  const { reduction = 'mean', validate = true } = options;
  checkPair(logitsA, logitsB, validate, ['logitsA', 'logitsB']);
  return tf.tidy(() =>
    reduce(tf.mean(tf.square(tf.sub(logitsA, logitsB)), 1), reduction, [logitsA, logitsB], validate),
  );
}

/**
 * 1 − cos(a_i, b_i) per sample, for feature vectors. Norms are floored at 1e-12 so a zero feature gives
 * distance 1 (cosine 0), not NaN.
 */
export function cosineDistance(
  featuresA: tf.Tensor2D,
  featuresB: tf.Tensor2D,
  options: Omit<DivergenceOptions, 'temperature'> = {},
) {
  checkLossOptions('cosineDistance', 'distanceNoTemperature', options);
  const { reduction = 'mean', validate = true } = options;
  checkPair(featuresA, featuresB, validate, ['featuresA', 'featuresB']);
  return tf.tidy(() => {
    const norm = (x: tf.Tensor2D) => tf.sqrt(tf.maximum(tf.sum(tf.square(x), 1), 1e-24));
    const cos = tf.div(tf.sum(tf.mul(featuresA, featuresB), 1), tf.mul(norm(featuresA), norm(featuresB)));
    return reduce(tf.sub(1, cos) as tf.Tensor1D, reduction, [featuresA, featuresB], validate);
  });
}

/** A distance between two models' outputs, by name (see `outputDistance`). */
export type OutputDistance = 'kl' | 'symmetric-kl' | 'js' | 'mse' | 'cosine';

/** Dispatch by name; `target` is the first argument (the teacher for 'kl'). */
export function outputDistance(
  distance: OutputDistance,
  target: tf.Tensor2D,
  prediction: tf.Tensor2D,
  options: DivergenceOptions = {},
): tf.Tensor {
  checkLossOptions('outputDistance', 'divergence', options);
  switch (distance) {
    case 'kl':
      return klDivergence(target, prediction, options);
    case 'symmetric-kl':
      return symmetricKlDivergence(target, prediction, options);
    case 'js':
      return jsDivergence(target, prediction, options);
    // Distances on raw logits take no temperature (callers such as FSR pass one for every distance).
    case 'mse':
      return logitMse(target, prediction, withoutTemperature(options));
    case 'cosine':
      return cosineDistance(target, prediction, withoutTemperature(options));
  }
}

function withoutTemperature(options: DivergenceOptions): Omit<DivergenceOptions, 'temperature'> {
  const { temperature: _ignored, ...rest } = options;
  return rest;
}

/** Every `OutputDistance` name. */
export const OUTPUT_DISTANCES: readonly OutputDistance[] = ['kl', 'symmetric-kl', 'js', 'mse', 'cosine'];
