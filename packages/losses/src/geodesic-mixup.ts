import { invalidArgument } from '@robust-ft/core';
import { assertPositive } from '@robust-ft/core/internal';
import * as tf from '@tensorflow/tfjs-core';
import {
  assertBatchMatrix,
  assertLambda,
  assertSameShape,
  assertUnitRows,
  DEFAULT_UNIT_NORM_TOLERANCE,
} from './validate-inputs';

export interface GeodesicMixupOptions {
  /**
   * Chord length ‖a−b‖ (or ‖a+b‖) below which a row pair counts as identical (or antipodal) and takes
   * the fallback. Default 1e-4: there nlerp differs from slerp by O(θ²) ≈ 1e-9, far below float32 eps.
   */
  epsilon?: number;
  /** Check shapes, finiteness and unit-norm rows first (reads the values back). Default true. */
  validate?: boolean;
  /** Tolerance on |‖row‖ − 1| when validating. Default 1e-3. */
  unitNormTolerance?: number;
}

/**
 * The angle between unit rows, θ = 2·atan2(‖a−b‖, ‖a+b‖), in [0, π], shape `[N, 1]`.
 *
 * Same value as the reference's `acos(⟨a, b⟩)` on unit vectors, but accurate near 0 and π (acos loses
 * half the digits there and is NaN once rounding pushes the dot product past ±1), and atan2 has a
 * gradient everywhere except at (0, 0), which the mixup keeps off the tape.
 */
export function geodesicAngle(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const chordMinus = tf.norm(tf.sub(a, b), 'euclidean', 1, true);
    const chordPlus = tf.norm(tf.add(a, b), 'euclidean', 1, true);
    return tf.mul(2, tf.atan2(chordMinus, chordPlus)) as tf.Tensor2D;
  });
}

/**
 * Geodesic (spherical) interpolation of unit rows, m²-mix's `sph_inter(a, b, λ)`:
 * `out_i = sin(λθ_i)/sin θ_i · a_i + sin((1−λ)θ_i)/sin θ_i · b_i`.
 *
 * **λ weights the FIRST argument** (the reference convention, the reverse of the usual slerp(p0, p1, t)):
 * λ = 1 returns `a`, λ = 0 returns `b`.
 *
 * Guards where the reference returns NaN or a non-unit vector (each row is classified from its values,
 * off the gradient tape, so no comparison op is differentiated):
 * - identical rows (‖a−b‖ < ε, including pairs whose float dot product rounds to ≥ 1, and the middle row
 *   of an odd batch paired with its own flip): normalised lerp, whose limit as θ → 0 is slerp. For a = b
 *   this is `a` itself. The reference gives NaN (0/0).
 * - antipodal rows (‖a+b‖ < ε): every great circle through a and −a is a geodesic, so there is no
 *   unique answer (the reference returns the zero vector). We take the great circle through `a` and the
 *   unit vector `p` ⟂ `a` obtained by Gram–Schmidt from the basis vector at a's smallest |component|
 *   (lowest index on ties): `out = cos((1−λ)π)·a + sin((1−λ)π)·p`. It is unit-norm, continuous in λ, hits
 *   `a` at λ = 1 and `b = −a` at λ = 0; its gradient flows to `a` only.
 * Rows of dimension D < 2 are rejected (there is no perpendicular direction and no proper mixing).
 */
