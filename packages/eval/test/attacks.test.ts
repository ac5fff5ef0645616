import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RobustFtError } from '@robust-ft/core';
import { expectNoTensorLeaks } from '@robust-ft/core/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { crossEntropyPerSample } from '../src/attacks/attack-common';
import { apgdCe, fgsm, type LogitsModel, pgd, robustAccuracy } from '../src/index';
import { goldenKind } from './golden-ownership';
import './setup-backend';

// A fixed linear classifier on 2×2×3 images: logits = flatten(x) W + b.
const W = tf.keep(
  tf.tensor2d(
    Array.from({ length: 12 * 3 }, (_, i) => Math.sin(i * 1.7) * 2),
    [12, 3],
  ),
);
const B = tf.keep(tf.tensor1d([0.1, -0.2, 0.05]));
const model: LogitsModel = (x) => tf.add(tf.matMul(tf.reshape(x, [x.shape[0] as number, -1]), W), B);
const X = tf.keep(
  tf.tensor4d(
    Array.from({ length: 4 * 12 }, (_, i) => (Math.cos(i * 0.9) + 1) / 2),
    [4, 2, 2, 3],
  ),
);
const Y = [0, 1, 2, 1];

const maxAbs = (t: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(t)).dataSync()[0] as number);
const l2Norms = (t: tf.Tensor) =>
  tf.tidy(() => Array.from(tf.norm(tf.reshape(t, [t.shape[0] as number, -1]), 'euclidean', 1).dataSync()));
const meanLoss = (x: tf.Tensor) =>
  tf.tidy(
    () =>
      tf.mean(crossEntropyPerSample(model(x), tf.oneHot(tf.tensor1d(Y, 'int32'), 3))).dataSync()[0] as number,
  );
const inRange = (t: tf.Tensor) =>
  tf.tidy(() => [tf.min(t).dataSync()[0] as number, tf.max(t).dataSync()[0] as number]);

