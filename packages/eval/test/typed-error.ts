import { RobustFtError } from '@robust-ft/core';

/** Runs `fn` and returns the RobustFtError it throws; anything else (or no error) fails the test. */
export function caught(fn: () => unknown): RobustFtError {
  try {
    fn();
  } catch (e) {
    if (RobustFtError.isInstance(e)) return e;
    throw e;
  }
  throw new Error('expected a RobustFtError');
}

/** `caught` for functions that may reject. */
export async function caughtAsync(fn: () => unknown): Promise<RobustFtError> {
  try {
    await fn();
  } catch (e) {
    if (RobustFtError.isInstance(e)) return e;
    throw e;
  }
  throw new Error('expected a RobustFtError');
}
