import type { Rng } from '@robust-ft/core';
import { assertNonNegative, assertOneOf, assertPositive, invalidArgument } from '@robust-ft/core/internal';
import * as tf from '@tensorflow/tfjs-core';
import { OUTPUT_DISTANCES, type OutputDistance, outputDistance } from './divergences';
import type { BatchModel, ViewFn } from './function-space';
import { checkLossOptions } from './option-schemas';
import { assertFloatTensor } from './validate-inputs';

/** Options of `consistencyLoss`. */
export interface ConsistencyOptions {
  /** Default 'js': symmetric, bounded by ln 2, and no view is privileged as the target. */
  distance?: OutputDistance;
  /** Softmax temperature of the distribution distances. Default 1. */
  temperature?: number;
  /** Check shapes and finiteness first. Default true. */
  validate?: boolean;
}

/**
 * Consistency between the model's predictions on two perturbed views of the same batch `[N, K]`. Both
 * sides carry gradient. With the asymmetric 'kl', `logitsA` is the target side.
 */
export function consistencyLoss(
  logitsA: tf.Tensor2D,
  logitsB: tf.Tensor2D,
  options: ConsistencyOptions = {},
): tf.Scalar {
  checkLossOptions('consistencyLoss', 'consistency', options);
  const { distance = 'js', temperature = 1, validate = true } = options;
  assertOneOf('options.distance', distance, OUTPUT_DISTANCES);
  assertPositive('options.temperature', temperature);
  return outputDistance(distance, logitsA, logitsB, { temperature, validate }) as tf.Scalar;
}

/** The configuration of `consistencyRegularizer`: two views and the distance between their outputs. */
export interface ConsistencyRegularizerConfig extends Omit<ConsistencyOptions, 'validate'> {
  /** The two perturbations; each is called once per step. */
  views: readonly [ViewFn, ViewFn];
  /** Multiplies the loss. Default 1. */
  weight?: number;
}

/** Config factory: `(model, x, rng) => weight · consistencyLoss(model(v₁(x)), model(v₂(x)))`. */
export function consistencyRegularizer(
  config: ConsistencyRegularizerConfig,
): (model: BatchModel, x: tf.Tensor, rng: Rng) => tf.Scalar {
  checkLossOptions('consistencyRegularizer', 'consistencyRegularizer', config, 'config');
  const { views, weight = 1, ...options } = config;
  if (!Array.isArray(views) || views.length !== 2 || !views.every((v) => typeof v === 'function')) {
    throw invalidArgument('config.views', "a pair of view functions [(x, rng) => x', (x, rng) => x']", views);
  }
  assertNonNegative('config.weight', weight);
  assertOneOf('config.distance', options.distance ?? 'js', OUTPUT_DISTANCES);
  assertPositive('config.temperature', options.temperature ?? 1);
  return (model, x, rng) => {
    if (typeof model !== 'function') throw invalidArgument('model', 'a function x => logits', model);
    assertFloatTensor('x', x);
    return tf.tidy(() => {
      const a = model(views[0](x, rng));
      const b = model(views[1](x, rng));
      return tf.mul(weight, consistencyLoss(a, b, { ...options, validate: false })) as tf.Scalar;
    });
  };
}
