import { createRng } from '@robust-ft/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  type BatchModel,
  clipContrastiveLoss,
  functionSpaceRegularizer,
  klDivergence,
  labelCrossEntropy,
  lmixLoss,
  m2mixLoss,
  m2mixObjective,
  tradesLossFromLogits,
  vlmixLoss,
  vmixLoss,
} from '../src/index';
import { caught, randomMatrix, unitRows } from './helpers';
import './setup-backend';

/**
 * Values, defaults and directions that the golden replays do not pin (issue #20): each expectation is
 * computed independently (float64 by hand, or the documented default passed explicitly).
 */

// Read back once per value: these run synchronously on the cpu test backend only.
const value = (t: tf.Tensor) => t.dataSync()[0]!;
const rows = (t: tf.Tensor) => t.arraySync() as number[][];

function logSoftmax(row: number[], t = 1): number[] {
  const z = row.map((v) => v / t);
  const m = Math.max(...z);
  const lse = m + Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0));
  return z.map((v) => v - lse);
}

/** T²·KL(softmax(p/T) ‖ softmax(q/T)) per row, in float64. */
function klRows(p: number[][], q: number[][], t = 1): number[] {
  return p.map((row, i) => {
    const lp = logSoftmax(row, t);
    const lq = logSoftmax(q[i]!, t);
    return t * t * lp.reduce((s, l, j) => s + Math.exp(l) * (l - lq[j]!), 0);
  });
}

const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;

describe('tradesLossFromLogits: the KL runs from the clean to the adversarial distribution', () => {
  it('per sample equals CE(clean) + β·KL(p_clean ‖ p_adv), not KL(p_adv ‖ p_clean)', () => {
    const clean = randomMatrix(5, 4, 21, 2);
    const adv = randomMatrix(5, 4, 22, 2);
    const labels = tf.tensor1d([0, 3, 1, 2, 3], 'int32');
    const ce = Array.from(labelCrossEntropy(clean, labels, 'none').dataSync());
    const forward = klRows(rows(clean), rows(adv));
    const backward = klRows(rows(adv), rows(clean));
    const beta = 1.5;
    const ours = Array.from(tradesLossFromLogits(clean, adv, labels, { beta, reduction: 'none' }).dataSync());
    ours.forEach((v, i) => {
      expect(v).toBeCloseTo(ce[i]! + beta * forward[i]!, 4);
    });
    // The two directions differ on these logits, so the check above tells them apart.
    expect(Math.max(...forward.map((f, i) => Math.abs(f - backward[i]!)))).toBeGreaterThan(0.05);
    // Defaults: β = 1 and the mean over the batch.
    expect(value(tradesLossFromLogits(clean, adv, labels))).toBeCloseTo(
      mean(ce.map((c, i) => c + forward[i]!)),
      4,
    );
  });
});

