import type { RobustFtError } from '@robust-ft/core';
import { expectNoTensorLeaks } from '@robust-ft/core/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { assertImageBatch, assertNonEmpty, checkLabelIds, labelIds } from '../src/checks';
import {
  alignment,
  effectiveRobustness,
  fitBaseline,
  meanCorruptionAccuracy,
  predictedOod,
  predictions,
  relativeAlignment,
  relativeRobustness,
  retrievalRecall,
  topKAccuracy,
  uniformity,
} from '../src/index';
import { pairwiseSquaredDistances } from '../src/metrics/representation';
import { ranksFromValues, trueClassRanks } from '../src/metrics/top-k';
import { checkEvalOptions } from '../src/option-schemas';
import './setup-backend';
import { caught, caughtAsync } from './typed-error';

/*
 * Values and contracts of the small metrics (effective robustness, corruption summaries, representation,
 * retrieval, top-k) and of the shared argument checks: each value is derived by hand or in float64 here,
 * each error pinned by code, argument and message.
 */

function expectError(e: RobustFtError, code: string, argument: string, message: string): void {
  expect(e.code).toBe(code);
  expect(e.argument).toBe(argument);
  expect(e.message).toBe(message);
}

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
const logit = (a: number) => Math.log(a / (1 - a));

describe('fitBaseline / predictedOod / effectiveRobustness', () => {
  it('recovers a line drawn in logit space (the default space)', () => {
    // ood' = 0.5·id' − 1 exactly in logit space.
    const points = [-1, 0, 2].map((x) => ({ id: sigmoid(x), ood: sigmoid(0.5 * x - 1) }));
    const fit = fitBaseline(points);
    expect(fit.space).toBe('logit');
    expect(fit.slope).toBeCloseTo(0.5, 12);
    expect(fit.intercept).toBeCloseTo(-1, 12);
    expect(predictedOod(fit, sigmoid(4))).toBeCloseTo(sigmoid(1), 12);
    // A model 0.05 above the line has effective robustness 0.05 (accuracy points, not logits).
    expect(effectiveRobustness({ id: sigmoid(4), ood: sigmoid(1) + 0.05 }, fit)).toBeCloseTo(0.05, 12);
  });

  it('is the least-squares line through scattered points (linear space, derived by hand)', () => {
    // x̄ = 0.5, ȳ = 1/3, Sxx = 0.5, Sxy = 0.5 → slope 1, intercept −1/6.
    const fit = fitBaseline(
      [
        { id: 0, ood: 0 },
        { id: 1, ood: 1 },
        { id: 0.5, ood: 0 },
      ],
      'linear',
    );
    expect(fit).toEqual({
      space: 'linear',
      slope: expect.closeTo(1, 12),
      intercept: expect.closeTo(-1 / 6, 12),
    });
    expect(predictedOod(fit, 0.4)).toBeCloseTo(0.4 - 1 / 6, 12);
    expect(effectiveRobustness({ id: 0.4, ood: 0.4 }, fit)).toBeCloseTo(1 / 6, 12);
  });

  it('the logit fit is not the linear fit on the same points', () => {
    const points = [
      { id: 0.6, ood: 0.3 },
      { id: 0.8, ood: 0.5 },
      { id: 0.95, ood: 0.6 },
    ];
    const xs = points.map((p) => logit(p.id));
    const ys = points.map((p) => logit(p.ood));
    const mx = (xs[0]! + xs[1]! + xs[2]!) / 3;
    const my = (ys[0]! + ys[1]! + ys[2]!) / 3;
    let sxx = 0;
    let sxy = 0;
    for (let i = 0; i < 3; i++) {
      sxx += (xs[i]! - mx) ** 2;
      sxy += (xs[i]! - mx) * (ys[i]! - my);
    }
    const fit = fitBaseline(points, 'logit');
    expect(fit.slope).toBeCloseTo(sxy / sxx, 12);
    expect(fit.intercept).toBeCloseTo(my - (sxy / sxx) * mx, 12);
  });

  it('clips accuracies 0 and 1 to [1e-4, 1 − 1e-4] before the logit', () => {
    const identity = { space: 'logit' as const, slope: 1, intercept: 0 };
    expect(predictedOod(identity, 0)).toBeCloseTo(1e-4, 15);
    expect(predictedOod(identity, 1)).toBeCloseTo(1 - 1e-4, 15);
    expect(predictedOod(identity, 0.3)).toBeCloseTo(0.3, 15);
    // A line through the clipped corners is the identity; a fit through them stays finite.
    const fit = fitBaseline([
      { id: 0, ood: 0 },
      { id: 1, ood: 1 },
    ]);
    expect(fit.slope).toBeCloseTo(1, 12);
    expect(fit.intercept).toBeCloseTo(0, 12);
    // Linear space does not clip.
    expect(predictedOod({ space: 'linear', slope: 1, intercept: 0 }, 0)).toBe(0);
    expect(predictedOod({ space: 'linear', slope: 2, intercept: 0.5 }, 1)).toBe(2.5);
  });

  it('refuses fewer than 2 points, points outside [0, 1] and a vertical baseline', () => {
    expectError(
      caught(() => fitBaseline([{ id: 0.5, ood: 0.5 }])),
      'INVALID_ARGUMENT',
      'points',
      'points must be at least 2 baseline models (received 1)',
    );
    const ok = { id: 0.5, ood: 0.4 };
    for (const [bad, argument] of [
      [{ id: -0.01, ood: 0.5 }, 'points[1].id'],
      [{ id: 0.5, ood: 1.01 }, 'points[1].ood'],
      [{ id: Number.NaN, ood: 0.5 }, 'points[1].id'],
      [{ id: '0.5', ood: 0.5 }, 'points[1].id'],
    ] as const) {
      const e = caught(() => fitBaseline([ok, bad as never]));
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.argument).toBe(argument);
      expect(e.message).toMatch(
        new RegExp(`^${argument.replace(/[[\].]/g, '\\$&')} must be a number in \\[0, 1\\]`),
      );
    }
    // The bounds themselves are accuracies.
    expect(() =>
      fitBaseline(
        [
          { id: 0, ood: 1 },
          { id: 1, ood: 0 },
        ],
        'linear',
      ),
    ).not.toThrow();
    expectError(
      caught(() => fitBaseline([ok, { id: 0.5, ood: 0.9 }])),
      'INVALID_ARGUMENT',
      'points',
      'points must be baseline models with at least two distinct ID accuracies',
    );
    expectError(
      caught(() => effectiveRobustness({ id: 0.5, ood: 2 }, { space: 'linear', slope: 1, intercept: 0 })),
      'INVALID_ARGUMENT',
      'point.ood',
      'point.ood must be a number in [0, 1] (received 2)',
    );
  });
});

