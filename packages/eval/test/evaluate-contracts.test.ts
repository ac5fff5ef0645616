import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CORRUPTION_FAMILIES,
  type CorruptionFamily,
  corrupt,
  type EvaluationProgress,
  evaluate,
  expectedCalibrationError,
  fgsm,
  type LogitsModel,
  robustAccuracy,
  topKAccuracy,
} from '../src/index';
import './setup-backend';
import { caughtAsync } from './typed-error';

/*
 * evaluate()'s defaults, options and every number of its report, checked against the public functions it
 * composes (each tested on its own) on a 6-class linear model over 8×8 images.
 */

const W = tf.keep(tf.randomNormal([64, 6], 0, 1, 'float32', 11));
const batches: number[] = [];
const model: LogitsModel = (x) => {
  batches.push(x.shape[0] as number);
  return tf.tidy(() => tf.matMul(tf.reshape(x, [x.shape[0] as number, 64]), W));
};
const N = 24;
const X = tf.keep(tf.randomUniform([N, 8, 8, 1], 0, 1, 'float32', 5)) as tf.Tensor4D;
// Labels: the clean prediction for even rows, the second-best class for odd rows.
const Y: number[] = await (async () => {
  const logits = model(X);
  const rows = (await logits.array()) as number[][];
  logits.dispose();
  return rows.map((r, i) => {
    const order = r.map((v, j) => [v, j] as const).sort((a, b) => b[0] - a[0]);
    return order[i % 2]![1];
  });
})();
afterAll(() => {
  tf.dispose([W, X]);
});

async function accuracyOf(x: tf.Tensor, y: readonly number[], k = 1): Promise<number> {
  const logits = model(x);
  try {
    return await topKAccuracy(logits, y, k);
  } finally {
    logits.dispose();
  }
}

describe('evaluate: the ID suite and defaults', () => {
  it('reports top-1, top-5 (the default k), ECE and n; the model name defaults to "model"', async () => {
    const report = await evaluate(model, { id: { x: X, y: Y } });
    expect(report.model).toBe('model');
    expect(report.id.accuracy).toBe(await accuracyOf(X, Y));
    expect(report.id.accuracy).toBe(0.5);
    expect(report.id.topK).toEqual({ k: 5, accuracy: await accuracyOf(X, Y, 5) });
    const logits = model(X);
    expect(report.id.ece).toBe((await expectedCalibrationError(logits, Y)).ece);
    logits.dispose();
    expect(report.id.n).toBe(N);
    expect(report.corruptions).toBeNull();
    expect(report.attacks).toEqual({});
    expect(report.ood).toEqual({});
  });

  it('topK: any k in (1, K] is reported; 1 and k > K are not', async () => {
    const id = { x: X, y: Y };
    expect((await evaluate(model, { id, topK: 2 })).id.topK).toEqual({
      k: 2,
      accuracy: await accuracyOf(X, Y, 2),
    });
    expect((await evaluate(model, { id, topK: 6 })).id.topK).toEqual({ k: 6, accuracy: 1 });
    expect((await evaluate(model, { id, topK: 1 })).id.topK).toBeNull();
    expect((await evaluate(model, { id, topK: 7 })).id.topK).toBeNull();
  });

  it('runs the model in batches of batchSize rows (default 256), same numbers', async () => {
    batches.length = 0;
    const whole = await evaluate(model, { id: { x: X, y: Y } });
    expect(batches).toEqual([N]);
    batches.length = 0;
    const split = await evaluate(model, { id: { x: X, y: Y }, batchSize: 10 });
    expect(batches).toEqual([10, 10, 4]);
    expect(split).toEqual(whole);
    // A batch size that divides N runs no empty batch after the last one.
    batches.length = 0;
    await evaluate(model, { id: { x: X, y: Y }, batchSize: 12 });
    expect(batches).toEqual([12, 12]);
  });

  it('refuses missing or malformed suites and unknown options, naming them', async () => {
    const id = { x: X, y: Y };
    let e = await caughtAsync(() => evaluate(model, undefined as never));
    expect([e.code, e.argument, e.message]).toEqual([
      'INVALID_ARGUMENT',
      'suites',
      'suites must be an object { id, corruptions?, attacks?, ood?, topK?, batchSize? }',
    ]);
    e = await caughtAsync(() => evaluate(model, null as never));
    expect([e.code, e.argument]).toEqual(['INVALID_ARGUMENT', 'suites']);
    e = await caughtAsync(() => evaluate(model, {} as never));
    expect([e.argument, e.message]).toEqual([
      'suites.id',
      'suites.id must be an in-distribution set { x, y }',
    ]);
    e = await caughtAsync(() => evaluate(model, { id, batchSize: 0 }));
    expect([e.argument, e.message]).toEqual([
      'suites.batchSize',
      'suites.batchSize must be an integer >= 1 (received 0)',
    ]);
    e = await caughtAsync(() => evaluate(model, { id, topK: 0 }));
    expect(e.argument).toBe('suites.topK');
    e = await caughtAsync(() => evaluate(model, { id, topk: 2 } as never));
    expect(e.message).toMatch(/^evaluate suites: unknown option `topk`; did you mean `topK`\?/);
    e = await caughtAsync(() => evaluate(model, { id, corruptions: { seeds: 1 } } as never));
    expect(e.message).toMatch(/^evaluate suites\.corruptions: unknown option `seeds`; did you mean `seed`\?/);
    e = await caughtAsync(() => evaluate(model, { id }, { nam: 'x' } as never));
    expect(e.message).toMatch(/^evaluate: unknown option `nam`; did you mean `name`\?/);
    e = await caughtAsync(() =>
      evaluate(model, { id, ood: { other: { x: tf.zeros([2, 8, 8]) as never, y: [0, 1] } } }),
    );
    expect(e.argument).toBe('suites.ood.other.x');
  });
});

