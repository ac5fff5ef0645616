import { createRng } from '@robust-ft/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { randomStart, runApgd } from '../src/attacks/apgd-core';
import { crossEntropyPerSample, type ResolvedBudget } from '../src/attacks/attack-common';
import { rankedClass } from '../src/attacks/dlr';
import {
  type ApgdNorm,
  apgdCe,
  apgdDlrTargeted,
  apgdL1,
  dlrTargetedLossPerSample,
  type LogitsModel,
} from '../src/index';
import './setup-backend';
import { caught } from './typed-error';

/*
 * APGD (L∞, L2 and the L1 variant) against a float64 scalar transcription of the algorithm as
 * apgd-core.ts documents it (AutoAttack's schedule), on a two-class model whose logit gap is a concave
 * quadratic: the loss peaks inside the ball, so step sizes, momentum, checkpoints, restarts and (for L1)
 * the sparsity level all shape the answer. Also: which samples count as fooled, the random starts, and
 * the wiring and typed errors of the public APGD functions.
 */

const D = 8;
const qb = [-6, -5, -9, -4, -7, -3, -8, -5];
const qx0 = [0.5, 0.45, 0.55, 0.6, 0.03, 0.97, 0.4, 0.5];
// |∂z/∂x_i| at x0 are pairwise distinct (no ties for the L1 step's top-k threshold).
const qStar = [0.531, 0.412, 0.573, 0.556, -0.021, 1.034, 0.433, 0.468];
const qa = qb.map((v, i) => -v * qStar[i]!);
const q = (v: number[]) => v.reduce((s, u, i) => s + qa[i]! * u + 0.5 * qb[i]! * u * u, 0);
const QA = tf.keep(tf.tensor1d(qa));
const QB = tf.keep(tf.tensor1d(qb));

/** Logits [0, q(x) − q(x0) − c]: class 0 (the label) wins until the gap rises by more than c. */
function quadModel(c: number): LogitsModel {
  const ref = tf.keep(tf.tensor2d([qx0]));
  return (x) => {
    const f = tf.reshape(x, [x.shape[0] as number, -1]);
    const qq = (v: tf.Tensor) =>
      tf.sum(tf.add(tf.mul(QA, v), tf.mul(tf.mul(QB, 0.5), tf.square(v))), 1, true);
    const z = tf.sub(tf.sub(qq(f), qq(ref)), c);
    return tf.concat([tf.zerosLike(z), z], 1);
  };
}

/** CE of label 0 (= softplus(z)) times `sign`, its input gradient, and whether class 1 wins. */
function evalQuad(x: number[], c: number, sign: number) {
  const z = q(x) - q(qx0) - c;
  const sig = 1 / (1 + Math.exp(-z));
  return {
    loss: sign * (Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)))),
    grad: x.map((v, i) => sign * sig * (qa[i]! + qb[i]! * v)),
    wrong: z > 0,
  };
}

const clip = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
const l1n = (d: number[]) => d.reduce((s, v) => s + Math.abs(v), 0);
const l2n = (d: number[]) => Math.sqrt(d.reduce((s, v) => s + v * v, 0));

/** Exact projection of u onto {‖d‖₁ ≤ ε} ∩ [lo, hi] (per coordinate) by the sorted breakpoints. */
function exactL1Box(u: number[], lo: number[], hi: number[], eps: number): number[] {
  const at = (lambda: number) =>
    u.map((v, i) => clip(Math.sign(v) * Math.max(Math.abs(v) - lambda, 0), lo[i]!, hi[i]!));
  if (l1n(at(0)) <= eps) return at(0);
  const knots = [0, ...u.map(Math.abs), ...u.map((v, i) => Math.abs(v) - (v > 0 ? hi[i]! : -lo[i]!))]
    .filter((v) => v >= 0)
    .sort((a, b) => a - b);
  for (let j = 1; j < knots.length; j++) {
    const [a, b] = [knots[j - 1]!, knots[j]!];
    const [fa, fb] = [l1n(at(a)), l1n(at(b))];
    if (fa >= eps && fb <= eps) return at(fa === fb ? b : a + ((fa - eps) / (fa - fb)) * (b - a));
  }
  throw new Error('no bracket');
}

