import { createRng, RobustFtError } from '@robust-ft/core';
import { expectNoTensorLeaks } from '@robust-ft/core/testing';
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rankedClass } from '../src/attacks/dlr';
import { L1_PROJECTION_HALVINGS } from '../src/attacks/l1-projection';
import {
  APGD_DEFAULTS,
  APGD_DLR_TARGETED_DEFAULTS,
  APGD_L1_DEFAULTS,
  type ApgdNorm,
  AUTO_ATTACK_DEFAULTS,
  apgdCe,
  apgdDlrTargeted,
  apgdL1,
  autoAttack,
  dlrLossPerSample,
  dlrTargetedLossPerSample,
  type LogitsModel,
  projectL1Box,
} from '../src/index';
import './setup-backend';

const rows = (t: tf.Tensor) => t.arraySync() as number[][];
const flat = (t: tf.Tensor) => tf.tidy(() => rows(tf.reshape(t, [t.shape[0] as number, -1])));

// A linear model on 4×4×1 images with K classes: logits = flatten(x) W + b, weights from a seeded stream.
function linearModel(k: number, seed: number) {
  const rng = createRng(seed);
  const w: number[][] = Array.from({ length: 16 }, () => Array.from({ length: k }, () => rng.normal()));
  // Biases put the decision boundaries near the centre of the box, where the inputs are.
  const b = Array.from(
    { length: k },
    (_, j) => -0.5 * w.reduce((s, row) => s + (row[j] as number), 0) + 0.2 * rng.normal(),
  );
  const W = tf.keep(tf.tensor2d(w));
  const B = tf.keep(tf.tensor1d(b));
  const model: LogitsModel = (x) => tf.add(tf.matMul(tf.reshape(x, [x.shape[0] as number, -1]), W), B);
  return { w, b, model };
}

// Inputs near the middle of the box, so the minimal perturbations below never touch [0, 1].
function centredInputs(n: number, seed: number): tf.Tensor4D {
  const rng = createRng(seed);
  return tf.keep(
    tf.tensor4d(
      Array.from({ length: n * 16 }, () => 0.5 + 0.3 * (rng.uniform() - 0.5)),
      [n, 4, 4, 1],
    ),
  );
}

const DUAL: Record<ApgdNorm, (v: number[]) => number> = {
  linf: (v) => v.reduce((s, a) => s + Math.abs(a), 0),
  l2: (v) => Math.sqrt(v.reduce((s, a) => s + a * a, 0)),
  l1: (v) => Math.max(...v.map(Math.abs)),
};

/**
 * The smallest perturbation (in the given norm) that changes a linear model's decision, per sample:
 * min over j ≠ y of (z_y − z_j)/‖w_y − w_j‖_dual, y the predicted class. This is exact when the minimiser
 * stays inside the box; `fits` says whether it does at 1.1× its size (otherwise the true minimum is larger,
 * so the closed form is still a lower bound).
 */
function minimalPerturbation(w: number[][], b: number[], x: number[][], norm: ApgdNorm) {
  const k = b.length;
  return x.map((xi) => {
    const z = b.map((bj, j) => bj + xi.reduce((s, v, i) => s + v * (w[i] as number[])[j]!, 0));
    const y = z.indexOf(Math.max(...z));
    let best = Infinity;
    let fits = false;
    for (let j = 0; j < k; j++) {
      if (j === y) continue;
      const diff = w.map((wi) => (wi[y] as number) - (wi[j] as number));
      const eps = ((z[y] as number) - (z[j] as number)) / DUAL[norm](diff);
      if (eps >= best) continue;
      best = eps;
      // The minimiser moves against diff: L∞ every coordinate by ε, L2 along diff, L1 only the largest |diff|.
      const big = DUAL.l1(diff);
      const move = diff.map((d) =>
        norm === 'linf'
          ? -Math.sign(d) * eps
          : norm === 'l2'
            ? (-d * eps) / DUAL.l2(diff)
            : Math.abs(d) === big
              ? -Math.sign(d) * eps
              : 0,
      );
      fits = move.every((m, i) => xi[i]! + 1.1 * m >= 0 && xi[i]! + 1.1 * m <= 1);
    }
    return { y, eps: best, fits };
  });
}

