import {
  type AnyTransformation,
  addDecayedWeights,
  chain,
  type GradientTransformation,
  type RobustOptimizer,
  type StateTree,
  scaleByLearningRate,
  traceMomentum,
} from '@robust-ft/core';
import { checkFactoryOptions, registerFactory } from './option-schemas';
import { buildOptimizer, type CommonOptions, checkLearningRate } from './options';

export interface SgdMomentumOptions {
  /** Heavy-ball momentum (torch SGD, dampening 0). Default 0. */
  momentum?: number;
  /** Nesterov look-ahead (needs momentum > 0). Default false. */
  nesterov?: boolean;
  /** Coupled L2 decay toward zero: wd·θ is added to the gradient before momentum. Default 0. */
  weightDecay?: number;
}

export interface SgdOptions extends SgdMomentumOptions, CommonOptions {}

export const SGD_DEFAULTS = { learningRate: 1e-2, momentum: 0, nesterov: false, weightDecay: 0 } as const;
export const SGD_FACTORY = 'robust-ft/sgd';

/** torch SGD: d = momentum-direction(g + wd·θ), update −lr·d. */
export function sgdTransformation(options: SgdMomentumOptions = {}): GradientTransformation<StateTree> {
  const { momentum = 0, nesterov = false, weightDecay = 0 } = options;
  const parts: AnyTransformation[] = [addDecayedWeights(weightDecay)];
  if (momentum > 0 || nesterov) parts.push(traceMomentum({ momentum, nesterov }));
  parts.push(scaleByLearningRate());
  return chain(...parts);
}

export function sgd(options: SgdOptions = {}): RobustOptimizer {
  checkFactoryOptions('sgd', options);
  const learningRate = checkLearningRate(options.learningRate, SGD_DEFAULTS.learningRate);
  const { momentum = 0, nesterov = false, weightDecay = 0 } = options;
  return buildOptimizer(
    SGD_FACTORY,
    sgdTransformation({ momentum, nesterov, weightDecay }),
    options,
    learningRate,
    {
      momentum,
      nesterov,
      weightDecay,
    },
  );
}

registerFactory(SGD_FACTORY, 'sgd', sgd, () => SGD_DEFAULTS.learningRate);
