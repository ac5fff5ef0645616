import { createRng, type Rng } from '@robust-ft/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  type BatchModel,
  clipContrastiveLoss,
  cosineDistance,
  functionSpaceRegularizer,
  jsDivergence,
  klDivergence,
  logitMse,
  m2mixObjective,
  OUTPUT_DISTANCES,
  outputDistance,
  symmetricKlDivergence,
} from '../src/index';
import { errorOf, randomMatrix, unitRows } from './helpers';
import './setup-backend';

/**
 * The error contract (code, argument, expected form) and the `validate` options of the distances,
 * the function-space regularizer and the m²-mix objective, found unpinned by mutation testing (issue #20).
 */
const value = (t: tf.Tensor) => t.dataSync()[0]!;
const a = randomMatrix(3, 4, 61);
const b = randomMatrix(3, 4, 62);
const wide = randomMatrix(3, 5, 63);
const nan = tf.tensor2d([
  [Number.NaN, 0, 0, 0],
  [0, 0, 0, 0],
  [0, 0, 0, 0],
]);

describe('distances: argument names, shapes and `validate`', () => {
  const cases = [
    ['klDivergence', klDivergence, ['targetLogits', 'predictionLogits']],
    ['symmetricKlDivergence', symmetricKlDivergence, ['logitsA', 'logitsB']],
    ['jsDivergence', jsDivergence, ['logitsA', 'logitsB']],
    ['logitMse', logitMse, ['logitsA', 'logitsB']],
    ['cosineDistance', cosineDistance, ['featuresA', 'featuresB']],
  ] as const;
  for (const [label, fn, [first, second]] of cases) {
    it(`${label} names ${first} / ${second} and both shapes`, () => {
      const mismatch = errorOf(() => fn(a, wide));
      expect(mismatch.code).toBe('SHAPE_MISMATCH');
      expect(mismatch.argument).toBe(second);
      expect(mismatch.expected).toBe('shape [3,4]');
      expect(mismatch.message).toBe(`${second} has shape [3,5] but ${first} has shape [3,4]`);
      // Values are checked on the device (no read-back, so WebGPU works): a non-finite input makes the
      // distance NaN, which the optimizers' non-finite policy then rejects.
      expect(Number.isNaN(value(fn(nan, a)))).toBe(true);
      expect(Number.isNaN(value(fn(a, nan)))).toBe(true);
      expect(Number.isFinite(value(fn(a, b)))).toBe(true);
      expect(errorOf(() => fn(tf.tensor1d([1, 2]) as never, a)).argument).toBe(first);
      // validate: false skips the shape checks too: a rank-1 input is not refused by name.
      expect(Number.isNaN(value(fn(nan, a, { validate: false })))).toBe(true);
    });
  }

  it('name the temperature option', () => {
    for (const fn of [klDivergence, symmetricKlDivergence, jsDivergence]) {
      const e = errorOf(() => fn(a, b, { temperature: 0 }));
      expect(e.argument).toBe('options.temperature');
    }
  });

  it('outputDistance dispatches every name to its function', () => {
    const direct = {
      kl: klDivergence,
      'symmetric-kl': symmetricKlDivergence,
      js: jsDivergence,
      mse: logitMse,
      cosine: cosineDistance,
    } as const;
    expect([...OUTPUT_DISTANCES].sort()).toEqual(Object.keys(direct).sort());
    const seen = new Set<number>();
    for (const name of OUTPUT_DISTANCES) {
      const got = value(outputDistance(name, a, b));
      expect(got).toBeCloseTo(value(direct[name](a, b)), 6);
      seen.add(Math.round(got * 1e6));
    }
    // The five values differ, so a wrong dispatch cannot pass by coincidence.
    expect(seen.size).toBe(5);
  });
});

