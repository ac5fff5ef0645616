import { createRng, type RobustFtError } from '@robust-ft/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { resolveLogitScale } from '../src/clip-contrastive';
import {
  type Attack,
  adversarialTrainingLoss,
  type BatchModel,
  clipContrastive,
  clipContrastiveLoss,
  consistencyLoss,
  consistencyRegularizer,
  cosineDistance,
  geodesicMixup,
  jsDivergence,
  klDivergence,
  labelCrossEntropy,
  lmixLoss,
  logitMse,
  m2mixLogits,
  m2mixLoss,
  outputDistance,
  symmetricKlDivergence,
  tradesLoss,
  tradesLossFromLogits,
  vlmixLoss,
  vmixLoss,
} from '../src/index';
import {
  bimodalMixTargets,
  diagonalAndFlipMask,
  flippedIdentity,
  unimodalMixTargets,
} from '../src/mix-targets';
import { errorOf, randomMatrix, unitRows } from './helpers';
import './setup-backend';

/**
 * The input contract (code, argument, expected form, message) of the adversarial losses, the consistency
 * regularizer and the CLIP factory: each case below was a surviving mutant (issue #20).
 */
const contract = (e: RobustFtError) => [e.code, e.argument, e.expected];
const value = (t: tf.Tensor) => t.dataSync()[0]!;

const x = tf.tidy(() => tf.sigmoid(randomMatrix(6, 4, 1)));
const labels = tf.tensor1d([0, 1, 2, 1, 0, 2], 'int32');
const w = randomMatrix(4, 3, 2);
const model: BatchModel = (input) => tf.matMul(input as tf.Tensor2D, w);
const identity: Attack = (_m, input) => tf.clone(input);

describe('adversarialTrainingLoss / tradesLoss: the batch and the attack', () => {
  const losses = [
    ['adversarialTrainingLoss', adversarialTrainingLoss],
    ['tradesLoss', tradesLoss],
  ] as const;

  it.each(losses)('%s names a model that is not a function and x that is not a batch', (_, loss) => {
    expect(contract(errorOf(() => loss(3 as never, x, labels, { attack: identity })))).toEqual([
      'INVALID_ARGUMENT',
      'model',
      'a function x => logits',
    ]);
    expect(contract(errorOf(() => loss(model, [1, 2] as never, labels, { attack: identity })))).toEqual([
      'INVALID_ARGUMENT',
      'x',
      'a tf.Tensor',
    ]);
    for (const empty of [tf.scalar(1), tf.zeros([0, 4])]) {
      expect(contract(errorOf(() => loss(model, empty, labels, { attack: identity })))).toEqual([
        'INVALID_ARGUMENT',
        'x',
        'a non-empty batch',
      ]);
    }
    // A rank-1 batch (one feature per sample) is a batch.
    const perSample: BatchModel = (input) => tf.stack([input, tf.neg(input)], 1) as tf.Tensor2D;
    const flat = tf.tensor1d([0.1, -0.2, 0.3]);
    expect(
      Number.isFinite(value(loss(perSample, flat, tf.tensor1d([0, 1, 0], 'int32'), { attack: identity }))),
    ).toBe(true);
    // A batch of one is a batch.
    const one = tf.slice(x, 0, 1);
    expect(Number.isFinite(value(loss(model, one, tf.tensor1d([2], 'int32'), { attack: identity })))).toBe(
      true,
    );
  });

  it.each(losses)('%s wants [N] labels: not a number, null, a matrix or another length', (_, loss) => {
    for (const bad of [3, null, tf.zeros([6, 1], 'int32'), tf.tensor1d([0, 1], 'int32')]) {
      const e = errorOf(() => loss(model, x, bad as never, { attack: identity }));
      expect(contract(e)).toEqual(['SHAPE_MISMATCH', 'labels', 'shape [6]']);
      expect(e.message).toBe('labels must be a [6] int32 tensor');
    }
  });

  it.each(losses)('%s names the attack: not a function, or a batch of another shape or rank', (_, loss) => {
    // A non-function attack is refused by the option schema (`a function`); a missing one here.
    for (const options of [{}, undefined]) {
      expect(contract(errorOf(() => loss(model, x, labels, options as never)))).toEqual([
        'INVALID_ARGUMENT',
        'options.attack',
        'a function (model, x, labels) => xAdv',
      ]);
    }
    const cases: [Attack, string][] = [
      [() => tf.zeros([2, 4]), '[2,4]'],
      // Same leading dimension, lower rank: only the rank tells it apart.
      [() => tf.zeros([6]), '[6]'],
      [() => tf.zeros([6, 4, 1]), '[6,4,1]'],
    ];
    for (const [attack, shape] of cases) {
      const before = tf.memory().numTensors;
      const e = errorOf(() => loss(model, x, labels, { attack }));
      expect(contract(e)).toEqual([
        'SHAPE_MISMATCH',
        'options.attack',
        'an adversarial batch of shape [6,4]',
      ]);
      expect(e.message).toBe(`the attack returned shape ${shape} for x of shape [6,4]`);
      // The refused batch is disposed.
      expect(tf.memory().numTensors).toBe(before);
    }
  });
});

