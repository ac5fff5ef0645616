import { expectNoTensorLeaks } from '@robust-ft/core/testing';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import {
  registerCpuTrainingKernels,
  registerWasmTrainingKernels,
  unpatchCpuBackend,
  unpatchWasmBackend,
} from '../src/index';
import './setup-backends';

afterAll(async () => {
  unpatchCpuBackend();
  unpatchWasmBackend();
  await tf.setBackend('cpu');
});

type T4 = tf.Tensor4D;
const x = () => tf.randomUniform([2, 7, 7, 3], -1, 1, 'float32', 3) as T4;
const w = (shape: [number, number, number, number]) => tf.randomUniform(shape, -1, 1, 'float32', 4) as T4;

/** Each runs one of the patched kernels (through a gradient) and returns what it computed. */
const workloads: Record<string, () => tf.Tensor[]> = {
  Conv2DBackpropFilter: () =>
    tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as T4, b as T4, 2, 'same'))([x(), w([3, 3, 3, 4])]),
  DepthwiseConv2dNative: () =>
    tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.depthwiseConv2d(a as T4, b as T4, 2, 'same'))([
      x(),
      w([3, 3, 3, 2]),
    ]),
  MaxPoolGrad: () => [tf.grad((a: tf.Tensor) => tf.maxPool(a as T4, 3, 2, 'same'))(x())],
  'BatchMatMul transposed': () =>
    tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D, true, true))([
      tf.ones([4, 3]),
      tf.ones([5, 4]),
    ]),
  UnsortedSegmentSum: () => [
    tf.grad((t: tf.Tensor) => tf.gather(t, tf.tensor1d([0, 2, 2, 1], 'int32')))(tf.ones([3, 5])),
  ],
};

function backendBuffers(): number {
  return tf.engine().backend.numDataIds();
}

describe.each([
  ['wasm', registerWasmTrainingKernels],
  ['cpu', registerCpuTrainingKernels],
] as const)('patched %s kernels leak neither tensors nor backend buffers', (backend, register) => {
  it.each(Object.keys(workloads))('%s', async (name) => {
    register();
    await tf.setBackend(backend);
    const run = () => tf.tidy(workloads[name]!);
    await expectNoTensorLeaks(run, { repeats: 3, label: `${backend} ${name}` });
    // Intermediates the composite kernels allocate directly on the backend are invisible to
    // tf.memory().numTensors; count the backend's own buffers too.
    tf.dispose(run());
    const before = backendBuffers();
    for (let i = 0; i < 3; i++) tf.dispose(run());
    expect(backendBuffers()).toBe(before);
  });
});