describe('meanCorruptionAccuracy / relativeRobustness', () => {
  it('averages every family × severity cell, unweighted by family', () => {
    // Cells 0.5, 0.7, 0.9 → 0.7 (a mean of family means would give 0.75).
    expect(meanCorruptionAccuracy({ blur: [0.5, 0.7], noise: [0.9] })).toBeCloseTo(0.7, 15);
  });

  it('relative = mCA / clean, gap = clean − mCA', () => {
    const r = relativeRobustness(0.8, { blur: [0.4, 0.6] });
    expect(r.meanCorruptionAccuracy).toBeCloseTo(0.5, 15);
    expect(r.relative).toBeCloseTo(0.625, 15);
    expect(r.gap).toBeCloseTo(0.3, 15);
    expect(relativeRobustness(1, { blur: [0.25] })).toEqual({
      meanCorruptionAccuracy: 0.25,
      relative: 0.25,
      gap: 0.75,
    });
  });

  it('refuses an empty table and a clean accuracy outside (0, 1]', () => {
    for (const empty of [{}, { blur: [] }] as Record<string, number[]>[]) {
      expectError(
        caught(() => meanCorruptionAccuracy(empty)),
        'INVALID_ARGUMENT',
        'accuracies',
        'accuracies must be at least one family with one severity',
      );
    }
    for (const clean of [0, -0.5, 1.0001, Number.NaN]) {
      expectError(
        caught(() => relativeRobustness(clean, { blur: [0.5] })),
        'INVALID_ARGUMENT',
        'cleanAccuracy',
        `cleanAccuracy must be a number in (0, 1] (received ${clean})`,
      );
    }
  });
});

