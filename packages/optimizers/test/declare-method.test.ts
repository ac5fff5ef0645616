import '@tensorflow/tfjs-backend-cpu';
import {
  chain,
  type NameSelector,
  RobustFtError,
  RobustOptimizer,
  type StateTree,
  scaleByLearningRate,
} from '@robust-ft/core';
import { expectNoTensorLeaks } from '@robust-ft/core/testing';
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  declareMethod,
  gradientTransformation,
  projectionTransformation,
  readDiagnostics,
} from '../src/method';
import { sgdTransformation } from '../src/sgd';

/*
 * The payoff of one declaration per method: a new method is its settings, its slots and its
 * per-tensor step; init, update, exclusion, missing-gradient carry-over, slot shape checks, checkpoint
 * validation (core's setWeights checks against init) and the diagnostics reader come from the builders.
 */

// ---- a toy gradient method, declared in full: sign-SGD with momentum, remembering ‖g‖ per tensor.
const SIGN_MOMENTUM = declareMethod({
  label: 'signMomentum',
  kind: 'gradient',
  settings(o: { beta?: number; exclude?: NameSelector }) {
    const beta = o.beta ?? 0.9;
    if (!(beta >= 0 && beta < 1)) throw new RobustFtError('INVALID_ARGUMENT', 'beta', { argument: 'beta' });
    return { beta, exclude: o.exclude };
  },
  slots: { momentum: { shape: 'param' }, gradNorm: { shape: 'scalar' } },
  counter: true,
  marker: 'gradNorm',
  step(i, { beta }) {
    const momentum = tf.add(tf.mul(i.slots.momentum, beta), tf.mul(i.grad, 1 - beta));
    return { value: tf.sign(momentum), slots: { momentum, gradNorm: tf.norm(i.grad) } };
  },
});

// ---- a toy projection method: keep θ within a box of half-width r around the anchor, counting clips.
const ANCHOR_BOX = declareMethod({
  label: 'anchorBox',
  kind: 'projection',
  settings: (o: { radius: number; exclude?: NameSelector }) => ({ radius: o.radius, exclude: o.exclude }),
  slots: { clipped: { shape: 'scalar' } },
  marker: 'clipped',
  step(i, { radius }) {
    const c = tf.sub(tf.add(i.param, i.update), i.anchor);
    const kept = tf.clipByValue(c, -radius, radius);
    const clipped = tf.sum(tf.cast(tf.notEqual(kept, c), 'float32'));
    return { value: tf.add(i.anchor, kept), slots: { clipped } };
  },
});

const ctx = (lr: number, anchors: tf.NamedTensorMap) => ({
  step: 1,
  learningRate: lr,
  anchor: (n: string) => anchors[n]!,
});

async function values(t: tf.Tensor): Promise<number[]> {
  return Array.from(await t.data());
}

