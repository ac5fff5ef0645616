import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  checkCheckpointParts,
  checkLoadCheckpointOptions,
  type RestoreSteps,
  restoreCheckpoint,
  type StatefulOptimizer,
} from '../src/checkpoint';
import './setup-backend';

// The store-independent half of saveCheckpoint/loadCheckpoint (argument checks and the restore order),
// with in-memory steps; backend-node (a directory) and backend-web (IndexedDB) test their stores.

const optimizer = (calls: string[] = [], fail?: string): StatefulOptimizer => ({
  getWeights: async () => [],
  setWeights: async () => {
    calls.push('setWeights');
    if (fail !== undefined) throw new Error(fail);
  },
});

describe('checkCheckpointParts', () => {
  it('returns the optimizer to save on its own: none when it is the model’s', () => {
    const opt = optimizer();
    const model = { save: async () => ({}) as tf.io.SaveResult, optimizer: opt };
    expect(checkCheckpointParts({ model })).toBeUndefined();
    expect(checkCheckpointParts({ model, optimizer: opt })).toBeUndefined();
    expect(checkCheckpointParts({ optimizer: opt })).toBe(opt);
    const other = optimizer();
    expect(checkCheckpointParts({ model, optimizer: other })).toBe(other);
    expect(checkCheckpointParts({ variables: {}, metadata: { epoch: 1 } })).toBeUndefined();
  });

  it('names the argument and the expected form of bad parts', () => {
    const bad: [unknown, string, string][] = [
      [null, 'parts', 'an object with model, optimizer, variables or metadata'],
      [3, 'parts', 'an object with model, optimizer, variables or metadata'],
      [{}, 'parts', 'at least one of model, optimizer or variables'],
      [{ metadata: {} }, 'parts', 'at least one of model, optimizer or variables'],
      [{ model: {} }, 'parts.model', 'a tfjs-layers model (with save())'],
      [{ optimizer: { setWeights: () => {} } }, 'parts.optimizer', 'a tf.Optimizer (with getWeights())'],
      [{ variables: {}, epoch: 3 }, 'parts.epoch', expect.any(String)],
      [{ variables: 'w' }, 'parts.variables', expect.any(String)],
    ];
    for (const [parts, argument, expected] of bad) {
      expect(() => checkCheckpointParts(parts), JSON.stringify(parts)).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT', argument, expected }),
      );
    }
    expect(() => checkCheckpointParts({ variables: {}, epoch: 3 })).toThrow(/^saveCheckpoint: /);
  });
});

describe('checkLoadCheckpointOptions', () => {
  it('accepts the four options and refuses unknown or mistyped ones by name', () => {
    expect(() =>
      checkLoadCheckpointOptions({
        optimizer: optimizer(),
        variables: {},
        loadModel: async () => undefined,
        allowUnverified: true,
      }),
    ).not.toThrow();
    expect(() => checkLoadCheckpointOptions(undefined)).not.toThrow();
    for (const [options, argument] of [
      [{ allowUnverified: 'yes' }, 'options.allowUnverified'],
      [{ loadModel: 'url' }, 'options.loadModel'],
      [{ optimizer: 1 }, 'options.optimizer'],
      [{ variables: 2 }, 'options.variables'],
      [{ allowUnverifed: true }, 'options.allowUnverifed'],
    ] as const) {
      expect(() => checkLoadCheckpointOptions(options), argument).toThrow(
        expect.objectContaining({
          code: 'INVALID_ARGUMENT',
          argument,
          message: expect.stringMatching(/^loadCheckpoint: /),
        }),
      );
    }
  });
});

/** In-memory restore steps over a record; `calls` logs what ran, in order. */
function steps(
  calls: string[],
  record: Partial<RestoreSteps<string>['record']> = {},
  saved: Record<string, tf.Tensor> = {},
): RestoreSteps<string> {
  return {
    label: 'checkpoint "c"',
    record: {
      hasModel: true,
      optimizerWeights: 2,
      metadata: { epoch: 4 },
      savedAt: '2026-01-02T03:04:05.000Z',
      variables: Object.keys(saved),
      ...record,
    },
    variables: saved,
    restoreOptimizer: async (o) => {
      calls.push('restoreOptimizer');
      await o.setWeights([]);
    },
    loadModel: async (load) => {
      calls.push('loadModel');
      return load('mem://c');
    },
  };
}

