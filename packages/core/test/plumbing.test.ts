import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  type AnyTransformation,
  chain,
  cloneTensors,
  countParameters,
  disposeTensors,
  getOptimizerFactory,
  globalNorm,
  identity,
  masked,
  multiTransform,
  RobustFtError,
  registerOptimizerFactory,
  type StateTree,
  scale,
  setToZero,
  type TransformContext,
  toNamedTensorMap,
  zipTensors,
} from '../src/index';
import { carryOver } from '../src/internal';
import './setup-backend';

/**
 * The composition plumbing value by value (issue #20): the wrappers (labels, routing, per-group init and
 * state), chain, carryOver, named tensor maps and the optimizer factory registry.
 */
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

describe('chain', () => {
  const assigner = (value: number): AnyTransformation => ({
    label: 'assigner',
    init: () => ({}),
    update: (g, state) => ({
      updates: g,
      state,
      assign: Object.fromEntries(Object.keys(g).map((k) => [k, tf.fill([1], value)])),
    }),
  });

  it('feeds each update to the next, keeps one state per position, initialises each with all params', () => {
    const first = spy('first');
    const c = chain(first, scale(10));
    const state = c.init(params) as StateTree;
    expect(first.inits).toEqual([['body/w', 'head/b', 'head/w']]);
    expect(state).toEqual({ '0': { calls: 0 }, '1': {} });
    const r = c.update(grads, state, params, ctx);
    expect(read(r.updates)).toEqual({ 'head/w': [20], 'head/b': [30], 'body/w': [50] });
    expect(r.state).toEqual({ '0': { calls: 1 }, '1': {} });
    expect('assign' in r).toBe(false);
  });

  it('passes the last transformation’s assign through; refuses assign anywhere else', () => {
    const r = chain(scale(2), assigner(7)).update(grads, { '0': {}, '1': {} }, params, ctx);
    expect(read(r.assign!)).toEqual({ 'head/w': [7], 'head/b': [7], 'body/w': [7] });
    let error: unknown;
    try {
      chain(assigner(7), scale(2)).update(grads, { '0': {}, '1': {} }, params, ctx);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({
      code: 'UNSUPPORTED',
      argument: 'transforms',
      message: 'assigner returns absolute parameters and must be last in a chain',
    });
  });
});

describe('carryOver', () => {
  it('copies the entries of names without a gradient, and only those', () => {
    const next = carryOver({ a: 1, b: 2, c: 3 }, { a: 10 }, { a: tf.scalar(0), b: tf.scalar(0) });
    expect(next).toEqual({ a: 10, c: 3 });
  });
});

describe('named tensor maps', () => {
  it('toNamedTensorMap reads pairs, a layers model’s trainable weights, or a map as is', () => {
    const a = tf.scalar(1);
    const b = tf.scalar(2);
    expect(
      toNamedTensorMap([
        { name: 'a', tensor: a },
        { name: 'b', tensor: b },
      ]),
    ).toEqual({ a, b });
    expect(toNamedTensorMap({ trainableWeights: [{ name: 'w', read: () => a }] })).toEqual({ w: a });
    const map = { a, b };
    expect(toNamedTensorMap(map)).toBe(map);
    // A map whose key is `trainableWeights` but not an array stays a map.
    const odd = { trainableWeights: a } as never;
    expect(toNamedTensorMap(odd)).toBe(odd);
  });

  it('zipTensors names the missing entry; globalNorm is 0 for an empty map; countParameters sums sizes', () => {
    expect(() =>
      zipTensors({ a: tf.scalar(1), b: tf.scalar(1) }, { a: tf.scalar(1) }, (x) => x),
    ).toThrowError(
      expect.objectContaining({
        code: 'STATE_MISMATCH',
        argument: 'b',
        message: 'no entry named "b" in the second map',
      }),
    );
    expect(globalNorm({}).dataSync()[0]).toBe(0);
    expect(globalNorm({ a: tf.tensor1d([3]), b: tf.tensor1d([4, 12]) }).dataSync()[0]).toBeCloseTo(13, 5);
    expect(countParameters({ a: tf.zeros([2, 3]), b: tf.zeros([4]) })).toBe(10);
    expect(countParameters({})).toBe(0);
  });

  it('cloneTensors copies (kept outside a tidy); disposeTensors disposes every entry and accepts undefined', () => {
    const a = tf.tensor1d([1, 2]);
    const copy = tf.tidy(() => cloneTensors({ a }));
    expect(copy.a).not.toBe(a);
    expect(copy.a!.isDisposed).toBe(false);
    expect(Array.from(copy.a!.dataSync())).toEqual([1, 2]);
    disposeTensors(copy);
    expect(copy.a!.isDisposed).toBe(true);
    expect(() => disposeTensors(undefined)).not.toThrow();
  });
});

describe('optimizer factory registry', () => {
  it('returns a registered factory and names the known ones when one is missing', () => {
    const factory = () => 1;
    registerOptimizerFactory('test-registry-a', factory);
    registerOptimizerFactory('test-registry-b', factory);
    expect(getOptimizerFactory('test-registry-a')).toBe(factory);
    let error: unknown;
    try {
      getOptimizerFactory('test-registry-missing');
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({
      code: 'UNSUPPORTED',
      argument: 'config.factory',
      message:
        'no optimizer factory named "test-registry-missing" is registered (import the package that defines it)',
    });
    expect((error as { expected: string }).expected).toMatch(/^one of .*test-registry-a, test-registry-b/);
  });
});
