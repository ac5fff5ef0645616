import { createRng } from '@robust-ft/core';
import { expectNoTensorLeaks } from '@robust-ft/core/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  clipContrastive,
  clipContrastiveLoss,
  lmixLoss,
  m2mixLoss,
  m2mixObjective,
  vlmixLoss,
  vmixLoss,
} from '../src/index';
import { caught, expectPoisoned, unitRows } from './helpers';
import './setup-backend';

const img = unitRows(6, 8, 11);
const txt = unitRows(6, 8, 12);
const value = (t: tf.Tensor) => t.dataSync()[0]!;

describe('clipContrastiveLoss', () => {
  it('a learnable log-scale gives the fixed-τ loss at exp(s) = 1/τ and the finite-difference gradient', () => {
    const s = tf.scalar(Math.log(20));
    expect(value(clipContrastiveLoss(img, txt, { logitScale: s }))).toBeCloseTo(
      value(clipContrastiveLoss(img, txt, { temperature: 0.05 })),
      4,
    );
    const grad = value(
      tf.grad((x: tf.Tensor) => clipContrastiveLoss(img, txt, { logitScale: x as tf.Scalar }))(s),
    );
    const h = 1e-2;
    const fd =
      (value(clipContrastiveLoss(img, txt, { logitScale: tf.scalar(Math.log(20) + h) })) -
        value(clipContrastiveLoss(img, txt, { logitScale: tf.scalar(Math.log(20) - h) }))) /
      (2 * h);
    expect(grad).toBeCloseTo(fd, 2);
    // Above ln(maxScale) the scale is clamped, so the log-scale gets no gradient.
    expect(
      value(
        tf.grad((x: tf.Tensor) => clipContrastiveLoss(img, txt, { logitScale: x as tf.Scalar }))(
          tf.scalar(5),
        ),
      ),
    ).toBe(0);
  });

  it('perfectly aligned, well separated pairs give a loss near 0', () => {
    const eye = tf.eye(4, 6) as tf.Tensor2D;
    expect(value(clipContrastiveLoss(eye, eye, { temperature: 0.01 }))).toBeLessThan(1e-6);
  });

  it('rejects mismatched batches, a batch of 1, NaN and conflicting options with typed errors', () => {
    const e1 = caught(() => clipContrastiveLoss(img, unitRows(5, 8, 1)));
    expect([e1.code, e1.argument]).toEqual(['SHAPE_MISMATCH', 'text']);
    const e2 = caught(() => clipContrastiveLoss(unitRows(1, 8, 1), unitRows(1, 8, 2)));
    expect([e2.code, e2.argument]).toEqual(['INVALID_ARGUMENT', 'image']);
    const bad = txt.arraySync();
    bad[0]![0] = Number.NaN;
    expectPoisoned(
      (i, t) => clipContrastiveLoss(i as tf.Tensor2D, t as tf.Tensor2D),
      [img, tf.tensor2d(bad)],
    );
    const e4 = caught(() => clipContrastive({ temperature: 0.1, logitScale: tf.scalar(1) }));
    expect(e4.argument).toBe('options');
    const scaled = tf.mul(txt, 3) as tf.Tensor2D;
    const unit = { requireUnitNorm: true };
    expectPoisoned((i, t) => clipContrastiveLoss(i as tf.Tensor2D, t as tf.Tensor2D, unit), [img, scaled]);
    // The same inputs pass without the unit-norm requirement, and unit rows pass with it.
    expect(Number.isFinite(value(clipContrastiveLoss(img, scaled)))).toBe(true);
    expect(Number.isFinite(value(clipContrastiveLoss(img, txt, unit)))).toBe(true);
  });
});

