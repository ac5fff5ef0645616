import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  addDecayedWeights,
  clipByGlobalNorm,
  globToRegExp,
  matchesName,
  nameMatcher,
  RobustFtError,
  scale,
  scaleByAdam,
  scaleByLearningRate,
  type TransformContext,
  traceMomentum,
} from '../src/index';
import { validateAdamMoments } from '../src/internal';
import './setup-backend';

/** Values, options, labels and argument checks of the basic transformations and of name selectors (issue #20). */

const ctx: TransformContext = { step: 1, learningRate: 0.5, anchor: () => tf.scalar(0) };
const read = (m: tf.NamedTensorMap) =>
  Object.fromEntries(Object.entries(m).map(([k, t]) => [k, Array.from(t.dataSync())]));

function argumentOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    expect(RobustFtError.isInstance(e), String(e)).toBe(true);
    return (e as RobustFtError).argument;
  }
  throw new Error('expected a RobustFtError');
}

describe('name selectors', () => {
  it('`?` matches exactly one character within a segment', () => {
    expect(matchesName('a?c', 'abc')).toBe(true);
    expect(matchesName('a?c', 'ac')).toBe(false);
    expect(matchesName('a?c', 'abbc')).toBe(false);
    expect(matchesName('a?c', 'a/c')).toBe(false);
  });

  it('`**` crosses segments and the rest of the glob still has to match', () => {
    expect(matchesName('**/bias', 'a/b/bias')).toBe(true);
    expect(matchesName('**/bias', 'a/xbias')).toBe(false);
    expect(matchesName('**bias', 'a/b/weights')).toBe(false);
    expect(matchesName('a/**', 'a/b/c')).toBe(true);
    expect(matchesName('a/*', 'a/b/c')).toBe(false);
  });

  it('regex metacharacters in a glob are literal', () => {
    expect(matchesName('a.b', 'a.b')).toBe(true);
    expect(matchesName('a.b', 'axb')).toBe(false);
    expect(matchesName('w(1)+', 'w(1)+')).toBe(true);
    expect(matchesName('w[0]', 'w[0]')).toBe(true);
    expect(matchesName('w[0]', 'w0')).toBe(false);
  });

  it('compiles each glob once', () => {
    expect(globToRegExp('cache/*')).toBe(globToRegExp('cache/*'));
    expect(globToRegExp('cache/*').test('cache/x')).toBe(true);
  });

  it('a global RegExp is not stateful across calls; lists match if any entry does', () => {
    const re = /head/g;
    expect(matchesName(re, 'model/head/kernel')).toBe(true);
    expect(matchesName(re, 'model/head/kernel')).toBe(true);
    expect(matchesName(['x', /y/], 'y')).toBe(true);
    expect(matchesName(['x', /y/], 'z')).toBe(false);
    expect(matchesName([], 'z')).toBe(false);
  });

  it('rejects a selector of another type, naming it', () => {
    expect(argumentOf(() => matchesName(42 as never, 'x'))).toBe('selector');
    expect(argumentOf(() => matchesName({ length: 1 } as never, 'x'))).toBe('selector');
    expect(() => matchesName(42 as never, 'x')).toThrowError(
      expect.objectContaining({ expected: 'a glob string, RegExp, predicate or array of these' }),
    );
  });

  it('nameMatcher(undefined) selects nothing; otherwise it applies the selector', () => {
    expect(nameMatcher(undefined)('anything')).toBe(false);
    expect(nameMatcher('a/*')('a/b')).toBe(true);
    expect(nameMatcher('a/*')('b/b')).toBe(false);
  });
});

