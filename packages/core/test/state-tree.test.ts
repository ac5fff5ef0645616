import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  collectTensors,
  decodeNumber,
  decodeNumberWords,
  disposeStateExcept,
  emptyPaths,
  encodeNumber,
  ensurePath,
  flattenState,
  hasKeyDeep,
  isTensor,
  mergeState,
  renameKey,
  type StateTree,
  unflattenState,
} from '../src/state-tree';
import './setup-backend';

/** The state-tree plumbing every optimizer's state and checkpoint goes through, value by value (issue #20). */
const stateError = (fn: () => unknown, message?: string) =>
  expect(fn).toThrowError(
    expect.objectContaining({
      name: 'RobustFtError',
      code: 'STATE_MISMATCH',
      ...(message === undefined ? {} : { message }),
    }),
  );

describe('isTensor', () => {
  it('recognises tensors and tensor-like objects (another tfjs copy), nothing else', () => {
    const t = tf.scalar(1);
    expect(isTensor(t)).toBe(true);
    const like = { dataId: {}, shape: [1], dtype: 'float32', dispose: () => undefined };
    expect(isTensor(like)).toBe(true);
    for (const missing of ['dataId', 'shape', 'dtype', 'dispose'] as const) {
      const partial: Record<string, unknown> = { ...like };
      delete partial[missing];
      expect(isTensor(partial), missing).toBe(false);
    }
    expect(isTensor({ ...like, shape: 1 })).toBe(false);
    expect(isTensor({ ...like, dtype: 1 })).toBe(false);
    expect(isTensor({ ...like, dispose: 1 })).toBe(false);
    for (const v of [null, 1, 'x', undefined, {}]) expect(isTensor(v)).toBe(false);
  });
});

describe('walking a tree', () => {
  const a = tf.scalar(1);
  const b = tf.scalar(2);
  const tree: StateTree = { x: a, n: 3, inner: { y: b, again: a, deeper: { m: 1 } }, empty: {} };

  it('collectTensors finds each tensor once, at any depth', () => {
    expect([...collectTensors(tree)]).toEqual([a, b]);
  });

  it('hasKeyDeep finds keys at any depth, leaves and sub-trees alike', () => {
    for (const k of ['x', 'inner', 'y', 'deeper', 'm', 'empty']) expect(hasKeyDeep(tree, k), k).toBe(true);
    expect(hasKeyDeep(tree, 'z')).toBe(false);
  });

  it('renameKey renames at every depth and keeps the rest', () => {
    const renamed = renameKey({ k: 1, sub: { k: a, other: 2 } }, 'k', 'r');
    expect(renamed).toEqual({ r: 1, sub: { r: a, other: 2 } });
  });

  it('flattenState sorts keys and skips empty sub-trees; emptyPaths lists those', () => {
    expect(flattenState(tree).map((l) => [l.path.join('.'), l.value])).toEqual([
      ['inner.again', a],
      ['inner.deeper.m', 1],
      ['inner.y', b],
      ['n', 3],
      ['x', a],
    ]);
    expect(emptyPaths({ z: {}, a: { b: {}, c: { d: 1 } }, leaf: 1 })).toEqual([['a', 'b'], ['z']]);
  });

  it('disposeStateExcept disposes every tensor but the kept ones', () => {
    const p = tf.scalar(1);
    const q = tf.scalar(2);
    const r = tf.scalar(3);
    disposeStateExcept({ p, sub: { q, r } }, new Set([q]));
    expect([p.isDisposed, q.isDisposed, r.isDisposed]).toEqual([true, false, true]);
    // Already disposed tensors are skipped, not disposed twice.
    expect(() => disposeStateExcept({ p }, new Set())).not.toThrow();
    q.dispose();
  });
});

describe('mergeState', () => {
  it('keeps the base, adds fresh keys, merges sub-trees and disposes a fresh tensor it does not use', () => {
    const kept = tf.scalar(1);
    const unused = tf.scalar(2);
    const added = tf.scalar(3);
    const merged = mergeState({ t: kept, n: 1, sub: { a: 1 } }, { t: unused, n: 2, sub: { b: 2 }, added });
    expect(merged).toEqual({ t: kept, n: 1, sub: { a: 1, b: 2 }, added });
    expect(merged.t).toBe(kept);
    expect([kept.isDisposed, unused.isDisposed, added.isDisposed]).toEqual([false, true, false]);
    // The same tensor on both sides is not disposed.
    mergeState({ t: kept }, { t: kept });
    expect(kept.isDisposed).toBe(false);
  });
});

describe('paths', () => {
  it('ensurePath creates missing nodes, walks existing ones, refuses to cross a leaf', () => {
    const tree: StateTree = { a: { b: {} }, leaf: 1 };
    ensurePath(tree, ['a', 'b', 'c']);
    ensurePath(tree, ['x']);
    expect(tree).toEqual({ a: { b: { c: {} } }, leaf: 1, x: {} });
    stateError(() => ensurePath(tree, ['leaf', 'y']), 'state path ["leaf","y"] crosses a leaf');
  });

  it('unflattenState rebuilds nested trees and refuses empty paths and leaf crossings', () => {
    expect(
      unflattenState([
        { path: ['a', 'b'], value: 1 },
        { path: ['a', 'c'], value: 2 },
        { path: ['d'], value: 3 },
      ]),
    ).toEqual({ a: { b: 1, c: 2 }, d: 3 });
    stateError(() => unflattenState([{ path: [], value: 1 }]), 'a state leaf has an empty path');
    stateError(
      () =>
        unflattenState([
          { path: ['a'], value: 1 },
          { path: ['a', 'b'], value: 2 },
        ]),
      'state path ["a","b"] crosses a leaf',
    );
  });
});

describe('numbers in state', () => {
  it('encode into two int32 words and decode bit-exactly, special values included', async () => {
    for (const v of [0.1 + 0.2, -0, Number.NaN, Number.POSITIVE_INFINITY, -1e-310, 2 ** 53 + 2, 123456789]) {
      const t = encodeNumber(v);
      expect([t.dtype, t.shape]).toEqual(['int32', [2]]);
      expect(Object.is(await decodeNumber(t), v), String(v)).toBe(true);
      t.dispose();
    }
    // Little-endian words: 1.0 is 0x3FF00000_00000000.
    expect(Array.from(encodeNumber(1).dataSync())).toEqual([0, 0x3ff00000]);
    expect(decodeNumberWords('int32', [0, 0x40000000])).toBe(2);
  });

  it('refuses anything but an int32 pair', () => {
    stateError(
      () => decodeNumberWords('float32', [0, 0]),
      'an encoded number must be an int32 tensor of 2 words',
    );
    stateError(() => decodeNumberWords('int32', [0]));
    stateError(() => decodeNumberWords('int32', [0, 0, 0]));
  });
});