describe('attacks', () => {
  const eps = 8 / 255;
  const cases: Array<[string, () => tf.Tensor, 'linf' | 'l2', number]> = [
    ['fgsm linf', () => fgsm(model, X, Y, { epsilon: eps }), 'linf', eps],
    ['fgsm l2', () => fgsm(model, X, Y, { epsilon: 0.5, norm: 'l2' }), 'l2', 0.5],
    ['pgd linf', () => pgd(model, X, Y, { epsilon: eps, steps: 5, seed: 3 }), 'linf', eps],
    ['pgd l2', () => pgd(model, X, Y, { epsilon: 0.5, norm: 'l2', steps: 5, seed: 3 }), 'l2', 0.5],
    ['apgd linf', () => apgdCe(model, X, Y, { epsilon: eps, steps: 10 }), 'linf', eps],
    ['apgd l2', () => apgdCe(model, X, Y, { epsilon: 0.5, norm: 'l2', steps: 10 }), 'l2', 0.5],
  ];
  for (const [name, run, norm, budget] of cases) {
    it(`${name}: stays in budget and range, raises the loss, leaks nothing`, async () => {
      const adv = run();
      const delta = tf.sub(adv, X);
      if (norm === 'linf') expect(maxAbs(delta)).toBeLessThanOrEqual(budget + 1e-6);
      else for (const v of l2Norms(delta)) expect(v).toBeLessThanOrEqual(budget + 1e-5);
      const [lo, hi] = inRange(adv);
      expect(lo).toBeGreaterThanOrEqual(0);
      expect(hi).toBeLessThanOrEqual(1);
      expect(meanLoss(adv)).toBeGreaterThan(meanLoss(X));
      tf.dispose([adv, delta]);
      await expectNoTensorLeaks(run, { repeats: 2, label: name });
    });
  }

  it('respects a custom range', () => {
    const adv = pgd(model, X, Y, { epsilon: 0.4, range: [0.2, 0.8], steps: 3 });
    const [lo, hi] = inRange(adv);
    expect(lo).toBeGreaterThanOrEqual(0.2 - 1e-7);
    expect(hi).toBeLessThanOrEqual(0.8 + 1e-7);
    adv.dispose();
  });

  it('pgd random start is seeded', () => {
    const a = pgd(model, X, Y, { epsilon: eps, steps: 1, seed: 7, stepSize: 1e-4 });
    const b = pgd(model, X, Y, { epsilon: eps, steps: 1, seed: 7, stepSize: 1e-4 });
    const c = pgd(model, X, Y, { epsilon: eps, steps: 1, seed: 8, stepSize: 1e-4 });
    expect(maxAbs(tf.sub(a, b))).toBe(0);
    expect(maxAbs(tf.sub(a, c))).toBeGreaterThan(0);
    tf.dispose([a, b, c]);
  });

  it('robust accuracy is at most clean accuracy and leaks nothing', async () => {
    const clean = await robustAccuracy(model, X, Y, (_m, x) => tf.clone(x));
    const robust = await robustAccuracy(model, X, Y, (m, x, y) => pgd(m, x, y, { epsilon: 0.3, steps: 10 }));
    expect(robust).toBeLessThanOrEqual(clean);
    await expectNoTensorLeaks(() =>
      robustAccuracy(model, X, Y, (m, x, y) => fgsm(m, x, y, { epsilon: eps })),
    );
  });

  it('rejects bad labels, empty batches and bad budgets with typed errors', () => {
    const expectArg = (fn: () => unknown, argument: string) => {
      try {
        fn();
      } catch (e) {
        expect(RobustFtError.isInstance(e)).toBe(true);
        expect((e as RobustFtError).argument).toBe(argument);
        return;
      }
      throw new Error('expected a RobustFtError');
    };
    expectArg(() => fgsm(model, X, [0, 1, 3, 1], { epsilon: eps }), 'y[2]');
    expectArg(() => fgsm(model, X, [0, 1], { epsilon: eps }), 'y');
    expectArg(() => pgd(model, tf.zeros([0, 2, 2, 3]), [], { epsilon: eps }), 'x');
    expectArg(() => apgdCe(model, X, Y, { epsilon: -1 }), 'options.epsilon');
    expectArg(() => pgd(model, X, Y, { epsilon: eps, steps: 0 }), 'options.steps');
  });
});

describe('apgdCe against the Guide reference (guide_trades_at.json x_adv_apgd)', () => {
  const here = dirname(fileURLToPath(import.meta.url));
  const dir = process.env.ROBUST_FT_GOLDEN_LOSSES ?? resolve(here, '../../..', '../shared/golden/losses');
  const file = readdirSync(dir)
    .map((f) => join(dir, f))
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(f, 'utf8')) as Record<string, unknown>)
    .find((j) => goldenKind(j) === 'guide_trades_at');
  it('reproduces x_adv for both budgets', () => {
    expect(file).toBeDefined();
    const inputs = (file as Record<string, Record<string, unknown>>).inputs as Record<string, unknown>;
    const x = tf.tensor4d(inputs.x as number[][][][]);
    const w = tf.tensor2d(inputs.W as number[][]);
    const b = tf.tensor1d(inputs.b as number[]);
    const ref: LogitsModel = (v) =>
      tf.add(tf.matMul(tf.reshape(v, [v.shape[0] as number, -1]), w, false, true), b);
    const runs = Object.values(
      (file as Record<string, Record<string, Record<string, unknown>>>).attack_and_losses as object,
    );
    expect(runs.length).toBe(2);
    for (const run of runs as Array<Record<string, unknown>>) {
      const adv = apgdCe(ref, x, inputs.y as number[], {
        epsilon: run.epsilon as number,
        steps: inputs.perturb_steps as number,
      });
      const want = tf.tensor4d(run.x_adv_apgd as number[][][][]);
      expect(maxAbs(tf.sub(adv, want))).toBeLessThan(1e-5);
      tf.dispose([adv, want]);
    }
    tf.dispose([x, w, b]);
  });
});
