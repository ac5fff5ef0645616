import {
  type AdamMomentsOptions,
  addDecayedWeights,
  chain,
  type GradientTransformation,
  type RobustOptimizer,
  type StateTree,
  scaleByAdam,
  scaleByLearningRate,
} from '@robust-ft/core';
import { withFusedMethod } from './fused';
import { declareMethod, type MethodSettings } from './method';
import { checkFactoryOptions, registerFactory } from './option-schemas';
import { buildOptimizer, type CommonOptions, checkLearningRate } from './options';

/** Re-exported so the optimizers' option types read from one place (the type lives in core). */
export type { AdamMomentsOptions };

export interface AdamWOptions extends AdamMomentsOptions, CommonOptions {
  /** Decoupled decay toward zero, scaled by the learning rate (torch AdamW). Default 0.01. */
  weightDecay?: number;
}

export const ADAMW_DEFAULTS = { learningRate: 1e-3, weightDecay: 0.01 } as const;

/**
 * torch's AdamW as a chain of core transformations: Adam direction, plus wd·θ, times −lr. Equals
 * θ ← θ(1 − η·wd) − η·m̂/(√v̂ + ε) with both terms evaluated at the pre-step θ.
 */
export function adamwTransformation(
  options: AdamMomentsOptions & { weightDecay?: number } = {},
): GradientTransformation<StateTree> {
  const { beta1, beta2, epsilon, weightDecay = ADAMW_DEFAULTS.weightDecay } = options;
  return chain(
    scaleByAdam({
      ...(beta1 === undefined ? {} : { beta1 }),
      ...(beta2 === undefined ? {} : { beta2 }),
      ...(epsilon === undefined ? {} : { epsilon }),
    }),
    addDecayedWeights(weightDecay),
    scaleByLearningRate(),
  );
}

/**
 * AdamW's declaration. AdamW is the inner optimizer the other methods wrap, so as a method it is the
 * identity on the gradient for every setting (`passThrough`), chained with Adam and the decoupled decay
 * (`adamwTransformation`); no slots of its own (Adam's moments are Adam's). Its fused path is the
 * generic dispatch's plain-AdamW batch (`withFusedMethod`), the Adam slot found by name in the chain.
 */
export const ADAMW_METHOD = declareMethod({
  label: 'adamw',
  kind: 'gradient',
  settings: (): MethodSettings => ({}),
  slots: {},
  passThrough: () => true,
  step: (i) => ({ value: i.grad, slots: {} }),
  fused: { kernel: 'adamw', chained: true, inputs: [], outputs: [], attrs: () => ({}) },
});

/** AdamW as a `tf.Optimizer` (usable in `model.compile`), serialisable with the model. */
export function adamw(options: AdamWOptions = {}): RobustOptimizer {
  checkFactoryOptions('adamw', options);
  const learningRate = checkLearningRate(options.learningRate, ADAMW_DEFAULTS.learningRate);
  const { beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8, weightDecay = ADAMW_DEFAULTS.weightDecay } = options;
  return buildOptimizer(
    ADAMW_FACTORY,
    withFusedMethod(ADAMW_METHOD, adamwTransformation({ beta1, beta2, epsilon, weightDecay }), undefined, {
      beta1,
      beta2,
      epsilon,
      weightDecay,
    }),
    options,
    learningRate,
    { beta1, beta2, epsilon, weightDecay },
  );
}

export const ADAMW_FACTORY = 'robust-ft/adamw';

registerFactory(ADAMW_FACTORY, 'adamw', adamw, () => ADAMW_DEFAULTS.learningRate);
