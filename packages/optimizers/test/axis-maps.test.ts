import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { type AxisMap, adamStepCounts, adamw, axisMap, ftp } from '../src/index';
import { findNodes, scalars } from '../src/inspect';
import './setup-backend';
import { caught } from './typed-error';

/*
 * A layout function may return its own axis map; each one is checked before it is used (rank 3 here,
 * so axes 0..2 are valid). And the tfjs rule's refusal of ranks it has no rule for. Then the state
 * readers' edge cases (inspect.ts).
 */

const SHAPE = [4, 3, 2];
const own = (map: unknown) => () => map as AxisMap;

describe('axis maps from a layout function', () => {
  it('valid maps are returned as copies (row axes increasing, last axis in range or null at rank 0)', () => {
    for (const map of [
      { rowAxes: [], lastAxis: 2 },
      { rowAxes: [0], lastAxis: 0 },
      { rowAxes: [1, 2], lastAxis: 0 },
      { rowAxes: [0, 1, 2], lastAxis: 2 },
      { rowAxes: [2], lastAxis: 1 },
    ]) {
      const got = axisMap(own(map), 'w', SHAPE);
      expect(got).toEqual(map);
      expect(got.rowAxes).not.toBe(map.rowAxes);
    }
    expect(axisMap(own({ rowAxes: [], lastAxis: null }), 's', [])).toEqual({ rowAxes: [], lastAxis: null });
  });

  it('every broken map is an INVALID_ARGUMENT naming the parameter, with the expected form for its rank', () => {
    const expected = '{ rowAxes: distinct increasing axes in [0, 3), lastAxis: an axis in [0, 3) or null }';
    for (const [why, map] of [
      ['no map', undefined],
      ['rowAxes not an array', { rowAxes: 1, lastAxis: 0 }],
      ['fractional axis', { rowAxes: [0.5], lastAxis: 0 }],
      ['negative axis', { rowAxes: [-1], lastAxis: 0 }],
      ['axis = rank', { rowAxes: [3], lastAxis: 0 }],
      ['repeated axis', { rowAxes: [1, 1], lastAxis: 0 }],
      ['decreasing axes', { rowAxes: [2, 1], lastAxis: 0 }],
      ['fractional last axis', { rowAxes: [0], lastAxis: 1.5 }],
      ['negative last axis', { rowAxes: [0], lastAxis: -1 }],
      ['last axis = rank', { rowAxes: [0], lastAxis: 3 }],
      ['null last axis at rank 3', { rowAxes: [0], lastAxis: null }],
      ['missing last axis', { rowAxes: [0] }],
    ] as const) {
      const e = caught(() => axisMap(own(map), 'dense/kernel', SHAPE));
      expect(e.code, why).toBe('INVALID_ARGUMENT');
      expect(e.argument, why).toBe('options.layout("dense/kernel")');
      expect(e.expected, why).toBe(expected);
      expect(e.message, why).toMatch(/^options\.layout\("dense\/kernel"\) must be \{ rowAxes/);
    }
  });

  it("a function may answer 'tfjs' or 'torch' per parameter", () => {
    const byName = (name: string) => (name.startsWith('t') ? 'torch' : 'tfjs');
    expect(axisMap(byName, 'torch/kernel', [5, 3])).toEqual({ rowAxes: [0], lastAxis: 1 });
    expect(axisMap(byName, 'dense/kernel', [5, 3])).toEqual({ rowAxes: [1], lastAxis: 0 });
  });

  it('the tfjs rule refuses ranks above 4, naming the tensor and how to say its layout', () => {
    const e = caught(() => axisMap('tfjs', 'conv3d/kernel', [2, 2, 2, 3, 4]));
    expect(e.code).toBe('UNSUPPORTED');
    expect(e.message).toBe(
      'no default tfjs layout for the rank-5 tensor "conv3d/kernel" [2, 2, 2, 3, 4]: say how to read it',
    );
    expect(e.argument).toBe('options.layout');
    expect(e.expected).toBe(
      "'torch' or a function (name, shape) => 'tfjs' | 'torch' | { rowAxes, lastAxis }",
    );
    // torch's rule has no rank limit.
    expect(axisMap('torch', 'conv3d/kernel', [2, 2, 2, 3, 4])).toEqual({ rowAxes: [0], lastAxis: 4 });
  });
});

describe('state readers', () => {
  it('adamStepCounts reads the same counts from the optimizer and from its state tree', async () => {
    const w = tf.variable(tf.ones([2]), true, 'counted');
    for (const opt of [adamw({ learningRate: 0.01 }), ftp({ learningRate: 0.01 })]) {
      for (let s = 0; s < 3; s++) opt.minimize(() => tf.sum(tf.square(w)) as tf.Scalar);
      const fromOptimizer = await adamStepCounts(opt);
      expect(fromOptimizer).toEqual({ counted: 3 });
      expect(await adamStepCounts(opt.state)).toEqual(fromOptimizer);
      opt.dispose();
    }
    w.dispose();
  });

  it('a tree that only has a key named "state" or "transformation" is read as a tree, not as an optimizer', () => {
    const tree = { state: { nu: {}, mu: {}, count: { a: 2 } }, transformation: { x: 1 } };
    expect(findNodes(tree, 'nu')).toEqual([tree.state]);
    // With only "state", the root itself is the tree (its own "nu" is found).
    const half = { nu: {}, mu: {}, count: { b: 4 }, state: { x: 1 } };
    expect(findNodes(half, 'nu')).toEqual([half]);
    const other = { nu: {}, mu: {}, count: { c: 1 }, transformation: { x: 1 } };
    expect(findNodes(other, 'nu')).toEqual([other]);
  });

  it('scalars: numbers and 0-d tensors by name; anything that is not a tree gives {}', async () => {
    const t = tf.scalar(2.5);
    expect(await scalars({ a: 1, b: t, c: 'x', d: null })).toEqual({ a: 1, b: 2.5 });
    for (const notTree of [undefined, null, 3, t]) expect(await scalars(notTree)).toEqual({});
    t.dispose();
  });
});
