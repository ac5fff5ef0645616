import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  adversarialTrainingLoss,
  clipContrastive,
  clipContrastiveLoss,
  consistencyLoss,
  consistencyRegularizer,
  cosineDistance,
  functionSpaceRegularizer,
  geodesicMixup,
  jsDivergence,
  klDivergence,
  lmixLoss,
  logitMse,
  m2mixLogits,
  m2mixLoss,
  m2mixObjective,
  outputDistance,
  symmetricKlDivergence,
  tradesLoss,
  tradesLossFromLogits,
  vlmixLoss,
  vmixLoss,
} from '../src/index';
import { checkLossOptions, LOSS_OPTION_SCHEMAS } from '../src/option-schemas';
import { errorOf } from './helpers';
import './setup-backend';

/**
 * Every public entry point refuses an unknown option under its own name and prefix, and every declared
 * option is type-checked with the type its options interface documents (issue #20: these were unpinned).
 */
const t = () => tf.zeros([2, 2]) as tf.Tensor2D;
const labels = () => tf.tensor1d([0, 1], 'int32');
const model = (x: tf.Tensor) => x as tf.Tensor2D;
const bogus = { bogusOption: 1 } as never;
const views = [(x: tf.Tensor) => x, (x: tf.Tensor) => x] as const;

// [owner named in the message, prefix, call with an unknown key]
const ENTRY_POINTS: [string, 'options' | 'config', () => unknown][] = [
  ['tradesLossFromLogits', 'options', () => tradesLossFromLogits(t(), t(), labels(), bogus)],
  ['adversarialTrainingLoss', 'options', () => adversarialTrainingLoss(model, t(), labels(), bogus)],
  ['tradesLoss', 'options', () => tradesLoss(model, t(), labels(), bogus)],
  ['clipContrastiveLoss', 'options', () => clipContrastiveLoss(t(), t(), bogus)],
  ['clipContrastive', 'options', () => clipContrastive(bogus)],
  ['consistencyLoss', 'options', () => consistencyLoss(t(), t(), bogus)],
  ['consistencyRegularizer', 'config', () => consistencyRegularizer({ views, ...(bogus as object) })],
  ['klDivergence', 'options', () => klDivergence(t(), t(), bogus)],
  ['symmetricKlDivergence', 'options', () => symmetricKlDivergence(t(), t(), bogus)],
  ['jsDivergence', 'options', () => jsDivergence(t(), t(), bogus)],
  ['logitMse', 'options', () => logitMse(t(), t(), bogus)],
  ['cosineDistance', 'options', () => cosineDistance(t(), t(), bogus)],
  ['outputDistance', 'options', () => outputDistance('kl', t(), t(), bogus)],
  [
    'functionSpaceRegularizer',
    'config',
    () => functionSpaceRegularizer({ views: views[0], ...(bogus as object) }),
  ],
  ['geodesicMixup', 'options', () => geodesicMixup(t(), t(), 0.5, bogus)],
  ['m2mixObjective', 'config', () => m2mixObjective(bogus)],
  ['m2mixLogits', 'options', () => m2mixLogits(t(), t(), 0.5, bogus)],
  ['m2mixLoss', 'options', () => m2mixLoss(t(), t(), 0.5, bogus)],
  ['vmixLoss', 'options', () => vmixLoss(t(), t(), 0.5, bogus)],
  ['lmixLoss', 'options', () => lmixLoss(t(), t(), 0.5, bogus)],
  ['vlmixLoss', 'options', () => vlmixLoss(t(), t(), 0.5, bogus)],
];

describe('unknown options name the entry point and its prefix', () => {
  it.each(ENTRY_POINTS)('%s refuses `bogusOption` as %s.bogusOption', (owner, prefix, call) => {
    const e = errorOf(call);
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.argument).toBe(`${prefix}.bogusOption`);
    expect(e.message.startsWith(`${owner}: unknown option \`bogusOption\``), e.message).toBe(true);
  });
});

const NUMBER = 'a number';
const BOOLEAN = 'a boolean';
const FUNCTION = 'a function';
const OBJECT = 'an object';
const REDUCTION = 'one of "mean", "none"';
const DISTANCE = 'one of "kl", "symmetric-kl", "js", "mse", "cosine"';
const TERM_MAP = 'a map of mix term → number';
/** `any`: the factory checks the value itself (a view function or an array of them). */
const ANY = undefined;

