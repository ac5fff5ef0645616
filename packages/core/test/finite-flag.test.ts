import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import { FINITE_FLAG_KERNEL, finiteFlag } from '../src/finite-flag';
import { spyFiniteFlagKernel } from './adapter-fixtures';
import './setup-backend';

/*
 * finiteFlag's routing: the registered one-call kernel for non-empty float32 batches, the per-tensor
 * reductions when the backend has no kernel; int32 tensors are left out on both paths.
 */

const calls: number[] = [];
// 2 rather than 1 when finite: finiteFlag must compare with 0, not test for exactly 1.
const registerSpy = () => spyFiniteFlagKernel(calls, 2);

afterEach(() => {
  if (tf.getKernel(FINITE_FLAG_KERNEL, 'cpu')) tf.unregisterKernel(FINITE_FLAG_KERNEL, 'cpu');
  calls.length = 0;
});

const read = async (t: tf.Tensor) => {
  const v = (await t.data())[0];
  t.dispose();
  return v;
};

describe('finiteFlag', () => {
  it('without a registered kernel: one reduction per tensor, NaN/±Inf anywhere → false', async () => {
    const a = tf.tensor([1, 2]);
    const b = tf.tensor([[3], [Number.NaN]]);
    const c = tf.tensor([Number.NEGATIVE_INFINITY]);
    expect(await read(finiteFlag({ a }))).toBe(1);
    expect(await read(finiteFlag({ a, b }))).toBe(0);
    expect(await read(finiteFlag({ a, c }))).toBe(0);
    tf.dispose([a, b, c]);
  });

  it('with a kernel: one call for all float32 tensors, its output compared with 0', async () => {
    registerSpy();
    const a = tf.tensor([1, 2]);
    const b = tf.tensor([Number.POSITIVE_INFINITY]);
    const flag = finiteFlag({ a, x: tf.tensor([3]) });
    expect(flag.dtype).toBe('bool');
    expect(await read(flag)).toBe(1);
    expect(await read(finiteFlag({ a, b }))).toBe(0);
    expect(calls).toEqual([2, 2]);
    tf.dispose([a, b]);
  });

  it('int32 tensors are not checked (they cannot hold NaN/Inf); nothing to check is finite', async () => {
    const i = tf.tensor([1], [1], 'int32');
    const a = tf.tensor([1, 2]);
    const nan = tf.tensor([Number.NaN]);
    for (const withKernel of [false, true]) {
      if (withKernel) registerSpy();
      const flag = finiteFlag({});
      expect(flag.dtype).toBe('bool');
      expect(await read(flag)).toBe(1);
      expect(await read(finiteFlag({ i }))).toBe(1);
      expect(await read(finiteFlag({ i, a }))).toBe(1);
      expect(await read(finiteFlag({ nan, i }))).toBe(0);
    }
    // The kernel saw only the float32 tensors, and was not called when there were none.
    expect(calls).toEqual([1, 1]);
    tf.dispose([a, i, nan]);
  });

  it('leaks nothing on either path', async () => {
    const a = tf.tensor([1, Number.NaN]);
    const before = tf.memory().numTensors;
    finiteFlag({ a }).dispose();
    registerSpy();
    finiteFlag({ a }).dispose();
    expect(tf.memory().numTensors).toBe(before);
    a.dispose();
  });
});