function projectBall(v: number[], x: number[], eps: number, norm: 'linf' | 'l2', lo: number, hi: number) {
  const d = v.map((u, i) => u - x[i]!);
  const s = norm === 'l2' ? Math.min(1, eps / (l2n(d) + 1e-12)) : 1;
  return d.map((u, i) => clip(x[i]! + (norm === 'linf' ? clip(u, -eps, eps) : u * s), lo, hi));
}

/** The APGD loop in float64, one sample, as apgd-core.ts documents it. */
function referenceApgd(
  x: number[],
  start: number[],
  norm: ApgdNorm,
  eps: number,
  steps: number,
  c: number,
  sign = 1,
  lo = 0,
  hi = 1,
): { best: number[]; fooled: boolean } {
  const f = (v: number[]) => evalQuad(v, c, sign);
  const l1 = norm === 'l1';
  const initial = (l1 ? 1 : 2) * eps;
  const nMin = Math.max(Math.floor(0.06 * steps), 1);
  const sizeDecr = Math.max(Math.floor(0.03 * steps), 1);
  let k = l1 ? Math.max(Math.floor(0.04 * steps), 1) : Math.max(Math.floor(0.22 * steps), 1);
  let adv = start.map((v) => clip(v, lo, hi));
  let old = adv;
  let cur = f(adv);
  let grad = cur.grad;
  let fooled = cur.wrong;
  let best = adv;
  let gradBest = grad;
  let lossBest = cur.loss;
  let step = initial;
  let bestAtCheck = lossBest;
  let reducedAtCheck = true;
  let topk = 0.2;
  let sparsityOld = D;
  const lossSteps = new Array<number>(steps).fill(0);
  let counter = 0;
  for (let i = 0; i < steps; i++) {
    let next: number[];
    if (l1) {
      const asc = grad.map(Math.abs).sort((a, b) => a - b);
      const threshold = asc[clip(Math.floor((1 - topk) * D), 0, D - 1)]!;
      const dir = grad.map((g) => (Math.abs(g) >= threshold ? Math.sign(g) : 0));
      const count = l1n(dir);
      const moved = adv.map((v, j) => v + (step * dir[j]!) / (count + 1e-10));
      const delta = exactL1Box(
        moved.map((v, j) => v - x[j]!),
        x.map((v) => lo - v),
        x.map((v) => hi - v),
        eps,
      );
      next = x.map((v, j) => v + delta[j]!);
    } else {
      const m = i > 0 ? 0.75 : 1;
      const dir = norm === 'linf' ? grad.map(Math.sign) : grad.map((g) => g / (l2n(grad) + 1e-12));
      const z = projectBall(
        adv.map((v, j) => v + step * dir[j]!),
        x,
        eps,
        norm,
        lo,
        hi,
      );
      next = projectBall(
        adv.map((v, j) => v + m * (z[j]! - v) + (1 - m) * (v - old[j]!)),
        x,
        eps,
        norm,
        lo,
        hi,
      );
    }
    old = adv;
    adv = next;
    cur = f(adv);
    grad = cur.grad;
    fooled ||= cur.wrong;
    lossSteps[i] = cur.loss;
    if (cur.loss > lossBest) {
      lossBest = cur.loss;
      best = adv;
      gradBest = grad;
    }
    if (++counter !== k) continue;
    counter = 0;
    let restart: boolean;
    if (l1) {
      // Counted in float32, as the library (and AutoAttack) store the iterates.
      const sparsity = best.filter((v, j) => Math.fround(v) !== Math.fround(x[j]!)).length;
      restart = sparsity / sparsityOld < 0.95;
      topk = sparsity / (D * 1.5);
      step = clip(restart ? initial : step / 1.5, initial / 10, initial);
      sparsityOld = sparsity;
    } else {
      let ups = 0;
      for (let j = 0; j < k; j++)
        if (lossSteps[(i - j + steps) % steps]! > lossSteps[(i - j - 1 + steps) % steps]!) ups++;
      restart = ups <= 0.75 * k || (!reducedAtCheck && bestAtCheck >= lossBest);
      reducedAtCheck = restart;
      bestAtCheck = lossBest;
      if (restart) step /= 2;
      k = Math.max(k - sizeDecr, nMin);
    }
    if (restart) {
      adv = best;
      grad = gradBest;
    }
  }
  return { best, fooled };
}