describe('basic transformations', () => {
  const params = { w: tf.tensor([1, -2]), b: tf.tensor([4]) };

  it('have stable labels and empty initial state where they keep none', () => {
    expect(scale(2).label).toBe('scale');
    expect(scaleByLearningRate().label).toBe('scaleByLearningRate');
    expect(addDecayedWeights(0.1).label).toBe('addDecayedWeights');
    expect(traceMomentum({ momentum: 0.5 }).label).toBe('traceMomentum');
    expect(clipByGlobalNorm(1).label).toBe('clipByGlobalNorm');
    expect(scaleByAdam().label).toBe('scaleByAdam');
    for (const t of [scale(2), scaleByLearningRate(), addDecayedWeights(0.1), clipByGlobalNorm(1)])
      expect(t.init(params)).toEqual({});
  });

  it('scale, scaleByLearningRate and addDecayedWeights compute their updates', () => {
    const g = { w: tf.tensor([0.5, 1]), b: tf.tensor([-1]) };
    expect(read(scale(3).update(g, {}, params, ctx).updates)).toEqual({ w: [1.5, 3], b: [-3] });
    expect(read(scaleByLearningRate().update(g, {}, params, ctx).updates)).toEqual({
      w: [-0.25, -0.5],
      b: [0.5],
    });
    expect(read(addDecayedWeights(0.5).update(g, {}, params, ctx).updates)).toEqual({ w: [1, 0], b: [1] });
    // Weight decay 0 passes the updates through untouched (no new tensors).
    expect(addDecayedWeights(0).update(g, {}, params, ctx).updates).toBe(g);
  });

  it('traceMomentum is torch SGD momentum: b = g first, then μb + g; Nesterov g + μb; default not Nesterov', () => {
    const grads = [tf.tensor([1, 2]), tf.tensor([3, -1]), tf.tensor([0, 0])];
    const run = (t: ReturnType<typeof traceMomentum>) => {
      let state = t.init({ w: params.w });
      const out: number[][] = [];
      for (const g of grads) {
        const r = t.update({ w: g }, state, params, ctx);
        out.push(Array.from(r.updates.w!.dataSync()));
        state = r.state;
      }
      return { out, state };
    };
    const plain = run(traceMomentum({ momentum: 0.5 }));
    expect(plain.out).toEqual([
      [1, 2],
      [3.5, 0],
      [1.75, 0],
    ]);
    expect(plain.state.started).toEqual({ w: 1 });
    const nesterov = run(traceMomentum({ momentum: 0.5, nesterov: true }));
    // g + μb with b as above.
    expect(nesterov.out).toEqual([
      [1.5, 3],
      [4.75, -1],
      [0.875, 0],
    ]);
    // A missing gradient carries the buffer over unchanged.
    const t = traceMomentum({ momentum: 0.5 });
    const s1 = t.update({ w: grads[0]!, b: tf.tensor([2]) }, t.init(params), params, ctx).state;
    const s2 = t.update({ w: grads[1]! }, s1, params, ctx).state;
    expect(s2.buf.b).toBe(s1.buf.b);
    expect(s2.started.b).toBe(1);
    expect(t.init(params).started).toEqual({ w: 0, b: 0 });
    expect(Array.from(t.init(params).buf.w!.dataSync())).toEqual([0, 0]);
  });

  it('clipByGlobalNorm rescales to maxNorm only when the global norm exceeds it', () => {
    const g = { w: tf.tensor([3, 0]), b: tf.tensor([4]) }; // global norm 5
    const clipped = read(clipByGlobalNorm(2.5).update(g, {}, params, ctx).updates);
    expect(clipped.w![0]).toBeCloseTo(1.5, 6);
    expect(clipped.w![1]).toBe(0);
    expect(clipped.b![0]).toBeCloseTo(2, 6);
    expect(read(clipByGlobalNorm(10).update(g, {}, params, ctx).updates)).toEqual({ w: [3, 0], b: [4] });
    expect(read(clipByGlobalNorm(5).update(g, {}, params, ctx).updates)).toEqual({ w: [3, 0], b: [4] });
  });

  it('validate their options, naming the argument', () => {
    expect(argumentOf(() => scale(Number.NaN))).toBe('factor');
    expect(argumentOf(() => addDecayedWeights(-0.1))).toBe('weightDecay');
    expect(argumentOf(() => traceMomentum({ momentum: 1 }))).toBe('momentum');
    expect(argumentOf(() => traceMomentum({ momentum: -0.1 }))).toBe('momentum');
    expect(traceMomentum({ momentum: 0 }).label).toBe('traceMomentum');
    expect(argumentOf(() => clipByGlobalNorm(0))).toBe('maxNorm');
  });
});

describe('Adam moments options', () => {
  it('default to β₁ 0.9, β₂ 0.999, ε 1e-8; β in [0, 1), ε ≥ 0', () => {
    expect(validateAdamMoments({})).toEqual({ beta1: 0.9, beta2: 0.999, epsilon: 1e-8 });
    expect(validateAdamMoments({ beta1: 0, beta2: 0, epsilon: 0 })).toEqual({
      beta1: 0,
      beta2: 0,
      epsilon: 0,
    });
    expect(argumentOf(() => validateAdamMoments({ beta1: 1 }))).toBe('beta1');
    expect(argumentOf(() => validateAdamMoments({ beta1: -0.1 }))).toBe('beta1');
    expect(argumentOf(() => validateAdamMoments({ beta2: 1 }))).toBe('beta2');
    expect(argumentOf(() => validateAdamMoments({ beta2: 1.5 }))).toBe('beta2');
    expect(argumentOf(() => validateAdamMoments({ epsilon: -1e-9 }))).toBe('epsilon');
    expect(argumentOf(() => scaleByAdam({ beta1: 1 }))).toBe('beta1');
  });
});