describe('evaluate: corruptions, attacks and OOD sets', () => {
  it('each corruption cell is the accuracy on corrupt(x, family, severity, seed); mCA and relative follow', async () => {
    const families: CorruptionFamily[] = ['gaussian_noise', 'contrast'];
    const progress: EvaluationProgress[] = [];
    const report = await evaluate(
      model,
      { id: { x: X, y: Y }, corruptions: { families, severities: [2, 5], seed: 7 } },
      { name: 'linear', onProgress: (p) => progress.push(p) },
    );
    const expected: Record<string, number[]> = {};
    for (const f of families) {
      expected[f] = [];
      for (const s of [2, 5]) {
        const xc = corrupt(X, f, s, 7);
        expected[f].push(await accuracyOf(xc, Y));
        xc.dispose();
      }
    }
    expect(report.model).toBe('linear');
    expect(report.corruptions?.accuracy).toEqual(expected);
    expect(report.corruptions?.severities).toEqual([2, 5]);
    const cells = Object.values(expected).flat();
    const mca = cells.reduce((a, b) => a + b, 0) / cells.length;
    expect(report.corruptions?.meanCorruptionAccuracy).toBeCloseTo(mca, 12);
    expect(report.corruptions?.relativeRobustness).toBeCloseTo(mca / report.id.accuracy, 12);
    expect(progress.map((p) => `${p.stage}:${p.name}:${p.done}/${p.total}`)).toEqual([
      'id:id:1/5',
      'corruption:gaussian_noise/2:2/5',
      'corruption:gaussian_noise/5:3/5',
      'corruption:contrast/2:4/5',
      'corruption:contrast/5:5/5',
    ]);
  });

  it('the corruption seed defaults to 0 and a given seed is used', async () => {
    const family: CorruptionFamily = 'gaussian_noise';
    const at = async (seed: number) => {
      const xc = corrupt(X, family, 5, seed);
      const a = await accuracyOf(xc, Y);
      xc.dispose();
      return a;
    };
    // This data makes the two seeds distinguishable (checked here, so the test cannot pass vacuously).
    expect(await at(0)).not.toBe(await at(3));
    const run = (seed?: number) =>
      evaluate(model, {
        id: { x: X, y: Y },
        corruptions:
          seed === undefined
            ? { families: [family], severities: [5] }
            : { families: [family], severities: [5], seed },
      });
    expect((await run())?.corruptions?.accuracy[family]).toEqual([await at(0)]);
    expect((await run(3))?.corruptions?.accuracy[family]).toEqual([await at(3)]);
  });

  it('corruptions: {} runs every family at severities 1–5', async () => {
    const seen: string[] = [];
    const small = tf.slice(X, 0, 2) as tf.Tensor4D;
    const report = await evaluate(
      model,
      { id: { x: small, y: Y.slice(0, 2) }, corruptions: {} },
      { onProgress: (p) => seen.push(p.name) },
    );
    small.dispose();
    expect(Object.keys(report.corruptions?.accuracy ?? {})).toEqual([...CORRUPTION_FAMILIES]);
    expect(report.corruptions?.severities).toEqual([1, 2, 3, 4, 5]);
    expect(seen).toHaveLength(1 + CORRUPTION_FAMILIES.length * 5);
    expect(seen[1]).toBe(`${CORRUPTION_FAMILIES[0]}/1`);
    for (const cells of Object.values(report.corruptions?.accuracy ?? {})) expect(cells).toHaveLength(5);
  });

  it('attacks and OOD sets are reported by name, in order, after the corruptions', async () => {
    const attack = (m: LogitsModel, x: tf.Tensor, y: readonly number[] | tf.Tensor | Int32Array) =>
      fgsm(m, x, y, { epsilon: 0.05 });
    const flippedY = Y.map((c) => (c + 1) % 6);
    const progress: string[] = [];
    const report = await evaluate(
      model,
      { id: { x: X, y: Y }, attacks: { fgsm: attack }, ood: { shifted: { x: X, y: flippedY } } },
      { onProgress: (p) => progress.push(`${p.stage}:${p.name}:${p.done}/${p.total}`) },
    );
    expect(report.attacks).toEqual({ fgsm: await robustAccuracy(model, X, Y, attack) });
    expect(report.ood).toEqual({ shifted: await accuracyOf(X, flippedY) });
    expect(progress).toEqual(['id:id:1/3', 'attack:fgsm:2/3', 'ood:shifted:3/3']);
  });
});
