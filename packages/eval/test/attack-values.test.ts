import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  ascentDirection,
  assertKnownOptions,
  checkSteps,
  crossEntropyPerSample,
  lossAndInputGradient,
  numClasses,
  oneHotTargets,
  perSampleNorm,
  project,
  resolveBudget,
  rowShape,
} from '../src/attacks/attack-common';
import { fgsm, type LogitsModel, pgd, robustAccuracy } from '../src/index';
import './setup-backend';
import { caught } from './typed-error';

/*
 * Values of FGSM, PGD and their shared pieces against float64 transcriptions (plain JS numbers) on models
 * whose input gradient is known in closed form, and every typed error of the budget checks.
 */

/** Catches a RobustFtError and returns it (fails the test for anything else). */

const rows = (t: tf.Tensor) =>
  tf.tidy(() => tf.reshape(t, [t.shape[0] as number, -1]).arraySync() as number[][]);
const closeRows = (got: number[][], want: number[][], digits = 5) => {
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => {
    expect(g.length).toBe(want[i]!.length);
    g.forEach((v, j) => {
      expect(v, `[${i}][${j}]`).toBeCloseTo(want[i]![j]!, digits);
    });
  });
};

// Linear model on [N, 2, 3] inputs, 3 classes: z = flatten(x)·W + b.
const Wl = [
  [1.2, -0.7, 0.3],
  [-0.4, 0.9, -1.1],
  [0.8, 0.2, -0.5],
  [-1.3, 0.6, 0.7],
  [0.5, -1.0, 0.4],
  [0.1, 0.3, -0.9],
];
const bl = [0.1, -0.2, 0.05];
const W = tf.keep(tf.tensor2d(Wl));
const Bt = tf.keep(tf.tensor1d(bl));
const linear: LogitsModel = (x) => tf.add(tf.matMul(tf.reshape(x, [x.shape[0] as number, -1]), W), Bt);

/** Float64 CE and its input gradient for the linear model: ∂CE/∂x = W (softmax(z) − onehot(y)). */
function linearCe(x: number[], y: number): { loss: number; grad: number[] } {
  const z = bl.map((b, j) => b + x.reduce((s, v, i) => s + v * Wl[i]![j]!, 0));
  const m = Math.max(...z);
  const lse = m + Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0));
  const p = z.map((v) => Math.exp(v - lse));
  const r = p.map((v, j) => v - (j === y ? 1 : 0));
  return { loss: lse - z[y]!, grad: Wl.map((row) => row.reduce((s, w, j) => s + w * r[j]!, 0)) };
}

const X0 = [
  [0.5, 0.45, 0.55, 0.6, 0.4, 0.52],
  [0.02, 0.98, 0.5, 0.01, 0.6, 0.99],
  [0.3, 0.7, 0.2, 0.8, 0.5, 0.5],
];
const Y = [0, 1, 2];
const X = tf.keep(tf.tensor3d(X0.map((r) => [r.slice(0, 3), r.slice(3)])));

const clip = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
const l2 = (v: number[]) => Math.sqrt(v.reduce((s, a) => s + a * a, 0));

/** Float64 projection onto the ε-ball (L∞ or L2) around x0, then onto [lo, hi]. */
function proj(x: number[], x0: number[], eps: number, norm: 'linf' | 'l2', lo = 0, hi = 1): number[] {
  const d = x.map((v, i) => v - x0[i]!);
  const scale = norm === 'l2' ? Math.min(1, eps / (l2(d) + 1e-12)) : 1;
  return d.map((v, i) => clip(x0[i]! + (norm === 'linf' ? clip(v, -eps, eps) : v * scale), lo, hi));
}
const direction = (g: number[], norm: 'linf' | 'l2') =>
  norm === 'linf' ? g.map(Math.sign) : g.map((v) => v / (l2(g) + 1e-12));

