import { RobustFtError } from '@robust-ft/core';
import { expectNoTensorLeaks } from '@robust-ft/core/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  accuracy,
  alignment,
  disposeVrf,
  effectiveRobustness,
  expectedCalibrationError,
  fitBaseline,
  fitVrf,
  meanCorruptionAccuracy,
  relativeAlignment,
  retrievalRecall,
  searchTemperature,
  topKAccuracy,
  uniformity,
  vrfPredict,
  weightedEnsemble,
  wiseFt,
} from '../src/index';
import './setup-backend';

const expectArg = async (fn: () => unknown, argument: string) => {
  try {
    await fn();
  } catch (e) {
    expect(RobustFtError.isInstance(e), String(e)).toBe(true);
    expect((e as RobustFtError).argument).toBe(argument);
    return;
  }
  throw new Error(`expected a RobustFtError naming ${argument}`);
};

const logits = tf.keep(
  tf.tensor2d([
    [3, 1, 0],
    [0, 2, 1],
    [1, 0, 0.5],
    [0, 0, 4],
  ]),
);
const labels = [0, 2, 2, 2];

describe('metrics', () => {
  it('top-k accuracy and ECE on a hand-checked batch', async () => {
    expect(await accuracy(logits, labels)).toBe(0.5);
    expect(await topKAccuracy(logits, labels, 2)).toBe(1);
    // A perfectly calibrated one-hot prediction has zero ECE; a confident wrong one has ECE ≈ confidence.
    expect((await expectedCalibrationError(tf.tensor2d([[1, 0]]), [0], { input: 'probabilities' })).ece).toBe(
      0,
    );
    expect(
      (await expectedCalibrationError(tf.tensor2d([[0.9, 0.1]]), [1], { input: 'probabilities' })).ece,
    ).toBeCloseTo(0.9, 6);
  });

  it('effective robustness is zero on the baseline line and positive above it', () => {
    const fit = fitBaseline(
      [
        { id: 0.5, ood: 0.2 },
        { id: 0.7, ood: 0.35 },
        { id: 0.9, ood: 0.6 },
      ],
      'linear',
    );
    const onLine = fit.slope * 0.8 + fit.intercept;
    expect(effectiveRobustness({ id: 0.8, ood: onLine }, fit)).toBeCloseTo(0, 12);
    expect(effectiveRobustness({ id: 0.8, ood: onLine + 0.1 }, fit)).toBeCloseTo(0.1, 12);
    expect(meanCorruptionAccuracy({ a: [0.5, 0.3], b: [0.1] })).toBeCloseTo(0.3, 12);
  });

  it('representation metrics: identical pairs align perfectly; collapsed features are least uniform', () => {
    const x = tf.tensor2d([
      [1, 0],
      [0, 1],
      [-1, 0],
    ]);
    expect(alignment(x, x).dataSync()[0]).toBe(0);
    expect(
      uniformity(
        tf.tensor2d([
          [1, 0],
          [1, 0],
        ]),
      ).dataSync()[0],
    ).toBeCloseTo(0, 6);
    expect(uniformity(x).dataSync()[0]).toBeLessThan(-1);
    expect(relativeAlignment(x, x).dataSync()[0]).toBeCloseTo(-2, 5);
  });

  it('leak-free', async () => {
    const x = tf.tensor2d([
      [1, 0],
      [0, 1],
      [-1, 0],
    ]);
    await expectNoTensorLeaks(() => [
      uniformity(x),
      alignment(x, x),
      relativeAlignment(x, x, { neighbor: 2 }),
    ]);
    await expectNoTensorLeaks(async () => {
      const eye = tf.eye(3);
      try {
        return await Promise.all([
          accuracy(logits, labels),
          expectedCalibrationError(logits, labels),
          retrievalRecall(eye),
        ]);
      } finally {
        eye.dispose();
      }
    });
    x.dispose();
  });

  it('bad inputs raise typed errors naming the argument', async () => {
    await expectArg(() => accuracy(logits, [0, 1, 2, 3]), 'labels[3]');
    await expectArg(() => accuracy(logits, [0, 1]), 'labels');
    await expectArg(() => accuracy(tf.zeros([0, 3]), []), 'scores');
    await expectArg(() => topKAccuracy(logits, labels, 4), 'k');
    await expectArg(() => retrievalRecall(tf.zeros([2, 3])), 'similarity');
    await expectArg(() => fitBaseline([{ id: 0.5, ood: 0.2 }]), 'points');
    await expectArg(() => uniformity(tf.zeros([0, 2]) as tf.Tensor2D), 'x');
  });
});