describe('projectL1Box', () => {
  // Exact reference: the threshold λ from the sorted breakpoints of the piecewise-linear ‖d(λ)‖₁.
  function exact(u: number[], lo: number[], hi: number[], eps: number): number[] {
    const at = (lambda: number) =>
      u.map((v, i) => Math.min(Math.max(Math.sign(v) * Math.max(Math.abs(v) - lambda, 0), lo[i]!), hi[i]!));
    const l1 = (d: number[]) => d.reduce((s, v) => s + Math.abs(v), 0);
    if (l1(at(0)) <= eps) return at(0);
    const knots = [0, ...u.map(Math.abs), ...u.map((v, i) => Math.abs(v) - (v > 0 ? hi[i]! : -lo[i]!))]
      .filter((v) => v >= 0)
      .sort((a, b) => a - b);
    for (let j = 1; j < knots.length; j++) {
      const [a, c] = [knots[j - 1]!, knots[j]!];
      const [fa, fc] = [l1(at(a)), l1(at(c))];
      if (fa >= eps && fc <= eps) return at(fa === fc ? c : a + ((fa - eps) / (fa - fc)) * (c - a));
    }
    throw new Error('no bracket');
  }

  it('matches the exact projection, stays feasible and leaves feasible points alone', async () => {
    const rng = createRng(11);
    const x0 = tf.tensor4d(
      Array.from({ length: 3 * 16 }, () => rng.uniform()),
      [3, 4, 4, 1],
    );
    const u = tf.tensor4d(
      Array.from({ length: 3 * 16 }, () => rng.normal() * 0.6),
      [3, 4, 4, 1],
    );
    for (const eps of [0.3, 1.5, 4]) {
      const got = flat(projectL1Box(x0, u, eps, 0, 1));
      const xs = flat(x0);
      flat(u).forEach((ui, s) => {
        const base = xs[s] as number[];
        const want = exact(
          ui,
          base.map((v) => -v),
          base.map((v) => 1 - v),
          eps,
        );
        const g = got[s] as number[];
        for (let i = 0; i < 16; i++) expect(g[i]).toBeCloseTo(want[i] as number, 5);
        expect(g.reduce((a, v) => a + Math.abs(v), 0)).toBeLessThanOrEqual(eps * (1 + 1e-6));
        g.forEach((v, i) => {
          expect(base[i]! + v).toBeGreaterThanOrEqual(-1e-7);
          expect(base[i]! + v).toBeLessThanOrEqual(1 + 1e-7);
        });
      });
    }
    const small = tf.mul(u, 0.001);
    expect(flat(projectL1Box(x0, small, 4, -10, 10))).toEqual(flat(small));
    expect(L1_PROJECTION_HALVINGS).toBe(32);
    await expectNoTensorLeaks(() => projectL1Box(x0, u, 1, 0, 1));
    tf.dispose([x0, u, small]);
  });
});