describe('adversarialTrainingLoss / tradesLoss: label values and β', () => {
  it('AT refuses float labels by name and is NaN for an out-of-range class id', () => {
    const before = tf.memory().numTensors;
    const e = errorOf(() =>
      adversarialTrainingLoss(model, x, tf.tensor1d([0, 1, 2, 1, 0, 2]) as never, { attack: identity }),
    );
    expect(contract(e)).toEqual(['INVALID_ARGUMENT', 'labels', 'an int32 tensor of class indices']);
    // The attacked batch is disposed on the way out (errorOf's tidy disposes the float labels).
    expect(tf.memory().numTensors).toBe(before);
    const outOfRange = tf.tensor1d([0, 1, 3, 1, 0, 2], 'int32');
    expect(Number.isNaN(value(adversarialTrainingLoss(model, x, outOfRange, { attack: identity })))).toBe(
      true,
    );
  });

  it('tradesLoss names a negative β', () => {
    expect(contract(errorOf(() => tradesLoss(model, x, labels, { attack: identity, beta: -1 })))).toEqual([
      'INVALID_ARGUMENT',
      'options.beta',
      'a finite number >= 0',
    ]);
  });
});

describe('tradesLossFromLogits: forms, labels and validate', () => {
  const z = randomMatrix(4, 3, 5);
  const y = tf.tensor1d([0, 1, 2, 0], 'int32');

  it('names each logits argument and both shapes', () => {
    expect(errorOf(() => tradesLossFromLogits(tf.tensor1d([1, 2]) as never, z, y)).argument).toBe(
      'cleanLogits',
    );
    expect(errorOf(() => tradesLossFromLogits(z, tf.tensor1d([1, 2]) as never, y)).argument).toBe(
      'adversarialLogits',
    );
    const e = errorOf(() => tradesLossFromLogits(z, randomMatrix(4, 2, 1), y));
    expect(contract(e)).toEqual(['SHAPE_MISMATCH', 'adversarialLogits', 'shape [4,3]']);
    expect(e.message).toBe('adversarialLogits has shape [4,2], cleanLogits [4,3]');
  });

  it('wants int32 class-index labels', () => {
    expect(contract(errorOf(() => tradesLossFromLogits(z, z, 3 as never)))).toEqual([
      'INVALID_ARGUMENT',
      'labels',
      'an int32 tf.Tensor of class indices',
    ]);
    expect(contract(errorOf(() => tradesLossFromLogits(z, z, tf.tensor1d([0, 1, 2, 0]) as never)))).toEqual([
      'INVALID_ARGUMENT',
      'labels',
      'an int32 tensor of class indices',
    ]);
  });

  it('validate: false skips the label range check (an out-of-range id has a zero one-hot row)', () => {
    const outOfRange = tf.tensor1d([0, 1, 3, 0], 'int32');
    expect(Number.isNaN(value(tradesLossFromLogits(z, z, outOfRange)))).toBe(true);
    // With identical logits the KL is 0, so the loss is the mean CE with row 2 contributing 0.
    const ce = Array.from(labelCrossEntropy(z, y, 'none').dataSync());
    const expected = (ce[0]! + ce[1]! + 0 + ce[3]!) / 4;
    expect(value(tradesLossFromLogits(z, z, outOfRange, { validate: false }))).toBeCloseTo(expected, 5);
  });
});

