import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  Anchors,
  chain,
  type GradientTransformation,
  linearSchedule,
  RobustOptimizer,
  type StateTree,
  scaleByAdam,
  scaleByLearningRate,
} from '../src/index';
import './setup-backend';

/**
 * Adapter behaviour the golden replays do not reach (issue #20): anchors of a failed first step,
 * schedules evaluated per step, and checkpoints of an optimizer that actually reads its anchor.
 */

let counter = 0;
const unique = (label: string) => `contracts${counter++}/${label}`;

/** g + λ(θ − θ₀): an L2-SP pull, so the trajectory depends on the anchor. */
function pullToAnchor(lambda: number): GradientTransformation<StateTree> {
  return {
    label: 'pullToAnchor',
    init: () => ({}),
    update: (grads, state, params, ctx) => ({
      updates: Object.fromEntries(
        Object.entries(grads).map(([n, g]) => [
          n,
          tf.add(g, tf.mul(tf.sub(params[n]!, ctx.anchor(n)), lambda)),
        ]),
      ),
      state,
    }),
  };
}

/** Throws from `update` while `fail.now` is set (after the adapter has snapshotted first-sight anchors). */
function failing(fail: { now: boolean }): GradientTransformation<StateTree> {
  return {
    label: 'failing',
    init: () => ({}),
    update: (grads, state) => {
      if (fail.now) throw new Error('transformation failed');
      return { updates: grads, state };
    },
  };
}

const values = (t: tf.Tensor) => Array.from(t.dataSync());

describe('a failed first step', () => {
  it('forgets the anchors it snapshotted, so the next successful step anchors at the current value', () => {
    const name = unique('w');
    const v = tf.variable(tf.tensor([1, 2]), true, name);
    const fail = { now: true };
    const opt = new RobustOptimizer({
      transformation: chain(pullToAnchor(0.5), failing(fail), scaleByLearningRate()),
      learningRate: 0.1,
    });
    const g = tf.tensor([0, 0]);
    const before = tf.memory().numTensors;
    expect(() => opt.applyGradients({ [name]: g })).toThrow('transformation failed');
    expect(opt.anchors.has(name)).toBe(false);
    expect(opt.anchors.names()).toEqual([]);
    expect(opt.step).toBe(0);
    expect(values(v)).toEqual([1, 2]);
    // Nothing the failed step created is left behind (the anchor snapshot included).
    expect(tf.memory().numTensors).toBe(before);

    // The variable moves before the first step that succeeds: that value is θ₀, not the one seen above.
    v.assign(tf.tensor([3, 5]));
    fail.now = false;
    opt.applyGradients({ [name]: g });
    expect(values(opt.anchors.get(name))).toEqual([3, 5]);
    // Zero gradient at the anchor: the pull is zero too, so the step leaves θ where it was.
    expect(values(v)).toEqual([3, 5]);
    opt.dispose();
    tf.dispose([v, g]);
  });

  it('keeps anchors it did not create (shared/explicit anchors survive a failed step)', () => {
    const name = unique('w');
    const v = tf.variable(tf.tensor([1, 2]), true, name);
    const shared = Anchors.from({ [name]: tf.tensor([0, 0]) });
    const fail = { now: true };
    const opt = new RobustOptimizer({
      transformation: chain(pullToAnchor(1), failing(fail), scaleByLearningRate()),
      learningRate: 0.5,
      anchor: shared,
    });
    const g = tf.tensor([0, 0]);
    expect(() => opt.applyGradients({ [name]: g })).toThrow('transformation failed');
    expect(values(shared.get(name))).toEqual([0, 0]);
    fail.now = false;
    opt.applyGradients({ [name]: g });
    // θ − lr·λ(θ − θ₀) = [1, 2] − 0.5·[1, 2].
    expect(values(v)).toEqual([0.5, 1]);
    opt.dispose();
    shared.dispose();
    tf.dispose([v, g]);
  });
});