describe('a method declared in a few lines gets its transformation and readers from the builders', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  const vars: tf.Variable[] = [];
  afterEach(() => {
    tf.dispose(vars.splice(0));
  });

  it('init: every kept slot at its shape class per non-excluded parameter, counter 1', () => {
    const t = gradientTransformation(SIGN_MOMENTUM, { exclude: 'head/*' });
    const params = { w: tf.ones([2, 3]), 'head/b': tf.ones([3]) };
    const s = t.init(params) as Record<string, Record<string, tf.Tensor> | number>;
    const momentum = s.momentum as Record<string, tf.Tensor>;
    const gradNorm = s.gradNorm as Record<string, tf.Tensor>;
    expect(Object.keys(momentum)).toEqual(['w']);
    expect(momentum.w!.shape).toEqual([2, 3]);
    expect(gradNorm.w!.shape).toEqual([]);
    expect(s.t).toBe(1);
    tf.dispose([...Object.values(params), momentum.w!, gradNorm.w!]);
  });

  it('update: the declared step on selected names, g through for excluded ones, state carried for missing ones', async () => {
    const t = gradientTransformation(SIGN_MOMENTUM, { beta: 0.5, exclude: 'head/*' });
    const params = { w: tf.tensor1d([1, 2]), v: tf.tensor1d([0, 0]), 'head/b': tf.tensor1d([1]) };
    const anchors = { w: tf.zeros([2]), v: tf.zeros([2]), 'head/b': tf.zeros([1]) };
    const s0 = t.init(params);
    const grads = { w: tf.tensor1d([0.5, -2]), 'head/b': tf.tensor1d([3]) };
    const r = t.update(grads, s0, params, ctx(0.1, anchors));
    // m = 0.5·0 + 0.5·g → sign(m) = sign(g); the excluded head gets g itself.
    expect(await values(r.updates.w!)).toEqual([1, -1]);
    expect(await values(r.updates['head/b']!)).toEqual([3]);
    const s1 = r.state as Record<string, Record<string, tf.Tensor>> & { t: number };
    expect(await values(s1.momentum!.w!)).toEqual([0.25, -1]);
    expect((await values(s1.gradNorm!.w!))[0]).toBeCloseTo(Math.hypot(0.5, 2), 6);
    // No gradient for v: its slots are the previous ones (the same tensors), the counter advances.
    expect(s1.momentum!.v).toBe((s0 as Record<string, Record<string, tf.Tensor>>).momentum!.v);
    expect(s1.t).toBe(2);
  });

  it('state validation: a slot of the wrong shape class is STATE_MISMATCH, at update and on load', async () => {
    const t = gradientTransformation(SIGN_MOMENTUM, {});
    const params = { w: tf.zeros([2, 2]) };
    const bad: StateTree = { momentum: { w: tf.zeros([4]) }, gradNorm: { w: tf.scalar(0) }, t: 1 };
    const run = () => t.update({ w: tf.ones([2, 2]) }, bad, params, ctx(0.1, { w: tf.zeros([2, 2]) }));
    expect(run).toThrowError(expect.objectContaining({ code: 'STATE_MISMATCH' }));
    expect(run).toThrowError(/momentum of "w"/);

    // On load, core checks every slot against what init gives for the saved shapes.
    const w = tf.variable(tf.zeros([2, 2]), true, 'toy/w');
    vars.push(w);
    const make = () =>
      new RobustOptimizer({
        transformation: chain(gradientTransformation(SIGN_MOMENTUM, {}), scaleByLearningRate()),
        learningRate: 0.1,
      });
    const a = make();
    a.applyGradients({ 'toy/w': tf.ones([2, 2]) });
    const saved = await a.getWeights();
    const tampered = saved.map((x) =>
      x.name.includes('momentum') ? { name: x.name, tensor: tf.zeros([3]) } : x,
    );
    const b = make();
    await expect(b.setWeights(tampered)).rejects.toMatchObject({ code: 'STATE_MISMATCH' });
    await b.setWeights(saved);
    a.dispose();
    b.dispose();
  });

  it('diagnostics: the declared reader finds the slots anywhere in the tree', async () => {
    const w = tf.variable(tf.tensor1d([0, 0]), true, 'toy/d');
    vars.push(w);
    const opt = new RobustOptimizer({
      transformation: chain(gradientTransformation(SIGN_MOMENTUM, {}), scaleByLearningRate()),
      learningRate: 0.1,
    });
    opt.applyGradients({ 'toy/d': tf.tensor1d([3, 4]) });
    const d = await readDiagnostics(SIGN_MOMENTUM, opt, ['gradNorm']);
    expect(d.tensors['toy/d']!.gradNorm).toBeCloseTo(5, 5);
    expect(d.t).toBe(2);
    expect(await values(w)).toEqual([Math.fround(-0.1), Math.fround(-0.1)]);
    opt.dispose();
  });

  it('a projection method wraps any inner optimizer: candidate projected, excluded names keep the inner delta', async () => {
    const t = projectionTransformation(ANCHOR_BOX, sgdTransformation(), { radius: 0.5, exclude: 'head/*' });
    const params = { w: tf.tensor1d([0.4, 0]), 'head/b': tf.tensor1d([0]) };
    const anchors = { w: tf.zeros([2]), 'head/b': tf.zeros([1]) };
    const grads = { w: tf.tensor1d([-2, 1]), 'head/b': tf.tensor1d([-10]) };
    const r = t.update(grads, t.init(params), params, ctx(0.1, anchors));
    // SGD's candidate θ − 0.1·g = [0.6, −0.1] is boxed to [0.5, −0.1]; the head steps by −0.1·g = 1.
    expect(await values(r.assign!.w!)).toEqual([0.5, expect.closeTo(-0.1, 6)]);
    expect(await values(r.updates['head/b']!)).toEqual([1]);
    expect(await values((r.state as Record<string, Record<string, tf.Tensor>>).clipped!.w!)).toEqual([1]);
    expect(Object.keys(r.state.inner as object)).toEqual(Object.keys(t.init(params).inner as object));
  });

  it('repeated steps through the adapter leak no tensor', async () => {
    const w = tf.variable(tf.ones([3, 2]), true, 'toy/leak');
    vars.push(w);
    const opt = new RobustOptimizer({
      transformation: projectionTransformation(ANCHOR_BOX, sgdTransformation({ momentum: 0.9 }), {
        radius: 0.2,
      }),
      learningRate: 0.1,
    });
    const g = tf.ones([3, 2]);
    opt.applyGradients({ 'toy/leak': g });
    await expectNoTensorLeaks(() => opt.applyGradients({ 'toy/leak': g }), { label: 'anchorBox' });
    g.dispose();
    opt.dispose();
  });
});

describe('the diagnostics readers have one name each', () => {
  it('the old *State names are the same functions (deprecated aliases)', async () => {
    const o = await import('../src/index');
    expect(o.ftpState).toBe(o.ftpDiagnostics);
    expect(o.spdState).toBe(o.spdDiagnostics);
    expect(o.digrapState).toBe(o.digrapDiagnostics);
    expect(o.tpgmState).toBe(o.tpgmDiagnostics);
  });
});
