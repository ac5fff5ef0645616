import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectedCalibrationError } from '../src/index';
import './setup-backend';

/**
 * ECE's binning, pinned (issue #20): bins are (lower, upper], so a confidence exactly on an edge belongs
 * to the bin below it. Every confidence here is exact in float32 (multiples of 1/8). `await` keeps the
 * test valid whether the metric returns its report or a promise of it.
 */
describe('expectedCalibrationError bins', () => {
  // Max-probabilities 0.25, 0.5, 0.75, 1, 0.625, 0.375 with labels that make rows right or wrong.
  const probs = tf.tensor2d([
    [0.25, 0.25, 0.25, 0.25], // conf 0.25, predicts 0 → bin 0 (0, 0.25]
    [0.5, 0.5, 0, 0], // conf 0.5, predicts 0 → bin 1 (0.25, 0.5]
    [0.125, 0.75, 0.125, 0], // conf 0.75, predicts 1 → bin 2 (0.5, 0.75]
    [0, 0, 1, 0], // conf 1, predicts 2 → bin 3 (0.75, 1]
    [0.625, 0.125, 0.125, 0.125], // conf 0.625 → bin 2
    [0.375, 0.25, 0.25, 0.125], // conf 0.375 → bin 1
  ]);
  const labels = [0, 1, 1, 2, 3, 0];

  it('puts a confidence on an edge into the lower bin: (lower, upper]', async () => {
    const r = await expectedCalibrationError(probs, labels, { bins: 4, input: 'probabilities' });
    expect(r.bins.map((b) => [b.lower, b.upper])).toEqual([
      [0, 0.25],
      [0.25, 0.5],
      [0.5, 0.75],
      [0.75, 1],
    ]);
    expect(r.bins.map((b) => b.count)).toEqual([1, 2, 2, 1]);
    // Bin 1 holds conf 0.5 (wrong: label 1, predicted 0) and 0.375 (right).
    expect(r.bins[1]!.accuracy).toBe(0.5);
    expect(r.bins[1]!.confidence).toBeCloseTo(0.4375, 12);
    // Bin 2 holds 0.75 (right) and 0.625 (wrong).
    expect(r.bins[2]!.accuracy).toBe(0.5);
    expect(r.bins[2]!.confidence).toBeCloseTo(0.6875, 12);
    expect(r.bins[0]).toEqual({ lower: 0, upper: 0.25, count: 1, accuracy: 1, confidence: 0.25 });
    expect(r.bins[3]).toEqual({ lower: 0.75, upper: 1, count: 1, accuracy: 1, confidence: 1 });
    // ECE = Σ |B|/N·|acc − conf|; MCE the largest gap.
    const gaps = [0.75, 0.0625, 0.1875, 0];
    const expected = (1 * gaps[0]! + 2 * gaps[1]! + 2 * gaps[2]! + 1 * gaps[3]!) / 6;
    expect(r.ece).toBeCloseTo(expected, 12);
    expect(r.mce).toBeCloseTo(0.75, 12);
  });

  it('defaults: 15 equal-width bins over logits (softmax applied)', async () => {
    const logits = tf.tensor2d([
      [2, 0, -1],
      [0.1, 0.3, 0.2],
      [-1, 4, 0],
    ]);
    const r = await expectedCalibrationError(logits, [0, 2, 1]);
    expect(r.bins).toHaveLength(15);
    r.bins.forEach((b, i) => {
      expect(b.lower).toBeCloseTo(i / 15, 12);
      expect(b.upper).toBeCloseTo((i + 1) / 15, 12);
    });
    const viaProbabilities = await expectedCalibrationError(tf.softmax(logits), [0, 2, 1], {
      bins: 15,
      input: 'probabilities',
    });
    expect(r.ece).toBeCloseTo(viaProbabilities.ece, 6);
    expect(r.bins.map((b) => b.count)).toEqual(viaProbabilities.bins.map((b) => b.count));
    // Treating the logits as probabilities would give another answer, so the default is observable.
    const asProbabilities = await expectedCalibrationError(logits, [0, 2, 1], { input: 'probabilities' });
    expect(Math.abs(asProbabilities.ece - r.ece)).toBeGreaterThan(0.01);
  });

  it('empty bins count 0 with zero accuracy and confidence, and do not enter the MCE', async () => {
    const r = await expectedCalibrationError(tf.tensor2d([[0.875, 0.125]]), [1], {
      bins: 2,
      input: 'probabilities',
    });
    expect(r.bins[0]).toEqual({ lower: 0, upper: 0.5, count: 0, accuracy: 0, confidence: 0 });
    expect(r.ece).toBeCloseTo(0.875, 12);
    expect(r.mce).toBeCloseTo(0.875, 12);
  });

  it('counts a confidence above 1 (a softmax rounded up, unnormalised scores) in the last bin', async () => {
    const r = await expectedCalibrationError(tf.tensor2d([[1.25, 0]]), [0], {
      bins: 4,
      input: 'probabilities',
    });
    expect(r.bins.map((b) => b.count)).toEqual([0, 0, 0, 1]);
    expect(r.ece).toBeCloseTo(0.25, 12);
  });

  it('names the scores and labels arguments', async () => {
    await expect(async () => expectedCalibrationError(tf.tensor1d([0.5, 0.5]), [0])).rejects.toMatchObject({
      argument: 'scores',
    });
    await expect(async () => expectedCalibrationError(probs, [0, 1])).rejects.toMatchObject({
      argument: 'labels',
    });
    await expect(async () => expectedCalibrationError(probs, [0, 1, 1, 2, 3, 4])).rejects.toMatchObject({
      argument: 'labels[5]',
    });
  });

  it('rejects a bin count that is not a positive integer', async () => {
    for (const bins of [0, 2.5, -3]) {
      await expect(async () =>
        expectedCalibrationError(probs, labels, { bins, input: 'probabilities' }),
      ).rejects.toMatchObject({ argument: 'options.bins' });
    }
  });
});