describe('attack-common', () => {
  it('resolveBudget: defaults, the norms it admits and typed errors', () => {
    expect(resolveBudget({ epsilon: 0.1 })).toEqual({ epsilon: 0.1, norm: 'linf', lo: 0, hi: 1 });
    expect(resolveBudget({ epsilon: 0, norm: 'l2', range: [-1, 2] })).toEqual({
      epsilon: 0,
      norm: 'l2',
      lo: -1,
      hi: 2,
    });
    expect(resolveBudget({ epsilon: 1, norm: 'l1' }, ['linf', 'l2', 'l1']).norm).toBe('l1');
    // FGSM/PGD admit L∞ and L2 only.
    const l1 = caught(() => resolveBudget({ epsilon: 1, norm: 'l1' as 'l2' }));
    expect([l1.code, l1.argument, l1.expected]).toEqual([
      'INVALID_ARGUMENT',
      'options.norm',
      'one of "linf", "l2"',
    ]);
    const eps = caught(() => resolveBudget({ epsilon: -0.1 }));
    expect([eps.argument, eps.expected]).toEqual(['options.epsilon', 'a finite number >= 0']);
    expect(caught(() => resolveBudget({ epsilon: 0.1, range: [Number.NaN, 1] })).argument).toBe(
      'options.range[0]',
    );
    expect(caught(() => resolveBudget({ epsilon: 0.1, range: [0, Infinity] })).argument).toBe(
      'options.range[1]',
    );
    for (const range of [
      [1, 0],
      [0.5, 0.5],
    ] as const) {
      const e = caught(() => resolveBudget({ epsilon: 0.1, range }));
      expect([e.code, e.argument, e.expected]).toEqual([
        'INVALID_ARGUMENT',
        'options.range',
        'a pair [lo, hi] with lo < hi',
      ]);
      expect(e.message).toBe(
        `options.range must be a pair [lo, hi] with lo < hi (received "[${range[0]}, ${range[1]}]")`,
      );
    }
  });

  it('checkSteps admits integers from 1', () => {
    expect(() => checkSteps('options.steps', 1)).not.toThrow();
    const e = caught(() => checkSteps('options.steps', 0));
    expect([e.argument, e.expected]).toEqual(['options.steps', 'an integer >= 1']);
    expect(caught(() => checkSteps('s', 2.5)).argument).toBe('s');
  });

  it('oneHotTargets from arrays and tensors; numClasses; shape errors name y and model', () => {
    const fromArray = oneHotTargets(linear, X, [2, 0, 1]);
    expect(fromArray.arraySync()).toEqual([
      [0, 0, 1],
      [1, 0, 0],
      [0, 1, 0],
    ]);
    const y = tf.tensor1d([1, 1, 0], 'float32');
    const fromTensor = oneHotTargets(linear, X, y);
    expect(fromTensor.arraySync()).toEqual([
      [0, 1, 0],
      [0, 1, 0],
      [1, 0, 0],
    ]);
    expect(numClasses(linear, X)).toBe(3);
    for (const bad of [tf.tensor1d([0, 1], 'int32'), tf.tensor2d([[0], [1], [2]], [3, 1], 'int32')]) {
      const e = caught(() => oneHotTargets(linear, X, bad));
      expect([e.argument, e.expected]).toEqual(['y', 'an int tensor [3] (one label per row)']);
      expect(e.message).toContain(`shape [${bad.shape}]`);
      bad.dispose();
    }
    const flatModel: LogitsModel = (x) => tf.sum(tf.reshape(x, [x.shape[0] as number, -1]), 1);
    const e = caught(() => numClasses(flatModel, X));
    expect([e.argument, e.expected]).toEqual(['model', 'a function returning logits [N, K]']);
    expect(caught(() => oneHotTargets(linear, tf.zeros([0, 2, 3]), [])).argument).toBe('x');
    tf.dispose([fromArray, fromTensor, y]);
  });

  it('cross-entropy, its input gradient and the per-sample helpers match float64', () => {
    const targets = tf.oneHot(tf.tensor1d(Y, 'int32'), 3);
    const { grad, losses } = lossAndInputGradient(linear, X, targets);
    const want = X0.map((x, i) => linearCe(x, Y[i]!));
    closeRows([Array.from(losses.dataSync())], [want.map((w) => w.loss)]);
    closeRows(
      rows(grad),
      want.map((w) => w.grad),
    );
    expect(grad.shape).toEqual([3, 2, 3]);
    const ce = crossEntropyPerSample(linear(X), targets);
    closeRows([Array.from(ce.dataSync())], [want.map((w) => w.loss)]);
    expect(rowShape(X)).toEqual([3, 1, 1]);
    const norms = perSampleNorm(X);
    expect(norms.shape).toEqual([3, 1, 1]);
    closeRows(
      rows(norms),
      X0.map((r) => [l2(r)]),
    );
    tf.dispose([targets, grad, losses, ce, norms]);
  });

  it('project and ascentDirection: L∞ clip, L2 rescale (only outside the ball), then the range', () => {
    const x0 = tf.tensor2d([
      [0.5, 0.5, 0.5],
      [0.1, 0.9, 0.5],
    ]);
    const moved = [
      [0.9, 0.2, 0.55],
      [-0.3, 1.2, 0.52],
    ];
    const x = tf.tensor2d(moved);
    const x0s = x0.arraySync() as number[][];
    for (const norm of ['linf', 'l2'] as const)
      for (const [eps, lo, hi] of [
        [0.2, 0, 1],
        [0.6, 0.05, 0.95],
        [0.01, 0, 1],
      ] as const) {
        const got = project(x, x0, { epsilon: eps, norm, lo, hi });
        closeRows(
          rows(got),
          moved.map((r, i) => proj(r, x0s[i]!, eps, norm, lo, hi)),
          6,
        );
        got.dispose();
      }
    // Inside the L2 ball nothing moves.
    const inside = project(x, x0, { epsilon: 10, norm: 'l2', lo: -5, hi: 5 });
    closeRows(rows(inside), moved, 6);
    const g = tf.tensor2d([
      [3, -4, 0],
      [-0.5, 0, 0.25],
    ]);
    expect(ascentDirection(g, 'linf').arraySync()).toEqual([
      [1, -1, 0],
      [-1, 0, 1],
    ]);
    closeRows(rows(ascentDirection(g, 'l2')), [
      [0.6, -0.8, 0],
      [-0.5 / l2([0.5, 0.25]), 0, 0.25 / l2([0.5, 0.25])],
    ]);
    tf.dispose([x0, x, inside, g]);
  });

  it('assertKnownOptions names the unknown key and the known ones', () => {
    expect(() => assertKnownOptions('options', { a: 1 }, ['a', 'b'])).not.toThrow();
    const e = caught(() => assertKnownOptions('options', { a: 1, c: 2 }, ['a', 'b']));
    expect([e.code, e.argument, e.expected]).toEqual(['INVALID_ARGUMENT', 'options.c', 'one of a, b']);
    for (const bad of [null, 3, 'x']) {
      const n = caught(() => assertKnownOptions('opts', bad as unknown as object, ['a']));
      expect([n.argument, n.expected]).toEqual(['opts', 'an options object']);
    }
  });
});