describe('representation metrics', () => {
  const X = [
    [0, 0],
    [1, 0],
    [0, 2],
  ];
  const Y = [
    [0, 1],
    [1, 1],
    [3, 2],
  ];
  const sq = (a: number[], b: number[]) => a.reduce((s, v, i) => s + (v - (b[i] as number)) ** 2, 0);

  it('pairwiseSquaredDistances is ‖a_i − b_j‖², never negative', async () => {
    const d = pairwiseSquaredDistances(tf.tensor2d(X), tf.tensor2d(Y));
    const expected = X.map((a) => Y.map((b) => sq(a, b)));
    const got = (await d.array()) as number[][];
    got.forEach((row, i) => {
      row.forEach((v, j) => {
        expect(v).toBeCloseTo(expected[i]![j]!, 5);
      });
    });
    // Rounding cannot make a self-distance negative.
    const big = tf.tensor2d([[1e4 + 0.1, 3e3 + 0.7]]);
    expect(Math.min(...(await pairwiseSquaredDistances(big, big).data()))).toBeGreaterThanOrEqual(0);
  });

  it('uniformity = log mean over pairs of exp(−t‖x_i − x_j‖²), t = 2 by default', async () => {
    // Pair distances 1, 4, 5.
    const at = (t: number) => Math.log((Math.exp(-t) + Math.exp(-4 * t) + Math.exp(-5 * t)) / 3);
    expect(await uniformity(tf.tensor2d(X)).data()).toEqual(new Float32Array([at(2)]));
    expect((await uniformity(tf.tensor2d(X), 0.5).data())[0]).toBeCloseTo(at(0.5), 5);
    expect((await uniformity(tf.tensor2d([[0], [1]]), 1).data())[0]).toBeCloseTo(-1, 5);
  });

  it('alignment = mean ‖x_i − y_i‖^α, α = 2 by default', async () => {
    const d = X.map((x, i) => sq(x, Y[i]!)); // 1, 1, 9
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    expect((await alignment(tf.tensor2d(X), tf.tensor2d(Y)).data())[0]).toBeCloseTo(mean(d), 5);
    expect((await alignment(tf.tensor2d(X), tf.tensor2d(Y), 1).data())[0]).toBeCloseTo(
      mean(d.map(Math.sqrt)),
      5,
    );
    expect((await alignment(tf.tensor2d(X), tf.tensor2d(Y), 3).data())[0]).toBeCloseTo(
      mean(d.map((v) => v ** 1.5)),
      4,
    );
  });

  it('relativeAlignment: nearest non-matching negative by default; ratio; row mean; top-k mean', async () => {
    const d = X.map((x) => Y.map((y) => sq(x, y)));
    const fill = 10000;
    const masked = d.map((row, i) => row.map((v, j) => (i === j ? fill : v)));
    const pos = d.map((row, i) => row[i] as number);
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    const run = async (o: Parameters<typeof relativeAlignment>[2]) =>
      (await relativeAlignment(tf.tensor2d(X), tf.tensor2d(Y), o).data())[0];

    const nearest = masked.map((row) => Math.min(...row));
    expect(await run(undefined)).toBeCloseTo(mean(pos.map((p, i) => p - nearest[i]!)), 4);
    expect(await run({ relative: 'ratio' })).toBeCloseTo(mean(pos.map((p, i) => p / nearest[i]!)), 5);
    // neighbor −1: the row mean, diagonal fill included (the reference's behaviour).
    const rowMean = masked.map(mean);
    expect(await run({ neighbor: -1 })).toBeCloseTo(mean(pos.map((p, i) => p - rowMean[i]!)), 2);
    const rowMean7 = d.map((row, i) => mean(row.map((v, j) => (i === j ? 7 : v))));
    expect(await run({ neighbor: -1, diagonalFill: 7 })).toBeCloseTo(
      mean(pos.map((p, i) => p - rowMean7[i]!)),
      4,
    );
    // neighbor k > 1: the mean of the k largest entries.
    const top2 = masked.map((row) => mean([...row].sort((a, b) => b - a).slice(0, 2)));
    expect(await run({ neighbor: 2 })).toBeCloseTo(mean(pos.map((p, i) => p - top2[i]!)), 2);
    expect(await run({ neighbor: 3 })).toBeCloseTo(mean(pos.map((p, i) => p - rowMean[i]!)), 2);
  });

  it('refuses bad shapes and options with typed errors', () => {
    const x = tf.tensor2d(X);
    const rank = caught(() => uniformity(tf.tensor1d([1, 2]) as never));
    expect([rank.code, rank.argument]).toEqual(['SHAPE_MISMATCH', 'x']);
    expectError(
      caught(() => uniformity(tf.zeros([0, 2]) as tf.Tensor2D)),
      'INVALID_ARGUMENT',
      'x',
      'x must be a non-empty batch, got shape [0,2]',
    );
    expectError(
      caught(() => uniformity(tf.tensor2d([[1, 2]]))),
      'INVALID_ARGUMENT',
      'x',
      'x must be at least 2 rows (uniformity needs a pair) (received 1)',
    );
    expect(caught(() => uniformity(x, Number.NaN)).argument).toBe('t');

    expect(caught(() => alignment(x, tf.zeros([0, 2]) as tf.Tensor2D)).argument).toBe('y');
    expect(caught(() => alignment(tf.zeros([0, 2]) as tf.Tensor2D, x)).argument).toBe('x');
    for (const y of [tf.zeros([2, 2]), tf.zeros([3, 3])]) {
      expectError(
        caught(() => alignment(x, y as tf.Tensor2D)),
        'SHAPE_MISMATCH',
        'y',
        `y has shape [${y.shape}], expected [3,2]`,
      );
      expectError(
        caught(() => relativeAlignment(x, y as tf.Tensor2D)),
        'SHAPE_MISMATCH',
        'y',
        `y has shape [${y.shape}], expected [3,2]`,
      );
    }
    for (const a of [0, -1, Number.NaN]) {
      expectError(
        caught(() => alignment(x, x, a)),
        'INVALID_ARGUMENT',
        'alpha',
        `alpha must be a number > 0 (received ${a})`,
      );
    }
    expect(() => alignment(x, x, 1e-3).dispose()).not.toThrow();

    expect(caught(() => relativeAlignment(tf.tensor1d([1]) as never, x)).argument).toBe('x');
    expect(caught(() => relativeAlignment(x, tf.tensor1d([1]) as never)).argument).toBe('y');
    expect(caught(() => relativeAlignment(x, x, { relative: 'rate' as never })).argument).toBe(
      'options.relative',
    );
    expect(caught(() => relativeAlignment(x, x, { neighbour: 1 } as never)).message).toMatch(
      /^relativeAlignment: unknown option `neighbour`; did you mean `neighbor`\?/,
    );
    expectError(
      caught(() => relativeAlignment(x, x, { neighbor: 0 })),
      'INVALID_ARGUMENT',
      'options.neighbor',
      'options.neighbor must be an integer >= 1 (received 0)',
    );
    expect(caught(() => relativeAlignment(x, x, { neighbor: 1.5 })).argument).toBe('options.neighbor');
    expectError(
      caught(() => relativeAlignment(x, x, { neighbor: 4 })),
      'INVALID_ARGUMENT',
      'options.neighbor',
      'options.neighbor must be -1 or an integer in [1, 3] (received 4)',
    );
    const one = tf.tensor2d([[1, 2]]);
    expectError(
      caught(() => relativeAlignment(one, one)),
      'INVALID_ARGUMENT',
      'x',
      'x must be at least 2 rows (received 1)',
    );
    // Two rows are enough for a nearest negative, one for the row mean.
    const two = tf.tensor2d([
      [0, 0],
      [0, 1],
    ]);
    expect(() => relativeAlignment(two, two).dispose()).not.toThrow();
    expect(() => relativeAlignment(one, one, { neighbor: -1 }).dispose()).not.toThrow();
  });

  it('leaks nothing', async () => {
    const x = tf.tensor2d(X);
    const y = tf.tensor2d(Y);
    await expectNoTensorLeaks(() => {
      tf.dispose([uniformity(x), alignment(x, y, 1), relativeAlignment(x, y, { neighbor: 2 })]);
    });
  });
});