describe('functionSpaceRegularizer values', () => {
  const x = tf.tidy(() => tf.sigmoid(randomMatrix(6, 3, 31)));
  const wStudent = randomMatrix(3, 4, 32, 1.5);
  const wTeacher = randomMatrix(3, 4, 33, 1.5);
  const student: BatchModel = (input) => tf.matMul(input as tf.Tensor2D, wStudent);
  const teacher: BatchModel = (input) => tf.matMul(input as tf.Tensor2D, wTeacher);
  const halve = (input: tf.Tensor) => tf.mul(input, 0.5);
  const shift = (input: tf.Tensor) => tf.add(input, 0.25);
  /** weight · mean over views of the batch-mean T²·KL(teacher ‖ student), by hand. */
  const byHand = (views: Array<(t: tf.Tensor) => tf.Tensor>, t: number, weight: number) =>
    weight *
    mean(
      views.map((v) => {
        const shifted = v(x);
        return mean(klRows(rows(teacher(shifted)), rows(student(shifted)), t));
      }),
    );

  it('temperature reaches the distance: T = 2 gives T²·KL at T = 2, which differs from T = 1', () => {
    const rng = createRng(1);
    const at2 = value(functionSpaceRegularizer({ views: halve, temperature: 2 })(student, teacher, x, rng));
    expect(at2).toBeCloseTo(byHand([halve], 2, 1), 5);
    const at1 = byHand([halve], 1, 1);
    expect(Math.abs(at2 - at1)).toBeGreaterThan(0.01);
    const at05 = value(
      functionSpaceRegularizer({ views: halve, temperature: 0.5 })(student, teacher, x, rng),
    );
    expect(at05).toBeCloseTo(byHand([halve], 0.5, 1), 5);
  });

  it('defaults: KL(pretrained ‖ fine-tuned) at T = 1 with weight 1; weight scales, views average', () => {
    const rng = createRng(1);
    const d = value(functionSpaceRegularizer({ views: shift })(student, teacher, x, rng));
    expect(d).toBeCloseTo(byHand([shift], 1, 1), 5);
    // The direction: the frozen model is the target side.
    const reversed = mean(klRows(rows(student(shift(x))), rows(teacher(shift(x)))));
    expect(Math.abs(d - reversed)).toBeGreaterThan(0.01);
    const two = value(
      functionSpaceRegularizer({ views: [halve, shift], temperature: 3, weight: 0.7 })(
        student,
        teacher,
        x,
        rng,
      ),
    );
    expect(two).toBeCloseTo(byHand([halve, shift], 3, 0.7), 5);
    // An explicit distance other than KL is passed the same temperature.
    const js = value(
      functionSpaceRegularizer({ views: halve, distance: 'js', temperature: 2 })(student, teacher, x, rng),
    );
    const js1 = value(functionSpaceRegularizer({ views: halve, distance: 'js' })(student, teacher, x, rng));
    expect(Math.abs(js - js1)).toBeGreaterThan(1e-4);
  });

  it('rejects a non-positive temperature and a negative weight, naming them', () => {
    expect(caught(() => functionSpaceRegularizer({ views: halve, temperature: 0 })).argument).toBe(
      'config.temperature',
    );
    expect(caught(() => functionSpaceRegularizer({ views: halve, weight: -1 })).argument).toBe(
      'config.weight',
    );
    // weight 0 is allowed and gives 0.
    expect(
      value(functionSpaceRegularizer({ views: halve, weight: 0 })(student, teacher, x, createRng(1))),
    ).toBe(0);
  });
});

describe('klDivergence defaults', () => {
  it('is T = 1, batch mean, target first', () => {
    const a = randomMatrix(3, 5, 41, 2);
    const b = randomMatrix(3, 5, 42, 2);
    expect(value(klDivergence(a, b))).toBeCloseTo(mean(klRows(rows(a), rows(b))), 5);
    expect(value(klDivergence(a, b, { temperature: 4 }))).toBeCloseTo(mean(klRows(rows(a), rows(b), 4)), 5);
  });
});

