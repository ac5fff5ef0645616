import { createRng } from '@robust-ft/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { randomStart, runApgd } from '../src/attacks/apgd-core';
import { crossEntropyPerSample, type ResolvedBudget } from '../src/attacks/attack-common';
import { rankedClass } from '../src/attacks/dlr';
import {
  type ApgdNorm,
  type AutoAttackName,
  autoAttack,
  dlrTargetedLossPerSample,
  type LogitsModel,
} from '../src/index';
import './setup-backend';
import { caughtAsync } from './typed-error';

/*
 * autoAttack's bookkeeping, replayed step by step from its documented algorithm with the (separately
 * tested) APGD loop: batches, the seed of each run (`fork('batch b0')`, then `fork('<attack> <r>')`), the
 * number of runs (restarts for APGD-CE, min(targets, K − 1) ranks 2, 3, … for APGD-T), the rows each run
 * attacks (those still robust), clean accuracy, robust accuracy and the per-attack accounting.
 */

const K = 5;
const D = 12;
const rng = createRng(17);
const W = tf.keep(
  tf.tensor2d(
    Array.from({ length: D * K }, () => rng.normal()),
    [D, K],
  ),
);
// A tanh layer: the loss surface is not linear, so the random start decides some rows' fate.
const H = tf.keep(
  tf.tensor2d(
    Array.from({ length: D * D }, () => 4 * rng.normal()),
    [D, D],
  ),
);
const Hb = tf.keep(tf.tensor1d(Array.from({ length: D }, () => -2 * rng.normal())));
const features = (x: tf.Tensor) =>
  tf.tanh(tf.add(tf.matMul(tf.reshape(x, [x.shape[0] as number, -1]), H), Hb)) as tf.Tensor2D;
const model: LogitsModel = (x) => tf.matMul(features(x), W);
const N = 22;
const X = tf.keep(
  tf.tensor2d(
    Array.from({ length: N * D }, () => 0.5 + 0.25 * (rng.uniform() - 0.5)),
    [N, D],
  ),
);
const pred = tf.tidy(() => Array.from(tf.argMax(model(X), 1).dataSync()));
// Two rows labelled wrongly: never robust, and not attacked.
const Y = pred.map((p, i) => (i === 3 || i === 10 ? (p + 1) % K : p));

interface Opts {
  norm: ApgdNorm;
  epsilon: number;
  attacks: readonly AutoAttackName[];
  steps: number;
  targets: number;
  restarts: number;
  batchSize: number;
  seed: number;
}

function replay(o: Opts) {
  const budget: ResolvedBudget<ApgdNorm> = { epsilon: o.epsilon, norm: o.norm, lo: 0, hi: 1 };
  const robust = Y.map((y, i) => (pred[i] === y ? 1 : 0));
  const clean = robust.reduce((s: number, v) => s + v, 0);
  const fooledBy = o.attacks.map(() => 0);
  for (let b0 = 0; b0 < N; b0 += o.batchSize) {
    const size = Math.min(o.batchSize, N - b0);
    const xb = tf.slice(X, b0, size);
    const r0 = createRng(o.seed).fork(`batch ${b0}`);
    for (const [a, attack] of o.attacks.entries()) {
      const runs = attack === 'apgd-ce' ? o.restarts : Math.min(o.targets, K - 1);
      for (let r = 0; r < runs; r++) {
        const seed = r0.fork(`${attack} ${r}`).nextUint32();
        const rowsLeft = [...Array(size).keys()].filter((i) => robust[b0 + i] === 1);
        if (rowsLeft.length === 0) continue;
        const idx = tf.tensor1d(rowsLeft, 'int32');
        const full = randomStart(xb, budget, seed);
        const xs = tf.gather(xb, idx);
        const start = tf.gather(full, idx);
        const labels = tf.tensor1d(
          rowsLeft.map((i) => Y[b0 + i]!),
          'int32',
        );
        const targets = tf.oneHot(labels, K);
        const tc = attack === 'apgd-ce' ? undefined : rankedClass(model(xs), r + 2);
        const { best, fooled } = runApgd({
          model,
          x: xs,
          labels,
          objective: (z) =>
            tc ? dlrTargetedLossPerSample(z, targets, tc) : crossEntropyPerSample(z, targets),
          budget,
          steps: o.steps,
          start,
        });
        const flags = fooled.dataSync();
        rowsLeft.forEach((i, j) => {
          if (flags[j]) {
            robust[b0 + i] = 0;
            fooledBy[a]!++;
          }
        });
        tf.dispose([idx, full, xs, start, labels, targets, best, fooled, ...(tc ? [tc] : [])]);
      }
    }
    xb.dispose();
  }
  let remaining = clean;
  const afterEach = o.attacks.map((attack, a) => {
    remaining -= fooledBy[a]!;
    return { attack, robustAccuracy: remaining / N };
  });
  return {
    samples: N,
    cleanAccuracy: clean / N,
    robustAccuracy: robust.reduce((s: number, v) => s + v, 0) / N,
    robust,
    afterEach,
  };
}

const base: Opts = {
  norm: 'linf',
  epsilon: 0.12,
  attacks: ['apgd-ce', 'apgd-dlr-t'],
  steps: 2,
  targets: 9,
  restarts: 1,
  batchSize: 256,
  seed: 0,
};

