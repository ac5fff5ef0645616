import type { RobustOptimizer } from '@robust-ft/core';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { ftp, ftpState, tpgm, tpgmState } from '../src/index';
import './setup-backend';

/*
 * Model-level check of the layout rule on real tfjs weights: a small Conv2D + Dense model fine-tuned by
 * model.fit. FTP and TPGM's "mars" norm constrain one L1 ball per OUTPUT unit, so after every step, for
 * each projected kernel, the deviation from the pre-trained weights summed per output channel (the last
 * axis of a tfjs Conv2D [kh,kw,cin,cout] or Dense [in,out] kernel, computed here directly, not through
 * layout.ts) must be ≤ the radius γ, and the radius must bind: γ is clipped to the largest channel norm
 * before the projection, so the largest output channel sits exactly on γ. Reading rows along axis 0
 * (kernel height, input units) breaks both.
 */

function buildModel(optimizer: tf.Optimizer, seed: number): tfl.LayersModel {
  const m = tfl.sequential();
  m.add(
    tfl.layers.conv2d({
      name: 'conv',
      filters: 6,
      kernelSize: 3,
      inputShape: [6, 6, 2],
      activation: 'relu',
      kernelInitializer: tfl.initializers.glorotUniform({ seed }),
    }),
  );
  m.add(tfl.layers.flatten());
  m.add(
    tfl.layers.dense({
      name: 'fc',
      units: 5,
      activation: 'relu',
      kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }),
    }),
  );
  m.add(
    tfl.layers.dense({
      name: 'head',
      units: 3,
      activation: 'softmax',
      kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 2 }),
    }),
  );
  m.compile({ optimizer, loss: 'categoricalCrossentropy' });
  return m;
}

function data(seed: number) {
  const x = tf.randomNormal([24, 6, 6, 2], 0, 1, 'float32', seed);
  const y = tf.oneHot(
    tf.tensor1d(
      [...Array(24)].map((_, i) => (i * 7 + seed) % 3),
      'int32',
    ),
    3,
  );
  return { x, y };
}

/** Per-output-channel L1 norms of a tfjs kernel's deviation: reduce every axis but the last. */
async function outputChannelNorms(w: tf.Tensor, w0: tf.Tensor): Promise<number[]> {
  const axes = Array.from({ length: w.rank - 1 }, (_, i) => i);
  const n = tf.tidy(() => tf.sum(tf.abs(tf.sub(w, w0)), axes));
  const out = Array.from(await n.data());
  n.dispose();
  return out;
}

type Radii = (opt: RobustOptimizer) => Promise<Record<string, number>>;

const METHODS: Record<string, { make: () => RobustOptimizer; radii: Radii }> = {
  ftp: {
    make: () => ftp({ learningRate: 0.05, exclude: 'head/*' }),
    radii: async (opt) =>
      Object.fromEntries(Object.entries((await ftpState(opt)).tensors).map(([n, d]) => [n, d.gamma])),
  },
  'tpgm (mars)': {
    make: () =>
      tpgm({
        inner: 'adam',
        learningRate: 0.05,
        exclude: 'head/*',
        // Pulls every projected weight toward 0.2 (the radii grow on it); element-wise, so it is the
        // same objective in any layout.
        validationLoss: (p) =>
          tf.addN(
            Object.entries(p)
              .filter(([n]) => !n.startsWith('head'))
              .map(([, t]) => tf.sum(tf.square(tf.sub(t, 0.2)))),
          ) as tf.Scalar,
      }),
    radii: async (opt) =>
      Object.fromEntries(Object.entries(await tpgmState(opt)).map(([n, d]) => [n, d.constraint])),
  },
};

describe('fine-tuning a Conv2D + Dense tfjs model: one radius per output channel', () => {
  for (const [label, { make, radii }] of Object.entries(METHODS)) {
    it(label, async () => {
      const opt = make();
      const model = buildModel(opt, 3);
      const kernels = model.trainableWeights.filter(
        (w) => /kernel(_\d+)?$/.test(w.name) && !w.name.startsWith('head'),
      );
      expect(kernels.map((w) => w.shape.length).sort()).toEqual([2, 4]);
      const pretrained = kernels.map((w) => tf.clone(w.read()));
      const { x, y } = data(5);
      let checked = 0;
      for (let epoch = 0; epoch < 4; epoch++) {
        await model.fit(x, y, { batchSize: 8, epochs: 1, shuffle: false, verbose: 0 });
        const gammas = await radii(opt);
        for (const [j, w] of kernels.entries()) {
          const gamma = gammas[w.name]!;
          expect(gamma, w.name).toBeGreaterThan(1e-6);
          const shape = w.read().shape;
          const norms = await outputChannelNorms(w.read(), pretrained[j]!);
          expect(norms.length).toBe(shape[shape.length - 1]);
          // float32: θ = θ₀ + r·c is rounded at the ulp of |θ| per element (and θ − θ₀ again).
          const perChannel = shape.slice(0, -1).reduce((a, b) => a * b, 1);
          const maxAbs = Math.max(...(await w.read().data()).map(Math.abs));
          const slack = perChannel * 2 * maxAbs * 2 ** -23 + gamma * 1e-5;
          for (const n of norms) expect(n, `${w.name} channel norm ≤ γ`).toBeLessThanOrEqual(gamma + slack);
          expect(Math.max(...norms), `${w.name}: the radius binds`).toBeGreaterThanOrEqual(gamma - slack);
          checked++;
        }
      }
      expect(checked).toBe(8);
      opt.dispose();
      model.dispose();
      tf.dispose([...pretrained, x, y]);
    });
  }
});
