import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  Anchors,
  addDecayedWeights,
  chain,
  type GradientTransformation,
  RobustFtError,
  RobustOptimizer,
  registerOptimizerFactory,
  scale,
  scaleByAdam,
  scaleByLearningRate,
} from '../src/index';
import { FINITE_FLAG_KERNEL } from '../src/internal';
import { expectNoTensorLeaks } from '../src/testing/index';
import { spyFiniteFlagKernel } from './adapter-fixtures';
import './setup-backend';

const adamwTransform = (wd: number, eps = 1e-8) =>
  chain(scaleByAdam({ epsilon: eps }), addDecayedWeights(wd), scaleByLearningRate());
registerOptimizerFactory(
  'test-adamw',
  (o) =>
    new RobustOptimizer({
      transformation: adamwTransform(Number(o.wd)),
      learningRate: Number(o.lr),
      factory: { name: 'test-adamw', options: o },
    }),
);
const makeOpt = (lr: number, wd: number) =>
  new RobustOptimizer({
    transformation: adamwTransform(wd),
    learningRate: lr,
    factory: { name: 'test-adamw', options: { lr, wd } },
  });

let counter = 0;
function vars(values: Record<string, number[][] | number[]>): Record<string, tf.Variable> {
  const out: Record<string, tf.Variable> = {};
  counter++;
  for (const [k, v] of Object.entries(values)) out[k] = tf.variable(tf.tensor(v), true, `t${counter}/${k}`);
  return out;
}

