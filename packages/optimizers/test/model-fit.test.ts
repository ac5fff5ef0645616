import { RobustOptimizer } from '@robust-ft/core';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { adamw, digrap, ftp, ftpDiagnostics, l2sp, spd } from '../src/index';
import { signDescent } from './helpers';
import './setup-backend';

function buildModel(optimizer: tf.Optimizer): tfl.LayersModel {
  const m = tfl.sequential();
  m.add(
    tfl.layers.dense({
      name: 'body',
      units: 8,
      inputShape: [4],
      activation: 'relu',
      kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }),
    }),
  );
  m.add(
    tfl.layers.dense({
      name: 'head',
      units: 3,
      activation: 'softmax',
      kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }),
    }),
  );
  m.compile({ optimizer, loss: 'categoricalCrossentropy' });
  return m;
}

function data() {
  const x = tf.randomNormal([32, 4], 0, 1, 'float32', 7);
  const y = tf.oneHot(
    tf.tensor1d(
      [...Array(32)].map((_, i) => i % 3),
      'int32',
    ),
    3,
  );
  return { x, y };
}

const fitArgs = { batchSize: 8, shuffle: false, verbose: 0 } as const;

/** The head is excluded by a glob that also matches the `_1` suffixes tfjs gives re-created variables. */
const OPTIMIZERS: Record<string, () => RobustOptimizer> = {
  adamw: () => adamw({ learningRate: 0.01, weightDecay: 0.01 }),
  ftp: () => ftp({ learningRate: 0.01, exclude: 'head/*' }),
  spd: () => spd({ learningRate: 0.01, weightDecay: 1, exclude: 'head/*' }),
  digrap: () => digrap({ learningRate: 0.01, weightDecay: 0.5, exclude: 'head/*' }),
  spdSgd: () => spd({ inner: 'sgd', momentum: 0.9, learningRate: 0.05, weightDecay: 1, exclude: 'head/*' }),
  digrapSgd: () =>
    digrap({ inner: 'sgd', momentum: 0.9, learningRate: 0.05, weightDecay: 0.5, exclude: 'head/*' }),
  l2sp: () => l2sp({ learningRate: 0.01, alpha: 0.1, exclude: 'head/*' }),
};

describe('model.fit, save with includeOptimizer, load, continue bit-identically', () => {
  for (const [label, make] of Object.entries(OPTIMIZERS)) {
    it(label, async () => {
      const { x, y } = data();
      const reference = buildModel(make());
      const h = await reference.fit(x, y, { ...fitArgs, epochs: 6 });
      const losses = h.history.loss as number[];
      expect(losses[5]!).toBeLessThan(losses[0]!);

      const first = buildModel(make());
      await first.fit(x, y, { ...fitArgs, epochs: 3 });
      let artifacts: tf.io.ModelArtifacts | undefined;
      await first.save(
        tf.io.withSaveHandler(async (a) => {
          artifacts = a;
          return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
        }),
        { includeOptimizer: true },
      );
      const restored = await tfl.loadLayersModel(tf.io.fromMemory(artifacts!));
      expect(restored.optimizer).toBeInstanceOf(RobustOptimizer);
      expect((restored.optimizer as RobustOptimizer).step).toBe(12);
      await restored.fit(x, y, { ...fitArgs, epochs: 3 });

      const want = reference.getWeights().map((w) => Array.from(w.dataSync()));
      const got = restored.getWeights().map((w) => Array.from(w.dataSync()));
      expect(got).toEqual(want);
      if (label === 'ftp') {
        // The head is excluded: FTP tracks a radius for the body only.
        const names = Object.keys((await ftpDiagnostics(restored.optimizer as RobustOptimizer)).tensors);
        expect(names.length).toBe(2);
        expect(names.every((n) => n.startsWith('body/'))).toBe(true);
      }
      for (const m of [reference, first, restored]) {
        m.optimizer.dispose();
        m.dispose();
      }
      tf.dispose([x, y]);
    });
  }
});

describe('SPD and DiGraP over a custom inner transformation through model.fit', () => {
  const custom: Record<string, () => RobustOptimizer> = {
    spd: () => spd({ inner: signDescent(), learningRate: 5e-3, weightDecay: 1, exclude: 'head/*' }),
    digrap: () => digrap({ inner: signDescent(), learningRate: 5e-3, weightDecay: 0.5, exclude: 'head/*' }),
  };
  for (const [label, make] of Object.entries(custom)) {
    it(`${label}: trains (loss falls), parameters finite`, async () => {
      const { x, y } = data();
      const m = buildModel(make());
      const h = await m.fit(x, y, { ...fitArgs, epochs: 6 });
      const losses = h.history.loss as number[];
      expect(losses[5]!).toBeLessThan(losses[0]!);
      for (const w of m.getWeights()) expect((await tf.all(tf.isFinite(w)).data())[0]).toBe(1);
      m.optimizer.dispose();
      m.dispose();
      tf.dispose([x, y]);
    });
  }
});

describe('our adamw with weightDecay 0 matches tf.train.adam', () => {
  it('through model.fit (epsilon passed explicitly: tfjs defaults to 1e-7)', async () => {
    const { x, y } = data();
    const ours = buildModel(adamw({ learningRate: 0.01, weightDecay: 0, epsilon: 1e-8 }));
    const theirs = buildModel(tf.train.adam(0.01, 0.9, 0.999, 1e-8));
    const initial = ours.getWeights().map((w) => Array.from(w.dataSync()));
    await ours.fit(x, y, { ...fitArgs, epochs: 5 });
    await theirs.fit(x, y, { ...fitArgs, epochs: 5 });
    const a = ours.getWeights().map((w) => Array.from(w.dataSync()));
    const b = theirs.getWeights().map((w) => Array.from(w.dataSync()));
    // Same math, different float32 op order (tfjs: m̂/(√v̂ + ε); torch/ours: m/(√v/√bc₂ + ε)/bc₁): after
    // 20 steps the weights agree to a few float32 ulps of their O(1) magnitude, far below one step (1e-2).
    let worst = 0;
    for (const [i, arr] of a.entries())
      for (const [j, v] of arr.entries()) worst = Math.max(worst, Math.abs(v - b[i]![j]!));
    expect(worst).toBeLessThan(1e-5);
    expect(a).not.toEqual(initial);
    for (const m of [ours, theirs]) {
      m.optimizer.dispose();
      m.dispose();
    }
    tf.dispose([x, y]);
  });
});
