import * as tf from '@tensorflow/tfjs-core';

/**
 * Constant target and mask matrices of the mixup losses. Built from JS arrays (never from the inputs),
 * so they are leaves of the gradient tape.
 */

/** The identity `[N, N]`. */
export function identityTargets(n: number): tf.Tensor2D {
  return tf.eye(n) as tf.Tensor2D;
}

/** `flip(I)`, the anti-diagonal: row i's partner N−1−i under the flip pairing. */
export function flippedIdentity(n: number): tf.Tensor2D {
  const values = new Float32Array(n * n);
  for (let i = 0; i < n; i++) values[i * n + (n - 1 - i)] = 1;
  return tf.tensor2d(values, [n, n]);
}

/**
 * V-Mix / L-Mix soft targets `λ·I + (1−λ)·flip(I)`: a row mixed with weight λ on itself and 1−λ on its
 * flip partner. For odd N the middle row is its own partner and gets λ + (1−λ) = 1.
 */
export function unimodalMixTargets(n: number, lambda: number): tf.Tensor2D {
  const values = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    values[i * n + i] = values[i * n + i]! + lambda;
    values[i * n + (n - 1 - i)] = values[i * n + (n - 1 - i)]! + (1 - lambda);
  }
  return tf.tensor2d(values, [n, n]);
}

/**
 * VL-Mix targets `I + flip(I)`, as in the reference: NOT normalised (rows sum to 2; for odd N the middle
 * row holds a single 2).
 */
export function bimodalMixTargets(n: number): tf.Tensor2D {
  const values = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    values[i * n + i] = values[i * n + i]! + 1;
    values[i * n + (n - 1 - i)] = values[i * n + (n - 1 - i)]! + 1;
  }
  return tf.tensor2d(values, [n, n]);
}

/** 1 on the diagonal and the anti-diagonal, 0 elsewhere: the entries `--original_neg` keeps mixed. */
export function diagonalAndFlipMask(n: number): tf.Tensor2D {
  const values = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    values[i * n + i] = 1;
    values[i * n + (n - 1 - i)] = 1;
  }
  return tf.tensor2d(values, [n, n]);
}