describe('RobustOptimizer adapter', () => {
  beforeAll(() => tf.setBackend('cpu'));

  it('matches torch AdamW on the golden adamw trajectory (sanity; full replay lives in optimizers)', () => {
    const file = JSON.parse(
      readFileSync(
        resolve(__dirname, '../../../../shared/golden/optimizers/adamw_lr1e-2_wd0.01.json'),
        'utf8',
      ),
    );
    const names: string[] = file.problem.param_order;
    const v: Record<string, tf.Variable> = {};
    for (const n of names)
      v[n] = tf.variable(
        tf.tensor(file.problem.initial[n], file.problem.shapes[n]),
        true,
        `golden-${counter++}-${n}`,
      );
    const opt = makeOpt(file.hyperparameters.lr, file.hyperparameters.weight_decay);
    let maxErr = 0;
    for (const step of file.steps) {
      const grads: tf.NamedTensorMap = {};
      for (const n of names) grads[v[n]!.name] = tf.tensor(step.grad[n], file.problem.shapes[n]);
      opt.applyGradients(grads);
      tf.dispose(Object.values(grads));
      for (const n of names) {
        const got = v[n]!.dataSync();
        step.params_after[n].forEach((x: number, i: number) => {
          maxErr = Math.max(maxErr, Math.abs(x - got[i]!));
        });
      }
    }
    expect(maxErr).toBeLessThan(1e-5);
    opt.dispose();
    tf.dispose(Object.values(v));
  });

  it('with weight decay 0 matches tf.train.adam', () => {
    const a = vars({
      w: [
        [0.5, -1.2],
        [0.3, 2.0],
      ],
      b: [0.1, -0.1],
    });
    const b = vars({
      w: [
        [0.5, -1.2],
        [0.3, 2.0],
      ],
      b: [0.1, -0.1],
    });
    const ours = makeOpt(0.05, 0);
    const theirs = tf.train.adam(0.05, 0.9, 0.999, 1e-8);
    for (let s = 0; s < 20; s++) {
      const loss = (p: Record<string, tf.Variable>) => () =>
        tf.sum(tf.add(tf.sum(tf.square(tf.sub(p.w!, s * 0.1))), tf.sum(tf.sin(p.b!)))) as tf.Scalar;
      ours.minimize(loss(a), true)?.dispose();
      theirs.minimize(loss(b), true)?.dispose();
    }
    for (const k of ['w', 'b']) {
      const x = a[k]!.dataSync();
      const y = b[k]!.dataSync();
      for (let i = 0; i < x.length; i++) expect(Math.abs(x[i]! - y[i]!)).toBeLessThan(1e-5);
    }
    ours.dispose();
    theirs.dispose();
    tf.dispose([...Object.values(a), ...Object.values(b)]);
  });

  it('a NaN gradient throws NON_FINITE naming the tensor and mutates nothing', () => {
    const p = vars({ w: [1, 2, 3], b: [4] });
    const opt = makeOpt(0.1, 0.01);
    const g1 = { [p.w!.name]: tf.tensor([0.1, 0.2, 0.3]), [p.b!.name]: tf.tensor([1]) };
    opt.applyGradients(g1);
    const before = {
      w: Array.from(p.w!.dataSync()),
      b: Array.from(p.b!.dataSync()),
      step: opt.step,
      tensors: tf.memory().numTensors,
    };
    const bad = { [p.w!.name]: tf.tensor([0.1, Number.NaN, 0.3]), [p.b!.name]: tf.tensor([1]) };
    let err: unknown;
    try {
      opt.applyGradients(bad);
    } catch (e) {
      err = e;
    }
    expect(RobustFtError.isInstance(err)).toBe(true);
    expect((err as RobustFtError).code).toBe('NON_FINITE');
    expect((err as RobustFtError).argument).toContain(p.w!.name);
    expect(Array.from(p.w!.dataSync())).toEqual(before.w);
    expect(Array.from(p.b!.dataSync())).toEqual(before.b);
    expect(opt.step).toBe(before.step);
    expect(tf.memory().numTensors).toBe(before.tensors + 2);
    tf.dispose([...Object.values(g1), ...Object.values(bad)]);
    opt.dispose();
    tf.dispose(Object.values(p));
  });

  it('rejects unknown variables and shape mismatches with typed errors, before any mutation', () => {
    const p = vars({ w: [1, 2, 3] });
    const opt = makeOpt(0.1, 0);
    const g = tf.tensor([1, 2]);
    expect(() => opt.applyGradients({ [p.w!.name]: g })).toThrow(/shape \[2\].*\[3\]/);
    expect(() => opt.applyGradients({ nope: g })).toThrowError(
      expect.objectContaining({ code: 'UNKNOWN_VARIABLE' }),
    );
    expect(Array.from(p.w!.dataSync())).toEqual([1, 2, 3]);
    expect(opt.step).toBe(0);
    expect(() => new RobustOptimizer({ transformation: adamwTransform(0), learningRate: -1 })).toThrowError(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', argument: 'options.learningRate' }),
    );
    g.dispose();
    opt.dispose();
    tf.dispose(Object.values(p));
  });

  it("'skip' policy leaves the step out and counts it", () => {
    const p = vars({ w: [1, 2] });
    const opt = new RobustOptimizer({
      transformation: adamwTransform(0),
      learningRate: 0.1,
      nonFinite: 'skip',
    });
    const g = tf.tensor([Number.POSITIVE_INFINITY, 0]);
    opt.applyGradients({ [p.w!.name]: g });
    expect(opt.skippedSteps).toBe(1);
    expect(opt.step).toBe(0);
    expect(Array.from(p.w!.dataSync())).toEqual([1, 2]);
    g.dispose();
    opt.dispose();
    tf.dispose(Object.values(p));
  });

  it('keys state by name: a missing gradient leaves that tensor state untouched', () => {
    const p = vars({ a: [1, 2], b: [3] });
    const q = vars({ a: [1, 2], b: [3] });
    const opt1 = makeOpt(0.1, 0);
    const opt2 = makeOpt(0.1, 0);
    const ga = tf.tensor([0.5, -0.5]);
    const gb = tf.tensor([1]);
    // opt1 sees b only on step 1 and 3; a on all steps. opt2 sees a alone: a's trajectory must agree.
    opt1.applyGradients({ [p.a!.name]: ga, [p.b!.name]: gb });
    opt1.applyGradients({ [p.a!.name]: ga });
    opt1.applyGradients({ [p.a!.name]: ga, [p.b!.name]: gb });
    for (let i = 0; i < 3; i++) opt2.applyGradients({ [q.a!.name]: ga });
    expect(Array.from(p.a!.dataSync())).toEqual(Array.from(q.a!.dataSync()));
    // b saw 2 steps: its Adam count is 2, not 3.
    expect((opt1.state['0'] as { count: Record<string, number> }).count[p.b!.name]).toBe(2);
    tf.dispose([ga, gb]);
    opt1.dispose();
    opt2.dispose();
    tf.dispose([...Object.values(p), ...Object.values(q)]);
  });

  it('learningRate is settable and validated (schedules per step: adapter-contracts.test.ts)', () => {
    const opt = makeOpt(0.1, 0);
    expect(opt.learningRate).toBe(0.1);
    opt.learningRate = 0.02;
    expect(opt.learningRate).toBe(0.02);
    expect(() => {
      opt.learningRate = Number.NaN;
    }).toThrow(RobustFtError);
    opt.dispose();
  });

  it('getWeights/setWeights round-trips and resumes bit-identically', async () => {
    const init = {
      w: [
        [0.5, -1.2, 0.7],
        [0.3, 2.0, -0.4],
      ],
      b: [0.1, -0.1, 0.2],
    };
    const a = vars(init);
    const b = vars(init);
    const steps = (p: Record<string, tf.Variable>, o: RobustOptimizer, from: number, to: number) => {
      for (let s = from; s < to; s++) {
        const f = () =>
          tf.sum(
            tf.add(tf.sum(tf.square(tf.sub(p.w!, Math.sin(s)))), tf.sum(tf.mul(p.b!, p.b!))),
          ) as tf.Scalar;
        o.minimize(f, true)?.dispose();
      }
    };
    const full = makeOpt(0.05, 0.1);
    steps(a, full, 0, 10);
    const first = makeOpt(0.05, 0.1);
    steps(b, first, 0, 4);
    const saved = (await first.getWeights()).map((w) => ({ name: w.name, tensor: tf.clone(w.tensor) }));
    first.dispose();
    const resumed = makeOpt(0.05, 0.1);
    // AdamW never reads its anchor: adapter-contracts.test.ts checks that θ₀ itself travels with the checkpoint.
    await resumed.setWeights(saved);
    tf.dispose(saved.map((s) => s.tensor));
    expect(resumed.step).toBe(4);
    steps(b, resumed, 4, 10);
    expect(Array.from(b.w!.dataSync())).toEqual(Array.from(a.w!.dataSync()));
    expect(Array.from(b.b!.dataSync())).toEqual(Array.from(a.b!.dataSync()));
    full.dispose();
    resumed.dispose();
    tf.dispose([...Object.values(a), ...Object.values(b)]);
  });

  it('snapshots the anchor at first sight, or uses shared/zero anchors', () => {
    const p = vars({ w: [1, 2] });
    const shared = Anchors.from({ [p.w!.name]: tf.tensor([5, 5]) });
    const opt = new RobustOptimizer({ transformation: adamwTransform(0), learningRate: 0.1, anchor: shared });
    const g = tf.tensor([1, 1]);
    opt.applyGradients({ [p.w!.name]: g });
    expect(Array.from(opt.anchors.get(p.w!.name).dataSync())).toEqual([5, 5]);
    opt.dispose();
    expect(shared.get(p.w!.name).isDisposed).toBe(false); // not owned: the optimizer must not dispose it
    const own = makeOpt(0.1, 0);
    own.applyGradients({ [p.w!.name]: g });
    own.applyGradients({ [p.w!.name]: g });
    expect(Array.from(own.anchors.get(p.w!.name).dataSync())).not.toEqual(Array.from(p.w!.dataSync()));
    own.dispose();
    const missing = new RobustOptimizer({
      transformation: adamwTransform(0),
      learningRate: 0.1,
      anchor: Anchors.from({}),
    });
    expect(() => missing.applyGradients({ [p.w!.name]: g })).toThrowError(
      expect.objectContaining({ code: 'MISSING_ANCHOR' }),
    );
    expect(missing.step).toBe(0);
    missing.dispose();
    shared.dispose();
    g.dispose();
    tf.dispose(Object.values(p));
  });

  it('leaks no tensors over repeated steps', async () => {
    const p = vars({
      w: [
        [1, 2],
        [3, 4],
      ],
      b: [0.5, 0.5],
    });
    const opt = makeOpt(0.01, 0.01);
    const f = () => tf.sum(tf.add(tf.sum(tf.square(p.w!)), tf.sum(tf.abs(p.b!)))) as tf.Scalar;
    await expectNoTensorLeaks(() => opt.minimize(f, true), { repeats: 10, label: 'adamw step' });
    await expectNoTensorLeaks(() => opt.getWeights().then(() => undefined), { label: 'getWeights' });
    opt.dispose();
    tf.dispose(Object.values(p));
  });
});

