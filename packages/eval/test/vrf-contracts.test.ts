import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { roundHalfEven } from '../src/ensembles/vrf';
import {
  disposeVrf,
  fitVrf,
  knnFalsePositiveRate,
  kthNeighbourDistance,
  l2Normalize,
  searchTemperature,
  vrfNeighbourCount,
  vrfPredict,
  vrfWeight,
  zeroShotFailureSet,
} from '../src/index';
import './setup-backend';
import { caughtAsync as caught } from './typed-error';

/*
 * VRF's pieces on hand-sized inputs: the neighbour-count rules and Python rounding, the ZSF set, exact k-th
 * neighbour distances (both conventions), the weight's defaults, fitVrf's options and errors, the mixture,
 * and the FPR diagnostic — each against values worked out by hand or in float64 here.
 */

const arr = (t: tf.Tensor) => Array.from(t.dataSync());
const close = (got: ArrayLike<number>, want: number[], digits = 5) => {
  expect(got.length).toBe(want.length);
  Array.from(got).forEach((v, i) => {
    expect(v, `[${i}]`).toBeCloseTo(want[i]!, digits);
  });
};
const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
const softmax = (z: number[], t: number) => {
  const e = z.map((v) => Math.exp(v / t));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};

describe('VRF helpers', () => {
  it('roundHalfEven is Python round', () => {
    const cases: Array<[number, number]> = [
      [0.5, 0],
      [1.5, 2],
      [2.5, 2],
      [3.5, 4],
      [2.4, 2],
      [2.6, 3],
      [7, 7],
      [-0.5, -0],
      [-1.5, -2],
      [-2.5, -2],
      [-2.6, -3],
    ];
    for (const [x, want] of cases) expect(roundHalfEven(x), String(x)).toBe(want);
  });

  it('vrfNeighbourCount: code K = round(1000·|V|/N), paper k = floor(0.001·|V|), checked arguments', async () => {
    expect(vrfNeighbourCount(281, 1200, 'code')).toBe(234);
    // 1000·5/2000 = 2.5 → 2 (half to even), 1000·7/2000 = 3.5 → 4.
    expect(vrfNeighbourCount(5, 2000, 'code')).toBe(2);
    expect(vrfNeighbourCount(7, 2000, 'code')).toBe(4);
    expect(vrfNeighbourCount(0, 10, 'code')).toBe(0);
    expect(vrfNeighbourCount(2999, 10, 'paper')).toBe(2);
    expect(vrfNeighbourCount(999, 10, 'paper')).toBe(0);
    expect(vrfNeighbourCount(1000, 1, 'paper')).toBe(1);
    const z = await caught(() => vrfNeighbourCount(-1, 10, 'code'));
    expect([z.argument, z.expected]).toEqual(['zsfSize', 'an integer >= 0']);
    const n = await caught(() => vrfNeighbourCount(1, 0, 'code'));
    expect([n.argument, n.expected]).toEqual(['trainSize', 'an integer >= 1']);
  });

  it('l2Normalize makes unit rows', () => {
    close(
      arr(
        l2Normalize(
          tf.tensor2d([
            [3, 4],
            [0, -2],
          ]),
        ),
      ),
      [0.6, 0.8, 0, -1],
    );
  });

  it('zeroShotFailureSet: rows FT gets right and ZS wrong, normalised, and its ratio', async () => {
    const features = tf.tensor2d([
      [3, 4],
      [1, 0],
      [0, 2],
      [5, 0],
      [1, 1],
    ]);
    // labels 1, 0, 1, 0, 1
    const zs = tf.tensor2d([
      [1, 0], // wrong
      [1, 0], // right
      [1, 0], // wrong
      [0, 1], // wrong
      [0, 1], // right
    ]);
    const ft = tf.tensor2d([
      [0, 1], // right → ZSF
      [0, 1], // wrong
      [1, 0], // wrong
      [1, 0], // right → ZSF
      [0, 1], // right, ZS right too
    ]);
    const labels = [1, 0, 1, 0, 1];
    const set = await zeroShotFailureSet(features, zs, ft, labels);
    expect(Array.from(set.mask)).toEqual([1, 0, 0, 1, 0]);
    expect(set.ratio).toBe(2 / 5);
    expect(set.features.shape).toEqual([2, 2]);
    close(arr(set.features), [0.6, 0.8, 1, 0]);
    // Shape mismatches name `features`.
    for (const [f, z, g] of [
      [tf.zeros([4, 2]), zs, ft],
      [features, zs, tf.zeros([4, 2])],
      [features, zs, tf.zeros([5, 3])],
    ] as const) {
      const e = await caught(() => zeroShotFailureSet(f as tf.Tensor2D, z, g, labels));
      expect([e.code, e.argument]).toEqual(['SHAPE_MISMATCH', 'features']);
      expect(e.message).toBe(
        'features, zeroShotLogits and fineTunedLogits must have the same rows and classes',
      );
    }
    expect((await caught(() => zeroShotFailureSet(tf.zeros([5]) as never, zs, ft, labels))).argument).toBe(
      'features',
    );
    expect((await caught(() => zeroShotFailureSet(features, tf.zeros([5]), ft, labels))).argument).toBe(
      'zeroShotLogits',
    );
    expect((await caught(() => zeroShotFailureSet(features, zs, tf.zeros([5]), labels))).argument).toBe(
      'fineTunedLogits',
    );
  });

  it('kthNeighbourDistance: exact k-th smallest squared (or plain) L2 distance of the normalised query', async () => {
    const index = l2Normalize(
      tf.tensor2d([
        [1, 0],
        [0, 1],
        [-1, 0],
        [0.6, 0.8],
      ]),
    );
    const queries = tf.tensor2d([
      [2, 0],
      [0, -3],
    ]);
    // Unit queries (1,0) and (0,−1): squared distances 2 − 2·cos.
    const sq = [
      [0, 2, 4, 2 - 1.2],
      [2, 4, 2, 2 + 1.6],
    ].map((r) => [...r].sort((a, b) => a - b));
    for (const k of [1, 2, 3, 4]) {
      close(
        arr(kthNeighbourDistance(queries, index, k)),
        sq.map((r) => r[k - 1]!),
      );
      close(
        arr(kthNeighbourDistance(queries, index, k, 'l2')),
        sq.map((r) => Math.sqrt(Math.max(r[k - 1]!, 0))),
        3,
      );
    }
    for (const k of [0, 5, 1.5]) {
      const e = await caught(() => kthNeighbourDistance(queries, index, k));
      expect([e.argument, e.expected]).toEqual(['k', 'an integer in [1, 4] (the ZSF set size)']);
    }
    const d = await caught(() => kthNeighbourDistance(queries, index, 1, 'cosine' as never));
    expect(d.argument).toBe('distance');
    const m = await caught(() => kthNeighbourDistance(tf.zeros([2, 3]) as tf.Tensor2D, index, 1));
    expect([m.code, m.argument, m.message]).toEqual([
      'SHAPE_MISMATCH',
      'queries',
      'queries have 3 features, index has 2',
    ]);
    expect((await caught(() => kthNeighbourDistance(tf.zeros([2]) as never, index, 1))).argument).toBe(
      'queries',
    );
    expect((await caught(() => kthNeighbourDistance(queries, tf.zeros([2]) as never, 1))).argument).toBe(
      'index',
    );
  });

  it('vrfWeight: σ((a − d)/b), defaults a = 1.5, b = 0.6, checked', async () => {
    const d = [0, 1.5, 2.1, 4];
    close(
      arr(vrfWeight(tf.tensor1d(d))),
      d.map((v) => sigmoid((1.5 - v) / 0.6)),
    );
    close(
      arr(vrfWeight(tf.tensor1d(d), 0.3)),
      d.map((v) => sigmoid((0.3 - v) / 0.6)),
    );
    close(
      arr(vrfWeight(tf.tensor1d(d), 1.1, 0.2)),
      d.map((v) => sigmoid((1.1 - v) / 0.2)),
    );
    expect((await caught(() => vrfWeight(tf.tensor1d(d), Number.NaN))).argument).toBe('a');
    const b = await caught(() => vrfWeight(tf.tensor1d(d), 1, 0));
    expect([b.argument, b.expected]).toEqual(['b', 'a finite number > 0']);
  });

  it('knnFalsePositiveRate: threshold −d at sorted index round(q·n), strict FPR', async () => {
    // Scores −d sorted ascending: −9, −8, …, −0 (10 values); round(0.05·10) = round(0.5) = 0 → −9.
    const id = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
    expect(knnFalsePositiveRate(id, [9, 8.5, 10])).toEqual({ threshold: -9, fpr: 1 / 3 });
    // q = 0.25: round(2.5) = 2 → −7; OOD −7 is not above it.
    expect(knnFalsePositiveRate(id, [7, 6, 8, 0], 0.25)).toEqual({ threshold: -7, fpr: 2 / 4 });
    // q = 0.35: round(3.5) = 4 → −5.
    expect(knnFalsePositiveRate(id, [5], 0.35).threshold).toBe(-5);
    // The index is clamped to the last score.
    expect(knnFalsePositiveRate([1, 2], [0, 3], 1)).toEqual({ threshold: -1, fpr: 1 / 2 });
    // Unsorted input is sorted numerically (not as strings).
    expect(knnFalsePositiveRate([10, 9, 100, 2], [0], 0.3).threshold).toBe(-10);
    const e1 = await caught(() => knnFalsePositiveRate([], [1]));
    expect([e1.argument, e1.expected]).toEqual(['idDistances', 'a non-empty list']);
    const e2 = await caught(() => knnFalsePositiveRate([1], []));
    expect([e2.argument, e2.expected]).toEqual(['oodDistances', 'a non-empty list']);
  });
});

