import type { NamedTensorMap, Tensor } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { addMany } from './add-many';
import { RobustFtError } from './errors';

/**
 * Name-keyed tensor maps: how robust-ft addresses parameters, gradients, anchors and per-tensor state.
 * Keys are variable names, never positions, so a tensor whose gradient is missing on a step cannot
 * shift another tensor's state.
 */
export type { NamedTensorMap };

/** `{ name, tensor }` pairs, the form `tf.Optimizer.getWeights` and `applyGradients` also use. */
export interface NamedTensor {
  name: string;
  tensor: Tensor;
}

/** Anything that can be read as name → tensor: a map, `tf.NamedTensor[]`, or a layers model's weights. */
export type NamedTensorSource =
  | NamedTensorMap
  | readonly NamedTensor[]
  | { readonly trainableWeights: ReadonlyArray<{ readonly name: string; read(): Tensor }> };

/** Reads any `NamedTensorSource` as a name → tensor map (a layers model by its trainable weights' names). */
export function toNamedTensorMap(source: NamedTensorSource): NamedTensorMap {
  if (Array.isArray(source)) {
    const out: NamedTensorMap = {};
    for (const { name, tensor } of source as readonly NamedTensor[]) out[name] = tensor;
    return out;
  }
  if (
    typeof source === 'object' &&
    source !== null &&
    'trainableWeights' in source &&
    Array.isArray(source.trainableWeights)
  ) {
    const out: NamedTensorMap = {};
    for (const w of source.trainableWeights) out[w.name] = w.read();
    return out;
  }
  return source as NamedTensorMap;
}

/** A new map with `fn` applied to every entry (same names); the caller owns the returned tensors. */
export function mapTensors(
  map: NamedTensorMap,
  fn: (tensor: Tensor, name: string) => Tensor,
): NamedTensorMap {
  const out: NamedTensorMap = {};
  for (const name of Object.keys(map)) out[name] = fn(map[name]!, name);
  return out;
}

/** Applies `fn` to matching entries of two maps; every key of `a` must be in `b`. */
export function zipTensors(
  a: NamedTensorMap,
  b: NamedTensorMap,
  fn: (x: Tensor, y: Tensor, name: string) => Tensor,
): NamedTensorMap {
  const out: NamedTensorMap = {};
  for (const name of Object.keys(a)) {
    const y = b[name];
    if (y === undefined)
      throw new RobustFtError('STATE_MISMATCH', `no entry named "${name}" in the second map`, {
        argument: name,
      });
    out[name] = fn(a[name]!, y, name);
  }
  return out;
}

/** Global L2 norm over every tensor of the map, as one scalar. */
export function globalNorm(map: NamedTensorMap): tf.Scalar {
  return tf.tidy((): tf.Scalar => {
    const parts = Object.values(map).map((t) => tf.sum(tf.square(t)));
    if (parts.length === 0) return tf.scalar(0);
    return tf.sqrt(addMany(parts)) as tf.Scalar;
  });
}

/** A kept copy of every tensor of the map (survives `tf.tidy`); dispose it with `disposeTensors`. */
export function cloneTensors(map: NamedTensorMap): NamedTensorMap {
  return mapTensors(map, (t) => tf.keep(tf.clone(t)));
}

/** Disposes every tensor of the map; `undefined` is a no-op. */
export function disposeTensors(map: NamedTensorMap | undefined): void {
  if (map) for (const t of Object.values(map)) t.dispose();
}

/** Total number of scalar entries in the map. */
export function countParameters(map: NamedTensorMap): number {
  let n = 0;
  for (const t of Object.values(map)) n += t.size;
  return n;
}
