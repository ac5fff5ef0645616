import type { Tensor } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { RobustFtError } from './errors';

/**
 * Optimizer state is a plain tree whose leaves are tensors or numbers. Keeping it explicit (no hidden
 * fields) is what lets the adapter serialise, merge, dispose and restore any transformation's state.
 */
export type StateLeaf = Tensor | number;
/** A transformation's state: a plain tree with tensors or numbers at the leaves (see `StateLeaf`). */
export interface StateTree {
  [key: string]: StateLeaf | StateTree;
}

/** Structural as well as `instanceof`, so tensors from a second copy of tfjs-core (ESM beside CJS) count. */
export function isTensor(value: unknown): value is Tensor {
  if (value instanceof tf.Tensor) return true;
  if (typeof value !== 'object' || value === null) return false;
  const t = value as Partial<Tensor>;
  return (
    t.dataId !== undefined &&
    Array.isArray(t.shape) &&
    typeof t.dtype === 'string' &&
    typeof t.dispose === 'function'
  );
}

function isTree(value: unknown): value is StateTree {
  return typeof value === 'object' && value !== null && !isTensor(value);
}

export function collectTensors(tree: StateTree, out: Set<Tensor> = new Set()): Set<Tensor> {
  for (const v of Object.values(tree)) {
    if (isTensor(v)) out.add(v);
    else if (isTree(v)) collectTensors(v, out);
  }
  return out;
}

/** Disposes every tensor of `tree` that is not in `keep`. */
export function disposeStateExcept(tree: StateTree, keep: ReadonlySet<Tensor>): void {
  for (const t of collectTensors(tree)) if (!keep.has(t) && !t.isDisposed) t.dispose();
}

/**
 * Adds the entries of `fresh` that `base` lacks (recursively); where both have a leaf, `base` wins and
 * the fresh leaf is disposed. Used when a new variable shows up after the first step.
 */
export function mergeState(base: StateTree, fresh: StateTree): StateTree {
  const out: StateTree = { ...base };
  for (const [k, v] of Object.entries(fresh)) {
    const existing = out[k];
    if (existing === undefined) out[k] = v;
    else if (isTree(existing) && isTree(v)) out[k] = mergeState(existing, v);
    else if (isTensor(v) && v !== existing) v.dispose();
  }
  return out;
}

/** Renames every object key equal to `from` (a variable name) to `to`, anywhere in the tree. */
export function renameKey(tree: StateTree, from: string, to: string): StateTree {
  const out: StateTree = {};
  for (const [k, v] of Object.entries(tree))
    out[k === from ? to : k] = isTree(v) ? renameKey(v, from, to) : v;
  return out;
}

/** Whether an object key equal to `name` occurs anywhere in the tree. */
export function hasKeyDeep(tree: StateTree, name: string): boolean {
  for (const [k, v] of Object.entries(tree)) {
    if (k === name) return true;
    if (isTree(v) && hasKeyDeep(v, name)) return true;
  }
  return false;
}

/** A serialised leaf: the path of keys from the root, and its value. */
export interface FlatLeaf {
  path: string[];
  value: StateLeaf;
}

export function flattenState(tree: StateTree, prefix: string[] = [], out: FlatLeaf[] = []): FlatLeaf[] {
  for (const k of Object.keys(tree).sort()) {
    const v = tree[k]!;
    if (isTree(v)) flattenState(v, [...prefix, k], out);
    else out.push({ path: [...prefix, k], value: v });
  }
  return out;
}

/** Paths of empty sub-trees (e.g. a per-name map before any name was seen), which have no leaves to carry them. */
export function emptyPaths(tree: StateTree, prefix: string[] = [], out: string[][] = []): string[][] {
  for (const k of Object.keys(tree).sort()) {
    const v = tree[k]!;
    if (!isTree(v)) continue;
    if (Object.keys(v).length === 0) out.push([...prefix, k]);
    else emptyPaths(v, [...prefix, k], out);
  }
  return out;
}

/** Re-creates an empty sub-tree at `path` (the counterpart of `emptyPaths` on restore). */
export function ensurePath(tree: StateTree, path: readonly string[]): void {
  let node = tree;
  for (const k of path) {
    const next = node[k];
    if (next === undefined) node = node[k] = {};
    else if (isTree(next)) node = next;
    else throw new RobustFtError('STATE_MISMATCH', `state path ${JSON.stringify(path)} crosses a leaf`);
  }
}

export function unflattenState(leaves: readonly FlatLeaf[]): StateTree {
  const root: StateTree = {};
  for (const { path, value } of leaves) {
    if (path.length === 0) throw new RobustFtError('STATE_MISMATCH', 'a state leaf has an empty path');
    let node = root;
    for (const k of path.slice(0, -1)) {
      const next = node[k];
      if (next === undefined) node = node[k] = {};
      else if (isTree(next)) node = next;
      else throw new RobustFtError('STATE_MISMATCH', `state path ${JSON.stringify(path)} crosses a leaf`);
    }
    node[path[path.length - 1]!] = value;
  }
  return root;
}

/**
 * Numbers are stored as the two 32-bit words of their float64 bit pattern in an int32 tensor, so a
 * restored optimizer continues bit-identically (a float32 scalar would round hyper-state).
 */
export function encodeNumber(value: number): Tensor {
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, value, true);
  return tf.tensor1d([buf.getInt32(0, true), buf.getInt32(4, true)], 'int32');
}

/** Reads an `encodeNumber` tensor back (asynchronously: synchronous reads return zeros on WebGPU). */
export async function decodeNumber(tensor: Tensor): Promise<number> {
  return decodeNumberWords(tensor.dtype, await tensor.data());
}

/** `decodeNumber` on values already read (e.g. with `await tensor.data()`). */
export function decodeNumberWords(dtype: string, words: ArrayLike<number>): number {
  if (dtype !== 'int32' || words.length !== 2) {
    throw new RobustFtError('STATE_MISMATCH', 'an encoded number must be an int32 tensor of 2 words');
  }
  const buf = new DataView(new ArrayBuffer(8));
  buf.setInt32(0, words[0]!, true);
  buf.setInt32(4, words[1]!, true);
  return buf.getFloat64(0, true);
}