describe('autoAttack replayed from its algorithm', () => {
  const variants: Array<[string, Partial<Opts>]> = [
    ['defaults (one batch, both attacks, 4 targets, 1 restart)', {}],
    ['batches of 8 (the last one partial), seed 3', { batchSize: 8, seed: 3 }],
    ['3 restarts of APGD-CE only, L2', { attacks: ['apgd-ce'], restarts: 3, norm: 'l2', epsilon: 0.3 }],
    [
      'APGD-T first, 2 targets, L1',
      { attacks: ['apgd-dlr-t', 'apgd-ce'], targets: 2, norm: 'l1', epsilon: 0.5 },
    ],
  ];
  for (const [name, change] of variants) {
    it(name, { timeout: 120_000 }, async () => {
      const o = { ...base, ...change };
      const { steps, norm, epsilon, attacks } = o;
      const options = {
        norm,
        epsilon,
        steps,
        attacks,
        ...(change.batchSize ? { batchSize: o.batchSize } : {}),
        ...(change.seed ? { seed: o.seed } : {}),
        ...(change.restarts ? { restarts: o.restarts } : {}),
        ...(change.targets ? { targets: o.targets } : {}),
      };
      const got = await autoAttack(model, X, Y, options);
      const want = replay(o);
      expect({ ...got, robust: Array.from(got.robust) }).toEqual(want);
      // The budget sits where some rows are robust and some are not, so the bookkeeping is visible.
      expect(want.robustAccuracy).toBeGreaterThan(0);
      expect(want.robustAccuracy).toBeLessThan(want.cleanAccuracy);
      expect(want.cleanAccuracy).toBe(20 / 22);
    });
  }

  it('the seed, the restarts and the number of targets each change which rows survive', async () => {
    const o = { ...base, attacks: ['apgd-ce'] as const, restarts: 1 };
    const s0 = replay(o).robust.join('');
    expect(replay({ ...o, seed: 1 }).robust.join('')).not.toBe(s0);
    expect(replay({ ...o, restarts: 3 }).robust.join('')).not.toBe(s0);
    const t = { ...base, attacks: ['apgd-dlr-t'] as const };
    expect(replay({ ...t, targets: 1 }).robust.join('')).not.toBe(
      replay({ ...t, targets: 3 }).robust.join(''),
    );
  });

  it('rejects bad attack lists and too few classes with the documented messages', async () => {
    const caught = (p: Promise<unknown>) => caughtAsync(() => p);
    for (const attacks of [[], ['fab'], ['apgd-ce', 'apgd-t']]) {
      const e = await caught(
        autoAttack(model, X, Y, { norm: 'linf', epsilon: 0.1, attacks: attacks as never }),
      );
      expect([e.code, e.argument, e.expected, e.message]).toEqual([
        'INVALID_ARGUMENT',
        'options.attacks',
        'a non-empty list of apgd-ce, apgd-dlr-t',
        'options.attacks must be a non-empty list of apgd-ce, apgd-dlr-t',
      ]);
    }
    const e = await caught(
      autoAttack(model, X, Y, { norm: 'linf', epsilon: 0.1, attacks: 'apgd-ce' as never }),
    );
    expect(e.argument).toBe('options.attacks');
    const W3 = tf.slice(W, [0, 0], [D, 3]);
    const m3: LogitsModel = (x) => tf.matMul(features(x), W3);
    const y3 = Y.map((v) => v % 3);
    const k = await caught(autoAttack(m3, X, y3, { norm: 'linf', epsilon: 0.1 }));
    expect([k.code, k.argument, k.expected, k.message]).toEqual([
      'INVALID_ARGUMENT',
      'options.attacks',
      "['apgd-ce'] for models with fewer than 4 classes",
      'options.attacks: apgd-dlr-t needs K ≥ 4 classes, the model has 3',
    ]);
    // APGD-CE alone runs on 3 classes; 4 classes admit APGD-T.
    const ok = await autoAttack(m3, X, y3, { norm: 'linf', epsilon: 0.01, steps: 1, attacks: ['apgd-ce'] });
    expect(ok.samples).toBe(N);
    const W4 = tf.slice(W, [0, 0], [D, 4]);
    const m4: LogitsModel = (x) => tf.matMul(features(x), W4);
    const ok4 = await autoAttack(
      m4,
      X,
      Y.map((v) => v % 4),
      { norm: 'linf', epsilon: 0.01, steps: 1 },
    );
    expect(ok4.afterEach.map((a) => a.attack)).toEqual(['apgd-ce', 'apgd-dlr-t']);
    for (const [key, value] of [
      ['targets', 0],
      ['restarts', 0],
      ['batchSize', 0],
    ] as const) {
      const b = await caught(autoAttack(model, X, Y, { norm: 'linf', epsilon: 0.1, [key]: value }));
      expect([b.argument, b.expected]).toEqual([`options.${key}`, 'an integer >= 1']);
    }
    const s = await caught(autoAttack(model, X, Y, { norm: 'linf', epsilon: 0.1, seed: 0.5 }));
    expect([s.argument, s.expected]).toEqual(['options.seed', 'an integer >= 0']);
    tf.dispose([W3, W4]);
  });
});