describe('DLR losses', () => {
  const z = [
    [3, 1, 2, -1, 0.5],
    [0.2, 0.1, 4, 3.5, -2],
  ];
  const y = [0, 3];
  const t = [2, 1];
  it('follow the formulas and are differentiable', async () => {
    const logits = tf.tensor2d(z);
    const targets = tf.oneHot(tf.tensor1d(y, 'int32'), 5);
    const tc = tf.oneHot(tf.tensor1d(t, 'int32'), 5);
    const sorted = z.map((r) => [...r].sort((a, b) => b - a));
    const want = z.map((r, i) => {
      const zy = r[y[i]!]!;
      const other = Math.max(...r.filter((_, j) => j !== y[i]));
      return -(zy - other) / (sorted[i]![0]! - sorted[i]![2]! + 1e-12);
    });
    const wantT = z.map(
      (r, i) => -(r[y[i]!]! - r[t[i]!]!) / (sorted[i]![0]! - 0.5 * (sorted[i]![2]! + sorted[i]![3]!) + 1e-12),
    );
    const got = Array.from(await dlrLossPerSample(logits, targets).data());
    const gotT = Array.from(await dlrTargetedLossPerSample(logits, targets, tc).data());
    for (const [i, v] of got.entries()) expect(v).toBeCloseTo(want[i] as number, 5);
    for (const [i, v] of gotT.entries()) expect(v).toBeCloseTo(wantT[i] as number, 5);
    // The gradient exists (tf.topk has none) and is finite.
    const g = tf.grad((l: tf.Tensor) => tf.sum(dlrTargetedLossPerSample(l, targets, tc)))(logits);
    expect((await g.data()).every(Number.isFinite)).toBe(true);
    expect(Math.max(...(await tf.abs(g).data()))).toBeGreaterThan(0);
    expect(rows(rankedClass(logits, 2))).toEqual([
      [0, 0, 1, 0, 0],
      [0, 0, 0, 1, 0],
    ]);
    await expectNoTensorLeaks(() => dlrTargetedLossPerSample(logits, targets, tc));
    await expectNoTensorLeaks(() => dlrLossPerSample(logits, targets));
    expect(() => dlrTargetedLossPerSample(tf.zeros([2, 3]), tf.zeros([2, 3]), tf.zeros([2, 3]))).toThrow(
      RobustFtError,
    );
    tf.dispose([logits, targets, tc, g]);
  });
});

describe('closed-form linear models: attacks find the minimal perturbation and never beat it', () => {
  const cases: Array<{ k: number; norm: ApgdNorm }> = [
    { k: 2, norm: 'linf' },
    { k: 2, norm: 'l2' },
    { k: 2, norm: 'l1' },
    { k: 5, norm: 'linf' },
    { k: 5, norm: 'l2' },
    { k: 5, norm: 'l1' },
  ];
  for (const { k, norm } of cases) {
    it(`${k} classes, ${norm}`, { timeout: 180_000 }, async () => {
      const { w, b, model } = linearModel(k, 3 + k);
      const x = centredInputs(24, 7);
      const found = minimalPerturbation(w, b, flat(x), norm);
      const sorted = found.map((f) => f.eps).sort((a, c) => a - c);
      const eps = sorted[16] as number;
      const y = found.map((f) => f.y);
      const result = await autoAttack(model, x, y, {
        norm,
        epsilon: eps,
        attacks: k >= 4 ? ['apgd-ce', 'apgd-dlr-t'] : ['apgd-ce'],
        steps: 50,
        batchSize: 10,
      });
      expect(result.cleanAccuracy).toBe(1);
      // APGD's sign steps reach the L∞/L2 minimiser; APGD-L1's sparse sign step can settle on an equal split
      // over its two largest-gradient coordinates (efficiency (w₁ + w₂)/(2w₁) ≥ 1/2 of the 1-sparse optimum).
      const slack = norm === 'l1' ? 2 : 1.05;
      let strong = 0;
      for (const [i, f] of found.entries()) {
        // Soundness: no perturbation within ε can flip a sample whose minimal one is larger.
        if (f.eps > eps * 1.0001) expect(result.robust[i], `row ${i}`).toBe(1);
        // Strength: a sample that needs clearly less than ε is flipped.
        if (f.eps < eps / slack && f.fits) {
          expect(result.robust[i], `row ${i} needs ${f.eps / eps} ε`).toBe(0);
          strong++;
        }
      }
      expect(strong).toBeGreaterThanOrEqual(norm === 'l1' ? 3 : 10);
      x.dispose();
    });
  }

  it('the single attacks stay inside every budget (L1 ∩ box included) and raise their objective', async () => {
    const { model } = linearModel(5, 8);
    const x = centredInputs(6, 2);
    const y = [0, 1, 2, 3, 4, 0];
    for (const [name, run, eps, norm] of [
      ['apgdL1', () => apgdL1(model, x, y, { epsilon: 0.8, steps: 20 }), 0.8, 'l1'],
      ['apgdCe l1', () => apgdCe(model, x, y, { epsilon: 0.8, norm: 'l1', steps: 20 }), 0.8, 'l1'],
      [
        'apgdDlrTargeted linf',
        () => apgdDlrTargeted(model, x, y, { epsilon: 0.05, steps: 20 }),
        0.05,
        'linf',
      ],
      [
        'apgdDlrTargeted l2',
        () => apgdDlrTargeted(model, x, y, { epsilon: 0.3, norm: 'l2', steps: 20 }),
        0.3,
        'l2',
      ],
    ] as const) {
      const adv = run();
      const d = flat(tf.sub(adv, x));
      const a = flat(adv);
      for (const row of d) {
        const size =
          norm === 'l1'
            ? row.reduce((s, v) => s + Math.abs(v), 0)
            : norm === 'l2'
              ? Math.sqrt(row.reduce((s, v) => s + v * v, 0))
              : Math.max(...row.map(Math.abs));
        expect(size, name).toBeLessThanOrEqual(eps * (1 + 1e-5));
      }
      const all = a.flat();
      expect(Math.min(...all)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...all)).toBeLessThanOrEqual(1);
      adv.dispose();
      await expectNoTensorLeaks(run, { repeats: 2, label: name });
    }
    x.dispose();
  });
});

