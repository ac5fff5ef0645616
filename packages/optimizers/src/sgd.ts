import {
  type AnyTransformation,
  addDecayedWeights,
  chain,
  type GradientTransformation,
  type RobustOptimizer,
  registerOptimizerFactory,
  type StateTree,
  scaleByLearningRate,
  traceMomentum,
} from '@robust-ft/core';
import { checkFactoryOptions } from './option-schemas';
import {
  bool,
  buildOptimizer,
  type CommonOptions,
  checkLearningRate,
  commonFromJson,
  learningRateFromJson,
  num,
} from './options';

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

export function sgdMomentumFromJson(o: Parameters<typeof num>[0]): SgdMomentumOptions {
  const out: SgdMomentumOptions = {};
  const m = num(o, 'momentum');
  const n = bool(o, 'nesterov');
  const wd = num(o, 'weightDecay');
  if (m !== undefined) out.momentum = m;
  if (n !== undefined) out.nesterov = n;
  if (wd !== undefined) out.weightDecay = wd;
  return out;
}

registerOptimizerFactory(SGD_FACTORY, (o) =>
  sgd({
    ...commonFromJson(o),
    ...sgdMomentumFromJson(o),
    learningRate: learningRateFromJson(o.learningRate, SGD_DEFAULTS.learningRate),
  }),
);
