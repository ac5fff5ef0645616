import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import {
  chain,
  type GradientTransformation,
  RobustFtError,
  RobustOptimizer,
  type StateTree,
  scaleByAdam,
  scaleByLearningRate,
} from '../src/index';
import { expectNoTensorLeaks, liveTensors } from '../src/testing/index';
import {
  adam,
  asIfWebGpu,
  caught,
  expectRefusal,
  freeze,
  type Refusal,
  savedWeights,
  unique,
  variable,
} from './adapter-fixtures';
import './setup-backend';

/*
 * Every refusal of the RobustOptimizer adapter's constructor, applyGradients and minimize (issue #20):
 * each pins the error's code, message, argument and expected form, and that the failed call changed no
 * variable, no state, no counter, no anchor and left no tensor behind. The "failed steps" cases moved
 * here from optimizers/test/reliability.test.ts (they exercised this package's adapter, not FTP's).
 */

const values = async (t: tf.Tensor) => Array.from(await t.data());

/** The refusal of an anchor of shape [2] given for a variable of shape [3]. */
const anchorOfShape2 = (name: string): Refusal => ({
  code: 'SHAPE_MISMATCH',
  message: `anchor["${name}"] has shape [2], expected [3]`,
  argument: `anchor["${name}"]`,
  expected: 'shape [3]',
});

describe('the constructor', () => {
  it('refuses options without a transformation that has update()', () => {
    const refusal = {
      code: 'INVALID_ARGUMENT',
      message: 'options.transformation must be a gradient transformation ({ init, update })',
      argument: 'options.transformation',
      expected: 'a gradient transformation ({ init, update })',
    } as const;
    for (const options of [
      undefined,
      null,
      {},
      { learningRate: 0.1 },
      { transformation: null, learningRate: 0.1 },
      { transformation: { init: () => ({}) }, learningRate: 0.1 },
      { transformation: { init: () => ({}), update: 'step' }, learningRate: 0.1 },
    ]) {
      expectRefusal(
        caught(() => new RobustOptimizer(options as never)),
        refusal,
      );
    }
  });

  it('refuses a negative learning rate in the options and through the setter, naming each', () => {
    const e = caught(
      () =>
        new RobustOptimizer({
          transformation: chain(scaleByAdam(), scaleByLearningRate()),
          learningRate: -1,
        }),
    ) as RobustFtError;
    expect([e.code, e.argument]).toEqual(['INVALID_ARGUMENT', 'options.learningRate']);
    expect(e.message).toContain('a number >= 0 or a schedule');
    // A numeric string is not a number (it would compare >= 0).
    const text = caught(
      () =>
        new RobustOptimizer({
          transformation: chain(scaleByAdam(), scaleByLearningRate()),
          learningRate: '0.1' as never,
        }),
    ) as RobustFtError;
    expect([text.code, text.argument]).toEqual(['INVALID_ARGUMENT', 'options.learningRate']);
    // Infinity passes the schema (a number >= 0) and is refused by the finite check that follows.
    const inf = caught(
      () =>
        new RobustOptimizer({
          transformation: chain(scaleByAdam(), scaleByLearningRate()),
          learningRate: Number.POSITIVE_INFINITY,
        }),
    ) as RobustFtError;
    expect([inf.code, inf.argument]).toEqual(['INVALID_ARGUMENT', 'options.learningRate']);
    // 0 is a learning rate (a frozen run), and a factory record must be an object.
    adam({ learningRate: 0 }).dispose();
    const f = caught(() => adam({ factory: 'adamw' as never })) as RobustFtError;
    expect([f.code, f.argument]).toEqual(['INVALID_ARGUMENT', 'options.factory']);
    // The name tfjs serialization registers the class under.
    expect(RobustOptimizer.className).toBe('RobustFtOptimizer');
    const opt = adam();
    const before = opt.learningRate;
    const s = caught(() => {
      opt.learningRate = -0.5;
    }) as RobustFtError;
    expect([s.code, s.argument]).toEqual(['INVALID_ARGUMENT', 'learningRate']);
    expect(opt.learningRate).toBe(before);
    opt.dispose();
  });

  it('refuses an unknown nonFinite policy through the option schema, naming the four', () => {
    const make = (nonFinite: unknown) => () =>
      new RobustOptimizer({
        transformation: scaleByLearningRate(),
        learningRate: 0.1,
        nonFinite: nonFinite as 'off',
      });
    const expected = 'one of "error", "skip", "guard", "off"';
    expectRefusal(caught(make('bogus')), {
      code: 'INVALID_ARGUMENT',
      message: `RobustOptimizer: options.nonFinite must be ${expected} (received "bogus")`,
      argument: 'options.nonFinite',
      expected,
    });
    expectRefusal(caught(make(1)), {
      code: 'INVALID_ARGUMENT',
      message: `RobustOptimizer: options.nonFinite must be ${expected} (received 1)`,
      argument: 'options.nonFinite',
      expected,
    });
    for (const policy of ['error', 'skip', 'guard', 'off'] as const)
      expect(make(policy)().nonFinite).toBe(policy);
  });
});

