import {
  addDecayedWeights,
  chain,
  RobustFtError,
  RobustOptimizer,
  registerOptimizerFactory,
  scaleByAdam,
  scaleByLearningRate,
} from '@robust-ft/core';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  checkpointModelUrl,
  deleteCheckpoint,
  listCheckpoints,
  loadCheckpoint,
  saveCheckpoint,
} from '../src/index';
import './browser-setup';
import { activate, values } from './browser-harness';

const adamw = (lr: number) =>
  new RobustOptimizer({
    transformation: chain(scaleByAdam(), addDecayedWeights(0.01), scaleByLearningRate()),
    learningRate: lr,
    factory: { name: 'web-ckpt-adamw', options: { lr } },
  });
registerOptimizerFactory('web-ckpt-adamw', (o) => adamw(Number(o.lr)));

function buildModel(): tfl.LayersModel {
  const m = tfl.sequential();
  m.add(
    tfl.layers.dense({
      units: 6,
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
  m.compile({ optimizer: adamw(0.02), loss: 'categoricalCrossentropy' });
  return m;
}

async function weightsOf(m: tfl.LayersModel): Promise<number[][]> {
  return Promise.all(m.getWeights().map(async (w) => Array.from(await w.data())));
}

describe('IndexedDB checkpoints in Chromium (wasm backend)', () => {
  beforeAll(() => activate('wasm'));

  it('a layers model with its robust-ft optimizer resumes bit-identically from IndexedDB', async () => {
    const x = tf.tensor2d(values(16 * 4, 3), [16, 4]);
    const y = tf.oneHot(
      tf.tensor1d(
        [...Array(16)].map((_, i) => i % 3),
        'int32',
      ),
      3,
    );
    const fit = (m: tfl.LayersModel, epochs: number) =>
      m.fit(x, y, { epochs, batchSize: 4, shuffle: false, verbose: 0 });

    const reference = buildModel();
    await fit(reference, 4);

    const first = buildModel();
    await fit(first, 2);
    await saveCheckpoint('layers-run', { model: first, metadata: { epoch: 2 } });
    const loaded = await loadCheckpoint('layers-run', { loadModel: (url) => tfl.loadLayersModel(url) });
    const restored = loaded.model!;
    expect(loaded.metadata).toEqual({ epoch: 2 });
    expect(restored.optimizer).toBeInstanceOf(RobustOptimizer);
    expect((restored.optimizer as RobustOptimizer).step).toBe(8);
    await fit(restored, 2);

    // Same data, same order, same optimizer state: the resumed run must equal the uninterrupted one.
    expect(await weightsOf(restored)).toEqual(await weightsOf(reference));
    // tf.loadLayersModel resolves checkpointModelUrl through the load router robust-ft registers.
    expect((await tfl.loadLayersModel(checkpointModelUrl('layers-run'))).layers).toHaveLength(2);
    tf.dispose([x, y]);
  });

  it('a custom loop: variables and a separate optimizer round-trip and continue identically', async () => {
    const target = tf.tensor1d([1, -2, 3]);
    const step = (v: tf.Variable, opt: RobustOptimizer) =>
      opt.minimize(() => tf.sum(tf.square(tf.sub(v, target))) as tf.Scalar, false, [v]);
    const make = (tag: string) => tf.variable(tf.zeros([3]), true, `loop-${tag}`);

    const refVar = make('ref');
    const refOpt = adamw(0.1);
    for (let i = 0; i < 4; i++) step(refVar, refOpt);

    const v = make('a');
    const opt = adamw(0.1);
    for (let i = 0; i < 2; i++) step(v, opt);
    await saveCheckpoint('loop-run', { variables: { w: v }, optimizer: opt });
    const saved = Array.from(await v.data());
    // A fresh page would rebuild the variable under the same name: free the name, then do so.
    v.dispose();
    opt.dispose();

    const v2 = make('a');
    const opt2 = adamw(0.1);
    const loaded = await loadCheckpoint('loop-run', { variables: { w: v2 }, optimizer: opt2 });
    expect(loaded.variables).toEqual(['w']);
    expect(loaded.model).toBeUndefined();
    expect(Array.from(await v2.data())).toEqual(saved);
    expect(opt2.step).toBe(2);
    // Only the restored Adam moments make two more steps land exactly on the uninterrupted run.
    for (let i = 0; i < 2; i++) step(v2, opt2);
    expect(Array.from(await v2.data())).toEqual(Array.from(await refVar.data()));
    tf.dispose([target, refVar, v2]);
    refOpt.dispose();
    opt2.dispose();
  });

  it('lists and deletes checkpoints; missing ones and wrong requests are typed errors', async () => {
    expect(await listCheckpoints()).toEqual(expect.arrayContaining(['layers-run', 'loop-run']));
    await deleteCheckpoint('layers-run');
    expect(await listCheckpoints()).not.toContain('layers-run');
    await expect(tfl.loadLayersModel(checkpointModelUrl('layers-run'))).rejects.toThrow();

    const missing = await loadCheckpoint('layers-run').catch((e: unknown) => e);
    expect(RobustFtError.isInstance(missing) && missing.code).toBe('IO');

    const noModel = await loadCheckpoint('loop-run', { loadModel: tfl.loadLayersModel }).catch(
      (e: unknown) => e,
    );
    expect(RobustFtError.isInstance(noModel) && noModel.code).toBe('STATE_MISMATCH');

    const v = tf.variable(tf.zeros([4]), true, 'wrong-shape');
    const wrong = await loadCheckpoint('loop-run', { variables: { w: v } }).catch((e: unknown) => e);
    expect(RobustFtError.isInstance(wrong) && wrong.code).toBe('STATE_MISMATCH');
    expect((wrong as Error).message).toContain('float32[4]');
    v.dispose();
    await deleteCheckpoint('loop-run');
    await expect(deleteCheckpoint('loop-run')).rejects.toMatchObject({ code: 'IO' });
  });

  it('loading leaks no tensors', async () => {
    const v = tf.variable(tf.ones([2, 2]), true, 'leak-src');
    await saveCheckpoint('leak-run', { variables: [v] });
    const into = tf.variable(tf.zeros([2, 2]), true, 'leak-dst');
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await loadCheckpoint('leak-run', { variables: { 'leak-src': into } });
    expect(tf.memory().numTensors).toBe(before);
    await deleteCheckpoint('leak-run');
    tf.dispose([v, into]);
  });
});
