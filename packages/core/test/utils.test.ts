import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  cosineDecaySchedule,
  createRng,
  linearSchedule,
  masked,
  matchesName,
  multiTransform,
  RobustFtError,
  scale,
  scheduleFromSpec,
  setToZero,
  warmupCosineSchedule,
} from '../src/index';
import {
  addMany,
  decodeNumber,
  encodeNumber,
  flattenState,
  mergeState,
  unflattenState,
} from '../src/internal';
import './setup-backend';

describe('selectors', () => {
  it('match globs, regexes, predicates and lists', () => {
    expect(matchesName('dense_1/*', 'dense_1/kernel')).toBe(true);
    expect(matchesName('dense_1/*', 'dense_1/sub/kernel')).toBe(false);
    expect(matchesName('**/bias', 'a/b/bias')).toBe(true);
    expect(matchesName(/head/, 'model/head/kernel')).toBe(true);
    expect(matchesName([(n: string) => n.endsWith('x'), 'y'], 'y')).toBe(true);
    expect(matchesName('a.b', 'axb')).toBe(false);
  });
});

describe('schedules', () => {
  it('cosine, warmup-cosine and linear hit their end points and round-trip through specs', () => {
    const c = cosineDecaySchedule(1, 10, 0.1);
    expect(c(0)).toBeCloseTo(1);
    expect(c(10)).toBeCloseTo(0.1);
    expect(c(5)).toBeCloseTo(0.55);
    const w = warmupCosineSchedule({ peak: 1, warmupSteps: 4, decaySteps: 14 });
    expect(w(0)).toBe(0);
    expect(w(2)).toBeCloseTo(0.5);
    expect(w(4)).toBeCloseTo(1);
    expect(w(14)).toBeCloseTo(0);
    const l = linearSchedule(1, 0, 4);
    expect(l(2)).toBeCloseTo(0.5);
    expect(scheduleFromSpec(w.spec)(7)).toBe(w(7));
    expect(() => cosineDecaySchedule(1, 0)).toThrow(RobustFtError);
  });
});

describe('rng', () => {
  it('is deterministic per seed, forks independently, and samples sane distributions', () => {
    const a = createRng(42);
    const b = createRng(42);
    const xs = [...Array(5)].map(() => a.uniform());
    expect([...Array(5)].map(() => b.uniform())).toEqual(xs);
    expect(createRng(43).uniform()).not.toBe(xs[0]);
    const r = createRng(1);
    const n = 20000;
    let sum = 0;
    let sq = 0;
    let beta = 0;
    for (let i = 0; i < n; i++) {
      const z = r.normal();
      sum += z;
      sq += z * z;
      beta += r.beta(2, 2);
    }
    expect(Math.abs(sum / n)).toBeLessThan(0.03);
    expect(Math.abs(sq / n - 1)).toBeLessThan(0.05);
    expect(Math.abs(beta / n - 0.5)).toBeLessThan(0.01);
    expect(r.shuffle([1, 2, 3, 4, 5]).sort()).toEqual([1, 2, 3, 4, 5]);
  });
});

describe('state trees', () => {
  it('flatten/unflatten round-trip and numbers encode bit-exactly', async () => {
    const t = tf.tensor([1, 2]);
    const tree = { a: { x: t, n: 3 }, b: 0.1 + 0.2 };
    const flat = flattenState(tree);
    expect(flat.map((f) => f.path.join('.'))).toEqual(['a.n', 'a.x', 'b']);
    expect(unflattenState(flat)).toEqual(tree);
    const enc = encodeNumber(0.1 + 0.2);
    expect(await decodeNumber(enc)).toBe(0.1 + 0.2);
    enc.dispose();
    const merged = mergeState({ m: { a: t } }, { m: { b: 1 }, k: 2 });
    expect(merged).toEqual({ m: { a: t, b: 1 }, k: 2 });
    t.dispose();
  });
});

describe('parameter groups', () => {
  it('multiTransform routes names to groups and masked passes others through', () => {
    const params = { 'head/kernel': tf.ones([2]), 'body/kernel': tf.ones([2]) };
    const grads = { 'head/kernel': tf.fill([2], 2), 'body/kernel': tf.fill([2], 3) };
    const ctx = { step: 1, learningRate: 1, anchor: () => tf.zeros([2]) };
    // The (head, body) updates of one step of `t`.
    const updates = (t: ReturnType<typeof masked>) =>
      tf.tidy(() => {
        const out = t.update(grads, t.init(params), params, ctx);
        return [
          Array.from(out.updates['head/kernel']!.dataSync()),
          Array.from(out.updates['body/kernel']!.dataSync()),
        ];
      });
    const mt = multiTransform([{ select: 'head/*', transform: setToZero() }], scale(10));
    expect(updates(mt)).toEqual([
      [0, 0],
      [30, 30],
    ]);
    expect(updates(masked(scale(10), /body/))).toEqual([
      [2, 2],
      [30, 30],
    ]);
    tf.dispose([...Object.values(params), ...Object.values(grads)]);
  });
});

describe('empty state maps survive a checkpoint', () => {
  it('restores empty sub-trees', async () => {
    const { RobustOptimizer, identity } = await import('../src/index');
    const withEmpty = {
      label: 'e',
      init: () => ({ perName: {}, nested: { inner: {} } }),
      update: identity().update,
    };
    const v = tf.variable(tf.tensor([1]), true, 'empty-maps/w');
    const a = new RobustOptimizer({ transformation: withEmpty, learningRate: 1 });
    const g = tf.tensor([0]);
    a.applyGradients({ 'empty-maps/w': g });
    const b = new RobustOptimizer({ transformation: withEmpty, learningRate: 1 });
    await b.setWeights(await a.getWeights());
    expect(b.state).toEqual({ perName: {}, nested: { inner: {} } });
    tf.dispose([g, v]);
    a.dispose();
    b.dispose();
  });
});

describe('addMany', () => {
  it('sums like tf.addN, in AddN kernels of at most 7 inputs (WebGPU binds each input)', async () => {
    for (const count of [1, 2, 7, 8, 15, 49, 64]) {
      const xs = Array.from({ length: count }, (_, i) => tf.tensor1d([i + 1, -2 * i, 0.5]));
      const before = tf.memory().numTensors;
      const info = await tf.profile(() => {
        tf.tidy(() => {
          addMany(xs);
        });
      });
      const got = tf.tidy(() => addMany(xs));
      expect(Array.from(got.dataSync())).toEqual([
        (count * (count + 1)) / 2,
        -count * (count - 1),
        0.5 * count,
      ]);
      if (count > 1) got.dispose(); // one tensor is returned as is
      expect(tf.memory().numTensors).toBe(before);
      const addNs = info.kernels.filter((k) => k.name === 'AddN');
      for (const k of addNs) expect(k.inputShapes.length).toBeLessThanOrEqual(7);
      // Each k-input AddN removes k − 1 operands: together they fold `count` tensors into one.
      expect(addNs.reduce((s, k) => s + k.inputShapes.length - 1, 0)).toBe(count - 1);
      tf.dispose(xs);
    }
    expect(() => addMany([])).toThrow(/at least one/);
  });
});