describe('fgsm', () => {
  for (const [norm, eps, range] of [
    ['linf', 0.05, [0, 1]],
    ['linf', 0.3, [0.1, 0.9]],
    ['l2', 0.4, [0, 1]],
    ['l2', 2, [0, 1]],
  ] as const) {
    it(`${norm} ε=${eps} range [${range}]: one ε step along the ascent direction, projected`, () => {
      const adv = fgsm(linear, X, Y, { epsilon: eps, norm, range });
      const want = X0.map((x, i) => {
        const g = linearCe(x, Y[i]!).grad;
        const dir = direction(g, norm);
        return proj(
          x.map((v, j) => v + eps * dir[j]!),
          x,
          eps,
          norm,
          range[0],
          range[1],
        );
      });
      closeRows(rows(adv), want);
      expect(adv.shape).toEqual([3, 2, 3]);
      adv.dispose();
    });
  }
  it('defaults to L∞ on [0, 1] and accepts a label tensor', () => {
    const y = tf.tensor1d(Y, 'int32');
    const a = fgsm(linear, X, y, { epsilon: 0.2 });
    const b = fgsm(linear, X, Y, { epsilon: 0.2, norm: 'linf', range: [0, 1] });
    expect(rows(a)).toEqual(rows(b));
    tf.dispose([a, b, y]);
  });
});