const budgetOf = (norm: ApgdNorm, epsilon: number, lo = 0, hi = 1): ResolvedBudget<ApgdNorm> => ({
  epsilon,
  norm,
  lo,
  hi,
});
const rows = (t: tf.Tensor) =>
  tf.tidy(() => tf.reshape(t, [t.shape[0] as number, -1]).arraySync() as number[][]);
// L2 iterates settle on the sphere, where successive losses differ by float32 rounding: the float32 run
// can keep a neighbouring iterate as its best point, 1e-4 away.
const closeRow = (got: number[], want: number[], label: string, tol = label.startsWith('l2') ? 2e-4 : 5e-6) =>
  got.forEach((v, j) => {
    expect(Math.abs(v - want[j]!), `${label} [${j}]: ${v} vs ${want[j]}`).toBeLessThan(tol);
  });

// A second clean point, off the reference point, so rows differ.
const x1 = qx0.map((v, i) => clip(v + 0.037 * Math.cos(3 * i + 1), 0.01, 0.99));
const starts = (eps: number) => [qx0.map((v, i) => v + (i % 2 ? eps : -eps) / D), x1];

describe('runApgd against the float64 transcription', () => {
  const cases: Array<{ norm: ApgdNorm; eps: number; steps: number; c: number; tol?: number }> = [
    { norm: 'linf', eps: 0.08, steps: 23, c: 0.02 },
    // L2 with the peak outside the ball (a normalised gradient near the peak is float32 noise).
    { norm: 'l2', eps: 0.05, steps: 20, c: 0.02 },
    { norm: 'l2', eps: 0.07, steps: 37, c: 0.5 },
    { norm: 'l1', eps: 0.2, steps: 12, c: 0.02 },
    // ⌊0.04·60⌋ = 2: L1 checkpoints every other iteration.
    { norm: 'l1', eps: 0.35, steps: 60, c: 0.02 },
  ];
  for (const { norm, eps, steps, c, tol } of cases) {
    it(`${norm} ε=${eps}, ${steps} steps: best point and fooled flag per sample`, () => {
      const model = quadModel(c);
      const x = tf.tensor2d([qx0, x1]);
      const s = starts(eps);
      const start = tf.tensor2d(s);
      const labels = tf.tensor1d([0, 0], 'int32');
      const targets = tf.oneHot(labels, 2);
      const { best, fooled } = runApgd({
        model,
        x,
        labels,
        objective: (logits) => crossEntropyPerSample(logits, targets),
        budget: budgetOf(norm, eps),
        steps,
        start,
      });
      const got = rows(best);
      const flags = Array.from(fooled.dataSync());
      for (const [r, xr] of [qx0, x1].entries()) {
        const want = referenceApgd(xr, s[r]!, norm, eps, steps, c);
        closeRow(got[r]!, want.best, `${norm} row ${r}`, tol);
        expect(Boolean(flags[r]), `${norm} row ${r} fooled`).toBe(want.fooled);
      }
      tf.dispose([x, start, labels, targets, best, fooled]);
    });
  }

  it('fooled counts the start and every iterate, not only the best point', () => {
    // Minimising the CE (objective −CE) walks back to class 0: the misclassified start still counts.
    const c = 0.01;
    const model = quadModel(c);
    const x = tf.tensor2d([qx0]);
    // Near (not at: the gradient vanishes there) the peak of the gap, and misclassified.
    const s0 = qStar.map((v, i) => clip(v + (i % 2 ? 0.01 : -0.01), 0, 1));
    const start = tf.tensor2d([s0]);
    const eps = 0.1;
    const want = referenceApgd(qx0, s0, 'linf', eps, 6, c, -1);
    expect(evalQuad(s0, c, 1).wrong).toBe(true);
    const labels = tf.tensor1d([0], 'int32');
    const targets = tf.oneHot(labels, 2);
    const { best, fooled } = runApgd({
      model,
      x,
      labels,
      objective: (logits) => tf.neg(crossEntropyPerSample(logits, targets)) as tf.Tensor1D,
      budget: budgetOf('linf', eps),
      steps: 6,
      start,
    });
    expect(evalQuad(want.best, c, 1).wrong).toBe(false);
    closeRow(rows(best)[0]!, want.best, 'descent');
    expect(Array.from(fooled.dataSync())).toEqual([1]);
    // Never misclassified anywhere: not fooled.
    const far = quadModel(5);
    const r2 = runApgd({
      model: far,
      x,
      labels,
      objective: (logits) => crossEntropyPerSample(logits, targets),
      budget: budgetOf('linf', eps),
      steps: 6,
      start: x,
    });
    expect(Array.from(r2.fooled.dataSync())).toEqual([0]);
    tf.dispose([x, start, labels, targets, best, fooled, r2.best, r2.fooled]);
  });

  it('a start outside the range is clipped to it first', () => {
    const model = quadModel(0.02);
    const x = tf.tensor2d([qx0]);
    const raw = qx0.map((v, i) => v + (i === 4 ? -0.2 : i === 5 ? 0.2 : 0));
    const start = tf.tensor2d([raw]);
    const labels = tf.tensor1d([0], 'int32');
    const targets = tf.oneHot(labels, 2);
    const { best, fooled } = runApgd({
      model,
      x,
      labels,
      objective: (logits) => crossEntropyPerSample(logits, targets),
      budget: budgetOf('linf', 0.25),
      steps: 1,
      start,
    });
    closeRow(rows(best)[0]!, referenceApgd(qx0, raw, 'linf', 0.25, 1, 0.02).best, 'clipped start');
    tf.dispose([x, start, labels, targets, best, fooled]);
  });
});