/** The type each option's interface documents, written out by hand (not read from the schemas). */
const DOCUMENTED: Record<keyof typeof LOSS_OPTION_SCHEMAS, Record<string, string | undefined>> = {
  trades: { beta: NUMBER, reduction: REDUCTION, validate: BOOLEAN },
  adversarialTraining: { attack: FUNCTION, reduction: REDUCTION },
  tradesLoss: { attack: FUNCTION, reduction: REDUCTION, beta: NUMBER, validate: BOOLEAN },
  clipContrastive: {
    temperature: NUMBER,
    logitScale: OBJECT,
    maxScale: NUMBER,
    requireUnitNorm: BOOLEAN,
    unitNormTolerance: NUMBER,
    validate: BOOLEAN,
  },
  consistency: { distance: DISTANCE, temperature: NUMBER, validate: BOOLEAN },
  consistencyRegularizer: { distance: DISTANCE, temperature: NUMBER, views: OBJECT, weight: NUMBER },
  divergence: { temperature: NUMBER, reduction: REDUCTION, validate: BOOLEAN },
  distanceNoTemperature: { reduction: REDUCTION, validate: BOOLEAN },
  functionSpaceRegularizer: { views: ANY, distance: DISTANCE, temperature: NUMBER, weight: NUMBER },
  geodesicMixup: { epsilon: NUMBER, validate: BOOLEAN, unitNormTolerance: NUMBER },
  m2mix: {
    temperature: NUMBER,
    positiveScale: NUMBER,
    combineDirections: 'one of "sum", "mean"',
    epsilon: NUMBER,
    validate: BOOLEAN,
    unitNormTolerance: NUMBER,
  },
  m2mixObjective: {
    temperature: NUMBER,
    mixTemperature: NUMBER,
    separateTemperature: BOOLEAN,
    weights: TERM_MAP,
    beta: TERM_MAP,
    epochSchedule: BOOLEAN,
    originalNegatives: BOOLEAN,
    epsilon: NUMBER,
    unitNormTolerance: NUMBER,
  },
  mixup: {
    temperature: NUMBER,
    epsilon: NUMBER,
    validate: BOOLEAN,
    unitNormTolerance: NUMBER,
    originalNegatives: BOOLEAN,
  },
};

/** A value no documented type accepts: not a number, boolean, function, object, string or map. */
const WRONG = Symbol('wrong');

describe('every declared option is type-checked as documented', () => {
  it('the schemas declare exactly the documented keys', () => {
    for (const [schema, keys] of Object.entries(DOCUMENTED)) {
      expect(Object.keys(LOSS_OPTION_SCHEMAS[schema as keyof typeof DOCUMENTED]).sort(), schema).toEqual(
        Object.keys(keys).sort(),
      );
    }
  });

  for (const [schema, keys] of Object.entries(DOCUMENTED)) {
    it(`${schema}: a wrong type names the key and the documented type`, () => {
      for (const [key, expected] of Object.entries(keys)) {
        const call = () => checkLossOptions('owner', schema as keyof typeof DOCUMENTED, { [key]: WRONG });
        if (expected === undefined) {
          expect(call).not.toThrow();
          continue;
        }
        const e = errorOf(call);
        expect([e.argument, e.expected], `${schema}.${key}`).toEqual([`options.${key}`, expected]);
        expect(e.message).toBe(`owner: options.${key} must be ${expected} (received symbol)`);
      }
    });
  }

  it('a map of mix terms accepts an object and refuses null and arrays', () => {
    for (const key of ['weights', 'beta']) {
      expect(() => checkLossOptions('o', 'm2mixObjective', { [key]: { m2mix: 1 } })).not.toThrow();
      for (const bad of [null, [1]]) {
        expect(errorOf(() => checkLossOptions('o', 'm2mixObjective', { [key]: bad })).expected).toBe(
          TERM_MAP,
        );
      }
    }
  });

  it('names the prefix it is given (config for the factories)', () => {
    const e = errorOf(() => checkLossOptions('o', 'trades', { beta: WRONG }, 'config'));
    expect(e.argument).toBe('config.beta');
  });
});
