import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Anchors, anchorOptionProblem, resolveAnchors } from '../src/anchors';
import './setup-backend';

/** The anchor store per mode, value by value (issue #20: exercised only through the adapter before). */
const values = (t: tf.Tensor) => Array.from(t.dataSync());

describe('Anchors', () => {
  it("'initial' snapshots a copy at first sight, then checks the shape", () => {
    const a = Anchors.initial();
    const w = tf.tensor1d([1, 2]);
    expect([a.mode, a.has('w'), a.hasCaptured('w')]).toEqual(['initial', false, false]);
    expect(a.ensure('w', w)).toBe(true);
    expect(a.get('w')).not.toBe(w);
    expect(values(a.get('w'))).toEqual([1, 2]);
    expect(a.ensure('w', tf.tensor1d([5, 6]))).toBe(false);
    expect(values(a.get('w'))).toEqual([1, 2]);
    expect([a.has('w'), a.hasCaptured('w'), a.names()]).toEqual([true, true, ['w']]);
    expect(() => a.ensure('w', tf.zeros([3]))).toThrowError(
      expect.objectContaining({ code: 'SHAPE_MISMATCH', argument: 'anchor["w"]', expected: 'shape [3]' }),
    );
  });

  it("'zero' shares one zero tensor per dtype and shape, never captures, never disposes it on forget", () => {
    const a = Anchors.zero();
    expect([a.mode, a.has('anything'), a.hasCaptured('anything')]).toEqual(['zero', true, false]);
    expect(a.ensure('p', tf.ones([2]))).toBe(false);
    a.ensure('q', tf.ones([2]));
    a.ensure('r', tf.ones([3]));
    a.ensure('i', tf.ones([2], 'int32'));
    expect(a.get('p')).toBe(a.get('q'));
    expect(a.get('p')).not.toBe(a.get('r'));
    expect(a.get('p')).not.toBe(a.get('i'));
    expect([values(a.get('p')), a.get('i').dtype]).toEqual([[0, 0], 'int32']);
    // Shapes whose digits run together ([1, 12] and [11, 2]) still get their own zeros.
    a.ensure('wide', tf.ones([1, 12]));
    a.ensure('tall', tf.ones([11, 2]));
    expect([a.get('wide').shape, a.get('tall').shape]).toEqual([
      [1, 12],
      [11, 2],
    ]);
    expect(a.hasCaptured('p')).toBe(false);
    expect(a.snapshot()).toEqual({});
    const shared = a.get('q');
    a.forget('p');
    expect(shared.isDisposed).toBe(false);
    a.dispose();
    expect(shared.isDisposed).toBe(true);
    expect(a.names()).toEqual([]);
  });

  it("'explicit' keeps copies of the given tensors and names a parameter without one", () => {
    const given = tf.tensor1d([3, 4]);
    const a = Anchors.from({ w: given });
    expect(a.mode).toBe('explicit');
    expect(a.get('w')).not.toBe(given);
    expect(values(a.get('w'))).toEqual([3, 4]);
    expect(a.ensure('w', tf.zeros([2]))).toBe(false);
    expect(() => a.ensure('v', tf.zeros([2]))).toThrowError(
      expect.objectContaining({
        code: 'MISSING_ANCHOR',
        argument: 'anchor["v"]',
        expected: 'an anchor tensor for every optimised parameter',
        message: 'no explicit anchor was given for parameter "v"',
      }),
    );
    expect(() => a.get('v')).toThrowError(
      expect.objectContaining({
        code: 'MISSING_ANCHOR',
        argument: 'v',
        expected: 'an anchor captured at first sight or given explicitly',
        message: 'no anchor for parameter "v" (mode explicit)',
      }),
    );
  });

  it('forget, rename, snapshot, restore and dispose', () => {
    const a = Anchors.initial();
    a.ensure('x', tf.tensor1d([1]));
    a.ensure('y', tf.tensor1d([2]));
    const x = a.get('x');
    a.forget('x');
    expect([x.isDisposed, a.has('x')]).toEqual([true, false]);
    a.rename('y', 'z');
    expect(a.names()).toEqual(['z']);
    a.ensure('w', tf.tensor1d([9]));
    a.rename('w', 'z'); // the target exists: nothing moves
    expect(a.names().sort()).toEqual(['w', 'z']);
    a.rename('missing', 'q');
    expect(a.names().sort()).toEqual(['w', 'z']);
    expect(Object.keys(a.snapshot()).sort()).toEqual(['w', 'z']);
    const old = a.get('z');
    const fresh = tf.tensor1d([7]);
    a.restore('z', fresh);
    expect([old.isDisposed, a.get('z')]).toEqual([true, fresh]);
    a.restore('z', fresh); // the same tensor again is kept
    expect(fresh.isDisposed).toBe(false);
    a.dispose();
    expect([fresh.isDisposed, a.names()]).toEqual([true, []]);
  });
});

describe('the anchor option', () => {
  it('accepts initial, zero, an Anchors or a map of tensors; names the form otherwise', () => {
    const expected = "'initial', 'zero', an Anchors, or a map of name → tf.Tensor";
    for (const ok of [undefined, 'initial', 'zero', Anchors.zero(), { w: tf.scalar(1) }, {}]) {
      expect(anchorOptionProblem(ok)).toBeUndefined();
    }
    for (const bad of ['first', 3, null, [tf.scalar(1)], { w: 1 }])
      expect(anchorOptionProblem(bad)).toBe(expected);
    expect(() => resolveAnchors('first' as never)).toThrowError(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', argument: 'options.anchor', expected }),
    );
  });

  it('resolves to an owned store, except a shared Anchors', () => {
    expect([resolveAnchors(undefined).anchors.mode, resolveAnchors(undefined).owned]).toEqual([
      'initial',
      true,
    ]);
    expect(resolveAnchors('initial').anchors.mode).toBe('initial');
    expect([resolveAnchors('zero').anchors.mode, resolveAnchors('zero').owned]).toEqual(['zero', true]);
    const shared = Anchors.zero();
    expect(resolveAnchors(shared)).toEqual({ anchors: shared, owned: false });
    const fromMap = resolveAnchors({ w: tf.scalar(2) });
    expect([fromMap.anchors.mode, fromMap.owned, values(fromMap.anchors.get('w'))]).toEqual([
      'explicit',
      true,
      [2],
    ]);
  });
});