describe('consistencyLoss / consistencyRegularizer: argument names', () => {
  const p = randomMatrix(4, 5, 1, 2);
  const noise = (input: tf.Tensor) => tf.add(input, 0.1);
  const linear: BatchModel = (input) => tf.matMul(input as tf.Tensor2D, randomMatrix(6, 3, 9));
  const batch = randomMatrix(8, 6, 7);

  it('names options.temperature of the loss and config.* of the regularizer', () => {
    expect(contract(errorOf(() => consistencyLoss(p, p, { temperature: 0 })))).toEqual([
      'INVALID_ARGUMENT',
      'options.temperature',
      'a finite number > 0',
    ]);
    const views = [noise, noise] as const;
    expect(errorOf(() => consistencyRegularizer({ views, temperature: 0 })).argument).toBe(
      'config.temperature',
    );
    expect(contract(errorOf(() => consistencyRegularizer({ views, weight: -1 })))).toEqual([
      'INVALID_ARGUMENT',
      'config.weight',
      'a finite number >= 0',
    ]);
    // (A lone function is refused by the option schema first, as `an object`.)
    for (const bad of [[noise, 3], [3, noise], [noise], [noise, noise, noise]]) {
      expect(contract(errorOf(() => consistencyRegularizer({ views: bad as never })))).toEqual([
        'INVALID_ARGUMENT',
        'config.views',
        "a pair of view functions [(x, rng) => x', (x, rng) => x']",
      ]);
    }
  });

  it('names a model that is not a function and an x that is not a tensor', () => {
    const reg = consistencyRegularizer({ views: [noise, noise] });
    const rng = createRng(1);
    expect(contract(errorOf(() => reg(3 as never, batch, rng)))).toEqual([
      'INVALID_ARGUMENT',
      'model',
      'a function x => logits',
    ]);
    // Not a tensor: each missing part of the tensor form is enough.
    const notTensors = [
      [1, 2],
      3,
      null,
      { shape: [2, 6] },
      { shape: [2, 6], dtype: 'float32' },
      { shape: [2, 6], dtype: 'float32', data: 1 },
      { dtype: 'float32', data: () => undefined },
    ];
    for (const bad of notTensors) {
      expect(contract(errorOf(() => reg(linear, bad as never, rng))), JSON.stringify(bad)).toEqual([
        'INVALID_ARGUMENT',
        'x',
        'a tf.Tensor',
      ]);
    }
    const disposed = tf.zeros([2, 6]);
    disposed.dispose();
    expect(errorOf(() => reg(linear, disposed, rng)).expected).toBe('a live (not disposed) tensor');
    expect(errorOf(() => reg(linear, tf.zeros([2, 6], 'int32'), rng)).expected).toBe('a float32 tensor');
  });
});

describe('clipContrastive (the factory) and the learnable scale', () => {
  const img = unitRows(4, 6, 11);
  const txt = unitRows(4, 6, 12);

  it('a log-scale that is not a scalar tensor is named', () => {
    // (A number is refused by the option schema first, as `an object`.)
    for (const bad of [tf.tensor1d([1, 2]), tf.zeros([1, 1])]) {
      expect(contract(errorOf(() => clipContrastive({ logitScale: bad as never })))).toEqual([
        'INVALID_ARGUMENT',
        'options.logitScale',
        'a scalar tensor (log of the logit scale)',
      ]);
    }
  });

  it('returns the loss with its options fixed, and keeps no probe tensor', () => {
    const logScale = tf.scalar(Math.log(20));
    const before = tf.memory().numTensors;
    const learnable = clipContrastive({ logitScale: logScale });
    const fixed = clipContrastive({ temperature: 0.05 });
    expect(tf.memory().numTensors).toBe(before);
    // exp(ln 20) = 1/0.05: both give the fixed-τ loss at τ = 0.05.
    const expected = value(clipContrastiveLoss(img, txt, { temperature: 0.05 }));
    expect(value(learnable(img, txt))).toBeCloseTo(expected, 4);
    expect(value(fixed(img, txt))).toBeCloseTo(expected, 5);
    expect(Math.abs(expected - value(clipContrastiveLoss(img, txt)))).toBeGreaterThan(1e-3);
  });
});