describe('the public APGD functions', () => {
  const x = tf.keep(tf.tensor2d([qx0, x1]));
  it('apgdCe runs the transcription from the clean input for every norm; apgdL1 = apgdCe with norm l1', () => {
    const model = quadModel(0.02);
    for (const [norm, eps, steps] of [
      ['linf', 0.06, 10],
      ['l2', 0.05, 14],
      ['l1', 0.3, 15],
    ] as const) {
      const got = rows(apgdCe(model, x, [0, 0], { epsilon: eps, norm, steps }));
      for (const [r, xr] of [qx0, x1].entries())
        closeRow(got[r]!, referenceApgd(xr, xr, norm, eps, steps, 0.02).best, `${norm} row ${r}`);
    }
    const l1 = rows(apgdL1(model, x, [0, 0], { epsilon: 0.3, steps: 15, randomStart: false }));
    for (const [r, xr] of [qx0, x1].entries())
      closeRow(l1[r]!, referenceApgd(xr, xr, 'l1', 0.3, 15, 0.02).best, `apgdL1 row ${r}`);
  });

  it('the random start is the documented one, seeded', () => {
    const model = quadModel(0.02);
    const budget = budgetOf('l2', 0.05);
    const start = rows(randomStart(x, budget, 4));
    const got = rows(
      apgdCe(model, x, [0, 0], { epsilon: 0.05, norm: 'l2', steps: 9, randomStart: true, seed: 4 }),
    );
    for (const [r, xr] of [qx0, x1].entries())
      closeRow(got[r]!, referenceApgd(xr, start[r]!, 'l2', 0.05, 9, 0.02).best, `l2 row ${r}`);
  });

  it('apgdDlrTargeted maximises the targeted DLR towards the class of the given clean rank', () => {
    // A 5-class linear model; the objective and target are checked by replaying runApgd with them.
    const rng = createRng(21);
    const W = tf.tensor2d(
      Array.from({ length: D * 5 }, () => rng.normal()),
      [D, 5],
    );
    const model: LogitsModel = (v) => tf.matMul(tf.reshape(v, [v.shape[0] as number, -1]), W);
    const y = [1, 3];
    for (const [targetRank, norm] of [
      [2, 'linf'],
      [5, 'l2'],
    ] as const) {
      const eps = norm === 'linf' ? 0.05 : 0.3;
      const got = apgdDlrTargeted(model, x, y, { epsilon: eps, norm, steps: 8, targetRank, seed: 3 });
      const start = randomStart(x, budgetOf(norm, eps), 3);
      const labels = tf.tensor1d(y, 'int32');
      const targets = tf.oneHot(labels, 5);
      const tc = rankedClass(model(x), targetRank);
      const want = runApgd({
        model,
        x,
        labels,
        objective: (logits) => dlrTargetedLossPerSample(logits, targets, tc),
        budget: budgetOf(norm, eps),
        steps: 8,
        start,
      });
      expect(rows(got)).toEqual(rows(want.best));
      tf.dispose([got, start, labels, targets, tc, want.best, want.fooled]);
    }
    // K = 4 is enough, and the target rank may be K.
    const W4 = tf.slice(W, [0, 0], [D, 4]);
    const m4: LogitsModel = (v) => tf.matMul(tf.reshape(v, [v.shape[0] as number, -1]), W4);
    expect(() =>
      apgdDlrTargeted(m4, x, [0, 1], { epsilon: 0.05, steps: 2, targetRank: 4 }).dispose(),
    ).not.toThrow();
    const e = caught(() => apgdDlrTargeted(m4, x, [0, 1], { epsilon: 0.05, steps: 2, targetRank: 5 }));
    expect([e.code, e.argument, e.expected, e.message]).toEqual([
      'INVALID_ARGUMENT',
      'options.targetRank',
      'an integer in [2, K], K ≥ 4',
      'options.targetRank must be in [2, K] for a model with K ≥ 4 classes; got 5 with K = 4',
    ]);
    const W3 = tf.slice(W, [0, 0], [D, 3]);
    const m3: LogitsModel = (v) => tf.matMul(tf.reshape(v, [v.shape[0] as number, -1]), W3);
    expect(caught(() => apgdDlrTargeted(m3, x, [0, 1], { epsilon: 0.05, targetRank: 2 })).message).toBe(
      'options.targetRank must be in [2, K] for a model with K ≥ 4 classes; got 2 with K = 3',
    );
    expect(caught(() => apgdDlrTargeted(model, x, y, { epsilon: 0.05, targetRank: 1 })).expected).toBe(
      'an integer >= 2',
    );
    tf.dispose([W, W4, W3]);
  });

  it('each function admits exactly its own option keys and checks seed and steps', () => {
    const model = quadModel(0.02);
    const e1 = caught(() => apgdL1(model, x, [0, 0], { epsilon: 0.1, norm: 'l2' } as never));
    expect([e1.argument, e1.expected]).toEqual([
      'options.norm',
      'one of epsilon, range, steps, randomStart, seed',
    ]);
    const e2 = caught(() => apgdCe(model, x, [0, 0], { epsilon: 0.1, targetRank: 2 } as never));
    expect([e2.argument, e2.expected]).toEqual([
      'options.targetRank',
      'one of epsilon, range, steps, randomStart, seed, norm',
    ]);
    const e3 = caught(() => apgdDlrTargeted(model, x, [0, 0], { epsilon: 0.1, foo: 1 } as never));
    expect(e3.expected).toBe('one of epsilon, range, steps, randomStart, seed, norm, targetRank');
    for (const seed of [-1, 1.5]) {
      const e = caught(() => apgdCe(model, x, [0, 0], { epsilon: 0.1, seed }));
      expect([e.argument, e.expected]).toEqual(['options.seed', 'an integer >= 0']);
    }
    const e4 = caught(() => apgdCe(model, x, [0, 0], { epsilon: 0.1, steps: 0 }));
    expect([e4.argument, e4.expected]).toEqual(['options.steps', 'an integer >= 1']);
    expect(caught(() => apgdCe(model, x, [0, 0], { epsilon: 0.1, range: [1, 0] })).argument).toBe(
      'options.range',
    );
  });
});

