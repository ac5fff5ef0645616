import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { invalidArgument, RobustFtError } from '../src/errors';
import {
  assertFiniteNumber,
  assertInRange,
  assertInteger,
  assertNonNegative,
  assertOneOf,
  assertPositive,
  assertRank,
  assertShape,
  sameShape,
  shapeToString,
} from '../src/validate';
import './setup-backend';

/** The argument checks every package uses: bounds, open/closed ends and the exact error contract (issue #20). */
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

describe('number checks', () => {
  it('finite: refuses NaN, ±∞ and non-numbers, describing what it got', () => {
    expect(contract(errorOf(() => assertFiniteNumber('x', Number.NaN)))).toEqual([
      'INVALID_ARGUMENT',
      'x',
      'a finite number',
      'x must be a finite number (received NaN)',
    ]);
    expect(errorOf(() => assertFiniteNumber('x', Number.NEGATIVE_INFINITY)).message).toBe(
      'x must be a finite number (received -Infinity)',
    );
    expect(errorOf(() => assertFiniteNumber('x', '1')).message).toBe(
      'x must be a finite number (received "1")',
    );
    expect(errorOf(() => assertFiniteNumber('x', [1, 2])).message).toBe(
      'x must be a finite number (received array of length 2)',
    );
    expect(errorOf(() => assertFiniteNumber('x', {})).message).toBe(
      'x must be a finite number (received object)',
    );
    expect(() => assertFiniteNumber('x', -1e300)).not.toThrow();
  });

  it('non-negative admits 0; positive does not', () => {
    expect(() => assertNonNegative('x', 0)).not.toThrow();
    expect(errorOf(() => assertNonNegative('x', -1e-9)).expected).toBe('a finite number >= 0');
    expect(errorOf(() => assertNonNegative('x', Number.NaN)).expected).toBe('a finite number');
    expect(() => assertPositive('x', 1e-30)).not.toThrow();
    expect(errorOf(() => assertPositive('x', 0)).expected).toBe('a finite number > 0');
    expect(errorOf(() => assertPositive('x', Number.POSITIVE_INFINITY)).expected).toBe('a finite number');
  });

  it('ranges are closed unless opened, at each end separately', () => {
    expect(() => assertInRange('x', 0, 0, 1)).not.toThrow();
    expect(() => assertInRange('x', 1, 0, 1)).not.toThrow();
    expect(contract(errorOf(() => assertInRange('x', 1.5, 0, 1)))).toEqual([
      'INVALID_ARGUMENT',
      'x',
      'a number in [0, 1]',
      'x must be a number in [0, 1] (received 1.5)',
    ]);
    expect(errorOf(() => assertInRange('x', -0.5, 0, 1)).expected).toBe('a number in [0, 1]');
    expect(errorOf(() => assertInRange('x', 0, 0, 1, { openLow: true })).expected).toBe('a number in (0, 1]');
    expect(() => assertInRange('x', 1, 0, 1, { openLow: true })).not.toThrow();
    expect(errorOf(() => assertInRange('x', 1, 0, 1, { openHigh: true })).expected).toBe(
      'a number in [0, 1)',
    );
    expect(() => assertInRange('x', 0, 0, 1, { openHigh: true })).not.toThrow();
    expect(errorOf(() => assertInRange('x', 2, 0, 1, { openLow: true, openHigh: true })).expected).toBe(
      'a number in (0, 1)',
    );
    expect(errorOf(() => assertInRange('x', Number.NaN, 0, 1)).expected).toBe('a finite number');
  });

  it('integers: at least min (default 0)', () => {
    expect(() => assertInteger('n', 0)).not.toThrow();
    expect(errorOf(() => assertInteger('n', -1)).expected).toBe('an integer >= 0');
    expect(errorOf(() => assertInteger('n', 2.5)).expected).toBe('an integer >= 0');
    expect(errorOf(() => assertInteger('n', '3')).expected).toBe('an integer >= 0');
    expect(() => assertInteger('n', 2, 2)).not.toThrow();
    expect(contract(errorOf(() => assertInteger('n', 1, 2)))).toEqual([
      'INVALID_ARGUMENT',
      'n',
      'an integer >= 2',
      'n must be an integer >= 2 (received 1)',
    ]);
  });

  it('one of: strings from the list only', () => {
    expect(() => assertOneOf('m', 'b', ['a', 'b'])).not.toThrow();
    for (const bad of ['c', 1, undefined]) {
      expect(errorOf(() => assertOneOf('m', bad, ['a', 'b'])).expected).toBe('one of "a", "b"');
    }
  });
});

describe('shape checks', () => {
  it('shapeToString and sameShape', () => {
    expect(shapeToString([2, 3])).toBe('[2,3]');
    expect(shapeToString([])).toBe('[]');
    expect(sameShape([2, 3], [2, 3])).toBe(true);
    expect(sameShape([2, 3], [3, 2])).toBe(false);
    expect(sameShape([2, 3], [2, 4])).toBe(false);
    expect(sameShape([2], [2, 1])).toBe(false);
    expect(sameShape([2, 1], [2])).toBe(false);
  });

  it('assertShape and assertRank name the argument and the expected form', () => {
    const t = tf.zeros([2, 3]);
    expect(() => assertShape('w', t, [2, 3])).not.toThrow();
    expect(contract(errorOf(() => assertShape('w', t, [3, 2])))).toEqual([
      'SHAPE_MISMATCH',
      'w',
      'shape [3,2]',
      'w has shape [2,3], expected [3,2]',
    ]);
    expect(() => assertRank('w', t, 2)).not.toThrow();
    expect(contract(errorOf(() => assertRank('w', t, 1)))).toEqual([
      'SHAPE_MISMATCH',
      'w',
      'a rank-1 tensor',
      'w must have rank 1, got shape [2,3]',
    ]);
  });
});

describe('errors', () => {
  it('invalidArgument without a received value has no "(received …)" tail; null and booleans print as such', () => {
    expect(invalidArgument('a', 'b').message).toBe('a must be b');
    expect(invalidArgument('a', 'b', null).message).toBe('a must be b (received null)');
    expect(invalidArgument('a', 'b', false).message).toBe('a must be b (received false)');
  });

  it('RobustFtError carries code, argument, expected and cause, and is recognised across copies', () => {
    const cause = new Error('root');
    const e = new RobustFtError('IO', 'failed', { argument: 'path', expected: 'a file', cause });
    expect([e.name, e.code, e.argument, e.expected, e.message, e.cause]).toEqual([
      'RobustFtError',
      'IO',
      'path',
      'a file',
      'failed',
      cause,
    ]);
    expect('cause' in new RobustFtError('IO', 'x')).toBe(false);
    expect(RobustFtError.isInstance(e)).toBe(true);
    expect(RobustFtError.isInstance({ [Symbol.for('robust-ft.error')]: true })).toBe(true);
    for (const other of [
      new Error('x'),
      null,
      undefined,
      'RobustFtError',
      { [Symbol.for('robust-ft.error')]: 1 },
    ]) {
      expect(RobustFtError.isInstance(other)).toBe(false);
    }
  });
});
