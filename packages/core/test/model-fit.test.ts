import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import {
  addDecayedWeights,
  chain,
  RobustOptimizer,
  registerOptimizerFactory,
  scaleByAdam,
  scaleByLearningRate,
} from '../src/index';
import { saveToMemory } from '../src/testing';
import './setup-backend';

// One constructor for the compiled optimizer and the one tfjs rebuilds from the saved config, so the
// restored model continues with exactly the optimizer it was saved with.
const fitTestAdamw = (o: { lr: number; wd: number }) =>
  new RobustOptimizer({
    transformation: chain(scaleByAdam(), addDecayedWeights(o.wd), scaleByLearningRate()),
    learningRate: o.lr,
    factory: { name: 'fit-test-adamw', options: o },
  });
registerOptimizerFactory('fit-test-adamw', (o) => fitTestAdamw({ lr: Number(o.lr), wd: Number(o.wd) }));

function buildModel(): tfl.LayersModel {
  const m = tfl.sequential();
  m.add(
    tfl.layers.dense({
      units: 8,
      inputShape: [4],
      activation: 'relu',
      kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }),
    }),
  );
  m.add(
    tfl.layers.dense({
      units: 3,
      activation: 'softmax',
      kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }),
    }),
  );
  m.compile({
    optimizer: fitTestAdamw({ lr: 0.01, wd: 0.01 }),
    loss: 'categoricalCrossentropy',
  });
  return m;
}

describe('model.fit integration', () => {
  it('trains with model.fit, saves with its optimizer, restores and continues bit-identically', async () => {
    const x = tf.randomNormal([32, 4], 0, 1, 'float32', 7);
    const y = tf.oneHot(
      tf.tensor1d(
        [...Array(32)].map((_, i) => i % 3),
        'int32',
      ),
      3,
    );
    const reference = buildModel();
    const h = await reference.fit(x, y, { epochs: 6, batchSize: 8, shuffle: false, verbose: 0 });
    expect((h.history.loss as number[])[5]!).toBeLessThan((h.history.loss as number[])[0]!);

    const first = buildModel();
    await first.fit(x, y, { epochs: 3, batchSize: 8, shuffle: false, verbose: 0 });
    const restored = await tfl.loadLayersModel(tf.io.fromMemory(await saveToMemory(first)));
    expect(restored.optimizer).toBeInstanceOf(RobustOptimizer);
    expect((restored.optimizer as RobustOptimizer).step).toBe(12);
    await restored.fit(x, y, { epochs: 3, batchSize: 8, shuffle: false, verbose: 0 });

    const want = reference.getWeights().map((w) => Array.from(w.dataSync()));
    const got = restored.getWeights().map((w) => Array.from(w.dataSync()));
    expect(got).toEqual(want);
    for (const m of [reference, first, restored]) {
      m.optimizer.dispose();
      m.dispose();
    }
    tf.dispose([x, y]);
  });
});
