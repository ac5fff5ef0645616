import { addDecayedWeights, chain, RobustOptimizer, scaleByAdam, scaleByLearningRate } from '@robust-ft/core';
import { expectNoTensorLeaks } from '@robust-ft/core/testing';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import './browser-setup';
import { activate, GPU_AND_WASM, maxRelError, type TestedBackend, values } from './browser-harness';

/** A tiny CNN: conv (stride 1, same) → relu → maxPool → dense → softmax cross-entropy. */
let run = 0;
function makeParams(): Record<string, tf.Variable> {
  run++;
  return tf.tidy(() => ({
    kernel: tf.variable(tf.tensor4d(values(3 * 3 * 1 * 2, 5, 0.5), [3, 3, 1, 2]), true, `train${run}/kernel`),
    dense: tf.variable(tf.tensor2d(values(8 * 3, 6, 0.5), [8, 3]), true, `train${run}/dense`),
  }));
}

function loss(p: Record<string, tf.Variable>, x: tf.Tensor4D, y: tf.Tensor2D): tf.Scalar {
  const h = tf.maxPool(tf.relu(tf.conv2d(x, p.kernel as tf.Variable<tf.Rank.R4>, 1, 'same')), 2, 2, 'valid');
  const logits = tf.matMul(tf.reshape(h, [2, 8]), p.dense!);
  return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
}

/** Three AdamW steps through RobustOptimizer; returns the final parameters and losses. */
async function train(): Promise<{ params: Record<string, Float32Array>; losses: number[] }> {
  const p = makeParams();
  const x = tf.tensor4d(values(2 * 4 * 4, 7), [2, 4, 4, 1]);
  const y = tf.tensor2d([1, 0, 0, 0, 0, 1], [2, 3]);
  const opt = new RobustOptimizer({
    transformation: chain(scaleByAdam(), addDecayedWeights(0.01), scaleByLearningRate()),
    learningRate: 0.05,
    nonFinite: 'off',
  });
  const losses: number[] = [];
  for (let i = 0; i < 3; i++) {
    const l = opt.minimize(() => loss(p, x, y), true, Object.values(p));
    losses.push((await l!.data())[0]!);
    l!.dispose();
  }
  const params = {
    kernel: (await p.kernel!.data()) as Float32Array,
    dense: (await p.dense!.data()) as Float32Array,
  };
  opt.dispose();
  tf.dispose([x, y, ...Object.values(p)]);
  return { params, losses };
}

let oracle: Awaited<ReturnType<typeof train>>;

beforeAll(async () => {
  await activate('cpu');
  oracle = await train();
});

describe.each(GPU_AND_WASM)('a CNN training step on %s', (backend: TestedBackend) => {
  beforeAll(() => activate(backend));

  it('matches the cpu backend after three AdamW steps and lowers the loss', async () => {
    expect(tf.getBackend()).toBe(backend);
    const got = await train();
    expect(got.losses[2]!).toBeLessThan(got.losses[0]!);
    expect(maxRelError(got.losses, oracle.losses)).toBeLessThanOrEqual(1e-4);
    expect(maxRelError(got.params.kernel!, oracle.params.kernel!)).toBeLessThanOrEqual(1e-4);
    expect(maxRelError(got.params.dense!, oracle.params.dense!)).toBeLessThanOrEqual(1e-4);
  });

  it('leaks no tensors across training steps', async () => {
    await expectNoTensorLeaks(train, { repeats: 2, label: `training on ${backend}` });
  });
});