describe('V-Mix, L-Mix, VL-Mix and m²-mix', () => {
  it('are NaN (never silently wrong) on non-normalised embeddings; a batch of 1 is a typed error', () => {
    for (const fn of [vmixLoss, lmixLoss, vlmixLoss, m2mixLoss]) {
      expectPoisoned((i, t) => fn(i as tf.Tensor2D, t as tf.Tensor2D, 0.5), [img, tf.mul(txt, 1.1)]);
      expect(Number.isFinite(value(fn(img, txt, 0.5)))).toBe(true);
      const e2 = caught(() => fn(unitRows(1, 8, 3), unitRows(1, 8, 4), 0.5));
      expect(e2.argument).toBe('image');
    }
  });

  it('are finite for odd batches, where the reference pairs the middle row with itself (NaN)', () => {
    const a = unitRows(5, 8, 21);
    const b = unitRows(5, 8, 22);
    for (const fn of [vmixLoss, lmixLoss, vlmixLoss, m2mixLoss]) {
      const [l, g] = tf.tidy(() => {
        const { value: v, grads } = tf.valueAndGrads((p: tf.Tensor, q: tf.Tensor) =>
          fn(p as tf.Tensor2D, q as tf.Tensor2D, 0.3, { validate: false }),
        )([a, b]);
        return [v.dataSync()[0]!, grads.flatMap((t) => Array.from(t.dataSync()))] as const;
      });
      expect(Number.isFinite(l)).toBe(true);
      expect(g.every(Number.isFinite)).toBe(true);
    }
  });

  it('m²-mix at λ = 1 (negatives = images) puts image rows back on the plain image–image similarity', () => {
    // With neg = img, off-diagonal image-row logits are ⟨img_i, img_j⟩/τ₂: an independent check of the layout.
    const tau = 0.07;
    const expected = tf.tidy(() => {
      const eye = tf.eye(6);
      const l = tf.add(
        tf.mul(tf.sub(1, eye), tf.matMul(img, img, false, true)),
        tf.mul(eye, tf.sum(tf.mul(img, txt), 1, true)),
      );
      const perImage = tf.neg(tf.mean(tf.sum(tf.mul(eye, tf.logSoftmax(tf.div(l, tau))), 1)));
      const lt = tf.add(
        tf.mul(tf.sub(1, eye), tf.matMul(txt, img, false, true)),
        tf.mul(eye, tf.sum(tf.mul(img, txt), 1, true)),
      );
      const perText = tf.neg(tf.mean(tf.sum(tf.mul(eye, tf.logSoftmax(tf.div(lt, tau))), 1)));
      return tf.add(perImage, perText);
    });
    expect(value(m2mixLoss(img, txt, 1, { temperature: tau }))).toBeCloseTo(value(expected), 4);
  });
});

describe('m2mixObjective', () => {
  it('draws λ ~ Beta(β, β) once per call from the seeded Rng, reproducibly', () => {
    const objective = m2mixObjective({
      weights: { vmix: 0.05, lmix: 0.05, vlmix: 0.1, m2mix: 0.01 },
      beta: { m2mix: 0.5 },
    });
    const r1 = objective(img, txt, { rng: createRng(7) });
    const r2 = objective(img, txt, { rng: createRng(7) });
    expect(r1.lambdas).toEqual(r2.lambdas);
    expect(Object.keys(r1.lambdas).sort()).toEqual(['lmix', 'm2mix', 'vlmix', 'vmix']);
    const reference = createRng(7);
    expect(r1.lambdas.vmix).toBe(reference.beta(0.2, 0.2));
    expect(value(r1.loss)).toBe(value(r2.loss));
  });

  it('total = clip + s_e·Σ w·term, with s_e = 1/(epoch+1) under the schedule', () => {
    const lambdas = { m2mix: 0.4, vmix: 0.7 };
    const objective = m2mixObjective({ weights: { m2mix: 0.5, vmix: 0.25 }, epochSchedule: true });
    for (const epoch of [0, 3]) {
      const { loss, terms } = objective(img, txt, { lambdas, epoch });
      const expected =
        value(terms.clip!) + (0.5 * value(terms.m2mix!) + 0.25 * value(terms.vmix!)) / (epoch + 1);
      expect(value(loss)).toBeCloseTo(expected, 4);
      expect(terms.lmix).toBeUndefined();
    }
    const e = caught(() => objective(img, txt, { lambdas }));
    expect(e.argument).toBe('step.epoch');
    const e2 = caught(() => m2mixObjective()(img, txt, {}));
    expect(e2.argument).toBe('step.rng');
  });

  it('leaks no tensors (every loss, with and without gradients)', async () => {
    const s = tf.scalar(Math.log(50));
    await expectNoTensorLeaks(() => clipContrastiveLoss(img, txt), { label: 'clip' });
    await expectNoTensorLeaks(() => clipContrastiveLoss(img, txt, { logitScale: s }), {
      label: 'clip learnable',
    });
    for (const fn of [vmixLoss, lmixLoss, vlmixLoss, m2mixLoss]) {
      await expectNoTensorLeaks(() => fn(img, txt, 0.3, { validate: true }), { label: fn.name });
      await expectNoTensorLeaks(() => fn(img, txt, 0.3, { originalNegatives: true } as never), {
        label: fn.name,
      });
    }
    const objective = m2mixObjective({ weights: { vmix: 0.05, lmix: 0.05, vlmix: 0.1, m2mix: 0.01 } });
    const rng = createRng(3);
    await expectNoTensorLeaks(() => objective(img, txt, { rng }), { label: 'objective' });
    await expectNoTensorLeaks(
      () =>
        tf.grads((p: tf.Tensor, q: tf.Tensor) => objective(p as tf.Tensor2D, q as tf.Tensor2D, { rng }).loss)(
          [img, txt],
        ),
      { label: 'objective gradients' },
    );
  });
});
