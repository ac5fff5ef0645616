import * as tf from '@tensorflow/tfjs-core';

/**
 * Comparison of our float32 results with the float64 golden values.
 *
 * Tolerance: |ours − ref| ≤ RTOL·|ref| + ATOL·max(1, max|ref|) elementwise. Inputs are rounded to float32
 * (relative 6e-8) and the m²-mix logits are scaled by 1/τ = 100, so one rounding of a logit is ~1e-5
 * absolute while the losses are O(1–30); observed errors are ~2e-7 relative. 2e-5 leaves a 20–100×
 * margin without hiding a formula error (the smallest formula slip we met, a detached KL term, was 7e-2).
 */
export const RTOL = 2e-5;
export const ATOL = 2e-5;

export type Golden = number | string | boolean | Golden[] | { [key: string]: Golden };

export interface CaseResult {
  name: string;
  ok: boolean;
  maxAbsError: number;
  /** True when the reference is NaN/degenerate and we checked our documented fallback instead. */
  guarded?: boolean;
  note?: string;
}

export function decode(value: Golden): number {
  if (typeof value === 'number') return value;
  if (value === 'NaN') return Number.NaN;
  if (value === 'Infinity') return Number.POSITIVE_INFINITY;
  if (value === '-Infinity') return Number.NEGATIVE_INFINITY;
  throw new Error(`not a number: ${JSON.stringify(value)}`);
}

export function flat(value: Golden): number[] {
  return Array.isArray(value) ? value.flatMap(flat) : [decode(value)];
}

export function shapeOf(value: Golden): number[] {
  return Array.isArray(value) ? [value.length, ...(value.length > 0 ? shapeOf(value[0]!) : [])] : [];
}

/** A float32 tensor from a golden (nested list or number). */
export function toTensor(value: Golden): tf.Tensor {
  return tf.tensor(flat(value), shapeOf(value), 'float32');
}

export function compare(name: string, ours: tf.Tensor | number, reference: Golden): CaseResult {
  const ref = flat(reference);
  const got = typeof ours === 'number' ? [ours] : Array.from(ours.dataSync());
  if (got.length !== ref.length) return { name, ok: false, maxAbsError: Number.NaN, note: 'size mismatch' };
  const scale = Math.max(1, ...ref.map(Math.abs));
  let maxAbsError = 0;
  let ok = true;
  for (let i = 0; i < ref.length; i++) {
    const err = Math.abs(got[i]! - ref[i]!);
    if (!(err <= RTOL * Math.abs(ref[i]!) + ATOL * scale)) ok = false;
    // A NaN anywhere makes the case's error NaN (Math.max propagates it).
    maxAbsError = Math.max(maxAbsError, Number.isNaN(err) ? Number.NaN : err);
  }
  return { name, ok, maxAbsError };
}

export function record(value: Golden, key: string): Golden {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || !(key in value)) {
    throw new Error(`golden file has no key ${key}`);
  }
  return (value as Record<string, Golden>)[key]!;
}