describe('ensembles', () => {
  const theta0 = { w: tf.tensor1d([1, 2]), b: tf.tensor1d([0]) };
  const theta1 = { w: tf.tensor1d([3, 6]), b: tf.tensor1d([1]) };

  it('WiSE-FT endpoints are exact, midpoint is the mean, Fisher floor keeps α endpoints exact', () => {
    const at = (alpha: number, opts = {}) => Array.from(wiseFt(theta0, theta1, alpha, opts).w!.dataSync());
    expect(at(0)).toEqual([1, 2]);
    expect(at(1)).toEqual([3, 6]);
    expect(at(0.5)).toEqual([2, 4]);
    const fishers = [{ w: tf.tensor1d([0, 1]) }, { w: tf.tensor1d([1, 1]) }] as const;
    expect(at(0, { fishers })).toEqual([1, 2]);
    expect(at(1, { fishers })).toEqual([3, 6]);
  });

  it('WiSE-FT rejects mismatched weights', async () => {
    await expectArg(() => wiseFt(theta0, { w: theta1.w }, 0.5), 'theta1["b"]');
    await expectArg(() => wiseFt(theta0, { ...theta1, extra: tf.zeros([1]) }, 0.5), 'theta1["extra"]');
    await expectArg(() => wiseFt(theta0, { ...theta1, w: tf.zeros([3]) }, 0.5), 'theta1["w"]');
    await expectArg(() => wiseFt(theta0, theta1, 1.5), 'alpha');
    await expectArg(
      () => wiseFt(theta0, theta1, 0.5, { fishers: [{ w: tf.ones([2]) }, {}] }),
      'options.fishers[1]["w"]',
    );
    await expectArg(() => wiseFt({}, {}, 0.5), 'theta0');
  });

  it('output ensembles and VRF are leak-free and validate input', async () => {
    await expectNoTensorLeaks(() => wiseFt(theta0, theta1, 0.3));
    await expectNoTensorLeaks(() => weightedEnsemble([{ logits }, { logits, weight: 2, temperature: 2 }]));
    await expectArg(() => weightedEnsemble([]), 'members');
    await expectArg(() => weightedEnsemble([{ logits }, { logits: tf.zeros([4, 2]) }]), 'members[1].logits');
    // VRF on a toy set: ZS always predicts 0, FT is right everywhere.
    const feats = tf.tensor2d([
      [1, 0],
      [0.9, 0.1],
      [0, 1],
      [0.1, 0.9],
    ]);
    const zs = tf.tensor2d([
      [1, 0],
      [1, 0],
      [1, 0],
      [1, 0],
    ]);
    const ft = tf.tensor2d([
      [0, 2],
      [0, 2],
      [2, 0],
      [2, 0],
    ]);
    const y = [1, 1, 0, 0];
    const train = { features: feats, zeroShotLogits: zs, fineTunedLogits: ft, labels: y };
    await expectNoTensorLeaks(async () => {
      const fit = await fitVrf(train, undefined, { k: 1, temperatures: { zeroShot: 1, fineTuned: 1 } });
      const out = vrfPredict(fit, { features: feats, zeroShotLogits: zs, fineTunedLogits: ft });
      disposeVrf(fit);
      return out;
    });
    await expectArg(
      () => fitVrf(train, undefined, { k: 3, temperatures: { zeroShot: 1, fineTuned: 1 } }),
      'options.k',
    );
    await expectArg(() => fitVrf(train, undefined, { k: 1 }), 'calibration');
    await expectArg(
      () =>
        fitVrf({ ...train, labels: [1, 1, 0, 5] }, undefined, {
          k: 1,
          temperatures: { zeroShot: 1, fineTuned: 1 },
        }),
      'labels[3]',
    );
    // Accuracy below 1/K is unreachable: the search stops with a typed error instead of recursing forever.
    await expect(searchTemperature(tf.tensor2d([[0, 0]]), 0.2, { maxIterations: 50 })).rejects.toThrow(
      RobustFtError,
    );
  });
});