// Core's tests run on cpu; these lines only run on WebGPU. `asIfWebGpu` makes tf.getBackend() say
// 'webgpu' (the engine's backendName) while no kernel runs, so no GPU is needed.
describe('on WebGPU (backend name stubbed)', () => {
  it("defaults to 'guard' there and to 'error' elsewhere; an explicit policy wins on either", () => {
    const implicit = adam();
    expect(asIfWebGpu(() => implicit.nonFinite)).toBe('guard');
    expect(implicit.nonFinite).toBe('error');
    for (const policy of ['error', 'skip', 'off'] as const) {
      const explicit = adam({ nonFinite: policy });
      expect(asIfWebGpu(() => explicit.nonFinite)).toBe(policy);
      explicit.dispose();
    }
    implicit.dispose();
  });

  it("refuses 'error' and 'skip' at the step (they need a synchronous read); nothing changes", async () => {
    for (const policy of ['error', 'skip'] as const) {
      const v = variable([1, 2, 3]);
      const opt = adam({ nonFinite: policy });
      const g = tf.tensor1d([0.5, -0.5, 1]);
      opt.applyGradients({ [v.name]: g }); // one real step on cpu, so there is state to keep
      const unchanged = await freeze(opt, [v]);
      expectRefusal(
        caught(() => asIfWebGpu(() => opt.applyGradients({ [v.name]: g }))),
        {
          code: 'UNSUPPORTED',
          message:
            "nonFinite 'error' and 'skip' need a synchronous read, which WebGPU does not support; use 'guard' (the WebGPU default) and await nonFiniteSteps()",
          argument: 'options.nonFinite',
          expected: "'guard' or 'off' on WebGPU",
        },
      );
      await unchanged();
      opt.dispose();
      tf.dispose([v, g]);
    }
  });
});

