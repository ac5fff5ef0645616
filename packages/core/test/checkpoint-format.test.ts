import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  packCheckpoint,
  prepareAssignVariables,
  unpackCheckpoint,
  variableEntries,
} from '../src/checkpoint-format';
import { RobustFtError } from '../src/errors';
import { expectNoTensorLeaks } from '../src/testing';
import './setup-backend';

describe('checkpoint format (pure part, cpu backend)', () => {
  it('round-trips variables, optimizer weights in order, and metadata', async () => {
    const a = tf.variable(tf.tensor2d([1, 2, 3, 4], [2, 2]), true, 'ckpt-a');
    const b = tf.variable(tf.tensor1d([5, 6, 7], 'int32'), true, 'ckpt-b');
    const opt = [
      { name: 'z-first', tensor: tf.tensor1d([0.5]) },
      { name: 'a-second', tensor: tf.tensor2d([[1, -1]]) },
    ];
    const artifacts = await packCheckpoint({
      variables: [a, b],
      optimizerWeights: opt,
      hasModel: false,
      metadata: { epoch: 3, note: 'x' },
      now: new Date('2026-01-02T03:04:05.000Z'),
    });
    const { record, variables, optimizerWeights } = unpackCheckpoint(artifacts, 'n');
    expect(record).toMatchObject({
      hasModel: false,
      variables: ['ckpt-a', 'ckpt-b'],
      optimizerWeights: 2,
      metadata: { epoch: 3, note: 'x' },
      savedAt: '2026-01-02T03:04:05.000Z',
    });
    expect(Object.keys(variables)).toEqual(['ckpt-a', 'ckpt-b']);
    expect(variables['ckpt-a']!.arraySync()).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(variables['ckpt-b']!.dtype).toBe('int32');
    expect(variables['ckpt-b']!.arraySync()).toEqual([5, 6, 7]);
    expect(optimizerWeights.map((w) => w.name)).toEqual(['z-first', 'a-second']);
    expect(optimizerWeights[1]!.tensor.arraySync()).toEqual([[1, -1]]);
    for (const t of [...Object.values(variables), ...optimizerWeights.map((w) => w.tensor)]) t.dispose();
    for (const t of [a, b, ...opt.map((w) => w.tensor)]) t.dispose();
  });

  it('keeps a variable named like an optimizer weight apart from it', async () => {
    const v = tf.tensor1d([1]);
    const w = tf.tensor1d([2]);
    const art = await packCheckpoint({
      variables: { m: v },
      optimizerWeights: [{ name: 'm', tensor: w }],
      hasModel: true,
    });
    const out = unpackCheckpoint(art, 'n');
    expect(out.variables.m!.arraySync()).toEqual([1]);
    expect(out.optimizerWeights[0]!.tensor.arraySync()).toEqual([2]);
    expect(out.record.optimizerWeights).toBe(1);
    tf.dispose([v, w, out.variables.m!, out.optimizerWeights[0]!.tensor]);
  });

  it('records "no optimizer" as null, distinct from an optimizer with zero weights', async () => {
    const none = unpackCheckpoint(await packCheckpoint({ hasModel: true }), 'n');
    const empty = unpackCheckpoint(await packCheckpoint({ hasModel: true, optimizerWeights: [] }), 'n');
    expect(none.record.optimizerWeights).toBeNull();
    expect(empty.record.optimizerWeights).toBe(0);
  });

  it('rejects artifacts not written by robust-ft', () => {
    expect(() => unpackCheckpoint({ modelTopology: { class_name: 'Sequential' } }, 'other')).toThrow(
      /not written by robust-ft/,
    );
  });

  it('prepareAssignVariables checks every target before assigning any', () => {
    const x = tf.variable(tf.zeros([2]), true, 'assign-x');
    const y = tf.variable(tf.zeros([3]), true, 'assign-y');
    const saved = { 'assign-x': tf.tensor1d([1, 2]), 'assign-y': tf.tensor1d([1, 2]) };
    let error: unknown;
    try {
      prepareAssignVariables([x, y], saved, 'c')();
    } catch (e) {
      error = e;
    }
    expect(RobustFtError.isInstance(error) && error.code).toBe('STATE_MISMATCH');
    expect((error as Error).message).toContain('assign-y');
    expect(x.arraySync()).toEqual([0, 0]); // untouched: y failed validation first
    expect(() => prepareAssignVariables({ missing: x }, saved, 'c')()).toThrow(/holds no variable "missing"/);
    prepareAssignVariables({ 'assign-x': x }, saved, 'c')();
    expect(x.arraySync()).toEqual([1, 2]);
    tf.dispose([x, y, ...Object.values(saved)]);
  });

  it('pack and unpack leak no tensors', async () => {
    const v = tf.variable(tf.ones([4, 4]), true, 'leak-v');
    await expectNoTensorLeaks(
      async () => {
        const out = unpackCheckpoint(await packCheckpoint({ variables: [v], hasModel: false }), 'n');
        tf.dispose(Object.values(out.variables));
      },
      { repeats: 3 },
    );
    v.dispose();
  });

  it('stamps the format, version, save time and an empty metadata object by default', async () => {
    const before = Date.now();
    const art = await packCheckpoint({ hasModel: false });
    expect(art.format).toBe('robust-ft-checkpoint');
    expect(art.generatedBy).toBe('robust-ft');
    expect(art.weightSpecs).toEqual([]);
    const record = art.modelTopology as Record<string, unknown>;
    expect(record).toMatchObject({ format: 'robust-ft-checkpoint', version: 1, variables: [], metadata: {} });
    const savedAt = Date.parse(record.savedAt as string);
    expect(savedAt).toBeGreaterThanOrEqual(before - 1);
    expect(savedAt).toBeLessThanOrEqual(Date.now() + 1);
  });

  it('rejects a record of another format or version, even inside robust-ft artifacts', async () => {
    const good = await packCheckpoint({ hasModel: false });
    const record = good.modelTopology as Record<string, unknown>;
    const bad: [string, tf.io.ModelArtifacts][] = [
      ['artifacts format', { ...good, format: 'layers-model' }],
      ['record format', { ...good, modelTopology: { ...record, format: 'other' } }],
      ['version', { ...good, modelTopology: { ...record, version: 2 } }],
      ['no record', { ...good, modelTopology: undefined }],
    ];
    for (const [what, art] of bad) {
      expect(() => unpackCheckpoint(art, 'ck'), what).toThrow(
        expect.objectContaining({
          code: 'STATE_MISMATCH',
          argument: 'name',
          message: 'checkpoint "ck" was not written by robust-ft (v1)',
        }),
      );
    }
  });

  it('decodes artifacts without weights to nothing, and drops (disposing) entries of neither kind', async () => {
    const good = await packCheckpoint({ hasModel: false });
    const { weightSpecs: _s, weightData: _d, ...bare } = good;
    const empty = unpackCheckpoint(bare, 'n');
    expect(empty.variables).toEqual({});
    expect(empty.optimizerWeights).toEqual([]);
    // A manifest whose bytes are missing decodes to nothing rather than failing half-way.
    const ones = tf.ones([2]);
    const { weightData: _d2, ...specsOnly } = await packCheckpoint({
      variables: { a: ones },
      hasModel: false,
    });
    ones.dispose();
    const noData = unpackCheckpoint(specsOnly, 'n');
    expect(Object.keys(noData.variables)).toEqual([]);
    expect(noData.optimizerWeights).toEqual([]);
    const v = tf.tensor1d([1, 2]);
    const stray = tf.tensor1d([3]);
    const { data, specs } = await tf.io.encodeWeights([
      { name: 'v:kept', tensor: v },
      { name: 'x:stray', tensor: stray },
    ]);
    const before = tf.memory().numTensors;
    const out = unpackCheckpoint({ ...good, weightSpecs: specs, weightData: data }, 'n');
    expect(Object.keys(out.variables)).toEqual(['kept']);
    expect(tf.memory().numTensors).toBe(before + 1);
    tf.dispose([v, stray, out.variables.kept!]);
  });

  it('variableEntries names the argument and entry of a wrong source', () => {
    const t = tf.tensor1d([1]);
    const v = tf.variable(tf.tensor1d([1]), true, 'entries-v');
    expect(variableEntries([v], 'arg')).toEqual([['entries-v', v]]);
    expect(variableEntries({ a: t }, 'arg')).toEqual([['a', t]]);
    const map = 'a map of name → tensor or an array of tf.Variable';
    const bad: [unknown, string, string][] = [
      [[v, t], 'arg[1]', 'a tf.Variable'],
      [{ a: t, b: 3 }, 'arg["b"]', 'a tf.Tensor'],
      [null, 'arg', map],
      ['w', 'arg', map],
    ];
    for (const [source, argument, expected] of bad) {
      expect(() => variableEntries(source as never, 'arg')).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT', argument, expected }),
      );
    }
    tf.dispose([t, v]);
  });

  it('packCheckpoint names parts.variables when a variable list holds something else', async () => {
    const t = tf.tensor1d([1]);
    await expect(packCheckpoint({ variables: [t] as never, hasModel: false })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      argument: 'parts.variables[0]',
    });
    t.dispose();
  });

  it('prepareAssignVariables refuses a target that is not a variable, and a dtype change, by name', () => {
    const saved = { a: tf.tensor1d([1, 2]) };
    const t = tf.zeros([2]);
    expect(() => prepareAssignVariables({ a: t }, saved, 'c')).toThrow(
      expect.objectContaining({
        code: 'INVALID_ARGUMENT',
        argument: 'options.variables["a"]',
        expected: 'a tf.Variable to restore into',
      }),
    );
    const b = tf.variable(tf.zeros([2]), true, 'assign-b');
    expect(() => prepareAssignVariables({ b }, saved, 'checkpoint "c"')).toThrow(
      expect.objectContaining({
        code: 'STATE_MISMATCH',
        argument: 'options.variables',
        message: 'checkpoint "c" holds no variable "b"',
      }),
    );
    expect(() => prepareAssignVariables([t] as never, saved, 'c')).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', argument: 'options.variables[0]' }),
    );
    const ints = tf.variable(tf.zeros([2], 'int32'), true, 'a');
    expect(() => prepareAssignVariables([ints], saved, 'checkpoint "c"')).toThrow(
      expect.objectContaining({
        code: 'STATE_MISMATCH',
        argument: 'options.variables',
        message: 'variable "a" is int32[2] but checkpoint "c" holds float32[2]',
      }),
    );
    tf.dispose([t, ints, b, saved.a]);
  });
});