describe('retrievalRecall', () => {
  it('counts the rank of the positive in each row (R@K in percent)', async () => {
    // Row 0: positive first. Row 1: one entry beats the positive. Row 2: two entries beat it.
    const s = tf.tensor2d([
      [0.9, 0.1, 0.2],
      [0.8, 0.5, 0.1],
      [0.7, 0.6, 0.3],
    ]);
    expect(await retrievalRecall(s, [1, 2, 3])).toEqual({ R1: 100 / 3, R2: 200 / 3, R3: 100 });
    // Default ks: 1, 5, 10.
    expect(await retrievalRecall(s)).toEqual({ R1: 100 / 3, R5: 100, R10: 100 });
  });

  it('a tie with the positive adds a match (the reference rule)', async () => {
    // Row 0 ties its positive with one other entry: matches at sorted positions 0 and 1.
    const s = tf.tensor2d([
      [0.5, 0.5],
      [0.1, 0.9],
    ]);
    // Matches: row 0 → [0, 1], row 1 → [0] → R1 = 2/3.
    expect(await retrievalRecall(s, [1])).toEqual({ R1: 200 / 3 });
  });

  it('a NaN positive matches nothing and gives 0, not NaN', async () => {
    expect(await retrievalRecall(tf.tensor2d([[Number.NaN]]), [1])).toEqual({ R1: 0 });
  });

  it('refuses a non-square, non-2-d or empty matrix and non-integer ks', async () => {
    expectError(
      await caughtAsync(() => retrievalRecall(tf.zeros([2, 3]))),
      'INVALID_ARGUMENT',
      'similarity',
      'similarity must be a square [N, N] matrix (received "shape [2,3]")',
    );
    expect((await caughtAsync(() => retrievalRecall(tf.zeros([3])))).argument).toBe('similarity');
    expectError(
      await caughtAsync(() => retrievalRecall(tf.zeros([0, 0]))),
      'INVALID_ARGUMENT',
      'similarity',
      'similarity must be a non-empty batch, got shape [0,0]',
    );
    expectError(
      await caughtAsync(() => retrievalRecall(tf.zeros([2, 2]), [1, 0])),
      'INVALID_ARGUMENT',
      'ks[1]',
      'ks[1] must be an integer >= 1 (received 0)',
    );
  });
});

