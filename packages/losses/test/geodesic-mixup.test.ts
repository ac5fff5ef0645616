import { expectNoTensorLeaks } from '@robust-ft/core/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { geodesicAngle, geodesicMixup } from '../src/index';
import { caught, expectPoisoned, maxAbsDiff, unitRows } from './helpers';
import './setup-backend';

const rowNorms = (t: tf.Tensor2D) => Array.from(tf.tidy(() => tf.norm(t, 'euclidean', 1)).dataSync());

describe('geodesicMixup', () => {
  const a = unitRows(5, 7, 1);
  const b = unitRows(5, 7, 2);

  it('λ weights the first argument: λ = 1 gives a, λ = 0 gives b, outputs stay on the sphere', () => {
    expect(maxAbsDiff(geodesicMixup(a, b, 1), a)).toBeLessThan(1e-6);
    expect(maxAbsDiff(geodesicMixup(a, b, 0), b)).toBeLessThan(1e-6);
    for (const norm of rowNorms(geodesicMixup(a, b, 0.3))) expect(norm).toBeCloseTo(1, 5);
  });

  it('travels the geodesic: angle(a, out) = (1−λ)θ and angle(out, b) = λθ', () => {
    const lambda = 0.3;
    const out = geodesicMixup(a, b, lambda);
    const theta = geodesicAngle(a, b).dataSync();
    const toA = geodesicAngle(a, out).dataSync();
    const toB = geodesicAngle(out, b).dataSync();
    theta.forEach((t, i) => {
      expect(toA[i]).toBeCloseTo((1 - lambda) * t, 5);
      expect(toB[i]).toBeCloseTo(lambda * t, 5);
    });
  });

  it('is finite where the reference is NaN: identical rows, a dot product rounding past 1, odd flips', () => {
    const x = unitRows(5, 6, 3);
    const same = geodesicMixup(x, x, 0.4);
    expect(maxAbsDiff(same, x)).toBeLessThan(1e-6);
    // The middle row of an odd batch is paired with itself under the flip pairing.
    const flipped = geodesicMixup(x, tf.reverse(x, 0), 0.3).arraySync();
    expect(flipped.flat().every(Number.isFinite)).toBe(true);
    expect(flipped[2]).toEqual(Array.from(x.arraySync()[2]!).map((v) => expect.closeTo(v, 6)));
    // A 1e-9 perturbation: dot rounds to 1 in float32 (the reference's acos(1) → NaN case).
    const nudged = tf.tidy(() => tf.add(x, tf.mul(1e-9, tf.onesLike(x)))) as tf.Tensor2D;
    expect(geodesicMixup(x, nudged, 0.5).arraySync().flat().every(Number.isFinite)).toBe(true);
  });

  it('antipodal rows take a unit-norm point on a great circle through a and −a (no unique geodesic)', () => {
    const x = unitRows(3, 4, 4);
    const minusX = tf.neg(x) as tf.Tensor2D;
    for (const lambda of [0, 0.25, 0.5, 1]) {
      const out = geodesicMixup(x, minusX, lambda);
      for (const norm of rowNorms(out)) expect(norm).toBeCloseTo(1, 5);
      const cos = tf.tidy(() => tf.sum(tf.mul(out, x), 1)).dataSync();
      for (const c of cos) expect(c).toBeCloseTo(Math.cos((1 - lambda) * Math.PI), 5);
    }
  });

  it('has finite gradients in every branch (general, identical, antipodal rows in one batch)', () => {
    const x = unitRows(3, 4, 5);
    const rows = x.arraySync();
    const other = tf.tensor2d([unitRows(1, 4, 6).arraySync()[0]!, rows[1]!, rows[2]!.map((v) => -v)]);
    const weights = unitRows(3, 4, 7);
    const [ga, gb] = tf.grads((p: tf.Tensor, q: tf.Tensor) =>
      tf.sum(tf.mul(geodesicMixup(p as tf.Tensor2D, q as tf.Tensor2D, 0.3), weights)),
    )([x, other]) as tf.Tensor2D[];
    expect(ga!.arraySync().flat().every(Number.isFinite)).toBe(true);
    expect(gb!.arraySync().flat().every(Number.isFinite)).toBe(true);
    // Identical rows: d/da of nlerp at a = b is λ·(I − aaᵀ)w, non-zero in general.
    expect(Math.max(...ga!.arraySync()[1]!.map(Math.abs))).toBeGreaterThan(1e-3);
  });

  it('rejects bad forms with typed errors naming the argument; bad values give NaN', () => {
    const mix = (p: tf.Tensor, q: tf.Tensor) => geodesicMixup(p as tf.Tensor2D, q as tf.Tensor2D, 0.5);
    expectPoisoned(mix, [a, tf.mul(b, 2)]);
    const e2 = caught(() => geodesicMixup(a, unitRows(4, 7, 3), 0.5));
    expect([e2.code, e2.argument]).toEqual(['SHAPE_MISMATCH', 'b']);
    const e3 = caught(() => geodesicMixup(a, b, 1.5));
    expect(e3.argument).toBe('lambda');
    const values = a.arraySync();
    values[1]![3] = Number.NaN;
    expectPoisoned(mix, [tf.tensor2d(values), b]);
    // Unchecked (validate: false), a non-unit row is interpolated as given, not poisoned.
    const unchecked = geodesicMixup(a, tf.mul(b, 2) as tf.Tensor2D, 0.5, { validate: false });
    expect(unchecked.arraySync().flat().every(Number.isFinite)).toBe(true);
    const e5 = caught(() =>
      geodesicMixup(tf.ones([2, 1]) as tf.Tensor2D, tf.ones([2, 1]) as tf.Tensor2D, 0.5),
    );
    expect(e5.argument).toBe('a');
  });

  it('leaks no tensors, including the guarded branches', async () => {
    const x = unitRows(5, 6, 8);
    await expectNoTensorLeaks(() => geodesicMixup(a, b, 0.3), { label: 'geodesicMixup' });
    // Partners are built once, outside the measured call, so a tidy cannot hide a leak of the mixup.
    const flipped = tf.reverse(x, 0);
    const opposite = tf.neg(x) as tf.Tensor2D;
    await expectNoTensorLeaks(() => geodesicMixup(x, flipped, 0.3), { label: 'odd flip' });
    await expectNoTensorLeaks(() => geodesicMixup(x, opposite, 0.3), { label: 'antipodal' });
    await expectNoTensorLeaks(
      () => tf.grads((p: tf.Tensor) => tf.sum(geodesicMixup(p as tf.Tensor2D, b, 0.7)))([a]),
      { label: 'gradient' },
    );
  });
});
