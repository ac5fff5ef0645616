import { RobustFtError } from '@robust-ft/core';
import { expect } from 'vitest';

/** Runs `fn` and returns the RobustFtError it throws; fails the test if it throws anything else or nothing. */
export function caught(fn: () => unknown): RobustFtError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RobustFtError);
    return e as RobustFtError;
  }
  throw new Error('expected a RobustFtError, nothing was thrown');
}