describe('top-k', () => {
  it('ranks count the classes that beat the true one; ties go to the lower index, NaN ranks last', () => {
    const s = [
      // true 1: class 0 ties it (lower index wins the tie), class 2 beats it → rank 2
      0.5,
      0.5,
      0.9,
      // true 0: nothing beats it, even though the next row starts high → rank 0
      0.4,
      0.1,
      0.2,
      // true 2: NaN score → rank 3 (every class counts)
      5,
      6,
      Number.NaN,
    ];
    expect(Array.from(ranksFromValues(s, Int32Array.from([1, 0, 2]), 3, 3))).toEqual([2, 0, 3]);
    // The next row's first entry (9) must not count against row 0.
    expect(Array.from(ranksFromValues([0.3, 0.1, 9, 0], Int32Array.from([0, 0]), 2, 2))).toEqual([0, 0]);
  });

  it('topKAccuracy, accuracy and trueClassRanks on tensors', async () => {
    const scores = tf.tensor2d([
      [0.1, 0.7, 0.2],
      [0.5, 0.3, 0.2],
      [0.1, 0.2, 0.7],
      [0.3, 0.3, 0.4],
    ]);
    const labels = tf.tensor1d([1, 1, 0, 1], 'int32');
    expect(Array.from(await trueClassRanks(scores, labels))).toEqual([0, 1, 2, 2]);
    expect(await topKAccuracy(scores, labels)).toBe(0.25);
    expect(await topKAccuracy(scores, labels, 2)).toBe(0.5);
    expect(await topKAccuracy(scores, labels, 3)).toBe(1);
    expect(await topKAccuracy(scores, [1, 0, 2, 2])).toBe(1);
  });

  it('trueClassRanks names its arguments', async () => {
    expect((await caughtAsync(() => trueClassRanks(tf.zeros([2]), [0, 1]))).argument).toBe('scores');
    expect((await caughtAsync(() => trueClassRanks(tf.zeros([2, 2]), [0]))).argument).toBe('labels');
  });

  it('refuses k outside [1, K]', async () => {
    const scores = tf.zeros([2, 3]);
    expectError(
      await caughtAsync(() => topKAccuracy(scores, [0, 1], 4)),
      'INVALID_ARGUMENT',
      'k',
      'k must be an integer in [1, 3] (received 4)',
    );
    expectError(
      await caughtAsync(() => topKAccuracy(scores, [0, 1], 0)),
      'INVALID_ARGUMENT',
      'k',
      'k must be an integer >= 1 (received 0)',
    );
  });

  it('predictions: the first maximum wins', async () => {
    const s = tf.tensor2d([
      [1, 3, 3],
      [2, 2, 1],
      [0, 0, 5],
    ]);
    expect(Array.from(await predictions(s))).toEqual([1, 0, 2]);
    expect((await caughtAsync(() => predictions(tf.zeros([3])))).argument).toBe('scores');
  });
});