describe('m2mixObjective defaults', () => {
  const img = unitRows(6, 8, 51);
  const txt = unitRows(6, 8, 52);

  it('is clip(τ = 0.01) + 0.01·m²-mix(τ₂ = 0.07) with no other term', () => {
    const { loss, terms, lambdas } = m2mixObjective()(img, txt, { lambdas: { m2mix: 0.4 } });
    expect(Object.keys(terms).sort()).toEqual(['clip', 'm2mix']);
    expect(lambdas).toEqual({ m2mix: 0.4 });
    const clip = value(clipContrastiveLoss(img, txt, { temperature: 0.01 }));
    const mix = value(m2mixLoss(img, txt, 0.4, { temperature: 0.07 }));
    expect(value(terms.clip!)).toBeCloseTo(clip, 4);
    expect(value(terms.m2mix!)).toBeCloseTo(mix, 4);
    expect(value(loss)).toBeCloseTo(clip + 0.01 * mix, 4);
    // The m²-mix term is large enough here that a different weight would show.
    expect(Math.abs(0.09 * mix)).toBeGreaterThan(1e-3);
  });

  it('separateTemperature: false puts the m²-mix term on τ; the epoch schedule is off by default', () => {
    const objective = m2mixObjective({ separateTemperature: false, temperature: 0.05 });
    const { terms, loss } = objective(img, txt, { lambdas: { m2mix: 0.3 }, epoch: 4 });
    const mix = value(m2mixLoss(img, txt, 0.3, { temperature: 0.05 }));
    expect(value(terms.m2mix!)).toBeCloseTo(mix, 4);
    expect(Math.abs(mix - value(m2mixLoss(img, txt, 0.3, { temperature: 0.07 })))).toBeGreaterThan(1e-3);
    // No 1/(epoch+1) factor unless epochSchedule is on.
    expect(value(loss)).toBeCloseTo(value(terms.clip!) + 0.01 * mix, 4);
  });

  it('draws λ with the default Beta shapes 0.2, 0.2, 1, 1, in the order vmix, lmix, vlmix, m2mix', () => {
    const objective = m2mixObjective({ weights: { vmix: 0.05, lmix: 0.05, vlmix: 0.1 } });
    const { lambdas } = objective(img, txt, { rng: createRng(9) });
    const reference = createRng(9);
    expect(lambdas).toEqual({
      vmix: reference.beta(0.2, 0.2),
      lmix: reference.beta(0.2, 0.2),
      vlmix: reference.beta(1, 1),
      m2mix: reference.beta(1, 1),
    });
    // An explicit λ takes precedence over the Rng, and only for its own term.
    const mixed = objective(img, txt, { rng: createRng(9), lambdas: { vmix: 0.5 } });
    const again = createRng(9);
    expect(mixed.lambdas).toEqual({
      vmix: 0.5,
      lmix: again.beta(0.2, 0.2),
      vlmix: again.beta(1, 1),
      m2mix: again.beta(1, 1),
    });
  });

  it('passes τ and originalNegatives (default false) to the V/L/VL-Mix terms', () => {
    const lambdas = { vmix: 0.3, lmix: 0.6, vlmix: 0.2, m2mix: 0.5 };
    const weights = { vmix: 1, lmix: 1, vlmix: 1, m2mix: 1 };
    for (const originalNegatives of [false, true]) {
      const config = originalNegatives ? { weights, originalNegatives } : { weights };
      const { terms } = m2mixObjective({ ...config, temperature: 0.02 })(img, txt, { lambdas });
      const o = { temperature: 0.02, originalNegatives };
      expect(value(terms.vmix!)).toBeCloseTo(value(vmixLoss(img, txt, 0.3, o)), 4);
      expect(value(terms.lmix!)).toBeCloseTo(value(lmixLoss(img, txt, 0.6, o)), 4);
      expect(value(terms.vlmix!)).toBeCloseTo(value(vlmixLoss(img, txt, 0.2, o)), 4);
    }
    // The option matters on these inputs, so the loop above can tell the two apart.
    const off = value(vmixLoss(img, txt, 0.3, { temperature: 0.02 }));
    const on = value(vmixLoss(img, txt, 0.3, { temperature: 0.02, originalNegatives: true }));
    expect(Math.abs(off - on)).toBeGreaterThan(1e-3);
  });

  it('validates weights, Beta shapes and temperatures; a zero weight turns its term off', () => {
    expect(caught(() => m2mixObjective({ weights: { vmix: -1 } })).argument).toBe('config.weights.vmix');
    expect(caught(() => m2mixObjective({ weights: { mix: 1 } as never })).argument).toBe(
      'config.weights.mix',
    );
    expect(caught(() => m2mixObjective({ beta: { lmix: 0 } })).argument).toBe('config.beta.lmix');
    expect(caught(() => m2mixObjective({ temperature: 0 })).argument).toBe('config.temperature');
    expect(caught(() => m2mixObjective({ mixTemperature: -1 })).argument).toBe('config.mixTemperature');
    const off = m2mixObjective({ weights: { m2mix: 0 } })(img, txt, {});
    expect(Object.keys(off.terms)).toEqual(['clip']);
    expect(off.lambdas).toEqual({});
    expect(value(off.loss)).toBeCloseTo(value(clipContrastiveLoss(img, txt, { temperature: 0.01 })), 5);
    expect(caught(() => m2mixObjective()(img, txt, { lambdas: { m2mix: 1.5 } })).argument).toBe(
      'step.lambdas.m2mix',
    );
  });
});