describe('clipContrastiveLoss: options that reach the loss', () => {
  const img = unitRows(4, 6, 21);
  const txt = unitRows(4, 6, 22);

  it('names conflicting scales, a non-positive τ or maxScale, and a log-scale that is not a scalar', () => {
    const both = errorOf(() => clipContrastiveLoss(img, txt, { temperature: 0.1, logitScale: tf.scalar(1) }));
    expect([both.argument, both.expected]).toEqual(['options', 'either temperature or logitScale, not both']);
    expect(errorOf(() => clipContrastiveLoss(img, txt, { temperature: 0 })).argument).toBe(
      'options.temperature',
    );
    expect(errorOf(() => clipContrastive({ logitScale: tf.scalar(1), maxScale: 0 })).argument).toBe(
      'options.maxScale',
    );
    // resolveLogitScale (shared with m²-mix) names a number or null given as the log-scale too.
    for (const bad of [3, null]) {
      expect(errorOf(() => resolveLogitScale({ logitScale: bad as never })).argument).toBe(
        'options.logitScale',
      );
    }
  });

  it('requireUnitNorm uses unitNormTolerance (default 1e-3); validate: false skips the check', () => {
    const nearly = tf.mul(txt, 1 + 5e-4) as tf.Tensor2D;
    const off = tf.mul(txt, 1.01) as tf.Tensor2D;
    const unit = { requireUnitNorm: true };
    expect(Number.isFinite(value(clipContrastiveLoss(img, nearly, unit)))).toBe(true);
    expect(Number.isNaN(value(clipContrastiveLoss(img, off, unit)))).toBe(true);
    expect(Number.isFinite(value(clipContrastiveLoss(img, off, { ...unit, unitNormTolerance: 0.05 })))).toBe(
      true,
    );
    expect(value(clipContrastiveLoss(img, off, { ...unit, validate: false }))).toBeCloseTo(
      value(clipContrastiveLoss(img, off)),
      5,
    );
  });

  it('a non-finite learnable log-scale poisons the loss (it is not silently clamped to maxScale)', () => {
    // min(∞, ln 100) would be a finite scale of 100: only the value check tells ∞ apart.
    expect(
      Number.isNaN(value(clipContrastiveLoss(img, txt, { logitScale: tf.scalar(Number.POSITIVE_INFINITY) }))),
    ).toBe(true);
    expect(Number.isFinite(value(clipContrastiveLoss(img, txt, { logitScale: tf.scalar(10) })))).toBe(true);
  });
});

describe('divergences: validate: false skips the form checks', () => {
  it('a rank-3 batch is refused by name when validating, computed when not', () => {
    const r3 = tf.reshape(randomMatrix(6, 4, 31), [2, 3, 4]);
    const e = errorOf(() => klDivergence(r3 as never, r3 as never));
    expect([e.code, e.argument]).toEqual(['SHAPE_MISMATCH', 'targetLogits']);
    // Identical sides: KL = 0, with no RobustFtError.
    expect(value(klDivergence(r3 as never, r3 as never, { validate: false }))).toBeCloseTo(0, 6);
  });

  it('a non-finite logit poisons the whole batch when validating, only its row when not', () => {
    const ok = tf.tensor2d([
      [1, 2, 3],
      [0, 1, 0],
    ]);
    const bad = tf.tensor2d([
      [Number.NEGATIVE_INFINITY, 2, 3],
      [0, 1, 0],
    ]);
    for (const fn of [klDivergence, symmetricKlDivergence, jsDivergence, logitMse, cosineDistance]) {
      for (const [p, q] of [
        [ok, bad],
        [bad, ok],
      ]) {
        const guarded = Array.from(fn(p!, q!, { reduction: 'none' }).dataSync());
        expect(guarded.every(Number.isNaN), `${fn.name} guarded`).toBe(true);
        const raw = Array.from(fn(p!, q!, { reduction: 'none', validate: false }).dataSync());
        expect(raw[1], `${fn.name} unguarded row 1`).toBeCloseTo(0, 6);
      }
    }
  });
});

describe('outputDistance passes the other options to the raw-logit distances', () => {
  it("'mse' and 'cosine' drop the temperature and keep reduction and validate", () => {
    const p = randomMatrix(3, 4, 41);
    const q = randomMatrix(3, 4, 42);
    for (const [name, fn] of [
      ['mse', logitMse],
      ['cosine', cosineDistance],
    ] as const) {
      const got = outputDistance(name, p, q, { temperature: 2, reduction: 'none' });
      expect(got.shape).toEqual([3]);
      const want = Array.from(fn(p, q, { reduction: 'none' }).dataSync());
      Array.from(got.dataSync()).forEach((v, i) => {
        expect(v).toBeCloseTo(want[i]!, 6);
      });
      // validate: false reaches them too: a rank-3 batch is computed, not refused.
      const r3 = tf.reshape(p, [1, 3, 4]);
      expect(() => outputDistance(name, r3 as never, r3 as never, { validate: false })).not.toThrow();
      expect(() => outputDistance(name, r3 as never, r3 as never)).toThrow();
    }
  });
});

