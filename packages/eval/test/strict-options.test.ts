import { RobustFtError } from '@robust-ft/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  expectedCalibrationError,
  fgsm,
  type LogitsModel,
  pgd,
  relativeAlignment,
  searchTemperature,
} from '../src/index';
import './setup-backend';

const model: LogitsModel = (x) => tf.slice(tf.reshape(x, [x.shape[0]!, -1]), [0, 0], [-1, 3]) as tf.Tensor2D;

// [call, argument, suggestion]: each misspelling used to be silently ignored.
const CASES: [string, () => unknown, string, string][] = [
  [
    'fgsm({ eps })',
    () => fgsm(model, tf.zeros([1, 2, 2, 1]), [0], { eps: 0.1 } as never),
    'options.eps',
    '`epsilon`',
  ],
  [
    'pgd({ step })',
    () => pgd(model, tf.zeros([1, 2, 2, 1]), [0], { epsilon: 0.1, step: 3 } as never),
    'options.step',
    '`steps`',
  ],
  [
    "pgd({ norm: 'l1' })",
    () => pgd(model, tf.zeros([1, 2, 2, 1]), [0], { epsilon: 0.1, norm: 'l1' as never }),
    'options.norm',
    'one of',
  ],
  [
    'expectedCalibrationError({ nBins })',
    () => expectedCalibrationError(tf.zeros([2, 3]), [0, 1], { nBins: 5 } as never),
    'options.nBins',
    '`bins`',
  ],
  [
    'relativeAlignment({ neighbour })',
    () => relativeAlignment(tf.zeros([2, 3]), tf.zeros([2, 3]), { neighbour: 1 } as never),
    'options.neighbour',
    '`neighbor`',
  ],
  [
    'searchTemperature({ tmax })',
    () => searchTemperature(tf.zeros([2, 3]), 0.5, { tmax: 3 } as never),
    'options.tmax',
    '`tMax`',
  ],
];

describe('strict eval options', () => {
  it.each(CASES)(
    '%s is INVALID_ARGUMENT naming the key and the function',
    async (title, call, argument, text) => {
      let error: unknown;
      try {
        await tf.tidy(() => call() as never);
      } catch (e) {
        error = e;
      }
      expect(RobustFtError.isInstance(error)).toBe(true);
      expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', argument });
      expect((error as Error).message).toContain(text);
      // An unknown key (not a bad value) is refused by the function's own name.
      if (!text.startsWith('one of'))
        expect((error as Error).message).toContain(`${title.slice(0, title.indexOf('('))}: unknown option`);
    },
  );
});
