import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, describe, expect, it } from 'vitest';
import { unpatchCpuBackend, unpatchWasmBackend, useBestBackend } from '../src/index';
import './setup-backends';

afterAll(async () => {
  unpatchCpuBackend();
  unpatchWasmBackend();
  await tf.setBackend('cpu');
});

/** conv → depthwise → batchNorm → maxPool → dense: every kernel family the patch set touches. */
function smallCnn(): tfl.LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({
        inputShape: [12, 12, 3],
        filters: 8,
        kernelSize: 3,
        strides: 1,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }),
      }),
      tfl.layers.depthwiseConv2d({
        kernelSize: 3,
        strides: 2,
        padding: 'same',
        depthwiseInitializer: tfl.initializers.glorotUniform({ seed: 2 }),
      }),
      tfl.layers.batchNormalization(),
      tfl.layers.activation({ activation: 'relu' }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 4, kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }) }),
    ],
  });
}

function batch(): { x: tf.Tensor4D; y: tf.Tensor2D } {
  // Labels depend on the input (mean of one channel per quadrant), so the loss can really fall.
  const x = tf.randomUniform([16, 12, 12, 3], -1, 1, 'float32', 7) as tf.Tensor4D;
  const q = tf.stack(
    [
      tf.mean(tf.slice(x, [0, 0, 0, 0], [16, 6, 6, 1]), [1, 2, 3]),
      tf.mean(tf.slice(x, [0, 0, 6, 1], [16, 6, 6, 1]), [1, 2, 3]),
      tf.mean(tf.slice(x, [0, 6, 0, 2], [16, 6, 6, 1]), [1, 2, 3]),
      tf.mean(tf.slice(x, [0, 6, 6, 0], [16, 6, 6, 1]), [1, 2, 3]),
    ],
    1,
  );
  const y = tf.oneHot(tf.argMax(q, 1), 4) as tf.Tensor2D;
  return { x, y: tf.cast(y, 'float32') as tf.Tensor2D };
}

function gradsOf(
  model: tfl.LayersModel,
  x: tf.Tensor,
  y: tf.Tensor,
): { loss: number; grads: Float32Array[] } {
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const { value, grads } = tf.variableGrads(
    () => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
    vars,
  );
  const out = {
    loss: value.dataSync()[0]!,
    grads: vars.map((v) => grads[v.name]!.dataSync() as Float32Array),
  };
  tf.dispose([value, ...Object.values(grads)]);
  return out;
}

describe('a small CNN on the default Node backend', () => {
  it('has gradients matching stock cpu and fine-tunes (loss decreases)', async () => {
    const chosen = await useBestBackend({ logger: null, env: {} });
    // tfjs-node cannot install here, so the default must be the patched wasm backend (see README).
    expect(['wasm', 'tfjs-node', 'tfjs-node-gpu']).toContain(chosen.name);
    const model = smallCnn();
    const { x, y } = batch();

    unpatchCpuBackend();
    await tf.setBackend('cpu');
    const oracle = gradsOf(model, x, y);
    await tf.setBackend(chosen.tfBackend);
    const actual = gradsOf(model, x, y);
    expect(actual.loss).toBeCloseTo(oracle.loss, 4);
    expect(actual.grads.length).toBe(model.trainableWeights.length);
    actual.grads.forEach((g, i) => {
      const e = oracle.grads[i]!;
      let worst = 0;
      for (let j = 0; j < e.length; j++)
        worst = Math.max(worst, Math.abs(g[j]! - e[j]!) / (1e-4 + 1e-3 * Math.abs(e[j]!)));
      expect(worst, `gradient of ${model.trainableWeights[i]!.name}`).toBeLessThanOrEqual(1);
    });

    const optimizer = tf.train.adam(0.01);
    const losses: number[] = [];
    for (let step = 0; step < 15; step++) {
      const loss = optimizer.minimize(
        () => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
        true,
      );
      losses.push(loss!.dataSync()[0]!);
      loss!.dispose();
    }
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.7);
    optimizer.dispose();
    tf.dispose([x, y]);
    model.dispose();
  });
});