describe('geodesicMixup: epsilon and validate', () => {
  it('names a non-positive epsilon; validate: false skips the form checks', () => {
    const a = unitRows(3, 4, 51);
    expect(contract(errorOf(() => geodesicMixup(a, a, 0.5, { epsilon: 0 })))).toEqual([
      'INVALID_ARGUMENT',
      'options.epsilon',
      'a finite number > 0',
    ]);
    // One row for b: refused by name when validating, broadcast against every row of a when not.
    const one = unitRows(1, 4, 52);
    expect(contract(errorOf(() => geodesicMixup(a, one, 0.5))).slice(0, 2)).toEqual(['SHAPE_MISMATCH', 'b']);
    const mixed = geodesicMixup(a, one, 1, { validate: false });
    expect(mixed.shape).toEqual([3, 4]);
    // λ = 1 returns a.
    Array.from(mixed.dataSync()).forEach((v, i) => {
      expect(v).toBeCloseTo(a.dataSync()[i]!, 5);
    });
  });
});

describe('m²-mix and the V/L/VL-Mix losses: options that reach the mixup', () => {
  const img = unitRows(4, 6, 61);
  const txt = unitRows(4, 6, 62);
  const off = tf.mul(txt, 1.01) as tf.Tensor2D;
  const losses = [
    ['m2mixLoss', m2mixLoss],
    ['vmixLoss', vmixLoss],
    ['lmixLoss', lmixLoss],
    ['vlmixLoss', vlmixLoss],
  ] as const;

  it.each(losses)('%s: a loose unitNormTolerance also holds for the inner geodesic mixup', (_, loss) => {
    expect(Number.isNaN(value(loss(img, off, 0.5)))).toBe(true);
    expect(Number.isFinite(value(loss(img, off, 0.5, { unitNormTolerance: 0.05 })))).toBe(true);
    expect(contract(errorOf(() => loss(img, txt, 0.5, { temperature: 0 })))).toEqual([
      'INVALID_ARGUMENT',
      'options.temperature',
      'a finite number > 0',
    ]);
  });

  it.each(losses)('%s names a λ outside [0, 1]', (_, loss) => {
    for (const lambda of [-0.1, 1.5]) expect(errorOf(() => loss(img, txt, lambda)).argument).toBe('lambda');
  });

  it('m2mixLogits names a non-positive positiveScale', () => {
    expect(errorOf(() => m2mixLogits(img, txt, 0.5, { positiveScale: 0 })).argument).toBe(
      'options.positiveScale',
    );
  });
});

describe('mix targets and masks (m²-mix reference: targets of V-Mix/L-Mix, VL-Mix and --original_neg)', () => {
  /** [n, n] with f(i, j) at each entry. */
  const matrix = (n: number, f: (i: number, j: number) => number) =>
    Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => f(i, j)));
  const eye = (i: number, j: number) => (i === j ? 1 : 0);
  const flip = (n: number) => (i: number, j: number) => (j === n - 1 - i ? 1 : 0);
  const expectMatrix = (got: tf.Tensor2D, want: number[][]) => {
    const rows = got.arraySync();
    expect(rows.length).toBe(want.length);
    rows.forEach((row, i) => {
      row.forEach((v, j) => {
        expect(v).toBeCloseTo(want[i]![j]!, 6);
      });
    });
  };

  it('flippedIdentity is the anti-diagonal: row i has its 1 at column n − 1 − i', () => {
    for (const n of [1, 3, 4]) expectMatrix(flippedIdentity(n), matrix(n, flip(n)));
  });

  it('unimodalMixTargets = λ·I + (1 − λ)·flip(I); the middle row of an odd batch sums to 1 on its diagonal', () => {
    for (const n of [3, 4]) {
      for (const lambda of [0.3, 0.8]) {
        const f = flip(n);
        expectMatrix(
          unimodalMixTargets(n, lambda),
          matrix(n, (i, j) => lambda * eye(i, j) + (1 - lambda) * f(i, j)),
        );
      }
    }
    expect(unimodalMixTargets(3, 0.3).arraySync()[1]![1]).toBeCloseTo(1, 6);
  });

  it('bimodalMixTargets = I + flip(I), not normalised (the middle row of an odd batch holds a 2)', () => {
    for (const n of [3, 4])
      expectMatrix(
        bimodalMixTargets(n),
        matrix(n, (i, j) => eye(i, j) + flip(n)(i, j)),
      );
  });

  it('diagonalAndFlipMask is 1 on the diagonal and the anti-diagonal (never 2), 0 elsewhere', () => {
    for (const n of [3, 4]) {
      expectMatrix(
        diagonalAndFlipMask(n),
        matrix(n, (i, j) => Math.max(eye(i, j), flip(n)(i, j))),
      );
    }
  });
});