// PGD's loss must peak inside the ball so that the step count and step size shape the answer: two classes
// with logit gap z(x) = q(x) − q(x0), q concave (as in apgd-reference.test.ts).
const qb = [-6, -5, -9, -4];
const qx0 = [0.5, 0.45, 0.55, 0.6];
const qStar = [0.53, 0.41, 0.57, 0.56];
const qlin = qb.map((v, i) => -v * qStar[i]!);
const QA = tf.keep(tf.tensor1d(qlin));
const QB = tf.keep(tf.tensor1d(qb));
const QX0 = tf.keep(tf.tensor2d([qx0]));
const quad: LogitsModel = (x) => {
  const f = tf.reshape(x, [x.shape[0] as number, -1]);
  const q = (v: tf.Tensor) => tf.sum(tf.add(tf.mul(QA, v), tf.mul(tf.mul(QB, 0.5), tf.square(v))), 1, true);
  const z = tf.sub(q(f), q(QX0));
  return tf.concat([tf.zerosLike(z), z], 1);
};
function quadCeGrad(x: number[]): number[] {
  const q = (v: number[]) => v.reduce((s, u, i) => s + qlin[i]! * u + 0.5 * qb[i]! * u * u, 0);
  const sig = 1 / (1 + Math.exp(-(q(x) - q(qx0))));
  return x.map((v, i) => sig * (qlin[i]! + qb[i]! * v));
}
function referencePgd(norm: 'linf' | 'l2', eps: number, steps: number, alpha: number): number[] {
  let x = [...qx0];
  for (let t = 0; t < steps; t++) {
    const dir = direction(quadCeGrad(x), norm);
    x = proj(
      x.map((v, j) => v + alpha * dir[j]!),
      qx0,
      eps,
      norm,
    );
  }
  return x;
}

