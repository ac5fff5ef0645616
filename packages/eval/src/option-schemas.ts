import { checkOptions, type OptionSchema, type OptionSpec } from '@robust-ft/core/internal';
import type { AttackBudget } from './attacks/attack-common';
import type { PgdOptions } from './attacks/pgd';
import type { TemperatureSearchOptions } from './ensembles/temperature';
import type { VrfOptions } from './ensembles/vrf';
import type { WiseFtOptions } from './ensembles/wise-ft';
import type { EvaluationSuites } from './evaluate';
import type { EceOptions } from './metrics/calibration';
import type { RelativeAlignmentOptions } from './metrics/representation';
import type { CorruptionPreviewOptions } from './report/corruption-preview';

/*
 * Strict options (core's checkOptions) for eval's public functions: a misspelled option (`eps` for
 * `epsilon`, `step` for `steps`) is an INVALID_ARGUMENT naming the closest known key, not a silently used
 * default. Schemas are typed against the options interfaces, so they cannot miss a declared option.
 * (The APGD family checks its keys itself: attack-common's assertKnownOptions.)
 */
const BUDGET = {
  epsilon: 'number',
  norm: ['linf', 'l2'],
  range: 'object',
} as const satisfies OptionSchema<AttackBudget>;
const SEARCH = {
  threshold: 'number',
  tMin: 'number',
  tMax: 'number',
  maxIterations: 'number',
} as const satisfies OptionSchema<TemperatureSearchOptions>;
const K: OptionSpec = (v) =>
  typeof v === 'number' || v === 'code' || v === 'paper' ? undefined : "a number, 'code' or 'paper'";

export const EVAL_OPTION_SCHEMAS = {
  fgsm: BUDGET,
  pgd: {
    ...BUDGET,
    steps: 'number',
    stepSize: 'number',
    randomStart: 'boolean',
    seed: 'number',
  } satisfies OptionSchema<PgdOptions>,
  searchTemperature: SEARCH,
  fitVrf: {
    k: K,
    distance: ['squared-l2', 'l2'],
    a: 'number',
    b: 'number',
    temperatures: 'object',
    temperatureSearch: 'object',
  } satisfies OptionSchema<VrfOptions>,
  wiseFt: { fishers: 'object', fisherFloor: 'number' } satisfies OptionSchema<WiseFtOptions>,
  relativeAlignment: {
    neighbor: 'number',
    relative: ['diff', 'ratio'],
    diagonalFill: 'number',
  } satisfies OptionSchema<RelativeAlignmentOptions>,
  expectedCalibrationError: {
    bins: 'number',
    input: ['logits', 'probabilities'],
  } satisfies OptionSchema<EceOptions>,
  corruptionPreviewSvg: {
    families: 'object',
    seed: 'number',
    scale: 'number',
  } satisfies OptionSchema<CorruptionPreviewOptions>,
  evaluateSuites: {
    id: 'object',
    corruptions: 'object',
    attacks: 'object',
    ood: 'object',
    topK: 'number',
    batchSize: 'number',
  } satisfies OptionSchema<EvaluationSuites>,
  evaluateCorruptions: { families: 'object', severities: 'object', seed: 'number' },
  evaluate: { name: 'string', onProgress: 'function' },
} as const;

/** Throws INVALID_ARGUMENT for an unknown key (naming the closest known one) or a wrong type. */
export function checkEvalOptions(
  owner: string,
  schema: keyof typeof EVAL_OPTION_SCHEMAS,
  options: unknown,
): void {
  checkOptions(owner, options, EVAL_OPTION_SCHEMAS[schema]);
}
