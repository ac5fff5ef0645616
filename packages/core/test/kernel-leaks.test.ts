import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { registerCpuTrainingKernels, unpatchCpuBackend } from '../src/kernels/cpu';
import { registerWasmTrainingKernels, unpatchWasmBackend } from '../src/kernels/wasm';
import { expectNoTensorLeaks } from '../src/testing';
import './setup-wasm';

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
  // Channel counts that take wasm's SIMD kernels (filter-gradient tiles, max-pool scratch, bias
  // Add/Sum, shared Identity/Cast).
  'Conv2DBackpropFilter (SIMD tiles)': () =>
    tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as T4, b as T4, 1, 'same'))([
      tf.randomUniform([2, 9, 9, 8], -1, 1, 'float32', 5),
      w([3, 3, 8, 12]),
    ]),
  'DepthwiseConv2dNativeBackpropFilter (SIMD tiles)': () =>
    tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.depthwiseConv2d(a as T4, b as T4, 1, 'same'))([
      tf.randomUniform([2, 9, 9, 8], -1, 1, 'float32', 6),
      w([3, 3, 8, 1]),
    ]),
  'MaxPoolGrad (SIMD)': () => [
    tf.grad((a: tf.Tensor) => tf.maxPool(a as T4, 2, 2, 'valid'))(
      tf.randomUniform([2, 6, 6, 8], -1, 1, 'float32', 7),
    ),
  ],
  'bias Add and Sum (SIMD), Identity and Cast (shared)': () =>
    tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.cast(tf.clone(tf.add(a, b)), 'float32'))([
      tf.ones([2, 5, 5, 8]),
      tf.ones([8]),
    ]),
  'MaxPoolGrad 2x2 stride 2 (one pass) and AvgPoolGrad (SIMD)': () =>
    tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.add(tf.maxPool(a as T4, 2, 2, 'valid'), tf.avgPool(b as T4, 3, 2, 'same')),
    )([
      tf.randomUniform([2, 8, 8, 8], -1, 1, 'float32', 8),
      tf.randomUniform([2, 8, 8, 8], -1, 1, 'float32', 9),
    ]),
  'ReLU, ReLU6 and ClipByValue gradients (one-pass kernels)': () =>
    tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.addN([tf.relu(a), tf.relu6(b), tf.clipByValue(a, -1, 3)]))([
      tf.randomUniform([3, 7], -2, 8, 'float32', 10),
      tf.randomUniform([3, 7], -2, 8, 'float32', 11),
    ]),
  'small Multiply, RealDiv, Sub, Softmax and _FusedMatMul (calling-thread loops)': () =>
    tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
      tf.div(
        tf.sub(tf.softmax(tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, bias: c })), 0.1),
        tf.mul(tf.ones([4, 1]), 3),
      ),
    )([
      tf.randomUniform([4, 6], -1, 1, 'float32', 12),
      tf.randomUniform([6, 10], -1, 1, 'float32', 13),
      tf.ones([10]),
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

describe('wasm Identity and same-dtype Cast share the buffer instead of copying it', () => {
  it('a clone or cast outlives its source, and neither allocates a backend buffer', async () => {
    registerWasmTrainingKernels();
    await tf.setBackend('wasm');
    const a = tf.tensor1d([1, -2, 3.5, 4]);
    const before = backendBuffers();
    const clone = tf.clone(a);
    const same = tf.cast(a, 'float32');
    expect(backendBuffers()).toBe(before);
    const ints = tf.cast(a, 'int32'); // a real cast still converts, into its own buffer
    expect(backendBuffers()).toBe(before + 1);
    a.dispose();
    expect(Array.from(await clone.data())).toEqual([1, -2, 3.5, 4]);
    expect(Array.from(await same.data())).toEqual([1, -2, 3.5, 4]);
    expect(Array.from(await ints.data())).toEqual([1, -2, 3, 4]);
    expect(ints.dtype).toBe('int32');
    tf.dispose([clone, same, ints]);
    expect(backendBuffers()).toBe(before - 1);
  });
});
