import {
  type AnyTransformation,
  chain,
  type GradientTransformation,
  type NameSelector,
  type RobustOptimizer,
  type StateTree,
  scaleByAdam,
  scaleByLearningRate,
} from '@robust-ft/core';
import { assertNonNegative } from '@robust-ft/core/internal';
import type { Tensor } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import type { AdamMomentsOptions } from './adamw';
import { withFusedMethod } from './fused';
import { declareMethod, gradientTransformation } from './method';
import { checkFactoryOptions, registerFactory } from './option-schemas';
import { buildOptimizer, type CommonOptions, checkLearningRate, selectorToJson } from './options';

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

/**
 * L2-SP's declaration: a stateless gradient method (the pull α(θ − θ₀) added to g), chained before
 * Adam; its fused kernel (Adam on the pulled gradient) is dispatched by the generic `withFusedMethod`.
 */
export const L2SP_METHOD = declareMethod({
  label: 'addL2spGradient',
  kind: 'gradient',
  settings(options: { alpha: number; exclude?: NameSelector | undefined }) {
    assertNonNegative('alpha', options.alpha);
    return { alpha: options.alpha, exclude: options.exclude };
  },
  slots: {},
  passThrough: (s) => s.alpha === 0,
  step: (i, { alpha }) => ({ value: l2spTensorGradient(i.grad, i.param, i.anchor, alpha), slots: {} }),
  fused: { kernel: 'l2sp', chained: true, inputs: [], outputs: [], attrs: ({ alpha }) => ({ alpha }) },
});

/** Adds the L2-SP pull α(θ − θ₀) to the gradients of the selected parameters (stateless, coupled). */
export function addL2spGradient(alpha: number, exclude?: NameSelector): GradientTransformation<StateTree> {
  return gradientTransformation(L2SP_METHOD, { alpha, exclude });
}

/** Adam on g + α(θ − θ₀): the penalty is coupled (it passes through Adam's moments). */
export function l2spTransformation(options: Omit<L2spOptions, keyof CommonOptions> = {}): AnyTransformation {
  const { alpha = L2SP_DEFAULTS.alpha, exclude, ...adam } = options;
  return chain(addL2spGradient(alpha, exclude), scaleByAdam(adam), scaleByLearningRate());
}

export function l2sp(options: L2spOptions = {}): RobustOptimizer {
  checkFactoryOptions('l2sp', options);
  const learningRate = checkLearningRate(options.learningRate, L2SP_DEFAULTS.learningRate);
  const { beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8, alpha = L2SP_DEFAULTS.alpha } = options;
  const exclude = selectorToJson(options.exclude);
  const method = { alpha, exclude: options.exclude };
  const adam = { beta1, beta2, epsilon };
  return buildOptimizer(
    L2SP_FACTORY,
    withFusedMethod(L2SP_METHOD, l2spTransformation({ ...adam, ...method }), method, {
      ...adam,
      weightDecay: 0,
    }),
    options,
    learningRate,
    exclude === undefined ? undefined : { beta1, beta2, epsilon, alpha, exclude },
  );
}

registerFactory(L2SP_FACTORY, 'l2sp', l2sp, () => L2SP_DEFAULTS.learningRate);
