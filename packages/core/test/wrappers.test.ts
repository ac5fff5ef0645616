import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  type AnyTransformation,
  chain,
  identity,
  masked,
  multiTransform,
  RobustFtError,
  type StateTree,
  scale,
  setToZero,
  type TransformContext,
} from '../src/index';
import './setup-backend';

/** Labels, routing, per-group init and state of the wrappers, value by value (issue #20). */
const ctx: TransformContext = { step: 1, learningRate: 1, anchor: () => tf.scalar(0) };
const read = (m: tf.NamedTensorMap) =>
  Object.fromEntries(Object.entries(m).map(([k, t]) => [k, Array.from(t.dataSync())]));

/** A transformation that records the names it is initialised and updated with, and counts its calls. */
function spy(label: string): AnyTransformation & { inits: string[][]; updates: string[][] } {
  const inits: string[][] = [];
  const updates: string[][] = [];
  return {
    label,
    inits,
    updates,
    init: (params) => {
      inits.push(Object.keys(params).sort());
      return { calls: 0 };
    },
    update: (grads, state) => {
      updates.push(Object.keys(grads).sort());
      return { updates: grads, state: { calls: ((state as { calls: number }).calls ?? 0) + 1 } };
    },
  };
}

const params = { 'head/w': tf.ones([1]), 'head/b': tf.ones([1]), 'body/w': tf.ones([1]) };
const grads = { 'head/w': tf.fill([1], 2), 'head/b': tf.fill([1], 3), 'body/w': tf.fill([1], 5) };

describe('labels', () => {
  it('name the wrapped transformations', () => {
    expect(masked(scale(2), 'x').label).toBe('masked(scale)');
    expect(
      multiTransform(
        [
          { select: 'a', transform: scale(1) },
          { select: 'b', transform: setToZero() },
        ],
        identity(),
      ).label,
    ).toBe('multiTransform(scale,setToZero,identity)');
    expect(chain(scale(1), identity()).label).toBe('chain(scale,identity)');
    expect(setToZero().label).toBe('setToZero');
    expect(identity().label).toBe('identity');
  });
});

describe('masked', () => {
  it('initialises and updates the inner transformation with the selected names only, keeping its state', () => {
    const inner = spy('inner');
    const m = masked(inner, 'head/*');
    let state = m.init(params) as StateTree;
    expect(inner.inits).toEqual([['head/b', 'head/w']]);
    for (let i = 0; i < 2; i++) state = m.update(grads, state, params, ctx).state as StateTree;
    expect(inner.updates).toEqual([
      ['head/b', 'head/w'],
      ['head/b', 'head/w'],
    ]);
    expect(state).toEqual({ inner: { calls: 2 } });
    // Unselected gradients pass through unchanged.
    const r = masked(scale(10), 'head/*').update(grads, { inner: {} }, params, ctx);
    expect(read(r.updates)).toEqual({ 'head/w': [20], 'head/b': [30], 'body/w': [5] });
  });
});

describe('multiTransform', () => {
  it('refuses no groups', () => {
    let error: unknown;
    try {
      multiTransform([], identity());
    } catch (e) {
      error = e;
    }
    expect(RobustFtError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({
      code: 'INVALID_ARGUMENT',
      argument: 'groups',
      expected: 'a non-empty array',
      message: 'groups must hold at least one group',
    });
  });

  it('the first matching group wins; the rest go to the fallback; each keeps its own state', () => {
    const first = spy('first');
    const second = spy('second');
    const fallback = spy('fallback');
    const mt = multiTransform(
      [
        { select: 'head/w', transform: first },
        { select: 'head/*', transform: second },
      ],
      fallback,
    );
    let state = mt.init(params) as StateTree;
    expect([first.inits, second.inits, fallback.inits]).toEqual([[['head/w']], [['head/b']], [['body/w']]]);
    state = mt.update(grads, state, params, ctx).state as StateTree;
    state = mt.update(grads, state, params, ctx).state as StateTree;
    expect(state).toEqual({ '0': { calls: 2 }, '1': { calls: 2 }, '2': { calls: 2 } });
    expect(second.updates).toEqual([['head/b'], ['head/b']]);
    const r = multiTransform([{ select: 'head/*', transform: scale(10) }], setToZero()).update(
      grads,
      { '0': {}, '1': {} },
      params,
      ctx,
    );
    expect(read(r.updates)).toEqual({ 'head/w': [20], 'head/b': [30], 'body/w': [0] });
  });
});

describe('setToZero and identity', () => {
  it('zero every update / pass updates and state through', () => {
    const state = { s: 1 };
    const z = setToZero().update(grads, state, params, ctx);
    expect(read(z.updates)).toEqual({ 'head/w': [0], 'head/b': [0], 'body/w': [0] });
    expect(z.state).toBe(state);
    expect(setToZero().init(params)).toEqual({});
    const i = identity().update(grads, state, params, ctx);
    expect(i.updates).toBe(grads);
    expect(i.state).toBe(state);
    expect(identity().init(params)).toEqual({});
  });
});
