import { RobustFtError } from '@robust-ft/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { wiseFt } from '../src/index';
import './setup-backend';

/**
 * wiseFt's error contract (code, argument, expected form, message) and its dtype rule, found unpinned
 * by mutation testing (issue #20).
 */
function errorOf(fn: () => unknown): RobustFtError {
  try {
    fn();
  } catch (e) {
    expect(RobustFtError.isInstance(e), String(e)).toBe(true);
    return e as RobustFtError;
  }
  throw new Error('expected a RobustFtError');
}
const contract = (e: RobustFtError) => [e.code, e.argument, e.expected, e.message];

const theta0 = { w: tf.tensor1d([1, 2]), b: tf.tensor1d([0]) };
const theta1 = { w: tf.tensor1d([3, 6]), b: tf.tensor1d([1]) };

describe('wiseFt: errors name the weight, the expected form and both sides', () => {
  it('an empty θ0', () => {
    expect(contract(errorOf(() => wiseFt({}, {}, 0.5)))).toEqual([
      'INVALID_ARGUMENT',
      'theta0',
      'a non-empty weight map',
      'theta0 has no weights',
    ]);
  });

  it('a weight only θ1 has, and one θ1 lacks', () => {
    expect(contract(errorOf(() => wiseFt(theta0, { ...theta1, extra: tf.zeros([1]) }, 0.5)))).toEqual([
      'STATE_MISMATCH',
      'theta1["extra"]',
      'the same weight names as theta0',
      'theta1 has weight "extra" that theta0 lacks',
    ]);
    expect(contract(errorOf(() => wiseFt(theta0, { w: theta1.w }, 0.5)))).toEqual([
      'STATE_MISMATCH',
      'theta1["b"]',
      'the same weight names as theta0',
      'theta1 lacks weight "b"',
    ]);
  });

  it('a shape mismatch', () => {
    expect(contract(errorOf(() => wiseFt(theta0, { ...theta1, w: tf.zeros([3]) }, 0.5)))).toEqual([
      'SHAPE_MISMATCH',
      'theta1["w"]',
      'shape [2]',
      'theta1["w"] has shape [3], theta0 has [2]',
    ]);
  });

  it('a Fisher in one map only names the map that lacks it', () => {
    const f = { w: tf.ones([2]) };
    for (const [fishers, missing] of [
      [[f, {}], 1],
      [[{}, f], 0],
    ] as const) {
      expect(contract(errorOf(() => wiseFt(theta0, theta1, 0.5, { fishers })))).toEqual([
        'STATE_MISMATCH',
        `options.fishers[${missing}]["w"]`,
        'a Fisher for both models or for neither',
        'weight "w" has a Fisher in one map only',
      ]);
    }
  });

  it('an unknown option names wiseFt', () => {
    const e = errorOf(() => wiseFt(theta0, theta1, 0.5, { fisherfloor: 1 } as never));
    expect([e.argument, e.message]).toEqual([
      'options.fisherfloor',
      'wiseFt: unknown option `fisherfloor`; did you mean `fisherFloor`?',
    ]);
  });

  it('α outside [0, 1] and a negative floor are named', () => {
    for (const alpha of [-0.1, 1.1])
      expect(errorOf(() => wiseFt(theta0, theta1, alpha)).argument).toBe('alpha');
    expect(errorOf(() => wiseFt(theta0, theta1, 0.5, { fisherFloor: -1 })).argument).toBe(
      'options.fisherFloor',
    );
    // The floor may be 0 (no flooring).
    const fishers = [{ w: tf.tensor1d([1, 3]) }, { w: tf.tensor1d([3, 1]) }] as const;
    const got = Array.from(wiseFt(theta0, theta1, 0.5, { fishers, fisherFloor: 0 }).w!.dataSync());
    // c0 = 0.5·F0, c1 = 0.5·F1: θ = (F0·θ0 + F1·θ1)/(F0 + F1).
    expect(got[0]).toBeCloseTo((1 * 1 + 3 * 3) / 4, 6);
    expect(got[1]).toBeCloseTo((3 * 2 + 1 * 6) / 4, 6);
  });
});

describe('wiseFt: only float32 pairs are interpolated', () => {
  it('keeps θ1 (a copy) when either side is not float32', () => {
    const cases = [
      [tf.tensor1d([1, 2], 'int32'), tf.tensor1d([3, 6])],
      [tf.tensor1d([1, 2]), tf.tensor1d([3, 6], 'int32')],
    ] as const;
    for (const [x, y] of cases) {
      const out = wiseFt({ w: x }, { w: y }, 0.5).w!;
      expect(out.dtype).toBe(y.dtype);
      expect(Array.from(out.dataSync())).toEqual([3, 6]);
      expect(out).not.toBe(y);
    }
    // Both float32: the mean at α = 0.5.
    expect(
      Array.from(wiseFt({ w: tf.tensor1d([1, 2]) }, { w: tf.tensor1d([3, 6]) }, 0.5).w!.dataSync()),
    ).toEqual([2, 4]);
  });
});
