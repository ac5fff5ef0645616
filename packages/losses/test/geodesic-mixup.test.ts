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

/** The documented formulas of the two guarded branches, in float64 (issue #20: their details were unpinned). */
describe('geodesicMixup: the guarded branches, value by value', () => {
  const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  const unit = (v: number[]) => v.map((x) => x / norm(v));

  it('identical rows (‖a − b‖ < ε) take the normalised lerp λ·a + (1 − λ)·b', () => {
    const a = unit([1, 2, 3, 4]);
    const b = unit([1.2, 1.8, 3.1, 4]);
    expect(norm(a.map((v, i) => v - b[i]!))).toBeLessThan(0.5);
    for (const lambda of [0.25, 0.7]) {
      // ε = 0.5 classifies the pair as identical, so the lerp branch runs on a visible difference.
      const got = geodesicMixup(tf.tensor2d([a]), tf.tensor2d([b]), lambda, { epsilon: 0.5 }).arraySync()[0]!;
      const want = unit(a.map((v, i) => lambda * v + (1 - lambda) * b[i]!));
      got.forEach((v, i) => {
        expect(v).toBeCloseTo(want[i]!, 5);
      });
    }
  });

  it('antipodal rows follow cos((1 − λ)π)·a + sin((1 − λ)π)·p, p from e at the smallest |a_k|', () => {
    // Smallest |component| at index 2: p = (e₂ − a₂·a)/‖e₂ − a₂·a‖.
    const a = unit([0.6, -0.5, 0.1, 0.6]);
    const q = [0, 0, 1, 0].map((e, i) => e - a[2]! * a[i]!);
    const p = unit(q);
    for (const lambda of [0.2, 0.5, 0.9]) {
      const got = geodesicMixup(tf.tensor2d([a]), tf.tensor2d([a.map((v) => -v)]), lambda).arraySync()[0]!;
      const phi = (1 - lambda) * Math.PI;
      got.forEach((v, i) => {
        expect(v).toBeCloseTo(Math.cos(phi) * a[i]! + Math.sin(phi) * p[i]!, 5);
      });
    }
  });

  it('names a, b and both shapes; rows need D ≥ 2 (D = 2 is fine)', () => {
    const a = unitRows(3, 4, 9);
    expect(caught(() => geodesicMixup(tf.tensor1d([1, 0]) as never, a, 0.5)).argument).toBe('a');
    expect(caught(() => geodesicMixup(a, tf.tensor1d([1, 0]) as never, 0.5)).argument).toBe('b');
    const e = caught(() => geodesicMixup(a, unitRows(1, 4, 10), 0.5));
    expect(e.message).toBe('b has shape [1,4] but a has shape [3,4]');
    const narrow = caught(() =>
      geodesicMixup(tf.ones([3, 1]) as tf.Tensor2D, tf.ones([3, 1]) as tf.Tensor2D, 0.5),
    );
    expect([narrow.argument, narrow.message]).toEqual([
      'a',
      'a must be rows of dimension D >= 2 (received "shape [3,1]")',
    ]);
    const flat = unitRows(3, 2, 11);
    expect(
      geodesicMixup(flat, unitRows(3, 2, 12), 0.5)
        .arraySync()
        .flat()
        .every(Number.isFinite),
    ).toBe(true);
  });
});