describe('learning-rate schedules in the adapter', () => {
  it('evaluates the schedule at the number of steps taken, for the step and for `learningRate`', () => {
    const name = unique('w');
    const v = tf.variable(tf.tensor([0]), true, name);
    const seen: Array<[number, number]> = [];
    const spy: GradientTransformation<StateTree> = {
      label: 'spy',
      init: () => ({}),
      update: (grads, state, _p, ctx) => {
        seen.push([ctx.step, ctx.learningRate]);
        return { updates: grads, state };
      },
    };
    const opt = new RobustOptimizer({
      transformation: chain(spy, scaleByLearningRate()),
      learningRate: linearSchedule(1, 0.25, 3),
    });
    const g = tf.tensor([1]);
    const before: number[] = [];
    for (let s = 0; s < 5; s++) {
      before.push(opt.learningRate);
      opt.applyGradients({ [name]: g });
    }
    expect(before).toEqual([1, 0.75, 0.5, 0.25, 0.25]);
    expect(seen).toEqual([
      [1, 1],
      [2, 0.75],
      [3, 0.5],
      [4, 0.25],
      [5, 0.25],
    ]);
    // θ = −Σ lr_t · 1.
    expect(v.dataSync()[0]).toBeCloseTo(-2.75, 6);
    // A schedule set later is evaluated at the current step count (5), not from 0.
    opt.learningRate = linearSchedule(0.6, 0.1, 10);
    expect(opt.learningRate).toBeCloseTo(0.35, 12);
    opt.applyGradients({ [name]: g });
    expect(seen.at(-1)![1]).toBeCloseTo(0.35, 12);
    // And a number set afterwards replaces it.
    opt.learningRate = 0.02;
    expect(opt.learningRate).toBe(0.02);
    opt.dispose();
    tf.dispose([v, g]);
  });
});

describe('getWeights/setWeights with an optimizer that reads its anchor', () => {
  it('restores θ₀ (not the value at resume time) and resumes bit-identically', async () => {
    const init = [0.5, -1.2, 0.7];
    const theta0 = Array.from(Float32Array.from(init));
    const a = tf.variable(tf.tensor(init), true, unique('a'));
    const b = tf.variable(tf.tensor(init), true, unique('b'));
    const make = () =>
      new RobustOptimizer({
        transformation: chain(pullToAnchor(0.3), scaleByLearningRate()),
        learningRate: 0.2,
      });
    const run = (v: tf.Variable, opt: RobustOptimizer, from: number, to: number) => {
      for (let s = from; s < to; s++) {
        const f = () => tf.sum(tf.mul(v, tf.tensor([Math.sin(s), 1, -0.5]))) as tf.Scalar;
        opt.minimize(f, true)?.dispose();
      }
    };
    const full = make();
    run(a, full, 0, 10);
    const first = make();
    run(b, first, 0, 4);
    const saved = (await first.getWeights()).map((w) => ({ name: w.name, tensor: tf.clone(w.tensor) }));
    first.dispose();
    // b has moved away from θ₀: an optimizer that re-snapshotted here would pull toward the wrong point.
    expect(values(b)).not.toEqual(theta0);
    const resumed = make();
    await resumed.setWeights(saved);
    tf.dispose(saved.map((s) => s.tensor));
    expect(resumed.step).toBe(4);
    expect(values(resumed.anchors.get(b.name))).toEqual(theta0);
    run(b, resumed, 4, 10);
    expect(values(b)).toEqual(values(a));

    // The counter-check: without the restored anchor the same resume lands elsewhere.
    const c = tf.variable(tf.tensor(init), true, unique('c'));
    const head = make();
    run(c, head, 0, 4);
    head.dispose();
    const fresh = make();
    run(c, fresh, 4, 10);
    expect(Math.max(...values(c).map((x, i) => Math.abs(x - values(a)[i]!)))).toBeGreaterThan(1e-3);
    full.dispose();
    resumed.dispose();
    fresh.dispose();
    tf.dispose([a, b, c]);
  });

  const cloned = async (opt: RobustOptimizer) =>
    (await opt.getWeights()).map((w) => ({ name: w.name, tensor: tf.clone(w.tensor) }));

  it("a restored 'zero' optimizer re-creates the zero anchors of the names it has seen", async () => {
    const name = unique('w');
    const v = tf.tidy(() => tf.variable(tf.tensor([1, 2]), true, name));
    const make = () =>
      new RobustOptimizer({
        transformation: chain(pullToAnchor(0.5), scaleByLearningRate()),
        learningRate: 0.1,
        anchor: 'zero',
      });
    const g = tf.tensor([0, 0]);
    const first = make();
    first.applyGradients({ [name]: g });
    const saved = await cloned(first);
    first.dispose();
    const resumed = make();
    await resumed.setWeights(saved);
    tf.dispose(saved.map((s) => s.tensor));
    // The name is not fresh after the restore; its anchor (zeros) must still exist for the pull.
    resumed.applyGradients({ [name]: g });
    expect(resumed.step).toBe(2);
    expect(values(resumed.anchors.get(name))).toEqual([0, 0]);
    // θ − lr·λ·(θ − 0) twice: θ · 0.95².
    values(v).forEach((x, i) => {
      expect(x).toBeCloseTo([1, 2][i]! * 0.95 * 0.95, 6);
    });
    resumed.dispose();
    tf.dispose([v, g]);
  });

  it('a restored anchor follows its state to a renamed variable (tfjs-layers "_1")', async () => {
    const base = unique('dense/kernel');
    const old = tf.variable(tf.tensor([1, 2]), true, base);
    const make = () =>
      new RobustOptimizer({
        transformation: chain(pullToAnchor(0.5), scaleByLearningRate()),
        learningRate: 0.1,
      });
    const g = tf.tensor([0, 0]);
    const source = make();
    source.applyGradients({ [base]: g });
    const saved = await cloned(source);
    source.dispose();
    old.dispose();
    const renamed = tf.variable(tf.tensor([3, 5]), true, `${base}_1`);
    const target = make();
    await target.setWeights(saved);
    tf.dispose(saved.map((s) => s.tensor));
    target.applyGradients({ [renamed.name]: g }); // re-keys the state and the anchor
    target.applyGradients({ [renamed.name]: g }); // finds the anchor under the new name
    expect(target.step).toBe(3);
    expect(target.anchors.names()).toEqual([renamed.name]);
    // θ₀ is the saved model's first value, not the renamed variable's.
    expect(values(target.anchors.get(renamed.name))).toEqual([1, 2]);
    target.dispose();
    tf.dispose([renamed, g]);
  });
});