describe('randomStart', () => {
  const n = 6;
  const centre = tf.keep(tf.fill([n, 4, 4, 1], 0.5));
  const perRow = (t: tf.Tensor) => rows(tf.sub(t, centre));
  it('L∞: ‖δ‖∞ = ε exactly, with coordinates spread over [−ε, ε]', () => {
    const d = perRow(randomStart(centre, budgetOf('linf', 0.1), 1));
    for (const row of d) {
      expect(Math.max(...row.map(Math.abs))).toBeCloseTo(0.1, 6);
      expect(row.filter((v) => v > 0).length).toBeGreaterThan(3);
      expect(row.filter((v) => v < 0).length).toBeGreaterThan(3);
      expect(row.filter((v) => Math.abs(v) < 0.09).length).toBeGreaterThan(8);
    }
  });
  it('L2: ‖δ‖₂ = ε exactly along a Gaussian direction', () => {
    const d = perRow(randomStart(centre, budgetOf('l2', 0.3), 1));
    for (const row of d) {
      expect(l2n(row)).toBeCloseTo(0.3, 5);
      expect(row.filter((v) => v > 0).length).toBeGreaterThan(0);
      expect(row.filter((v) => v < 0).length).toBeGreaterThan(0);
      expect(Math.max(...row.map(Math.abs))).toBeLessThan(0.3);
    }
  });
  it('L1: the Gaussian projected onto the L1 ball ∩ box (‖δ‖₁ = ε)', () => {
    const rng = createRng(9);
    const xs = Array.from({ length: n * 16 }, () => rng.uniform());
    const x = tf.tensor4d(xs, [n, 4, 4, 1]);
    const got = rows(tf.sub(randomStart(x, budgetOf('l1', 0.7), 2), x));
    const xr = rows(x);
    for (const [r, row] of got.entries()) {
      expect(l1n(row)).toBeCloseTo(0.7, 4);
      row.forEach((v, j) => {
        expect(xr[r]![j]! + v).toBeGreaterThanOrEqual(-1e-6);
        expect(xr[r]![j]! + v).toBeLessThanOrEqual(1 + 1e-6);
      });
      // A Gaussian soft-thresholded to ε = 0.7 (its ‖·‖₁ is about 13): only a few coordinates move.
      expect(row.filter((v) => v !== 0).length).toBeLessThan(8);
    }
    x.dispose();
  });
  it('clips to the range and is seeded', () => {
    const edge = tf.tensor2d([
      [0, 1, 0, 1],
      [0.5, 0.5, 0.5, 0.5],
    ]);
    for (const norm of ['linf', 'l2', 'l1'] as const) {
      const a = rows(randomStart(edge, budgetOf(norm, 0.4, 0, 1), 5));
      const b = rows(randomStart(edge, budgetOf(norm, 0.4, 0, 1), 5));
      const c = rows(randomStart(edge, budgetOf(norm, 0.4, 0, 1), 6));
      expect(a).toEqual(b);
      expect(a).not.toEqual(c);
      for (const v of a.flat()) {
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
      }
      // The corners can only move inwards.
      expect(a[0]![0]).toBeGreaterThanOrEqual(0);
      expect(a[0]![1]).toBeLessThanOrEqual(1);
    }
    const tight = rows(randomStart(edge, budgetOf('linf', 0.4, 0.4, 0.6), 5));
    for (const v of tight.flat()) {
      expect(v).toBeGreaterThanOrEqual(0.4 - 1e-7);
      expect(v).toBeLessThanOrEqual(0.6 + 1e-7);
    }
    edge.dispose();
  });
});