describe('fitVrf and vrfPredict', () => {
  // ZS predicts class 0 everywhere; FT is right everywhere: rows with label 1 form the ZSF set.
  const features = tf.keep(
    tf.tensor2d([
      [1, 0],
      [0.8, 0.6],
      [0, 1],
      [0.6, 0.8],
      [-1, 0],
      [0, -1],
    ]),
  );
  const zs = tf.keep(
    tf.tensor2d([
      [2, 0],
      [2, 0],
      [2, 0],
      [2, 0],
      [2, 0],
      [2, 0],
    ]),
  );
  const ft = tf.keep(
    tf.tensor2d([
      [0, 3],
      [0, 3],
      [0, 3],
      [3, 0],
      [3, 0],
      [3, 0],
    ]),
  );
  const labels = [1, 1, 1, 0, 0, 0];
  const train = { features, zeroShotLogits: zs, fineTunedLogits: ft, labels };
  const T = { zeroShot: 2, fineTuned: 0.5 };

  it('defaults: code k, squared-L2, a = 1.5, b = 0.6', async () => {
    // |ZSF| = 3 of 6: code K = round(1000·3/6) = 500 > 3, so k must be given (or the rule fails).
    const e = await caught(() => fitVrf(train, undefined, { temperatures: T }));
    expect([e.argument, e.expected]).toEqual(['options.k', 'an integer in [1, |ZSF| = 3]']);
    expect(e.message).toBe(
      'options.k must be an integer in [1, |ZSF| = 3] (received "500 from rule \\"code\\"")',
    );
    const p = await caught(() => fitVrf(train, undefined, { temperatures: T, k: 'paper' }));
    expect(p.message).toContain('"0 from rule \\"paper\\""');
    const fit = await fitVrf(train, undefined, { k: 2, temperatures: T });
    expect({ ...fit, index: fit.index.shape }).toEqual({
      index: [3, 2],
      zsfSize: 3,
      ratio: 0.5,
      k: 2,
      distance: 'squared-l2',
      a: 1.5,
      b: 0.6,
      temperatures: T,
    });
    disposeVrf(fit);
    expect(fit.index.isDisposed).toBe(true);
  });

  it('predicts (1 − w)·softmax(z_zs/T_zs) + w·softmax(z_ft/T_ft) with w from the k-th distance', async () => {
    const fit = await fitVrf(train, undefined, { k: 2, temperatures: T, a: 1, b: 0.5, distance: 'l2' });
    const q = [
      [1, 0],
      [-1, -1],
    ];
    const qz = [
      [1, 0.5],
      [0, 1],
    ];
    const qf = [
      [0.2, 0.1],
      [2, -1],
    ];
    const out = vrfPredict(fit, {
      features: tf.tensor2d(q),
      zeroShotLogits: tf.tensor2d(qz),
      fineTunedLogits: tf.tensor2d(qf),
    });
    const zsfRows = [
      [1, 0],
      [0.8, 0.6],
      [0, 1],
    ];
    const want = q.map((v, i) => {
      const n = Math.hypot(v[0]!, v[1]!);
      const u = [v[0]! / n, v[1]! / n];
      const d2 = zsfRows.map((r) => (r[0]! - u[0]!) ** 2 + (r[1]! - u[1]!) ** 2).sort((a, b) => a - b);
      const d = Math.sqrt(d2[1]!);
      const w = sigmoid((1 - d) / 0.5);
      const pz = softmax(qz[i]!, 2);
      const pf = softmax(qf[i]!, 0.5);
      return { d, w, p: pz.map((z, j) => (1 - w) * z + w * pf[j]!) };
    });
    close(
      arr(out.distances),
      want.map((r) => r.d),
      4,
    );
    close(
      arr(out.weights),
      want.map((r) => r.w),
      4,
    );
    close(
      arr(out.probabilities),
      want.flatMap((r) => r.p),
      4,
    );
    expect(out.probabilities.shape).toEqual([2, 2]);
    tf.dispose([out.distances, out.weights, out.probabilities]);
    const bad = await caught(() =>
      vrfPredict(fit, {
        features: tf.zeros([3, 2]) as tf.Tensor2D,
        zeroShotLogits: tf.zeros([2, 2]),
        fineTunedLogits: tf.zeros([2, 2]),
      }),
    );
    expect([bad.code, bad.argument, bad.message]).toEqual([
      'SHAPE_MISMATCH',
      'data.features',
      'data.features and both logits must have the same number of rows',
    ]);
    const bad2 = await caught(() =>
      vrfPredict(fit, {
        features: tf.zeros([2, 2]) as tf.Tensor2D,
        zeroShotLogits: tf.zeros([2, 2]),
        fineTunedLogits: tf.zeros([3, 2]),
      }),
    );
    expect(bad2.argument).toBe('data.features');
    expect(
      (
        await caught(() =>
          vrfPredict(fit, {
            features: tf.zeros([2, 2]) as tf.Tensor2D,
            zeroShotLogits: tf.zeros([2]),
            fineTunedLogits: tf.zeros([2, 2]),
          }),
        )
      ).argument,
    ).toBe('data.zeroShotLogits');
    expect(
      (
        await caught(() =>
          vrfPredict(fit, {
            features: tf.zeros([2, 2]) as tf.Tensor2D,
            zeroShotLogits: tf.zeros([2, 2]),
            fineTunedLogits: tf.zeros([2]),
          }),
        )
      ).argument,
    ).toBe('data.fineTunedLogits');
    disposeVrf(fit);
  });

  it('fits the temperatures on the calibration logits when none are given', async () => {
    const cz = tf.tensor2d([
      [2, 0],
      [1, 0.5],
      [0, 1],
      [0.2, 0],
    ]);
    const cf = tf.tensor2d([
      [0, 3],
      [2, 0],
      [0, 1],
      [1, 0],
    ]);
    const cy = [0, 0, 1, 1];
    const fit = await fitVrf(train, { zeroShotLogits: cz, fineTunedLogits: cf, labels: cy }, { k: 1 });
    // Accuracies: ZS 3/4 (row 3 wrong), FT 2/4 (rows 0 and 3 wrong).
    const tz = await searchTemperature(cz, 0.75);
    const tf_ = await searchTemperature(cf, 0.5);
    expect(fit.temperatures).toEqual({ zeroShot: tz.temperature, fineTuned: tf_.temperature });
    expect(fit.temperatures.zeroShot).not.toBe(fit.temperatures.fineTuned);
    disposeVrf(fit);
    // The search options reach both searches.
    const fit2 = await fitVrf(
      train,
      { zeroShotLogits: cz, fineTunedLogits: cf, labels: cy },
      {
        k: 1,
        temperatureSearch: { threshold: 0.2 },
      },
    );
    expect(fit2.temperatures.zeroShot).toBe(
      (await searchTemperature(cz, 0.75, { threshold: 0.2 })).temperature,
    );
    expect(fit2.temperatures.fineTuned).toBe(
      (await searchTemperature(cf, 0.5, { threshold: 0.2 })).temperature,
    );
    expect(fit2.temperatures.zeroShot).not.toBe(tz.temperature);
    expect(fit2.temperatures.fineTuned).not.toBe(tf_.temperature);
    disposeVrf(fit2);
    const lab = await caught(() =>
      fitVrf(train, { zeroShotLogits: cz, fineTunedLogits: cf, labels: [0, 0, 2, 1] }, { k: 1 }),
    );
    expect(lab.argument).toBe('calibration.labels[2]');
    const c = await caught(() => fitVrf(train, undefined, { k: 1 }));
    expect([c.argument, c.expected]).toEqual([
      'calibration',
      'labelled logits to fit temperatures, or options.temperatures',
    ]);
    expect(
      (
        await caught(() =>
          fitVrf(train, { zeroShotLogits: tf.zeros([4]), fineTunedLogits: cf, labels: cy }, { k: 1 }),
        )
      ).argument,
    ).toBe('calibration.zeroShotLogits');
  });

  it('checks its options', async () => {
    const opts = async (o: object) =>
      (await caught(() => fitVrf(train, undefined, { k: 1, temperatures: T, ...o }))).argument;
    expect(await opts({ distance: 'cosine' })).toBe('options.distance');
    expect(await opts({ a: Number.POSITIVE_INFINITY })).toBe('options.a');
    expect(await opts({ b: 0 })).toBe('options.b');
    expect(await opts({ temperatures: { zeroShot: 0, fineTuned: 1 } })).toBe('options.temperatures.zeroShot');
    expect(await opts({ temperatures: { zeroShot: 1, fineTuned: -1 } })).toBe(
      'options.temperatures.fineTuned',
    );
    expect(await opts({ k: 4 })).toBe('options.k');
    expect(await opts({ k: 0 })).toBe('options.k');
    expect(await opts({ k: 1.5 })).toBe('options.k');
    const k4 = await caught(() => fitVrf(train, undefined, { k: 4, temperatures: T }));
    expect(k4.message).toBe('options.k must be an integer in [1, |ZSF| = 3] (received 4)');
    // An empty ZSF set says what to do instead.
    const e = await caught(() =>
      fitVrf({ ...train, fineTunedLogits: zs }, undefined, { k: 1, temperatures: T }),
    );
    expect(e.expected).toBe(
      'an integer in [1, |ZSF| = 0] (the ZSF set is empty: fall back to an output ensemble)',
    );
    // k = |ZSF| is allowed.
    const fit = await fitVrf(train, undefined, { k: 3, temperatures: T });
    expect(fit.k).toBe(3);
    disposeVrf(fit);
  });

  it('names fitVrf in unknown-option errors, and keeps one query a row', async () => {
    const e = await caught(() => fitVrf(train, undefined, { k: 1, temperatures: T, kk: 1 } as never));
    expect(e.message.startsWith('fitVrf: unknown option `kk`')).toBe(true);
    const s = await caught(() =>
      fitVrf(train, undefined, { k: 1, temperatures: T, temperatureSearch: { thresh: 1 } as never }),
    );
    expect(s.message.startsWith('fitVrf temperatureSearch: unknown option `thresh`')).toBe(true);
    const index = l2Normalize(
      tf.tensor2d([
        [1, 0],
        [0, 1],
      ]),
    );
    const one = kthNeighbourDistance(tf.tensor2d([[1, 1]]), index, 2);
    expect(one.shape).toEqual([1]);
    close(arr(one), [2 - Math.SQRT2]);
  });
});
