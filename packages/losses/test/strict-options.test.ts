import { RobustFtError } from '@robust-ft/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  clipContrastive,
  consistencyRegularizer,
  functionSpaceRegularizer,
  geodesicMixup,
  klDivergence,
  logitMse,
  m2mixLoss,
  m2mixObjective,
  tradesLossFromLogits,
  vmixLoss,
} from '../src/index';
import { LOSS_OPTION_SCHEMAS } from '../src/option-schemas';
import './setup-backend';

const a = () =>
  tf.tensor2d([
    [1, 0],
    [0, 1],
  ]);
const view = (x: tf.Tensor) => x;

// [call, argument, text of the suggestion]: each of these was silently ignored before.
const CASES: [string, () => unknown, string, string][] = [
  [
    'clipContrastive({ temprature })',
    () => clipContrastive({ temprature: 0.1 } as never),
    'options.temprature',
    '`temperature`',
  ],
  [
    'klDivergence(.., { temp })',
    () => klDivergence(a(), a(), { temp: 2 } as never),
    'options.temp',
    '`temperature`',
  ],
  [
    'logitMse(.., { temperature })',
    () => logitMse(a(), a(), { temperature: 2 } as never),
    'options.temperature',
    'known options',
  ],
  [
    'geodesicMixup(.., { eps })',
    () => geodesicMixup(a(), a(), 0.5, { eps: 1e-6 } as never),
    'options.eps',
    '`epsilon`',
  ],
  [
    'm2mixLoss(.., { originalNegatives })',
    () => m2mixLoss(a(), a(), 0.5, { originalNegatives: true } as never),
    'options.originalNegatives',
    'known options',
  ],
  [
    'vmixLoss(.., { originalnegatives })',
    () => vmixLoss(a(), a(), 0.5, { originalnegatives: true } as never),
    'options.originalnegatives',
    '`originalNegatives`',
  ],
  [
    'tradesLossFromLogits(.., { Beta })',
    () => tradesLossFromLogits(a(), a(), tf.tensor1d([0, 1], 'int32'), { Beta: 6 } as never),
    'options.Beta',
    '`beta`',
  ],
  ['m2mixObjective({ weight })', () => m2mixObjective({ weight: {} } as never), 'config.weight', '`weights`'],
  [
    'functionSpaceRegularizer({ distance: "l1" })',
    () => functionSpaceRegularizer({ views: view, distance: 'l1' as never }),
    'config.distance',
    'one of',
  ],
  [
    'consistencyRegularizer({ view })',
    () => consistencyRegularizer({ view: [view, view] } as never),
    'config.view',
    '`views`',
  ],
];

describe('strict loss options', () => {
  it.each(CASES)('%s is INVALID_ARGUMENT naming the key', (_, call, argument, text) => {
    let error: unknown;
    tf.tidy(() => {
      try {
        call();
      } catch (e) {
        error = e;
      }
    });
    expect(RobustFtError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', argument });
    expect((error as Error).message).toContain(text);
  });

  it('has a schema for every options-taking loss', () => {
    expect(Object.keys(LOSS_OPTION_SCHEMAS).sort()).toEqual(
      [
        'adversarialTraining',
        'clipContrastive',
        'consistency',
        'consistencyRegularizer',
        'distanceNoTemperature',
        'divergence',
        'functionSpaceRegularizer',
        'geodesicMixup',
        'm2mix',
        'm2mixObjective',
        'mixup',
        'trades',
        'tradesLoss',
      ].sort(),
    );
  });
});