describe('shared input checks: messages, bounds and which checks run', () => {
  it('a batch too small and mismatched embeddings name both sides', () => {
    const small = errorOf(() => clipContrastiveLoss(unitRows(1, 8, 1), unitRows(1, 8, 2)));
    expect(contract(small)).toEqual(['INVALID_ARGUMENT', 'image', 'a batch of at least 2 rows']);
    expect(small.message).toBe('image must be a batch of at least 2 rows (received "shape [1,8]")');
    const other = errorOf(() => clipContrastiveLoss(unitRows(3, 4, 1), unitRows(5, 4, 2)));
    expect(contract(other)).toEqual(['SHAPE_MISMATCH', 'text', 'shape [3,4] (the shape of image)']);
    expect(other.message).toBe('text has shape [5,4] but image has shape [3,4]');
    const rank = errorOf(() => clipContrastiveLoss(unitRows(3, 4, 1), tf.zeros([3]) as never));
    expect(contract(rank)).toEqual(['SHAPE_MISMATCH', 'text', 'a rank-2 tensor']);
    const labels = errorOf(() =>
      tradesLossFromLogits(randomMatrix(4, 3, 1), randomMatrix(4, 3, 1), tf.tensor1d([0, 1, 2], 'int32')),
    );
    expect(contract(labels)).toEqual(['SHAPE_MISMATCH', 'labels', 'shape [4]']);
    expect(labels.message).toBe('labels has 3 labels for a batch of 4');
  });

  it('the unit-norm tolerance is inclusive: |‖row‖ − 1| = tolerance passes', () => {
    // Rows of norm exactly 1.5 (exact in float32): off by 0.5.
    const x = tf.tensor2d([
      [1.5, 0],
      [0, 1.5],
    ]);
    const loss = (tolerance: number) =>
      value(clipContrastiveLoss(x, x, { requireUnitNorm: true, unitNormTolerance: tolerance }));
    expect(Number.isFinite(loss(0.5))).toBe(true);
    expect(Number.isNaN(loss(0.49))).toBe(true);
  });

  it('class ids in [0, K) pass, K and −1 do not, and int labels are not finiteness-checked as floats', () => {
    const z = randomMatrix(3, 3, 5);
    const ok = value(tradesLossFromLogits(z, z, tf.tensor1d([0, 2, 1], 'int32')));
    expect(Number.isFinite(ok)).toBe(true);
    for (const bad of [
      [0, 3, 1],
      [-1, 2, 1],
    ]) {
      expect(Number.isNaN(value(tradesLossFromLogits(z, z, tf.tensor1d(bad, 'int32'))))).toBe(true);
    }
  });

  it('a non-finite embedding poisons the value and every gradient; valid inputs keep them finite', () => {
    const img = unitRows(3, 4, 81);
    const txt = unitRows(3, 4, 82);
    const bad = tf.tensor2d(
      txt.arraySync().map((row, i) => (i === 1 ? row.map(() => Number.POSITIVE_INFINITY) : row)),
    );
    const [g] = tf.grads((a: tf.Tensor) => clipContrastiveLoss(a as tf.Tensor2D, bad))([img]);
    expect(Array.from(g!.dataSync()).every(Number.isNaN)).toBe(true);
    const [ok] = tf.grads((a: tf.Tensor) => clipContrastiveLoss(a as tf.Tensor2D, txt))([img]);
    expect(Array.from(ok!.dataSync()).every(Number.isFinite)).toBe(true);
  });
});

describe("m2mixLoss combineDirections: 'mean' halves the default sum", () => {
  it('is ½(CE_image + CE_text) with mean, CE_image + CE_text by default', () => {
    const img = unitRows(4, 6, 71);
    const txt = unitRows(4, 6, 72);
    const sum = value(m2mixLoss(img, txt, 0.4));
    expect(value(m2mixLoss(img, txt, 0.4, { combineDirections: 'sum' }))).toBeCloseTo(sum, 6);
    expect(value(m2mixLoss(img, txt, 0.4, { combineDirections: 'mean' }))).toBeCloseTo(sum / 2, 5);
  });
});