describe('shared argument checks', () => {
  it('assertNonEmpty refuses a scalar and an empty batch', () => {
    expectError(
      caught(() => assertNonEmpty('x', tf.scalar(1))),
      'INVALID_ARGUMENT',
      'x',
      'x must be a non-empty batch, got shape []',
    );
    expect(caught(() => assertNonEmpty('images', tf.zeros([0, 4]))).expected).toBe('a non-empty batch');
    expect(() => assertNonEmpty('x', tf.zeros([1]))).not.toThrow();
    expect(caught(() => assertImageBatch('x', tf.zeros([1, 2, 2]))).argument).toBe('x');
    expect(caught(() => assertImageBatch('x', tf.zeros([0, 2, 2, 1]))).argument).toBe('x');
  });

  it('labelIds reads tensors, arrays and Int32Arrays and checks count, integrality and range', async () => {
    expect(Array.from(await labelIds('y', tf.tensor1d([2, 0], 'int32'), 2, 3))).toEqual([2, 0]);
    expect(Array.from(await labelIds('y', tf.tensor1d([1, 2]), 2, 3))).toEqual([1, 2]);
    expect(Array.from(await labelIds('y', [0, 2], 2, 3))).toEqual([0, 2]);
    expect(Array.from(await labelIds('y', Int32Array.from([1, 1]), 2, 3))).toEqual([1, 1]);
    expectError(
      caught(() => checkLabelIds('labels', [0, 1], 3, 3)),
      'INVALID_ARGUMENT',
      'labels',
      'labels must be 3 labels (one per row) (received 2)',
    );
    for (const [v, shown] of [
      [1.5, '1.5'],
      [-1, '-1'],
      [3, '3'],
      [Number.NaN, 'NaN'],
    ] as const) {
      expectError(
        caught(() => checkLabelIds('labels', [0, v], 2, 3)),
        'INVALID_ARGUMENT',
        'labels[1]',
        `labels[1] must be an integer class id in [0, 3) (received ${shown})`,
      );
    }
  });

  it("fitVrf's k option: a number, 'code' or 'paper'", () => {
    for (const k of [3, 'code', 'paper'])
      expect(() => checkEvalOptions('fitVrf', 'fitVrf', { k })).not.toThrow();
    for (const k of ['codes', true]) {
      const e = caught(() => checkEvalOptions('fitVrf', 'fitVrf', { k }));
      expect(e.argument).toBe('options.k');
      expect(e.message).toContain("a number, 'code' or 'paper'");
    }
  });
});