describe('functionSpaceRegularizer: configuration and input errors', () => {
  const x = tf.tidy(() => tf.sigmoid(randomMatrix(4, 3, 71)));
  const w = randomMatrix(3, 5, 72);
  const model: BatchModel = (input) => tf.matMul(input as tf.Tensor2D, w);
  const noise = (input: tf.Tensor) => tf.add(input, 0.1);
  const rng = createRng(2);

  it('views must be functions: a single one or a non-empty array of them', () => {
    for (const views of [[], [noise, 3], 3, [3, noise]]) {
      const e = errorOf(() => functionSpaceRegularizer({ views: views as never }));
      expect(e.argument).toBe('config.views');
      expect(e.expected).toBe("a view function (x, rng) => x' or a non-empty array of them");
    }
    const sameTensor = functionSpaceRegularizer({ views: (input) => input });
    const e = errorOf(() => sameTensor(model, model, x, rng));
    expect(e.argument).toBe('config.views');
    expect(e.expected).toBe('views that return a new tensor, not x itself');
  });

  it('model and pretrained must be functions returning [N, K]', () => {
    const fsr = functionSpaceRegularizer({ views: noise });
    for (const [student, teacher, argument] of [
      [3, model, 'model'],
      [model, 3, 'pretrained'],
    ] as const) {
      const e = errorOf(() => fsr(student as never, teacher as never, x, rng));
      expect([e.argument, e.expected]).toEqual([argument, 'a function x => logits']);
    }
    const flat: BatchModel = (input) => tf.sum(input, 1) as never;
    const fewer: BatchModel = (input) => tf.slice(model(input), 0, 2) as tf.Tensor2D;
    for (const [student, teacher, argument, shape] of [
      [flat, model, 'model', '[4]'],
      [model, flat, 'pretrained', '[4]'],
      [fewer, model, 'model', '[2,5]'],
      [model, fewer, 'pretrained', '[2,5]'],
    ] as const) {
      const e = errorOf(() => fsr(student, teacher, x, rng));
      expect(e.argument).toBe(argument);
      expect(e.expected).toBe('a function returning a [4, K] tensor');
      expect(e.message).toContain(`received "shape ${shape}"`);
    }
  });

  it('x must be a float tensor with a non-empty batch; a batch of one and a rank-1 batch are fine', () => {
    const fsr = functionSpaceRegularizer({ views: noise });
    expect(errorOf(() => fsr(model, model, tf.tensor2d([[1, 2, 3]], [1, 3], 'int32'), rng)).argument).toBe(
      'x',
    );
    expect(errorOf(() => fsr(model, model, tf.scalar(1), rng)).argument).toBe('x');
    const empty = errorOf(() => fsr(model, model, tf.zeros([0, 3]), rng));
    expect([empty.argument, empty.expected]).toEqual(['x', 'a non-empty batch']);
    expect(value(fsr(model, model, tf.slice(x, 0, 1), rng))).toBeCloseTo(0, 6);
    const perSample: BatchModel = (input) => tf.stack([input, tf.neg(input)], 1) as tf.Tensor2D;
    expect(value(fsr(perSample, perSample, tf.tensor1d([0.1, 0.2, 0.3]), rng))).toBeCloseTo(0, 6);
  });
});

describe('m2mixObjective: input checks', () => {
  const img = unitRows(4, 6, 81);
  const txt = unitRows(4, 6, 82);
  // Rows of norm 1 + 5e-4 pass the default tolerance 1e-3; rows of norm 1.01 do not.
  const slightly = tf.mul(img, 1 + 5e-4) as tf.Tensor2D;
  const off = tf.mul(img, 1.01) as tf.Tensor2D;

  it('requires unit-norm rows (tolerance 1e-3 by default) only when a mix term is active', () => {
    // The unit-norm check runs on the device (no read-back): rows off the sphere make the loss NaN.
    const objective = m2mixObjective();
    const lossOf = (r: { loss: tf.Scalar }) => value(r.loss);
    expect(Number.isFinite(lossOf(objective(slightly, txt, { lambdas: { m2mix: 0.5 } })))).toBe(true);
    expect(Number.isNaN(lossOf(objective(off, txt, { lambdas: { m2mix: 0.5 } })))).toBe(true);
    expect(
      Number.isNaN(lossOf(objective(img, tf.mul(txt, 1.01) as tf.Tensor2D, { lambdas: { m2mix: 0.5 } }))),
    ).toBe(true);
    expect(
      Number.isFinite(
        lossOf(m2mixObjective({ unitNormTolerance: 0.05 })(off, txt, { lambdas: { m2mix: 0.5 } })),
      ),
    ).toBe(true);
    // With every term off the objective is plain CLIP, which takes any embeddings.
    const clipOnly = m2mixObjective({ weights: { m2mix: 0 }, temperature: 0.05 })(off, txt, {});
    expect(value(clipOnly.loss)).toBeCloseTo(value(clipContrastiveLoss(off, txt, { temperature: 0.05 })), 5);
  });

  it('names the missing Rng, a non-finite drawn λ and an unknown weight', () => {
    const e = errorOf(() => m2mixObjective()(img, txt, {}));
    expect([e.argument, e.expected]).toEqual([
      'step.rng',
      'an Rng (or step.lambdas.m2mix) to draw the m2mix λ',
    ]);
    const broken = { beta: () => Number.NaN } as unknown as Rng;
    expect(errorOf(() => m2mixObjective()(img, txt, { rng: broken })).argument).toBe('lambda of m2mix');
    const unknown = errorOf(() => m2mixObjective({ weights: { mix: 1 } as never }));
    expect([unknown.argument, unknown.expected]).toEqual([
      'config.weights.mix',
      'one of vmix, lmix, vlmix, m2mix',
    ]);
  });

  it('the base CLIP term uses the configured τ', () => {
    const { terms } = m2mixObjective({ temperature: 0.05 })(img, txt, { lambdas: { m2mix: 0.5 } });
    const at05 = value(clipContrastiveLoss(img, txt, { temperature: 0.05 }));
    expect(value(terms.clip!)).toBeCloseTo(at05, 5);
    expect(Math.abs(at05 - value(clipContrastiveLoss(img, txt)))).toBeGreaterThan(1e-3);
  });
});
