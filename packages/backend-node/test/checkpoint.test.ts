import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RobustFtError } from '@robust-ft/core';
import { expectNoTensorLeaks } from '@robust-ft/core/testing';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, describe, expect, it } from 'vitest';
import {
  checkpointModelUrl,
  deleteCheckpoint,
  fileSystemHandler,
  listCheckpoints,
  loadCheckpoint,
  loadOptimizerState,
  saveCheckpoint,
  saveOptimizerState,
} from '../src/index';
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

// saveCheckpoint/loadCheckpoint: the browser's API (same names, core's types) over a directory.

/** A custom loop: one variable, Adam, a quadratic loss. */
function loop(name: string) {
  const w = tf.variable(tf.tensor1d([1, -2, 3]), true, name);
  const target = tf.tensor1d([0.5, 0.5, 0.5]);
  const loss = () => tf.sum(tf.square(tf.sub(w, target))) as tf.Scalar;
  const opt = tf.train.adam(0.1);
  return { w, target, loss, opt };
}

const values = async (t: tf.Tensor) => Array.from(await t.data());

describe('saveCheckpoint / loadCheckpoint (Node)', () => {
  it('restores variables, the optimizer and metadata so the next step equals the uninterrupted one', async () => {
    const dir = tempDir();
    const a = loop('ckpt-api-w');
    for (let i = 0; i < 3; i++) a.opt.minimize(a.loss);
    await saveCheckpoint(dir, { variables: [a.w], optimizer: a.opt, metadata: { epoch: 3 } });
    a.opt.minimize(a.loss);
    const expected = await values(a.w);

    const b = loop('ckpt-api-w2');
    const loaded = await loadCheckpoint(dir, { variables: { 'ckpt-api-w': b.w }, optimizer: b.opt });
    expect(loaded.metadata).toEqual({ epoch: 3 });
    expect(loaded.variables).toEqual(['ckpt-api-w']);
    expect(loaded.savedAt).toBeInstanceOf(Date);
    expect(loaded.model).toBeUndefined();
    b.opt.minimize(b.loss);
    const got = await values(b.w);
    for (const [i, v] of got.entries()) expect(v).toBeCloseTo(expected[i]!, 6);
    // Negative control: without the restored moments the step lands elsewhere.
    const c = loop('ckpt-api-w3');
    await loadCheckpoint(dir, { variables: { 'ckpt-api-w': c.w } });
    c.opt.minimize(c.loss);
    const gap = Math.max(...(await values(c.w)).map((v, i) => Math.abs(v - expected[i]!)));
    expect(gap).toBeGreaterThan(1e-3);
    await expectNoTensorLeaks(() => loadCheckpoint(dir, { variables: { 'ckpt-api-w': b.w } }), {
      repeats: 3,
    });
    for (const x of [a, b, c]) {
      x.opt.dispose();
      tf.dispose([x.w, x.target]);
    }
  });

  it('round-trips a layers model through loadModel and checkpointModelUrl', async () => {
    const dir = tempDir();
    const m = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [3], units: 2 })] });
    m.compile({ optimizer: tf.train.adam(0.05), loss: 'meanSquaredError' });
    await saveCheckpoint(dir, { model: m, optimizer: m.optimizer, metadata: { step: 7 } });
    // The model's own optimizer travels with the model, not as a separate optimizer file.
    expect(existsSync(join(dir, 'optimizer.json'))).toBe(false);
    const loaded = await loadCheckpoint(dir, { loadModel: (url) => tfl.loadLayersModel(url) });
    expect(loaded.metadata).toEqual({ step: 7 });
    const x = tf.ones([2, 3]);
    const [p, q] = [m.predict(x) as tf.Tensor, loaded.model!.predict(x) as tf.Tensor];
    expect(await values(q)).toEqual(await values(p));
    const direct = await tfl.loadLayersModel(checkpointModelUrl(dir));
    expect(direct.layers).toHaveLength(1);
    tf.dispose([x, p, q]);
    for (const model of [m, loaded.model!, direct]) model.dispose();
  });

  it('a save replaces the previous checkpoint, and asking for a part it lacks is a STATE_MISMATCH', async () => {
    const dir = tempDir();
    const m = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [2], units: 1 })] });
    const a = loop('ckpt-api-r');
    await saveCheckpoint(dir, { model: m, optimizer: a.opt });
    await saveCheckpoint(dir, { variables: { r: a.w } });
    expect(readdirSync(dir).sort()).toEqual([
      'checkpoint.json',
      expect.stringMatching(/^state-[0-9a-f]{16}\.bin$/),
    ]);
    await expect(loadCheckpoint(dir, { loadModel: tfl.loadLayersModel })).rejects.toMatchObject({
      code: 'STATE_MISMATCH',
      argument: 'options.loadModel',
    });
    await expect(loadCheckpoint(dir, { optimizer: a.opt })).rejects.toMatchObject({
      code: 'STATE_MISMATCH',
      argument: 'options.optimizer',
    });
    m.dispose();
    a.opt.dispose();
    tf.dispose([a.w, a.target]);
  });

  it('a failed load changes neither the variables nor the optimizer', async () => {
    const dir = tempDir();
    const a = loop('ckpt-api-f');
    a.opt.minimize(a.loss);
    await saveCheckpoint(dir, { variables: { f: a.w }, optimizer: a.opt });
    const b = loop('ckpt-api-f2');
    b.opt.minimize(b.loss);
    const before = await Promise.all((await b.opt.getWeights()).map((x) => values(x.tensor)));
    const wrongShape = tf.variable(tf.zeros([4]), true, 'ckpt-api-f-wrong');
    const error = await loadCheckpoint(dir, { variables: { f: wrongShape }, optimizer: b.opt }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'STATE_MISMATCH', argument: 'options.variables' });
    expect(await values(wrongShape)).toEqual([0, 0, 0, 0]);
    const after = await Promise.all((await b.opt.getWeights()).map((x) => values(x.tensor)));
    expect(after).toEqual(before);
    // Damaged state bytes are caught before decoding.
    const state = readdirSync(dir).find((f) => f.startsWith('state-'))!;
    const bytes = readFileSync(join(dir, state));
    bytes[0] = bytes[0]! ^ 0xff;
    writeFileSync(join(dir, state), bytes);
    await expect(loadCheckpoint(dir, { variables: { f: b.w } })).rejects.toMatchObject({
      code: 'CHECKPOINT_CORRUPT',
    });
    for (const x of [a, b]) {
      x.opt.dispose();
      tf.dispose([x.w, x.target]);
    }
    wrongShape.dispose();
  });

  it('reads a directory written by the deprecated saveOptimizerState', async () => {
    const dir = tempDir();
    const a = loop('ckpt-api-l');
    a.opt.minimize(a.loss);
    await saveOptimizerState(a.opt, dir);
    const b = loop('ckpt-api-l2');
    const loaded = await loadCheckpoint(dir, { optimizer: b.opt });
    expect(loaded.metadata).toEqual({});
    expect(loaded.variables).toEqual([]);
    const [wa, wb] = [await a.opt.getWeights(), await b.opt.getWeights()];
    expect(await Promise.all(wb.map((x) => values(x.tensor)))).toEqual(
      await Promise.all(wa.map((x) => values(x.tensor))),
    );
    for (const x of [a, b]) {
      x.opt.dispose();
      tf.dispose([x.w, x.target]);
    }
  });

  it('lists and deletes checkpoints; bad arguments are typed errors naming the argument', async () => {
    const root = tempDir();
    const v = tf.variable(tf.ones([2]), true, 'ckpt-api-d');
    await saveCheckpoint(join(root, 'b'), { variables: [v] });
    await saveCheckpoint(join(root, 'a'), { variables: [v] });
    writeFileSync(join(root, 'not-a-checkpoint.txt'), 'x');
    expect(await listCheckpoints(root)).toEqual(['a', 'b']);
    await deleteCheckpoint(join(root, 'a'));
    expect(existsSync(join(root, 'a'))).toBe(false);
    expect(await listCheckpoints(root)).toEqual(['b']);
    await expect(deleteCheckpoint(join(root, 'a'))).rejects.toMatchObject({ code: 'IO' });
    await expect(loadCheckpoint(join(root, 'a'))).rejects.toMatchObject({ code: 'IO' });
    await expect(saveCheckpoint('', { variables: [v] })).rejects.toMatchObject({ argument: 'dir' });
    await expect(saveCheckpoint(join(root, 'c'), {})).rejects.toMatchObject({ argument: 'parts' });
    await expect(
      saveCheckpoint(join(root, 'c'), { varaibles: [v] } as unknown as { variables: tf.Variable[] }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/variables/) });
    await expect(
      loadCheckpoint(join(root, 'b'), { optimzer: {} } as unknown as Record<string, never>),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    v.dispose();
  });
});