describe('dispose and the saved state', () => {
  const stepTwice = (opt: RobustOptimizer, name: string) => {
    const g = tf.tensor([0.5, -1]);
    opt.applyGradients({ [name]: g });
    opt.applyGradients({ [name]: g });
    g.dispose();
  };

  it('dispose frees the state, the guard count and the anchors it made, not anchors it was given', () => {
    const before = tf.memory().numTensors;
    const name = unique('w');
    // tidy: the initial value's tensor goes, the variable stays (one tensor).
    const v = tf.tidy(() => tf.variable(tf.tensor([1, 2]), true, name));
    const opt = new RobustOptimizer({
      transformation: chain(pullToAnchor(0.5), scaleByAdam(), scaleByLearningRate()),
      learningRate: 0.1,
      nonFinite: 'guard',
    });
    stepTwice(opt, name);
    expect(tf.memory().numTensors).toBeGreaterThan(before + 1);
    opt.dispose();
    expect(tf.memory().numTensors).toBe(before + 1);

    const zeros = tf.tensor([0, 0]);
    const shared = Anchors.from({ [name]: zeros });
    const withShared = new RobustOptimizer({
      transformation: chain(pullToAnchor(0.5), scaleByAdam(), scaleByLearningRate()),
      learningRate: 0.1,
      anchor: shared,
    });
    stepTwice(withShared, name);
    withShared.dispose();
    expect(values(shared.get(name))).toEqual([0, 0]);
    shared.dispose();
    tf.dispose([zeros, v]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("getWeights' first entry is the state header: format, transformation label, parameter shapes", async () => {
    const name = unique('w');
    const v = tf.variable(tf.tensor([1, 2]), true, name);
    const opt = new RobustOptimizer({
      transformation: chain(pullToAnchor(0.5), scaleByAdam(), scaleByLearningRate()),
      learningRate: 0.1,
    });
    stepTwice(opt, name);
    const saved = await opt.getWeights();
    const [kind, text] = JSON.parse(saved[0]!.name) as [string, string];
    expect(kind).toBe('h');
    const header = JSON.parse(text) as {
      format: string;
      factory: string | null;
      label: string;
      params: Record<string, number[]>;
    };
    expect(header.format).toBe('robust-ft-optimizer-state');
    expect(header.factory).toBeNull();
    expect(header.label).toBe(opt.transformation.label);
    expect(header.params).toEqual({ [name]: [2] });
    opt.dispose();
    // An optimizer made by a factory records the factory's name (what a restore compares first).
    const made = new RobustOptimizer({
      transformation: chain(pullToAnchor(0.5), scaleByAdam(), scaleByLearningRate()),
      learningRate: 0.1,
      factory: { name: 'contracts/header-factory', options: {} },
    });
    stepTwice(made, name);
    const [, madeText] = JSON.parse((await made.getWeights())[0]!.name) as [string, string];
    expect((JSON.parse(madeText) as { factory: string | null }).factory).toBe('contracts/header-factory');
    made.dispose();
    v.dispose();
  });
});