/**
 * V-Mix, L-Mix and VL-Mix against the spec (m²-mix's `--vmix/--lmix/--vlmix`), in float64 by hand:
 * slerp(a, b, λ) = sin(λθ)/sin θ·a + sin((1−λ)θ)/sin θ·b, logits = left·rightᵀ/τ, the symmetric soft CE
 * with targets λI + (1−λ)flip(I) (V/L) or I + flip(I) (VL); `originalNegatives` keeps the mixed logits
 * only on the diagonal and the anti-diagonal. Issue #20: which side each ablation mixes was unpinned.
 */
describe('V-Mix / L-Mix / VL-Mix values', () => {
  const img = unitRows(4, 5, 91);
  const txt = unitRows(4, 5, 92);
  const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i]!, 0);
  const slerp = (a: number[], b: number[], lambda: number) => {
    const theta = Math.acos(Math.min(1, Math.max(-1, dot(a, b))));
    const s = Math.sin(theta);
    return a.map((v, i) => (Math.sin(lambda * theta) / s) * v + (Math.sin((1 - lambda) * theta) / s) * b[i]!);
  };
  const mixRows = (x: number[][], lambda: number) =>
    x.map((row, i) => slerp(row, x[x.length - 1 - i]!, lambda));
  /** mean_i ½(CE(L_i, T_i) + CE(Lᵀ_i, Tᵀ_i)) with soft targets. */
  const symmetricCe = (logits: number[][], targets: number[][]) => {
    const ce = (l: number[][], t: number[][]) =>
      mean(l.map((row, i) => -logSoftmax(row).reduce((s, v, j) => s + t[i]![j]! * v, 0)));
    const tr = (m: number[][]) => m[0]!.map((_, j) => m.map((row) => row[j]!));
    return 0.5 * (ce(logits, targets) + ce(tr(logits), tr(targets)));
  };
  const byHand = (
    mode: 'vmix' | 'lmix' | 'vlmix',
    lambda: number,
    tau: number,
    originalNegatives: boolean,
  ) => {
    const a = rows(img);
    const b = rows(txt);
    const n = a.length;
    const left = mode === 'lmix' ? a : mixRows(a, lambda);
    const right = mode === 'vmix' ? b : mixRows(b, lambda);
    const paired = (i: number, j: number) => i === j || j === n - 1 - i;
    const logits = left.map((l, i) =>
      right.map((r, j) => (originalNegatives && !paired(i, j) ? dot(a[i]!, b[j]!) : dot(l, r)) / tau),
    );
    const targets = a.map((_, i) =>
      a.map((_, j) =>
        mode === 'vlmix'
          ? (i === j ? 1 : 0) + (j === n - 1 - i ? 1 : 0)
          : (i === j ? lambda : 0) + (j === n - 1 - i ? 1 - lambda : 0),
      ),
    );
    return symmetricCe(logits, targets);
  };

  it('each ablation mixes its side(s), with its targets, at the given τ (default 0.01) and originalNegatives', () => {
    const losses = { vmix: vmixLoss, lmix: lmixLoss, vlmix: vlmixLoss } as const;
    for (const mode of ['vmix', 'lmix', 'vlmix'] as const) {
      for (const originalNegatives of [false, true]) {
        const got = value(losses[mode](img, txt, 0.3, { temperature: 0.2, originalNegatives }));
        expect(got, `${mode} originalNegatives=${originalNegatives}`).toBeCloseTo(
          byHand(mode, 0.3, 0.2, originalNegatives),
          4,
        );
      }
      // Defaults: τ = 0.01, originalNegatives false (a relative check: the logits are large at τ = 0.01).
      const want = byHand(mode, 0.7, 0.01, false);
      expect(Math.abs(value(losses[mode](img, txt, 0.7)) - want) / want, `${mode} defaults`).toBeLessThan(
        1e-3,
      );
    }
    // The three differ on these inputs, so a swapped side cannot pass.
    const values = (['vmix', 'lmix', 'vlmix'] as const).map((m) => byHand(m, 0.3, 0.2, false));
    expect(Math.abs(values[0]! - values[1]!)).toBeGreaterThan(1e-2);
    expect(Math.abs(values[1]! - values[2]!)).toBeGreaterThan(1e-2);
  });
});