export function geodesicMixup(
  a: tf.Tensor2D,
  b: tf.Tensor2D,
  lambda: number,
  options: GeodesicMixupOptions = {},
): tf.Tensor2D {
  const { epsilon = 1e-4, validate = true, unitNormTolerance = DEFAULT_UNIT_NORM_TOLERANCE } = options;
  assertPositive('options.epsilon', epsilon);
  assertLambda('lambda', lambda);
  if (validate) {
    assertBatchMatrix('a', a, 1);
    assertBatchMatrix('b', b, 1);
    assertSameShape('b', b, 'a', a);
    assertUnitRows('a', a, unitNormTolerance);
    assertUnitRows('b', b, unitNormTolerance);
  }
  const [n, d] = a.shape;
  if (d < 2) throw invalidArgument('a', 'rows of dimension D >= 2', `shape [${n},${d}]`);

  return tf.tidy(() => {
    const minusSq = tf.sum(tf.square(tf.sub(a, b)), 1, true);
    const plusSq = tf.sum(tf.square(tf.add(a, b)), 1, true);
    // Row classes are read from values (a constant mask, not a comparison op on the tape).
    const minusValues = minusSq.dataSync();
    const plusValues = plusSq.dataSync();
    const eps2 = epsilon * epsilon;
    const generalMask = new Float32Array(n);
    const identicalMask = new Float32Array(n);
    const antipodalMask = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      if (minusValues[i]! < eps2) identicalMask[i] = 1;
      else if (plusValues[i]! < eps2) antipodalMask[i] = 1;
      else generalMask[i] = 1;
    }
    const general = tf.tensor2d(generalMask, [n, 1]);
    const ones = tf.onesLike(minusSq);
    let out: tf.Tensor = tf.zerosLike(a);

    if (generalMask.some((v) => v === 1)) {
      // θ = 2·atan2(√(1−c), √(1+c)) with c = ⟨a, b⟩: as a function of c this is acos(c), so the gradient
      // (including its radial part, for inputs that are leaves rather than normalised outputs) is the
      // reference's. The VALUES of 1∓c are taken from the chords, ½‖a∓b‖², which equal 1∓c on the
      // sphere without the cancellation of 1 − c near c = 1; the difference is added as a constant.
      const c = tf.sum(tf.mul(a, b), 1, true);
      const cValues = c.dataSync();
      const fixMinus = new Float32Array(n);
      const fixPlus = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        if (generalMask[i] !== 1) continue;
        fixMinus[i] = minusValues[i]! / 2 - (1 - cValues[i]!);
        fixPlus[i] = plusValues[i]! / 2 - (1 + cValues[i]!);
      }
      // Rows outside this branch get (1, 1) so that sqrt and 1/sin θ stay finite in the backward pass
      // too: a masked-out NaN gradient would still poison the sum (NaN·0 = NaN).
      const isGeneral = tf.cast(general, 'bool');
      const oneMinusC = tf.where(isGeneral, tf.add(tf.sub(1, c), tf.tensor2d(fixMinus, [n, 1])), ones);
      const onePlusC = tf.where(isGeneral, tf.add(tf.add(1, c), tf.tensor2d(fixPlus, [n, 1])), ones);
      const theta = tf.mul(2, tf.atan2(tf.sqrt(oneMinusC), tf.sqrt(onePlusC)));
      const sinTheta = tf.sin(theta);
      const wa = tf.div(tf.sin(tf.mul(lambda, theta)), sinTheta);
      const wb = tf.div(tf.sin(tf.mul(1 - lambda, theta)), sinTheta);
      const slerp = tf.add(tf.mul(wa, a), tf.mul(wb, b));
      out = tf.add(out, tf.mul(general, slerp));
    }
    if (identicalMask.some((v) => v === 1)) {
      const identical = tf.tensor2d(identicalMask, [n, 1]);
      const lerp = tf.add(tf.mul(lambda, a), tf.mul(1 - lambda, b));
      const lerpSq = tf.sum(tf.square(lerp), 1, true);
      const safeSq = tf.where(tf.cast(identical, 'bool'), lerpSq, ones);
      out = tf.add(out, tf.mul(identical, tf.div(lerp, tf.sqrt(safeSq))));
    }
    if (antipodalMask.some((v) => v === 1)) {
      const antipodal = tf.tensor2d(antipodalMask, [n, 1]);
      const aValues = a.dataSync();
      const basis = new Float32Array(n * d);
      for (let i = 0; i < n; i++) {
        let k = 0;
        for (let j = 1; j < d; j++) if (Math.abs(aValues[i * d + j]!) < Math.abs(aValues[i * d + k]!)) k = j;
        basis[i * d + k] = 1;
      }
      const e = tf.tensor2d(basis, [n, d]);
      // |a_k| ≤ 1/√D for the smallest component, so ‖e − a_k·a‖² = 1 − a_k² ≥ 1 − 1/D > 0.
      const q = tf.sub(e, tf.mul(tf.sum(tf.mul(a, e), 1, true), a));
      const p = tf.div(q, tf.norm(q, 'euclidean', 1, true));
      const phi = (1 - lambda) * Math.PI;
      const arc = tf.add(tf.mul(Math.cos(phi), a), tf.mul(Math.sin(phi), p));
      out = tf.add(out, tf.mul(antipodal, arc));
    }
    return out as tf.Tensor2D;
  });
}

/** Row i paired with row N−1−i (`torch.flip(x, [0])`), the pairing of V-Mix, L-Mix and VL-Mix. */
export function flipBatch<T extends tf.Tensor>(x: T): T {
  return tf.reverse(x, 0);
}