describe('pgd', () => {
  const x = tf.keep(tf.tensor2d([qx0]));
  for (const [norm, eps, steps, stepSize] of [
    ['linf', 0.1, 7, 0.031],
    ['linf', 0.1, 4, undefined],
    ['l2', 0.15, 6, 0.05],
    ['l2', 0.15, 5, undefined],
  ] as const) {
    it(`${norm} ε=${eps}, ${steps} steps, step ${stepSize ?? '2.5ε/steps'}: the float64 iterates`, () => {
      const adv = pgd(quad, x, [0], { epsilon: eps, norm, steps, stepSize, randomStart: false });
      const want = referencePgd(norm, eps, steps, stepSize ?? (2.5 * eps) / steps);
      closeRows(rows(adv), [want]);
      // The loss peaks inside the ball: other step counts end elsewhere.
      const other = referencePgd(norm, eps, steps + 1, stepSize ?? (2.5 * eps) / (steps + 1));
      expect(Math.max(...want.map((v, i) => Math.abs(v - other[i]!)))).toBeGreaterThan(1e-3);
      adv.dispose();
    });
  }

  it('defaults: 10 steps of 2.5ε/10, random start seeded with 0', () => {
    const eps = 0.1;
    const noStart = pgd(quad, x, [0], { epsilon: eps, randomStart: false });
    closeRows(rows(noStart), [referencePgd('linf', eps, 10, 0.025)]);
    const a = pgd(quad, x, [0], { epsilon: eps });
    const b = pgd(quad, x, [0], { epsilon: eps, steps: 10, stepSize: 0.025, randomStart: true, seed: 0 });
    const c = pgd(quad, x, [0], { epsilon: eps, seed: 1 });
    expect(rows(a)).toEqual(rows(b));
    expect(rows(a)).not.toEqual(rows(c));
    expect(rows(a)).not.toEqual(rows(noStart));
    tf.dispose([noStart, a, b, c]);
  });

  it('random start: uniform in the L∞ ball, or a random direction with radius ε·u for L2', () => {
    const n = 16;
    const d = 64;
    const centre = tf.fill([n, d], 0.5);
    const zero: LogitsModel = (v) =>
      tf.concat([tf.zeros([v.shape[0] as number, 1]), tf.sum(tf.mul(v, 0), 1, true)], 1);
    // A negligible step leaves the start visible.
    const linf = rows(
      tf.sub(pgd(zero, centre, new Array(n).fill(0), { epsilon: 0.2, steps: 1, stepSize: 1e-9 }), centre),
    );
    const all = linf.flat();
    expect(Math.max(...all.map(Math.abs))).toBeLessThanOrEqual(0.2 + 1e-6);
    expect(Math.min(...all)).toBeLessThan(-0.19);
    expect(Math.max(...all)).toBeGreaterThan(0.19);
    // Uniform on [−ε, ε]: mean |δ| = ε/2.
    expect(all.reduce((s, v) => s + Math.abs(v), 0) / all.length).toBeCloseTo(0.1, 2);
    const l2d = rows(
      tf.sub(
        pgd(zero, centre, new Array(n).fill(0), { epsilon: 0.3, norm: 'l2', steps: 1, stepSize: 1e-9 }),
        centre,
      ),
    );
    const radii = l2d.map(l2);
    for (const r of radii) expect(r).toBeLessThanOrEqual(0.3 + 1e-6);
    expect(Math.min(...radii)).toBeLessThan(0.15);
    expect(Math.max(...radii)).toBeGreaterThan(0.2);
    // A Gaussian direction in 64 dimensions: coordinates of both signs in every row, none dominating.
    for (const [i, row] of l2d.entries()) {
      const unit = row.map((v) => v / radii[i]!);
      expect(Math.max(...unit.map(Math.abs))).toBeLessThan(0.6);
      expect(unit.filter((v) => v > 0).length).toBeGreaterThan(16);
      expect(unit.filter((v) => v < 0).length).toBeGreaterThan(16);
    }
    centre.dispose();
  });

  it('rejects a bad step size, seed or step count', () => {
    for (const stepSize of [0, -0.1]) {
      const e = caught(() => pgd(quad, x, [0], { epsilon: 0.1, stepSize }));
      expect([e.argument, e.expected]).toEqual(['options.stepSize', 'a finite number > 0']);
    }
    for (const seed of [-1, 0.5]) {
      const e = caught(() => pgd(quad, x, [0], { epsilon: 0.1, seed }));
      expect([e.argument, e.expected]).toEqual(['options.seed', 'an integer >= 0']);
    }
    expect(caught(() => pgd(quad, x, [0], { epsilon: 0.1, steps: 0 })).argument).toBe('options.steps');
    expect(caught(() => pgd(quad, x, [0], { epsilon: 0.1, norm: 'l1' as 'l2' })).argument).toBe(
      'options.norm',
    );
    // ε = 0 with the default step size (0) is allowed and returns x.
    const same = pgd(quad, x, [0], { epsilon: 0, steps: 3 });
    closeRows(rows(same), [qx0], 7);
    same.dispose();
  });
});

describe('robustAccuracy', () => {
  it('is the accuracy of the model on the attacked batch', async () => {
    // Clean: rows 0 and 2 of the linear model are right, row 1 wrong (by float64 argmax).
    const correct = X0.map((r, i) => {
      const z = bl.map((b, j) => b + r.reduce((s, v, k) => s + v * Wl[k]![j]!, 0));
      return z.indexOf(Math.max(...z)) === Y[i] ? 1 : 0;
    });
    const clean = correct.reduce((s: number, v) => s + v, 0) / 3;
    expect(await robustAccuracy(linear, X, Y, (_m, v) => tf.clone(v))).toBeCloseTo(clean, 10);
    // An "attack" that returns a batch whose every row the model assigns to class 1.
    const toClass1 = tf.tidy(() =>
      tf.add(tf.zerosLike(X), tf.reshape(tf.tensor1d([0, 1, 0, 0, 0, 0]), [1, 2, 3])),
    );
    const z1 = bl.map((b, j) => b + Wl[1]![j]!);
    expect(z1.indexOf(Math.max(...z1))).toBe(1);
    expect(await robustAccuracy(linear, X, Y, () => tf.clone(toClass1))).toBeCloseTo(1 / 3, 10);
    expect(await robustAccuracy(linear, X, [1, 1, 1], () => tf.clone(toClass1))).toBe(1);
    toClass1.dispose();
  });
});