describe('autoAttack on a trained model', () => {
  // A small MLP trained on 4 Gaussian blobs in 4×4×1 images: robust for some samples, not for others.
  const rng = createRng(5);
  const centres = Array.from({ length: 4 }, () =>
    Array.from({ length: 16 }, () => 0.2 + 0.6 * rng.uniform()),
  );
  const n = 64;
  const labels = Array.from({ length: n }, (_, i) => i % 4);
  const X = tf.keep(
    tf.tensor4d(
      labels.flatMap((c) =>
        (centres[c] as number[]).map((v) => Math.min(1, Math.max(0, v + 0.12 * rng.normal()))),
      ),
      [n, 4, 4, 1],
    ),
  );
  const W1 = tf.variable(tf.randomNormal([16, 24], 0, 0.3, 'float32', 1));
  const B1 = tf.variable(tf.zeros([24]));
  const W2 = tf.variable(tf.randomNormal([24, 4], 0, 0.3, 'float32', 2));
  const model: LogitsModel = (x) =>
    tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(tf.reshape(x, [x.shape[0] as number, -1]), W1), B1)), W2), 0);
  const opt = tf.train.adam(0.05);
  const Y = tf.keep(tf.oneHot(tf.tensor1d(labels, 'int32'), 4));
  for (let i = 0; i < 150; i++) opt.minimize(() => tf.losses.softmaxCrossEntropy(Y, model(X)) as tf.Scalar);

  for (const [norm, epsilon] of [
    ['linf', 0.08],
    ['l2', 0.3],
    ['l1', 0.8],
  ] as const) {
    it(`${norm}: the ensemble is at least as strong as each member, sample by sample`, {
      timeout: 180_000,
    }, async () => {
      const common = { norm, epsilon, steps: 12, targets: 2, batchSize: 40 } as const;
      const both = await autoAttack(model, X, labels, common);
      const ce = await autoAttack(model, X, labels, { ...common, attacks: ['apgd-ce'] });
      const dlr = await autoAttack(model, X, labels, { ...common, attacks: ['apgd-dlr-t'] });
      expect(both.cleanAccuracy).toBeGreaterThan(0.9);
      expect(both.robustAccuracy).toBeLessThan(both.cleanAccuracy);
      expect(both.robustAccuracy).toBeGreaterThan(0);
      // Robust under the ensemble ⇔ robust under each member (the same seeded starts per row).
      for (let i = 0; i < n; i++)
        expect(both.robust[i], `${norm} row ${i}`).toBe(Math.min(ce.robust[i]!, dlr.robust[i]!));
      expect(both.robustAccuracy).toBeLessThanOrEqual(Math.min(ce.robustAccuracy, dlr.robustAccuracy));
      expect(both.afterEach.map((a) => a.attack)).toEqual(['apgd-ce', 'apgd-dlr-t']);
      expect(both.afterEach[0]?.robustAccuracy).toBe(ce.robustAccuracy);
      expect(both.afterEach[1]?.robustAccuracy).toBe(both.robustAccuracy);
      if (norm === 'linf') {
        // Seeded: the same call gives the same per-sample answer.
        const again = await autoAttack(model, X, labels, common);
        expect(Array.from(again.robust)).toEqual(Array.from(both.robust));
      }
    });
  }

  it('reads no tensor synchronously and leaks nothing', { timeout: 180_000 }, async () => {
    const proto = tf.Tensor.prototype as unknown as Record<string, unknown>;
    const saved = ['dataSync', 'arraySync', 'bufferSync'].map((m) => [m, proto[m]] as const);
    try {
      for (const [m] of saved)
        proto[m] = () => {
          throw new Error(`synchronous read ${m}`);
        };
      const yT = tf.tensor1d(labels, 'int32');
      await autoAttack(model, X, yT, { norm: 'l1', epsilon: 0.5, steps: 4, targets: 2, batchSize: 30 });
      await autoAttack(model, X, labels, { norm: 'linf', epsilon: 0.05, steps: 4, targets: 2 });
      apgdCe(model, X, yT, { epsilon: 0.05, steps: 3 }).dispose();
      apgdL1(model, X, yT, { epsilon: 0.5, steps: 3 }).dispose();
      apgdDlrTargeted(model, X, yT, { epsilon: 0.05, steps: 3, norm: 'l2' }).dispose();
      yT.dispose();
    } finally {
      for (const [m, f] of saved) proto[m] = f;
    }
    await expectNoTensorLeaks(
      () => autoAttack(model, X, labels, { norm: 'l2', epsilon: 0.3, steps: 3, targets: 2, batchSize: 25 }),
      { repeats: 2, label: 'autoAttack' },
    );
  });
});

