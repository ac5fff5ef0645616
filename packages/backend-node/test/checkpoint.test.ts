import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RobustFtError } from '@robust-ft/core';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, describe, expect, it } from 'vitest';
import { fileSystemHandler, loadOptimizerState, saveOptimizerState } from '../src/index';
import './setup-backends';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'robust-ft-ckpt-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function model(): tfl.LayersModel {
  const m = tfl.sequential({
    layers: [
      tfl.layers.dense({ inputShape: [3], units: 4, activation: 'relu' }),
      tfl.layers.dense({ units: 2 }),
    ],
  });
  m.compile({ optimizer: tf.train.adam(0.05), loss: 'meanSquaredError' });
  return m;
}

describe('fileSystemHandler', () => {
  it('round-trips a layers model with its optimizer state through model.json + its weights file', async () => {
    const dir = tempDir();
    const m = model();
    const x = tf.randomNormal([8, 3], 0, 1, 'float32', 1);
    const y = tf.randomNormal([8, 2], 0, 1, 'float32', 2);
    await m.fit(x, y, { epochs: 2, batchSize: 4, verbose: 0, shuffle: false });
    await m.save(fileSystemHandler(dir), { includeOptimizer: true });
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    // The weights file is named by its content, so a new save never overwrites the one model.json names.
    expect(json.weightsManifest[0].paths).toEqual([expect.stringMatching(/^weights-[0-9a-f]{16}\.bin$/)]);
    expect(json.weightsManifest[0].weights.some((w: { group?: string }) => w.group === 'optimizer')).toBe(
      true,
    );

    const loaded = await tfl.loadLayersModel(fileSystemHandler(dir));
    const a = m.predict(x) as tf.Tensor;
    const b = loaded.predict(x) as tf.Tensor;
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    // The restored optimizer continues exactly where the original one stopped.
    const fresh = await tfl.loadLayersModel(fileSystemHandler(dir));
    expect(fresh.optimizer).toBeDefined();
    await m.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0, shuffle: false });
    await fresh.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0, shuffle: false });
    const c = m.predict(x) as tf.Tensor;
    const d = fresh.predict(x) as tf.Tensor;
    const diff = tf.max(tf.abs(tf.sub(c, d))).dataSync()[0]!;
    expect(diff).toBeLessThan(1e-5);
    tf.dispose([x, y, a, b, c, d]);
  });

  it('a save interrupted before its commit leaves the previous checkpoint loadable; a full save cleans up', async () => {
    const dir = tempDir();
    const a = model();
    await a.save(fileSystemHandler(dir));
    const first = readdirSync(dir);
    // Interrupted save: the new weights file and a half-written model.json.tmp exist, the rename did not happen.
    const other = tempDir();
    const b = model();
    await b.save(fileSystemHandler(other));
    const newWeights = readdirSync(other).find((f) => f.startsWith('weights-'))!;
    copyFileSync(join(other, newWeights), join(dir, newWeights));
    writeFileSync(join(dir, `model.json.${process.pid}.tmp`), '{"modelTopo');
    const loaded = await tfl.loadLayersModel(fileSystemHandler(dir));
    const x = tf.ones([1, 3]);
    const [pa, pl] = [a.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor];
    expect(Array.from(await pl.data())).toEqual(Array.from(await pa.data()));
    // A completed save commits b and removes the weights file no document names any more.
    await b.save(fileSystemHandler(dir));
    const weights = readdirSync(dir).filter((f) => f.startsWith('weights-'));
    expect(weights).toEqual([newWeights]);
    expect(first.filter((f) => f.startsWith('weights-'))).not.toEqual(weights);
    tf.dispose([x, pa, pl]);
    loaded.dispose();
  });

  it('fails with an IO error naming the path when nothing is there', async () => {
    const dir = join(tempDir(), 'absent');
    const error = await fileSystemHandler(dir).load!().catch((e: unknown) => e);
    expect(RobustFtError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: 'IO' });
    expect((error as Error).message).toContain(join(dir, 'model.json'));
    expect(() => fileSystemHandler('')).toThrow(/dir must be a non-empty directory path/);
  });
});

describe('saveOptimizerState / loadOptimizerState', () => {
  it('restores Adam moments so the next step equals the uninterrupted one', async () => {
    const dir = tempDir();
    const w = tf.variable(tf.tensor1d([1, -2, 3]), true, 'w');
    const target = tf.tensor1d([0.5, 0.5, 0.5]);
    const loss = () => tf.sum(tf.square(tf.sub(w, target))) as tf.Scalar;
    const opt = tf.train.adam(0.1);
    for (let i = 0; i < 3; i++) opt.minimize(loss);
    await saveOptimizerState(opt, dir);
    const saved = w.dataSync().slice();

    opt.minimize(loss);
    const expected = Array.from(w.dataSync());

    w.assign(tf.tensor1d(Array.from(saved)));
    const restored = tf.train.adam(0.1);
    await loadOptimizerState(restored, dir);
    restored.minimize(loss);
    const got = Array.from(w.dataSync());
    for (const [i, v] of got.entries()) expect(v).toBeCloseTo(expected[i]!, 6);
    // Negative control: a fresh Adam (no restored moments) lands somewhere measurably different.
    w.assign(tf.tensor1d(Array.from(saved)));
    const fresh = tf.train.adam(0.1);
    fresh.minimize(loss);
    const gap = Math.max(...Array.from(w.dataSync()).map((v, i) => Math.abs(v - expected[i]!)));
    expect(gap).toBeGreaterThan(1e-3);
    fresh.dispose();
    await expect(loadOptimizerState(tf.train.sgd(0.1), dir)).rejects.toMatchObject({
      code: 'STATE_MISMATCH',
    });
    writeFileSync(join(dir, 'optimizer.json'), '{"format":"other"}');
    await expect(loadOptimizerState(restored, dir)).rejects.toMatchObject({ code: 'STATE_MISMATCH' });
    opt.dispose();
    restored.dispose();
    tf.dispose([w, target]);
  });
});