describe('applyGradients refuses before it mutates anything', () => {
  it('no gradients at all (an empty map or list, or only null entries)', async () => {
    const v = variable([1, 2]);
    const opt = adam();
    const g = tf.tensor1d([1, 1]);
    opt.applyGradients({ [v.name]: g });
    const unchanged = await freeze(opt, [v]);
    for (const empty of [{}, [], [{ name: v.name, tensor: null }], { [v.name]: undefined }]) {
      expectRefusal(
        caught(() => opt.applyGradients(empty as never)),
        {
          code: 'INVALID_ARGUMENT',
          message: 'applyGradients got no gradients (empty variable list)',
          argument: 'variableGradients',
          expected: 'at least one gradient keyed by a trainable float32 variable name',
        },
      );
    }
    await unchanged();
    opt.dispose();
    tf.dispose([v, g]);
  });

  it('gradients that are neither a map nor a list, or entries that are not tensors', async () => {
    const v = variable([1, 2, 3]);
    const opt = adam();
    const unchanged = await freeze(opt, [v]);
    for (const [input, received] of [
      [null, 'null'],
      [5, '5'],
      ['grads', '"grads"'],
    ] as const) {
      expectRefusal(
        caught(() => opt.applyGradients(input as never)),
        {
          code: 'INVALID_ARGUMENT',
          message: `variableGradients must be a name → tensor map or NamedTensor[] (received ${received})`,
          argument: 'variableGradients',
          expected: 'a name → tensor map or NamedTensor[]',
        },
      );
    }
    for (const [g, received] of [
      [[1, 2, 3], 'array of length 3'],
      [0.5, '0.5'],
      [{ shape: [3] }, 'object'],
    ] as const) {
      expectRefusal(
        caught(() => opt.applyGradients({ [v.name]: g as never })),
        {
          code: 'INVALID_ARGUMENT',
          message: `grads["${v.name}"] must be a tf.Tensor (received ${received})`,
          argument: `grads["${v.name}"]`,
          expected: 'a tf.Tensor',
        },
      );
    }
    await unchanged();
    opt.dispose();
    v.dispose();
  });

  it('an int32 variable fails the step before the float one is touched (no half-applied step)', async () => {
    const a = variable([1, 2, 3], 'a');
    const b = variable([1, 2, 3], 'b', 'int32');
    const opt = adam();
    const ga = tf.ones([3]);
    const gb = tf.ones([3], 'int32');
    const gf = tf.ones([3]);
    const unchanged = await freeze(opt, [a, b]);
    expectRefusal(
      caught(() => opt.applyGradients({ [a.name]: ga, [b.name]: gb })),
      {
        code: 'INVALID_ARGUMENT',
        message: `cannot optimise "${b.name}": variable "${b.name}" is int32; only float32 trains`,
        argument: `grads["${b.name}"]`,
        expected: 'a float32 variable and gradient',
      },
    );
    // The variable decides, whatever its gradient's dtype.
    expectRefusal(
      caught(() => opt.applyGradients({ [b.name]: gf })),
      {
        code: 'INVALID_ARGUMENT',
        message: `cannot optimise "${b.name}": variable "${b.name}" is int32; only float32 trains`,
        argument: `grads["${b.name}"]`,
        expected: 'a float32 variable and gradient',
      },
    );
    await unchanged();
    expect(opt.anchors.names()).toEqual([]);
    opt.dispose();
    tf.dispose([a, b, ga, gb, gf]);
  });

  it('an int32 gradient of a float32 variable names the gradient', async () => {
    const a = variable([1, 2, 3]);
    const opt = adam();
    const g = tf.ones([3], 'int32');
    const unchanged = await freeze(opt, [a]);
    expectRefusal(
      caught(() => opt.applyGradients({ [a.name]: g })),
      {
        code: 'INVALID_ARGUMENT',
        message: `cannot optimise "${a.name}": its gradient is int32; only float32 trains`,
        argument: `grads["${a.name}"]`,
        expected: 'a float32 variable and gradient',
      },
    );
    await unchanged();
    opt.dispose();
    tf.dispose([a, g]);
  });

  it('a gradient for no registered variable, or of the wrong shape, names the gradient; nothing changes', async () => {
    const a = variable([1, 2, 3]);
    const opt = adam();
    const g = tf.ones([3]);
    const wrong = tf.ones([2]);
    const unchanged = await freeze(opt, [a]);
    expectRefusal(
      caught(() => opt.applyGradients({ [a.name]: g, 'no/such/variable': g })),
      {
        code: 'UNKNOWN_VARIABLE',
        message: 'no variable named "no/such/variable" is registered',
        argument: 'grads["no/such/variable"]',
        expected: 'a gradient keyed by the name of a registered tf.Variable',
      },
    );
    expectRefusal(
      caught(() => opt.applyGradients({ [a.name]: wrong })),
      {
        code: 'SHAPE_MISMATCH',
        message: `the gradient of "${a.name}" has shape [2], the variable [3]`,
        argument: `grads["${a.name}"]`,
        expected: 'shape [3]',
      },
    );
    await unchanged();
    opt.dispose();
    tf.dispose([a, g, wrong]);
  });

  it('an anchor holding NaN is NON_FINITE at its first use (not a gradient, and never skipped)', async () => {
    for (const nonFinite of ['error', 'skip'] as const) {
      const v = variable([1, 2, 3]);
      const opt = adam({ nonFinite, anchor: { [v.name]: tf.tensor1d([0, Number.NaN, 0]) } });
      const g = tf.ones([3]);
      const unchanged = await freeze(opt, [v]);
      expectRefusal(
        caught(() => opt.applyGradients({ [v.name]: g })),
        {
          code: 'NON_FINITE',
          message: `the anchor of "${v.name}" holds NaN or Inf; the step was not applied`,
          argument: `anchor["${v.name}"]`,
          expected: 'finite values',
        },
      );
      await unchanged();
      expect(opt.skippedSteps).toBe(0);
      opt.dispose();
      tf.dispose([v, g]);
    }
  });

  it('a gradient holding Inf is NON_FINITE naming the gradient (a finite anchor beside it passes)', async () => {
    const v = variable([1, 2, 3]);
    const opt = adam({ anchor: { [v.name]: tf.tensor1d([0, 0, 0]) } });
    const g = tf.tensor1d([0, Number.POSITIVE_INFINITY, 0]);
    const unchanged = await freeze(opt, [v]);
    expectRefusal(
      caught(() => opt.applyGradients({ [v.name]: g })),
      {
        code: 'NON_FINITE',
        message: `the gradient of "${v.name}" holds NaN or Inf; the step was not applied`,
        argument: `grads["${v.name}"]`,
        expected: 'finite values',
      },
    );
    await unchanged();
    opt.dispose();
    tf.dispose([v, g]);
  });

  it('an explicit anchor of the wrong shape is SHAPE_MISMATCH at its first use', async () => {
    const v = variable([1, 2, 3]);
    const opt = adam({ anchor: { [v.name]: tf.tensor1d([0, 0]) } });
    const g = tf.ones([3]);
    const unchanged = await freeze(opt, [v]);
    expectRefusal(
      caught(() => opt.applyGradients({ [v.name]: g })),
      anchorOfShape2(v.name),
    );
    await unchanged();
    opt.dispose();
    tf.dispose([v, g]);
  });

  it('the shape is checked before finiteness: a wrong-shaped anchor is refused even on a step to skip', async () => {
    // 'skip' with a NaN gradient would skip the step silently; an anchor holding NaN would be NON_FINITE.
    const cases = [
      { nonFinite: 'skip', anchor: [0, 0], grad: [Number.NaN, 1, 1] },
      { nonFinite: 'error', anchor: [Number.NaN, 0], grad: [1, 1, 1] },
    ] as const;
    for (const c of cases) {
      const v = variable([1, 2, 3]);
      const given = tf.tensor1d([...c.anchor]);
      const opt = adam({ nonFinite: c.nonFinite, anchor: { [v.name]: given } });
      const g = tf.tensor1d([...c.grad]);
      const unchanged = await freeze(opt, [v]);
      expectRefusal(
        caught(() => opt.applyGradients({ [v.name]: g })),
        anchorOfShape2(v.name),
      );
      await unchanged();
      expect(opt.skippedSteps).toBe(0);
      opt.dispose();
      tf.dispose([v, g, given]);
    }
  });

  it('a transformation that returns no update, or one of the wrong shape, is STATE_MISMATCH', async () => {
    // A transformation with tensor state, so a failed first step has fresh state and a first-sight anchor to undo.
    const broken = (update: (g: tf.Tensor) => tf.Tensor | undefined): GradientTransformation<StateTree> => ({
      label: 'broken',
      init: (params) => ({
        sum: Object.fromEntries(Object.keys(params).map((n) => [n, tf.zerosLike(params[n]!)])),
      }),
      update: (grads, state) => {
        const updates: tf.NamedTensorMap = {};
        for (const [n, g] of Object.entries(grads)) {
          const u = update(g);
          if (u) updates[n] = u;
        }
        const sum = state.sum as Record<string, tf.Tensor>;
        return {
          updates,
          state: { sum: Object.fromEntries(Object.entries(sum).map(([n, s]) => [n, tf.add(s, 1)])) },
        };
      },
    });
    const mode = { now: 'ok' as 'ok' | 'none' | 'shape' };
    const opt = new RobustOptimizer({
      transformation: broken((g) =>
        mode.now === 'none' ? undefined : mode.now === 'shape' ? tf.reshape(g, [1, -1]) : tf.mul(g, -0.1),
      ),
      learningRate: 1,
    });
    const v = variable([1, 2, 3]);
    const g = tf.ones([3]);
    for (const state of ['fresh', 'after a step'] as const) {
      if (state === 'after a step') {
        mode.now = 'ok';
        opt.applyGradients({ [v.name]: g });
        expect(await values(v)).toEqual([0.9, 1.9, 2.9].map(Math.fround));
      }
      for (const failure of ['none', 'shape'] as const) {
        mode.now = failure;
        const unchanged = await freeze(opt, [v]);
        expectRefusal(
          caught(() => opt.applyGradients({ [v.name]: g })),
          {
            code: 'STATE_MISMATCH',
            message: `the transformation returned no valid update for "${v.name}"`,
            argument: v.name,
          },
        );
        await unchanged();
      }
      // The failed first steps forgot the anchor they snapshotted; the successful one kept its own.
      expect(opt.anchors.names()).toEqual(state === 'fresh' ? [] : [v.name]);
    }
    opt.dispose();
    tf.dispose([v, g]);
  });

  it('the state of a variable re-created with another shape is STATE_MISMATCH', async () => {
    const name = unique('w');
    const first = tf.variable(tf.tensor1d([1, 2, 3]), true, name);
    const opt = adam();
    const g3 = tf.ones([3]);
    opt.applyGradients({ [name]: g3 });
    first.dispose();
    const again = tf.variable(tf.tensor1d([1, 2]), true, name);
    const g2 = tf.ones([2]);
    const unchanged = await freeze(opt, [again]);
    expectRefusal(
      caught(() => opt.applyGradients({ [name]: g2 })),
      {
        code: 'STATE_MISMATCH',
        message: `the optimizer state of "${name}" is for shape [3], the variable "${name}" has [2]`,
        argument: `grads["${name}"]`,
        expected: 'a variable of shape [3]',
      },
    );
    await unchanged();
    opt.dispose();
    tf.dispose([again, g3, g2]);
  });

  it('restored state re-keyed to a renamed variable (tfjs-layers "_1") must fit its shape', async () => {
    const base = unique('dense/kernel');
    const old = tf.variable(tf.tensor1d([1, 2, 3]), true, base);
    const source = adam();
    const g3 = tf.ones([3]);
    source.applyGradients({ [base]: g3 });
    const saved = await savedWeights(source);
    source.dispose();
    old.dispose();
    const target = adam();
    await target.setWeights(saved);
    const renamed = tf.variable(tf.tensor1d([1, 2]), true, `${base}_1`);
    const g2 = tf.ones([2]);
    const unchanged = await freeze(target, [renamed]);
    expectRefusal(
      caught(() => target.applyGradients({ [renamed.name]: g2 })),
      {
        code: 'STATE_MISMATCH',
        message: `the optimizer state of "${base}" is for shape [3], the variable "${renamed.name}" has [2]`,
        argument: `grads["${renamed.name}"]`,
        expected: 'a variable of shape [3]',
      },
    );
    await unchanged();
    target.dispose();
    tf.dispose([...saved.map((s) => s.tensor), renamed, g3, g2]);
  });

  it('the renamed variable is found by its trailing "_<digits>" only ("_12" after a "_1" mid-name)', async () => {
    const base = unique('block_1/w');
    const old = tf.variable(tf.tensor1d([1, 2, 3]), true, base);
    const source = adam();
    const g = tf.ones([3]);
    source.applyGradients({ [base]: g });
    const saved = await savedWeights(source);
    source.dispose();
    old.dispose();
    const target = adam();
    await target.setWeights(saved);
    const renamed = tf.variable(tf.tensor1d([1, 2, 3]), true, `${base}_12`);
    target.applyGradients({ [renamed.name]: g });
    expect(target.step).toBe(2);
    target.dispose();
    tf.dispose([...saved.map((s) => s.tensor), renamed, g]);
  });

  it("restored state for other variables refuses the first step (another model's checkpoint)", async () => {
    const saved4 = [0, 1, 2, 3].map((i) => variable([i, 1], `saved${i}`));
    const other4 = [0, 1, 2, 3].map((i) => variable([i, 2], `other${i}`));
    const source = adam();
    const g = tf.ones([2]);
    source.applyGradients(Object.fromEntries(saved4.map((v) => [v.name, g])));
    const saved = await savedWeights(source);
    source.dispose();
    const target = adam();
    await target.setWeights(saved);
    const unchanged = await freeze(target, [...saved4, ...other4]);
    const names = (vs: tf.Variable[]) =>
      vs
        .slice(0, 3)
        .map((v) => v.name)
        .join('", "');
    expectRefusal(
      caught(() => target.applyGradients(Object.fromEntries(other4.map((v) => [v.name, g])))),
      {
        code: 'STATE_MISMATCH',
        message: `the restored optimizer state is for other variables ("${names(saved4)}"…), none of this step's ("${names(other4)}"…): was it saved for another model?`,
        argument: 'variableGradients',
        expected: 'gradients of the variables the state was saved for',
      },
    );
    await unchanged();
    // A step that claims some of the restored state goes on from it (step 2, not a fresh step 1).
    target.applyGradients({ [saved4[0]!.name]: g, [other4[0]!.name]: g });
    expect(target.step).toBe(2);
    target.dispose();
    tf.dispose([...saved.map((s) => s.tensor), ...saved4, ...other4, g]);
  });
});