describe('options', () => {
  const { model } = linearModel(5, 1);
  const { model: binary } = linearModel(2, 1);
  let x: tf.Tensor4D;
  beforeEach(() => {
    x = centredInputs(4, 3);
  });
  afterEach(() => x.dispose());
  const y = [0, 1, 2, 3];

  it('pins the defaults', () => {
    expect(APGD_DEFAULTS).toEqual({ steps: 10, randomStart: false, seed: 0, norm: 'linf' });
    expect(APGD_DLR_TARGETED_DEFAULTS).toEqual({
      steps: 100,
      randomStart: true,
      seed: 0,
      norm: 'linf',
      targetRank: 2,
    });
    expect(APGD_L1_DEFAULTS).toEqual({ steps: 100, randomStart: true, seed: 0 });
    expect(AUTO_ATTACK_DEFAULTS).toEqual({
      range: [0, 1],
      attacks: ['apgd-ce', 'apgd-dlr-t'],
      steps: 100,
      targets: 9,
      restarts: 1,
      batchSize: 256,
      seed: 0,
    });
  });

  it('the defaults are the ones used', { timeout: 180_000 }, () => {
    const same = (a: tf.Tensor, b: tf.Tensor) => {
      const eq = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).arraySync() as number);
      tf.dispose([a, b]);
      return eq;
    };
    expect(
      same(
        apgdL1(model, x, y, { epsilon: 0.5 }),
        apgdCe(model, x, y, { epsilon: 0.5, norm: 'l1', steps: 100, randomStart: true, seed: 0 }),
      ),
    ).toBe(0);
    expect(
      same(
        apgdL1(model, x, y, { epsilon: 0.5 }),
        apgdCe(model, x, y, { epsilon: 0.5, norm: 'l1', steps: 3, randomStart: true }),
      ),
    ).toBeGreaterThan(0);
    expect(
      same(
        apgdDlrTargeted(model, x, y, { epsilon: 0.05 }),
        apgdDlrTargeted(model, x, y, {
          epsilon: 0.05,
          steps: 100,
          randomStart: true,
          seed: 0,
          norm: 'linf',
          targetRank: 2,
        }),
      ),
    ).toBe(0);
    expect(
      same(
        apgdDlrTargeted(model, x, y, { epsilon: 0.05 }),
        apgdDlrTargeted(model, x, y, { epsilon: 0.05, targetRank: 3 }),
      ),
    ).toBeGreaterThan(0);
    expect(
      same(
        apgdDlrTargeted(model, x, y, { epsilon: 0.05 }),
        apgdDlrTargeted(model, x, y, { epsilon: 0.05, seed: 1 }),
      ),
    ).toBeGreaterThan(0);
    expect(
      same(
        apgdCe(model, x, y, { epsilon: 0.05 }),
        apgdCe(model, x, y, { epsilon: 0.05, randomStart: false, steps: 10, norm: 'linf' }),
      ),
    ).toBe(0);
  });

  it('rejects bad options with typed errors naming the argument', async () => {
    const expectArg = async (fn: () => unknown, argument: string) => {
      try {
        await fn();
      } catch (e) {
        expect(RobustFtError.isInstance(e)).toBe(true);
        expect((e as RobustFtError).argument).toBe(argument);
        return;
      }
      throw new Error(`expected a RobustFtError for ${argument}`);
    };
    await expectArg(() => apgdL1(model, x, y, { epsilon: 0.5, step: 3 } as never), 'options.step');
    await expectArg(() => apgdCe(model, x, y, { epsilon: 0.5, norm: 'l0' as never }), 'options.norm');
    await expectArg(
      () =>
        apgdDlrTargeted(
          binary,
          x,
          y.map((v) => v % 2),
          { epsilon: 0.1 },
        ),
      'options.targetRank',
    );
    await expectArg(
      () => apgdDlrTargeted(model, x, y, { epsilon: 0.1, targetRank: 1 }),
      'options.targetRank',
    );
    await expectArg(
      () => apgdDlrTargeted(model, x, y, { epsilon: 0.1, targetRank: 6 }),
      'options.targetRank',
    );
    await expectArg(() => autoAttack(model, x, y, { norm: 'linf', epsilon: -1 }), 'options.epsilon');
    await expectArg(
      () => autoAttack(model, x, y, { norm: 'linf', epsilon: 0.1, attacks: [] }),
      'options.attacks',
    );
    await expectArg(
      () => autoAttack(model, x, y, { norm: 'linf', epsilon: 0.1, attacks: ['fab' as never] }),
      'options.attacks',
    );
    await expectArg(
      () => autoAttack(binary, x, [0, 1, 0, 1], { norm: 'linf', epsilon: 0.1 }),
      'options.attacks',
    );
    await expectArg(
      () => autoAttack(model, x, y, { norm: 'linf', epsilon: 0.1, targets: 0 }),
      'options.targets',
    );
    await expectArg(
      () => autoAttack(model, x, y, { norm: 'linf', epsilon: 0.1, batchSize: 0 }),
      'options.batchSize',
    );
    await expectArg(
      () => autoAttack(model, x, y, { norm: 'linf', epsilon: 0.1, restarts: 1.5 }),
      'options.restarts',
    );
    await expectArg(() => autoAttack(model, x, y, { norm: 'linf', epsilon: 0.1, steps: 0 }), 'options.steps');
    await expectArg(() => autoAttack(model, x, y, { norm: 'linf', epsilon: 0.1, seed: -1 }), 'options.seed');
    await expectArg(
      () => autoAttack(model, x, y, { norm: 'linf', epsilon: 0.1, sed: 1 } as never),
      'options.sed',
    );
    await expectArg(
      () => autoAttack(model, x, tf.tensor1d([0, 1], 'int32'), { norm: 'linf', epsilon: 0.1 }),
      'y',
    );
  });

  it('caps the APGD-T targets at K − 1', async () => {
    // 9 targets on a 5-class model run ranks 2…5 (rank 6 does not exist): the result equals targets = 4
    // exactly, with samples left to attack after every run.
    const pred = tf.tidy(() => tf.argMax(model(x), 1).arraySync() as number[]);
    const a = await autoAttack(model, x, pred, { norm: 'linf', epsilon: 1e-4, steps: 5, targets: 9 });
    const b = await autoAttack(model, x, pred, { norm: 'linf', epsilon: 1e-4, steps: 5, targets: 4 });
    expect(a.robustAccuracy).toBe(1);
    expect(Array.from(a.robust)).toEqual(Array.from(b.robust));
  });
});
