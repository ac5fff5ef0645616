import { checkOptions, type OptionSchema, type OptionSpec } from '@robust-ft/core/internal';
import type { AdversarialLossOptions, TradesOptions } from './adversarial';
import type { ClipContrastiveOptions } from './clip-contrastive';
import type { ConsistencyOptions, ConsistencyRegularizerConfig } from './consistency';
import type { DivergenceOptions } from './divergences';
import type { FunctionSpaceRegularizerConfig } from './function-space';
import type { GeodesicMixupOptions } from './geodesic-mixup';
import type { M2mixOptions } from './m2mix';
import type { M2mixObjectiveConfig } from './m2mix-objective';
import type { MixupLossOptions } from './unimodal-mixup';

/*
 * Strict options (core's checkOptions) for every loss factory and loss function: a misspelled option
 * is an INVALID_ARGUMENT naming the closest known key instead of a silently used default. Each schema is
 * typed against its options interface, so a declared option missing here does not compile. Ranges stay
 * with the functions' own checks.
 */
const REDUCTION: OptionSpec = ['mean', 'none'];
const DISTANCE: OptionSpec = ['kl', 'symmetric-kl', 'js', 'mse', 'cosine'];
const TERM_MAP: OptionSpec = (v) =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? undefined : 'a map of mix term → number';

const DIVERGENCE = { temperature: 'number', reduction: REDUCTION, validate: 'boolean' } as const;
const CONSISTENCY = { distance: DISTANCE, temperature: 'number', validate: 'boolean' } as const;
const MIXUP = {
  temperature: 'number',
  epsilon: 'number',
  validate: 'boolean',
  unitNormTolerance: 'number',
} as const;

export const LOSS_OPTION_SCHEMAS = {
  trades: { beta: 'number', reduction: REDUCTION, validate: 'boolean' } satisfies OptionSchema<TradesOptions>,
  adversarialTraining: {
    attack: 'function',
    reduction: REDUCTION,
  } satisfies OptionSchema<AdversarialLossOptions>,
  tradesLoss: {
    attack: 'function',
    reduction: REDUCTION,
    beta: 'number',
    validate: 'boolean',
  } satisfies OptionSchema<AdversarialLossOptions & Omit<TradesOptions, 'reduction'>>,
  clipContrastive: {
    temperature: 'number',
    logitScale: 'object',
    maxScale: 'number',
    requireUnitNorm: 'boolean',
    unitNormTolerance: 'number',
    validate: 'boolean',
  } satisfies OptionSchema<ClipContrastiveOptions>,
  consistency: CONSISTENCY satisfies OptionSchema<ConsistencyOptions>,
  consistencyRegularizer: {
    distance: DISTANCE,
    temperature: 'number',
    views: 'object',
    weight: 'number',
  } satisfies OptionSchema<ConsistencyRegularizerConfig>,
  divergence: DIVERGENCE satisfies OptionSchema<DivergenceOptions>,
  /** logitMse and cosineDistance take no temperature. */
  distanceNoTemperature: { reduction: REDUCTION, validate: 'boolean' } satisfies OptionSchema<
    Omit<DivergenceOptions, 'temperature'>
  >,
  functionSpaceRegularizer: {
    views: 'any',
    distance: DISTANCE,
    temperature: 'number',
    weight: 'number',
  } satisfies OptionSchema<FunctionSpaceRegularizerConfig>,
  geodesicMixup: {
    epsilon: 'number',
    validate: 'boolean',
    unitNormTolerance: 'number',
  } satisfies OptionSchema<GeodesicMixupOptions>,
  m2mix: {
    temperature: 'number',
    positiveScale: 'number',
    combineDirections: ['sum', 'mean'],
    epsilon: 'number',
    validate: 'boolean',
    unitNormTolerance: 'number',
  } satisfies OptionSchema<M2mixOptions>,
  m2mixObjective: {
    temperature: 'number',
    mixTemperature: 'number',
    separateTemperature: 'boolean',
    weights: TERM_MAP,
    beta: TERM_MAP,
    epochSchedule: 'boolean',
    originalNegatives: 'boolean',
    epsilon: 'number',
    unitNormTolerance: 'number',
  } satisfies OptionSchema<M2mixObjectiveConfig>,
  mixup: { ...MIXUP, originalNegatives: 'boolean' } satisfies OptionSchema<MixupLossOptions>,
} as const;

/** Throws INVALID_ARGUMENT for an unknown key (naming the closest known one) or a wrong type. */
export function checkLossOptions(
  owner: string,
  schema: keyof typeof LOSS_OPTION_SCHEMAS,
  options: unknown,
  prefix: 'options' | 'config' = 'options',
): void {
  checkOptions(owner, options, LOSS_OPTION_SCHEMAS[schema], { prefix });
}