describe('restoreCheckpoint', () => {
  it('restores the optimizer, then assigns the variables, then builds the model; disposes what it decoded', async () => {
    const calls: string[] = [];
    const v = tf.variable(tf.zeros([2]), true, 'restore-v');
    const saved = { 'restore-v': tf.tensor1d([3, 4]) };
    const out = await restoreCheckpoint(steps(calls, {}, saved), {
      optimizer: optimizer(calls),
      variables: [v],
      loadModel: async (url) => {
        calls.push(`load ${url}`);
        return 'model';
      },
    });
    expect(out).toEqual({
      model: 'model',
      metadata: { epoch: 4 },
      savedAt: new Date('2026-01-02T03:04:05.000Z'),
      variables: ['restore-v'],
    });
    expect(calls).toEqual(['restoreOptimizer', 'setWeights', 'loadModel', 'load mem://c']);
    expect(Array.from(await v.data())).toEqual([3, 4]);
    expect(saved['restore-v'].isDisposed).toBe(true);
    v.dispose();
  });

  it('with no options restores nothing and builds no model', async () => {
    const calls: string[] = [];
    const saved = { a: tf.tensor1d([1]) };
    const out = await restoreCheckpoint(steps(calls, {}, saved), {});
    expect(out.model).toBeUndefined();
    expect(out.variables).toEqual(['a']);
    expect(calls).toEqual([]);
    expect(saved.a.isDisposed).toBe(true);
  });

  it('a checkpoint without optimizer state or model still restores its variables when those are not asked for', async () => {
    const calls: string[] = [];
    const v = tf.variable(tf.zeros([1]), true, 'partial-v');
    const out = await restoreCheckpoint(
      steps(calls, { optimizerWeights: null, hasModel: false }, { 'partial-v': tf.tensor1d([5]) }),
      { variables: [v] },
    );
    expect(out.model).toBeUndefined();
    expect(Array.from(await v.data())).toEqual([5]);
    expect(calls).toEqual([]);
    v.dispose();
  });

  it('asking for a part the checkpoint lacks is a STATE_MISMATCH before anything changes', async () => {
    const calls: string[] = [];
    const v = tf.variable(tf.zeros([1]), true, 'lacks-v');
    const saved = { 'lacks-v': tf.tensor1d([9]) };
    await expect(
      restoreCheckpoint(steps(calls, { optimizerWeights: null }, saved), {
        optimizer: optimizer(calls),
        variables: [v],
      }),
    ).rejects.toMatchObject({
      code: 'STATE_MISMATCH',
      argument: 'options.optimizer',
      message: 'checkpoint "c" holds no separate optimizer state',
      expected: expect.stringContaining('parts.optimizer'),
    });
    await expect(
      restoreCheckpoint(steps(calls, { hasModel: false }), { loadModel: async () => 'm' }),
    ).rejects.toMatchObject({
      code: 'STATE_MISMATCH',
      argument: 'options.loadModel',
      message: 'checkpoint "c" holds no model',
    });
    expect(calls).toEqual([]);
    expect(Array.from(await v.data())).toEqual([0]);
    expect(saved['lacks-v'].isDisposed).toBe(true);
    v.dispose();
  });

  it('a failed optimizer restore assigns no variable and builds no model', async () => {
    const calls: string[] = [];
    const v = tf.variable(tf.zeros([1]), true, 'failed-v');
    const saved = { 'failed-v': tf.tensor1d([9]) };
    await expect(
      restoreCheckpoint(steps(calls, {}, saved), {
        optimizer: optimizer(calls, 'wrong state'),
        variables: [v],
        loadModel: async () => 'm',
      }),
    ).rejects.toThrow('wrong state');
    expect(calls).toEqual(['restoreOptimizer', 'setWeights']);
    expect(Array.from(await v.data())).toEqual([0]);
    expect(saved['failed-v'].isDisposed).toBe(true);
    v.dispose();
  });

  it('a variable mismatch fails before the optimizer is touched', async () => {
    const calls: string[] = [];
    const v = tf.variable(tf.zeros([3]), true, 'shape-v');
    await expect(
      restoreCheckpoint(steps(calls, {}, { 'shape-v': tf.tensor1d([1, 2]) }), {
        optimizer: optimizer(calls),
        variables: [v],
      }),
    ).rejects.toMatchObject({ code: 'STATE_MISMATCH', argument: 'options.variables' });
    expect(calls).toEqual([]);
    v.dispose();
  });
});