describe('minimize', () => {
  const quadratic = (v: tf.Variable) => () => tf.sum(tf.square(v)) as tf.Scalar;

  it('returns the loss only when asked (returnCost defaults to false) and leaks nothing either way', async () => {
    const v = variable([1, -2]);
    const opt = adam();
    expect(opt.minimize(quadratic(v))).toBeNull();
    const cost = opt.minimize(quadratic(v), true);
    // The loss at θ before this step: after step 1 θ = [1, −2] − 0.1·sign = [0.9, −1.9] (Adam's first step).
    expect(cost?.dataSync()[0]).toBeCloseTo(0.9 ** 2 + 1.9 ** 2, 5);
    cost?.dispose();
    await expectNoTensorLeaks(() => opt.minimize(quadratic(v)), { label: 'minimize' });
    await expectNoTensorLeaks(() => opt.minimize(quadratic(v), true), { label: 'minimize(returnCost)' });
    opt.dispose();
    v.dispose();
  });

  it('an empty variable list is a typed error (minimize, a model without weights, only untrainable variables)', async () => {
    const emptyList = {
      code: 'INVALID_ARGUMENT',
      message: 'nothing to optimise: the variable list is empty',
      argument: 'varList',
      expected: 'at least one trainable float32 variable',
    } as const;
    const opt = adam();
    const frozenVar = tf.variable(tf.tensor1d([1, 2]), false, unique('frozen'));
    const unchanged = await freeze(opt, [frozenVar]);
    expectRefusal(
      caught(() => opt.minimize(() => tf.scalar(1), false, [])),
      emptyList,
    );
    // tfjs's own "expects at least one of the input variables to be trainable", translated.
    expectRefusal(
      caught(() => opt.minimize(quadratic(frozenVar), false, [frozenVar])),
      emptyList,
    );
    await unchanged();
    const m = tfl.sequential({ layers: [tfl.layers.activation({ activation: 'relu', inputShape: [2] })] });
    m.compile({ optimizer: opt, loss: 'meanSquaredError' });
    const x = tf.ones([2, 2]);
    const error = await m.trainOnBatch(x, x).catch((e: unknown) => e);
    expectRefusal(error, emptyList);
    x.dispose();
    opt.dispose();
    m.dispose();
    frozenVar.dispose();
  });

  it("passes other errors of the loss through untranslated (tfjs's and robust-ft's own)", async () => {
    const v = variable([1, 2]);
    const opt = adam();
    const unchanged = await freeze(opt, [v]);
    const boom = new Error('boom');
    expect(
      caught(() =>
        opt.minimize(() => {
          throw boom;
        }),
      ),
    ).toBe(boom);
    // Ours is never rewritten, even where its message reads like tfjs's.
    const ours = new RobustFtError('INVALID_ARGUMENT', 'at least one of the input variables is wrong', {
      argument: 'x',
    });
    expect(
      caught(() =>
        opt.minimize(() => {
          throw ours;
        }),
      ),
    ).toBe(ours);
    const nonScalar = caught(() => opt.minimize(() => tf.mul(v, 2) as unknown as tf.Scalar));
    expect(RobustFtError.isInstance(nonScalar)).toBe(false);
    expect(String(nonScalar)).toMatch(/must return a scalar/);
    await unchanged();
    opt.dispose();
    v.dispose();
  });

  it('failed trainOnBatch/minimize steps leak nothing: 100 NaN batches in a catching loop', async () => {
    const m = tfl.sequential({
      layers: [
        tfl.layers.dense({
          inputShape: [4],
          units: 3,
          kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }),
        }),
      ],
    });
    m.compile({ optimizer: adam({ learningRate: 0.01 }), loss: 'meanSquaredError' });
    const good = tf.ones([2, 4]);
    const y = tf.zeros([2, 3]);
    await m.trainOnBatch(good, y);
    const x = tf.fill([2, 4], Number.NaN);
    const weights = await Promise.all(m.getWeights().map(values));
    const v = variable([1, 1, 1, 1]);
    const opt = adam();
    const tensors = liveTensors();
    let typed = 0;
    for (let i = 0; i < 100; i++) {
      try {
        await m.trainOnBatch(x, y);
      } catch (e) {
        if (RobustFtError.isInstance(e) && e.code === 'NON_FINITE') typed++;
      }
      try {
        opt.minimize(() => tf.sum(tf.mul(v, Number.NaN)) as tf.Scalar);
      } catch (e) {
        if (RobustFtError.isInstance(e) && e.code === 'NON_FINITE') typed++;
      }
    }
    expect(typed).toBe(200);
    expect(liveTensors()).toBe(tensors);
    expect(await Promise.all(m.getWeights().map(values))).toEqual(weights);
    expect(await values(v)).toEqual([1, 1, 1, 1]);
    expect(opt.step).toBe(0);
    tf.dispose([good, x, y, v]);
    m.optimizer.dispose();
    opt.dispose();
    m.dispose();
  });
});
