import * as tf from '@tensorflow/tfjs-core';

export interface LeakCheckOptions {
  /** Calls before the baseline is taken (lazy caches, first-sight state). Default 1. */
  warmup?: number;
  /** Calls measured against the baseline. Default 5. */
  repeats?: number;
  /** Named in the error message. */
  label?: string;
}

function disposeResult(value: unknown): void {
  if (value instanceof tf.Tensor) value.dispose();
  else if (Array.isArray(value)) value.forEach(disposeResult);
  else if (typeof value === 'object' && value !== null) Object.values(value).forEach(disposeResult);
}

/**
 * Asserts that `fn` leaves `tf.memory().numTensors` unchanged across repeated calls. Tensors it
 * returns (alone, in arrays or in plain objects) are disposed by the check, so a function that hands
 * its result to the caller is judged only on what it leaves behind. Used by every package's tests.
 */
export async function expectNoTensorLeaks(fn: () => unknown, options: LeakCheckOptions = {}): Promise<void> {
  const { warmup = 1, repeats = 5, label = 'function' } = options;
  for (let i = 0; i < warmup; i++) disposeResult(await fn());
  const before = tf.memory().numTensors;
  for (let i = 0; i < repeats; i++) disposeResult(await fn());
  const after = tf.memory().numTensors;
  if (after !== before) {
    throw new Error(
      `${label} leaked ${after - before} tensor(s) over ${repeats} call(s) (${before} → ${after})`,
    );
  }
}

/** The number of live tensors now (a thin alias that keeps tests free of engine details). */
export function liveTensors(): number {
  return tf.memory().numTensors;
}
