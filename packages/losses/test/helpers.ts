import { createRng, RobustFtError } from '@robust-ft/core';
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';

/** Unit-norm rows drawn from a seeded normal (test inputs only). */
export function unitRows(n: number, d: number, seed: number): tf.Tensor2D {
  const rng = createRng(seed);
  const values = Array.from({ length: n * d }, () => rng.normal());
  return tf.tidy(() => {
    const x = tf.tensor2d(values, [n, d]);
    return tf.div(x, tf.norm(x, 'euclidean', 1, true)) as tf.Tensor2D;
  });
}

export function randomMatrix(n: number, d: number, seed: number, scale = 1): tf.Tensor2D {
  const rng = createRng(seed);
  return tf.tensor2d(
    Array.from({ length: n * d }, () => scale * rng.normal()),
    [n, d],
  );
}

export function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

/**
 * A value check failed on the device: `fn`'s result and its gradient with respect to every input are
 * all NaN (nothing was read back to the host; a guarded optimizer step skips such a batch). Valid
 * inputs give finite values, which the tests next to each call check too.
 */
export function expectPoisoned(fn: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[]): void {
  const [value, grads] = tf.tidy(() => {
    const g = tf.grads((...xs: tf.Tensor[]) => tf.sum(fn(...xs)) as tf.Scalar)(inputs);
    return [fn(...inputs).dataSync(), g.map((t) => t.dataSync())] as const;
  });
  expect(Array.from(value).every(Number.isNaN), 'every value NaN').toBe(true);
  for (const g of grads) expect(Array.from(g).every(Number.isNaN), 'every gradient NaN').toBe(true);
}

/** Runs `fn` and returns the RobustFtError it throws (fails the test when it does not throw). */
export function caught(fn: () => unknown): { code: string; argument: string | undefined; message: string } {
  try {
    fn();
  } catch (error) {
    return error as { code: string; argument: string | undefined; message: string };
  }
  throw new Error('expected a RobustFtError, nothing was thrown');
}

/** Runs `fn` (inside a tidy) and returns the RobustFtError it throws; fails on another error or none. */
export function errorOf(fn: () => unknown): RobustFtError {
  try {
    tf.tidy(() => {
      fn();
    });
  } catch (e) {
    expect(RobustFtError.isInstance(e), String(e)).toBe(true);
    return e as RobustFtError;
  }
  throw new Error('expected a RobustFtError');
}
