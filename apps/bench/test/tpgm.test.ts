import { createRng } from '@robust-ft/core';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/backend';
import type { Dataset } from '../src/data/datasets';
import { fineTune, tpgmValidationLoss } from '../src/methods';
import { buildCnn, cloneWithWeights, cnnLogits } from '../src/model';

function randomDigits(n: number, seed: number): Dataset {
  const rng = createRng(seed);
  const x = Float32Array.from({ length: n * 784 }, () => rng.uniform());
  const y = Int32Array.from({ length: n }, (_, i) => i % 10);
  return { name: `random-${seed}`, x, y, n };
}

describe('TPGM in the digits tier', () => {
  beforeAll(async () => {
    await selectBackend('wasm', true);
  });

  it('the functional forward pass matches the layers model', () => {
    const model = buildCnn(3);
    const x = tf.randomUniform([4, 28, 28, 1], 0, 1, 'float32', 7) as tf.Tensor4D;
    const byLayer = new Map(model.weights.map((w) => [w.originalName, w.read()]));
    const want = model.predict(x) as tf.Tensor;
    const got = cnnLogits((name) => byLayer.get(name) as tf.Tensor, x);
    expect(got.shape).toEqual([4, 10]);
    expect(tf.max(tf.abs(tf.sub(got, want))).dataSync()[0]).toBeLessThan(1e-4);
    tf.dispose([x, want, got]);
    model.dispose();
  });

  it('the validation loss is the cross-entropy of the given weights on a validation batch', () => {
    const model = buildCnn(1);
    // One batch covers the whole split, so its (permutation-invariant) mean loss is known.
    const val = randomDigits(8, 2);
    const loss = tpgmValidationLoss(model, val, 8, 0);
    const params = Object.fromEntries(model.weights.map((w) => [(w.read() as tf.Variable).name, w.read()]));
    const x = tf.tensor4d(val.x, [8, 28, 28, 1]);
    const want = tf.losses.softmaxCrossEntropy(
      tf.oneHot(tf.tensor1d(val.y, 'int32'), 10),
      model.predict(x) as tf.Tensor,
    );
    const got = loss(params);
    expect(got.dataSync()[0]).toBeCloseTo(want.dataSync()[0] ?? Number.NaN, 4);
    // Zeroing the head through the map (not the model) gives the uniform prediction: loss ln 10.
    const head = model.getLayer('head').weights.map((w) => (w.read() as tf.Variable).name);
    const zeroed = loss({
      ...params,
      ...Object.fromEntries(head.map((n) => [n, tf.zerosLike(params[n] as tf.Tensor)])),
    });
    expect(zeroed.dataSync()[0]).toBeCloseTo(Math.log(10), 4);
    tf.dispose([x, want, got, zeroed]);
    model.dispose();
  });

  it('fine-tunes with radii learned on the validation loss, without leaking tensors', () => {
    const pretrained = buildCnn(0);
    const model = cloneWithWeights(pretrained.getWeights());
    const before = tf.memory().numTensors;
    const run = fineTune(
      'tpgm',
      model,
      pretrained,
      randomDigits(32, 3),
      {
        epochs: 1,
        batchSize: 8,
        quiet: true,
        validationLoss: tpgmValidationLoss(model, randomDigits(16, 4), 8, 0),
      },
      1,
    );
    expect(run.steps).toBe(4);
    expect(Number.isFinite(run.finalLoss)).toBe(true);
    // Read back from the optimizer's own config, defaults included.
    expect(run.hyperparameters).toMatchObject({
      optimizer: 'tpgm',
      inner: 'adam',
      normMode: 'mars',
      projLr: 0.01,
      maxIters: 1,
      beta1: 0.9,
    });
    expect(tf.memory().numTensors).toBe(before);
    // fineTune disposes its optimizer (and γ with it); what is left to check is that no tensor stayed
    // pinned at the anchor.
    const moved = model.weights.map((w, i) =>
      tf.tidy(
        () => tf.max(tf.abs(tf.sub(w.read(), pretrained.weights[i]?.read() as tf.Tensor))).dataSync()[0],
      ),
    );
    for (const d of moved) expect(d).toBeGreaterThan(0);
    expect(() =>
      fineTune('tpgm', model, pretrained, randomDigits(8, 5), { epochs: 1, batchSize: 8, quiet: true }, 1),
    ).toThrow(/validationLoss/);
    model.dispose();
    pretrained.dispose();
  });
});
