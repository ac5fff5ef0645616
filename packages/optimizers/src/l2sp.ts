import {
  type AnyTransformation,
  chain,
  type GradientTransformation,
  mapTensors,
  type NameSelector,
  nameMatcher,
  type RobustOptimizer,
  registerOptimizerFactory,
  type StateTree,
  scaleByAdam,
  scaleByLearningRate,
} from '@robust-ft/core';
import { assertNonNegative } from '@robust-ft/core/internal';
import type { Tensor } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { type AdamMomentsOptions, adamMomentsFromJson } from './adamw';
import { withFusedL2sp } from './fused';
import {
  buildOptimizer,
  type CommonOptions,
  checkLearningRate,
  commonFromJson,
  learningRateFromJson,
  num,
  selectorFromJson,
  selectorToJson,
} from './options';

export interface L2spOptions extends AdamMomentsOptions, CommonOptions {
  /** Strength α ≥ 0 of the penalty (α/2)‖θ − θ₀‖². Default 0.01. */
  alpha?: number;
  /** Parameters without the penalty (plain Adam), e.g. a new head. */
  exclude?: NameSelector;
}

export const L2SP_DEFAULTS = { learningRate: 1e-3, alpha: 0.01 } as const;
export const L2SP_FACTORY = 'robust-ft/l2sp';

/** The L2-SP gradient of one tensor: g + α(θ − θ₀). */
export function l2spTensorGradient(grad: Tensor, param: Tensor, anchor: Tensor, alpha: number): Tensor {
  return tf.add(grad, tf.mul(tf.sub(param, anchor), alpha));
}

/** Adds the L2-SP pull α(θ − θ₀) to the gradients of the selected parameters (stateless, coupled). */
export function addL2spGradient(alpha: number, exclude?: NameSelector): GradientTransformation<StateTree> {
  assertNonNegative('alpha', alpha);
  const excluded = nameMatcher(exclude);
  return {
    label: 'addL2spGradient',
    init: () => ({}),
    update: (grads, state, params, ctx) => ({
      updates: mapTensors(grads, (g, name) =>
        excluded(name) || alpha === 0 ? g : l2spTensorGradient(g, params[name]!, ctx.anchor(name), alpha),
      ),
      state,
    }),
  };
}

/** Adam on g + α(θ − θ₀): the penalty is coupled (it passes through Adam's moments). */
export function l2spTransformation(options: Omit<L2spOptions, keyof CommonOptions> = {}): AnyTransformation {
  const { alpha = L2SP_DEFAULTS.alpha, exclude, ...adam } = options;
  return chain(addL2spGradient(alpha, exclude), scaleByAdam(adam), scaleByLearningRate());
}

export function l2sp(options: L2spOptions = {}): RobustOptimizer {
  const learningRate = checkLearningRate(options.learningRate, L2SP_DEFAULTS.learningRate);
  const { beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8, alpha = L2SP_DEFAULTS.alpha } = options;
  const exclude = selectorToJson(options.exclude);
  return buildOptimizer(
    L2SP_FACTORY,
    withFusedL2sp(
      l2spTransformation({
        beta1,
        beta2,
        epsilon,
        alpha,
        ...(options.exclude === undefined ? {} : { exclude: options.exclude }),
      }),
      {
        beta1,
        beta2,
        epsilon,
        alpha,
        ...(options.exclude === undefined ? {} : { exclude: options.exclude }),
      },
    ),
    options,
    learningRate,
    exclude === undefined ? undefined : { beta1, beta2, epsilon, alpha, exclude },
  );
}

registerOptimizerFactory(L2SP_FACTORY, (o) => {
  const alpha = num(o, 'alpha');
  const exclude = selectorFromJson(o.exclude);
  return l2sp({
    ...commonFromJson(o),
    ...adamMomentsFromJson(o),
    ...(alpha === undefined ? {} : { alpha }),
    ...(exclude === undefined ? {} : { exclude }),
    learningRate: learningRateFromJson(o.learningRate, L2SP_DEFAULTS.learningRate),
  });
});
