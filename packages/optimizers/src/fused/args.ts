import type { NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
import { type RowGeometry, spanGeometry } from '../layout';
import { kernelError } from './errors';
import { type AdamConstants, adamConstants } from './loops';

/** Attribute and input unpacking shared by the fused kernels of every backend (`kernels.ts`, `webgpu/kernels.ts`). */

export function num(attrs: NamedAttrMap | undefined, key: string): number {
  const v = attrs?.[key];
  if (typeof v !== 'number')
    throw kernelError('INVALID_ARGUMENT', `attribute "${key}" must be a number`, `attrs.${key}`);
  return v;
}

export function numAt(attrs: NamedAttrMap | undefined, key: string, i: number): number {
  const v = attrs?.[key];
  const x = Array.isArray(v) ? v[i] : undefined;
  if (typeof x !== 'number')
    throw kernelError('INVALID_ARGUMENT', `attribute "${key}[${i}]" must be a number`, `attrs.${key}`);
  return x;
}

export function input(inputs: NamedTensorInfoMap, key: string): TensorInfo {
  const t = inputs[key];
  if (!t) throw kernelError('INVALID_ARGUMENT', `missing input "${key}"`, `inputs.${key}`);
  return t;
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function checkSameSize(main: TensorInfo, others: (TensorInfo | undefined)[]): void {
  const n = sizeOf(main.shape);
  for (const o of others) {
    if (o && sizeOf(o.shape) !== n)
      throw kernelError('SHAPE_MISMATCH', 'a state tensor does not match its parameter size');
  }
}

/**
 * Reads the Adam attributes (`learningRate, beta1, beta2, epsilon`, in that order) once per call and
 * returns the step constants of tensor `i` (its count from attribute `counts`).
 */
export function adamAttrs(
  attrs: NamedAttrMap | undefined,
): (i: number, weightDecay?: number) => AdamConstants {
  const lr = num(attrs, 'learningRate');
  const b1 = num(attrs, 'beta1');
  const b2 = num(attrs, 'beta2');
  const eps = num(attrs, 'epsilon');
  return (i, weightDecay) => adamConstants(lr, b1, b2, eps, numAt(attrs, 'counts', i), weightDecay);
}

/**
 * The row geometry of FTP item i from attribute `rowSpans` ([first, end) of its contiguous row axes,
 * by the layout rule; [0, 0) = the whole tensor), checked against its shape.
 */
export function ftpGeometry(
  attrs: NamedAttrMap | undefined,
  i: number,
  shape: readonly number[],
): RowGeometry {
  const first = numAt(attrs, 'rowSpans', 2 * i);
  const end = numAt(attrs, 'rowSpans', 2 * i + 1);
  if (
    !(Number.isInteger(first) && Number.isInteger(end) && first >= 0 && first <= end && end <= shape.length)
  )
    throw kernelError(
      'INVALID_ARGUMENT',
      `FTP row span [${first}, ${end}) does not fit rank ${shape.length}`,
      'attrs.rowSpans',
    );
  return spanGeometry(shape, [first, end]);
}