describe('absolute updates', () => {
  it('assigns `assign` values directly and leaks nothing', async () => {
    const v = tf.variable(tf.tensor([1, 2, 3]), true, 'abs/w');
    const halve = {
      label: 'halve',
      init: () => ({}),
      update: (_g: tf.NamedTensorMap, state: Record<string, never>, params: tf.NamedTensorMap) => ({
        updates: {},
        state,
        assign: { 'abs/w': tf.mul(params['abs/w']!, 0.5) },
      }),
    };
    const opt = new RobustOptimizer({ transformation: chain(scale(1), halve), learningRate: 1 });
    const g = tf.tensor([0, 0, 0]);
    opt.applyGradients({ 'abs/w': g });
    expect(Array.from(v.dataSync())).toEqual([0.5, 1, 1.5]);
    await expectNoTensorLeaks(() => opt.applyGradients({ 'abs/w': g }));
    expect(() =>
      chain(halve, scale(1)).update(
        { 'abs/w': g },
        { 0: {}, 1: {} },
        { 'abs/w': v },
        { step: 1, learningRate: 1, anchor: () => v },
      ),
    ).toThrow(/last in a chain/);
    g.dispose();
    opt.dispose();
    v.dispose();
  });
});

describe("'guard' policy (no host sync)", () => {
  it('masks a non-finite step on the device, counts it asynchronously and leaks nothing', async () => {
    const v = tf.variable(tf.tensor([1, 2, 3]), true, 'guard/w');
    const opt = new RobustOptimizer({
      transformation: adamwTransform(0.01),
      learningRate: 0.1,
      nonFinite: 'guard',
    });
    expect(opt.nonFinite).toBe('guard');
    const good = tf.tensor([0.1, -0.2, 0.3]);
    const bad = tf.tensor([0.1, Number.NaN, 0.3]);
    opt.applyGradients({ 'guard/w': good });
    const before = Array.from(v.dataSync());
    const moments = (opt.state['0'] as { mu: Record<string, tf.Tensor> }).mu['guard/w']!.arraySync();
    opt.applyGradients({ 'guard/w': bad });
    expect(Array.from(v.dataSync())).toEqual(before);
    expect((opt.state['0'] as { mu: Record<string, tf.Tensor> }).mu['guard/w']!.arraySync()).toEqual(moments);
    expect(await opt.nonFiniteSteps()).toBe(1);
    opt.applyGradients({ 'guard/w': good });
    expect(Array.from(v.dataSync())).not.toEqual(before);
    expect(v.dataSync().every(Number.isFinite)).toBe(true);
    await expectNoTensorLeaks(() => opt.applyGradients({ 'guard/w': bad }));
    await expectNoTensorLeaks(() => opt.applyGradients({ 'guard/w': good }));
    expect(await opt.nonFiniteSteps()).toBe(7);
    tf.dispose([good, bad, v]);
    opt.dispose();
  });

  it('computes the flag with a FINITE_FLAG_KERNEL registered for the backend: one call, no per-tensor sums', async () => {
    const calls: number[] = [];
    spyFiniteFlagKernel(calls);
    try {
      const w = tf.variable(tf.tensor([1, 2, 3]), true, 'flagk/w');
      const u = tf.variable(tf.tensor([4, 5]), true, 'flagk/u');
      const opt = new RobustOptimizer({
        transformation: adamwTransform(0),
        learningRate: 0.1,
        nonFinite: 'guard',
      });
      const good = { 'flagk/w': tf.tensor([0.1, 0.2, 0.3]), 'flagk/u': tf.tensor([1, 1]) };
      const bad = {
        'flagk/w': tf.tensor([0.1, 0.2, 0.3]),
        'flagk/u': tf.tensor([1, Number.POSITIVE_INFINITY]),
      };
      const profile = await tf.profile(() => opt.applyGradients(good));
      expect(profile.kernelNames).toContain(FINITE_FLAG_KERNEL);
      expect(profile.kernelNames).not.toContain('Sum');
      const before = [Array.from(await w.data()), Array.from(await u.data())];
      opt.applyGradients(bad);
      expect([Array.from(await w.data()), Array.from(await u.data())]).toEqual(before);
      expect(await opt.nonFiniteSteps()).toBe(1);
      // One call per step: both gradients, and at the second step also the two anchors the first
      // step captured (checked once, at their first use).
      expect(calls).toEqual([2, 4]);
      tf.dispose([w, u, ...Object.values(good), ...Object.values(bad)]);
      opt.dispose();
    } finally {
      tf.unregisterKernel(FINITE_FLAG_KERNEL, 'cpu');
    }
  });

  it('lets a transformation that checks the gradients itself skip the flag pass (ctx.ownFiniteCheck)', async () => {
    const calls: number[] = [];
    spyFiniteFlagKernel(calls);
    const offered: (boolean | undefined)[] = [];
    // SGD that keeps θ on a non-finite step itself: with its own flag (float32 1/0, as the fused
    // kernels return it) when offered, else with the adapter's.
    const selfChecking: GradientTransformation = {
      label: 'self-checking-sgd',
      init: () => ({}),
      update(grads, state, params, ctx) {
        offered.push(ctx.ownFiniteCheck);
        const names = Object.keys(grads);
        const own = ctx.ownFiniteCheck === true;
        const ok = own
          ? tf.cast(tf.all(tf.isFinite(tf.concat(names.map((n) => tf.reshape(grads[n]!, [-1]))))), 'float32')
          : ctx.finite!;
        const assign: tf.NamedTensorMap = {};
        for (const n of names) {
          assign[n] = tf.where(tf.cast(ok, 'bool'), tf.sub(params[n]!, tf.mul(0.1, grads[n]!)), params[n]!);
        }
        return { updates: {}, state, assign, guarded: true, ...(own ? { finite: ok } : {}) };
      },
    };
    try {
      const w = tf.variable(tf.tensor([1, 2, 3]), true, 'ownflag/w');
      const opt = new RobustOptimizer({
        transformation: selfChecking,
        learningRate: 0.1,
        nonFinite: 'guard',
      });
      const good = { 'ownflag/w': tf.tensor([1, 1, 1]) };
      const bad = { 'ownflag/w': tf.tensor([1, Number.NEGATIVE_INFINITY, 1]) };
      opt.applyGradients(good);
      // Step 2 verifies the anchors step 1 captured: the adapter's flag covers them, so no own check.
      opt.applyGradients(good);
      expect(calls).toEqual([2]);
      const before = Array.from(await w.data());
      opt.applyGradients(bad);
      expect(Array.from(await w.data())).toEqual(before);
      expect(await opt.nonFiniteSteps()).toBe(1);
      opt.applyGradients(good);
      expect(Array.from(await w.data())).not.toEqual(before);
      expect(await opt.nonFiniteSteps()).toBe(1);
      expect(offered).toEqual([true, false, true, true]);
      // Steps 3 and 4 read no adapter flag: the transformation's own one was counted.
      expect(calls).toEqual([2]);
      await expectNoTensorLeaks(() => opt.applyGradients(bad));
      await expectNoTensorLeaks(() => opt.applyGradients(good));
      expect(await opt.nonFiniteSteps()).toBe(7);
      expect(calls).toEqual([2]);
      tf.dispose([w, ...Object.values(good), ...Object.values(bad)]);
      opt.dispose();
    } finally {
      tf.unregisterKernel(FINITE_FLAG_KERNEL, 'cpu');
    }
  });

  it('offers no own check outside guard, and masks for a transformation that does not say guarded', async () => {
    const offered: unknown[] = [];
    const plain: GradientTransformation = {
      label: 'plain-sgd',
      init: () => ({}),
      update(grads, state, _params, ctx) {
        offered.push([ctx.ownFiniteCheck, 'finite' in ctx]);
        const updates: tf.NamedTensorMap = {};
        for (const [n, g] of Object.entries(grads)) updates[n] = tf.mul(-0.1, g);
        return { updates, state };
      },
    };
    const w = tf.variable(tf.tensor([1, 2]), true, 'ownflag2/w');
    for (const nonFinite of ['off', 'guard'] as const) {
      const opt = new RobustOptimizer({ transformation: plain, learningRate: 0.1, nonFinite });
      const g = { 'ownflag2/w': tf.tensor([Number.NaN, 1]) };
      const before = Array.from(await w.data());
      opt.applyGradients(g);
      const after = Array.from(await w.data());
      if (nonFinite === 'guard') expect(after).toEqual(before);
      else expect(after[0]).toBeNaN();
      expect(await opt.nonFiniteSteps()).toBe(nonFinite === 'guard' ? 1 : 0);
      w.assign(tf.tensor([1, 2]));
      tf.dispose(Object.values(g));
      opt.dispose();
    }
    expect(offered).toEqual([
      [undefined, false],
      [true, true],
    ]);
    w.dispose();
  });

  it('masks the state of a transformation that does not guard itself: kept where replaced at the same shape', async () => {
    // The state after each step: `sum` (from init, same shape each step), `last` (a tensor that first
    // appears at step 2), `extra` (a map that first appears at step 2), `hist` (one more entry each step,
    // so never the same shape as before) and `count` (a number).
    interface S {
      sum: Record<string, tf.Tensor>;
      last?: tf.Tensor;
      extra?: Record<string, tf.Tensor>;
      hist: tf.Tensor;
      count: number;
    }
    const growing: GradientTransformation = {
      label: 'growing-state',
      init: (params) => ({
        sum: Object.fromEntries(Object.keys(params).map((n) => [n, tf.zerosLike(params[n]!)])),
        hist: tf.zeros([0]),
        count: 0,
      }),
      update(grads, state) {
        const st = state as unknown as S;
        const [n, g] = Object.entries(grads)[0]!;
        const next: S = {
          sum: { [n]: tf.add(st.sum[n]!, g) },
          hist: tf.concat([st.hist, tf.reshape(tf.sum(g), [1])]),
          count: st.count + 1,
        };
        if (st.count >= 1) {
          next.last = tf.mul(g, 2);
          next.extra = { [n]: tf.mul(g, 3) };
        }
        return { updates: { [n]: tf.mul(-0.1, g) }, state: next as unknown as typeof state };
      },
    };
    const before = tf.memory().numTensors;
    const name = `guard-growing/${counter++}`;
    const v = tf.tidy(() => tf.variable(tf.tensor([1, 2]), true, name));
    const opt = new RobustOptimizer({ transformation: growing, learningRate: 0.1, nonFinite: 'guard' });
    const good = tf.tensor([1, 2]);
    const bad = tf.tensor([Number.NaN, 4]);
    const read = async () => {
      const st = opt.state as unknown as S;
      return {
        sum: Array.from(await st.sum[name]!.data()),
        last: st.last ? Array.from(await st.last.data()) : null,
        extra: st.extra ? Array.from(await st.extra[name]!.data()) : null,
        hist: Array.from(await st.hist.data()),
        count: st.count,
      };
    };
    opt.applyGradients({ [name]: good }); // step 1: fresh `hist` entry, nothing to keep
    expect(await read()).toEqual({ sum: [1, 2], last: null, extra: null, hist: [3], count: 1 });
    opt.applyGradients({ [name]: good }); // step 2: `last` and `extra` appear (nothing before them)
    expect(await read()).toEqual({ sum: [2, 4], last: [2, 4], extra: [3, 6], hist: [3, 3], count: 2 });
    opt.applyGradients({ [name]: bad }); // masked: tensors of the same shape keep their values
    const after = await read();
    expect(after.sum).toEqual([2, 4]);
    expect(after.last).toEqual([2, 4]);
    expect(after.extra).toEqual([3, 6]);
    // `hist` has a new shape (nothing of that shape to keep): the new value, NaN included; `count` too.
    expect(after.hist.slice(0, 2)).toEqual([3, 3]);
    expect(after.hist[2]).toBeNaN();
    expect(after.count).toBe(3);
    // Two applied steps of −0.1·g in float32; the masked one left v alone.
    const f = Math.fround;
    const twoSteps = (x: number, gi: number) => f(f(x + f(f(-0.1) * gi)) + f(f(-0.1) * gi));
    expect(Array.from(await v.data())).toEqual([twoSteps(1, 1), twoSteps(2, 2)]);
    expect(await opt.nonFiniteSteps()).toBe(1);
    opt.dispose();
    tf.dispose([v, good, bad]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('defaults to error on cpu', () => {
    expect(new RobustOptimizer({ transformation: adamwTransform(0), learningRate: 0.1 }).nonFinite).toBe(
      'error',
    );
  });
});

describe('finite check', () => {
  it('does not mistake an overflowing sum of finite gradients for NaN', () => {
    const v = tf.variable(tf.tensor([1, 2]), true, 'overflow/w');
    const opt = makeOpt(1e-3, 0);
    const g = tf.tensor([3e38, 3e38]);
    opt.applyGradients({ 'overflow/w': g });
    expect(opt.step).toBe(1);
    const inf = tf.tensor([Number.NEGATIVE_INFINITY, 1]);
    expect(() => opt.applyGradients({ 'overflow/w': inf })).toThrowError(
      expect.objectContaining({ code: 'NON_FINITE' }),
    );
    tf.dispose([v, g, inf]);
    opt.dispose();
  });
});
