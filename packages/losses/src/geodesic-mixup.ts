import { assertPositive, invalidArgument } from '@robust-ft/core/internal';
import * as tf from '@tensorflow/tfjs-core';
import { checkLossOptions } from './option-schemas';
import {
  assertBatchMatrix,
  assertLambda,
  assertSameShape,
  DEFAULT_UNIT_NORM_TOLERANCE,
  guardValues,
} from './validate-inputs';

/** Options of `geodesicMixup`. */
export interface GeodesicMixupOptions {
  /**
   * Chord length ‖a−b‖ (or ‖a+b‖) below which a row pair counts as identical (or antipodal) and takes
   * the fallback. Default 1e-4: there nlerp differs from slerp by O(θ²) ≈ 1e-9, far below float32 eps.
   */
  epsilon?: number;
  /**
   * Check shapes first and finiteness and unit-norm rows on the device (a failing check makes the
   * output NaN; nothing is read back). Default true.
   */
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
 * Guards where the reference returns NaN or a non-unit vector (each row is classified on the device,
 * off the gradient tape, so no comparison op is differentiated and nothing is read back):
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
  checkLossOptions('geodesicMixup', 'geodesicMixup', options);
  const { epsilon = 1e-4, validate = true, unitNormTolerance = DEFAULT_UNIT_NORM_TOLERANCE } = options;
  assertPositive('options.epsilon', epsilon);
  assertLambda('lambda', lambda);
  if (validate) {
    assertBatchMatrix('a', a, 1);
    assertBatchMatrix('b', b, 1);
    assertSameShape('b', b, 'a', a);
  }
  const [n, d] = a.shape;
  if (d < 2) throw invalidArgument('a', 'rows of dimension D >= 2', `shape [${n},${d}]`);

  return tf.tidy(() => {
    const c = tf.sum(tf.mul(a, b), 1, true);
    // Everything derived from the row classes is computed on the device and held off the tape
    // (`offTape`): the masks and the constant chord corrections are constants of the gradient.
    const [general, identical, antipodal, fixMinus, fixPlus, basis] = offTape([a, b], (ta, tb) => {
      const mSq = tf.sum(tf.square(tf.sub(ta, tb)), 1, true);
      const pSq = tf.sum(tf.square(tf.add(ta, tb)), 1, true);
      const eps2 = epsilon * epsilon;
      const isIdentical = tf.less(mSq, eps2);
      const isAntipodal = tf.logicalAnd(tf.logicalNot(isIdentical), tf.less(pSq, eps2));
      const isGeneral = tf.logicalNot(tf.logicalOr(isIdentical, isAntipodal));
      const cv = tf.sum(tf.mul(ta, tb), 1, true);
      const f = (t: tf.Tensor) => tf.where(isGeneral, t, tf.zerosLike(t));
      // The smallest |component| of a's row (lowest index on ties: argMin returns the first).
      const smallest = tf.oneHot(tf.argMin(tf.abs(ta), 1), d, 1, 0, 'float32');
      return [
        tf.cast(isGeneral, 'float32'),
        tf.cast(isIdentical, 'float32'),
        tf.cast(isAntipodal, 'float32'),
        f(tf.sub(tf.div(mSq, 2), tf.sub(1, cv))),
        f(tf.sub(tf.div(pSq, 2), tf.add(1, cv))),
        smallest,
      ];
    });
    const isGeneral = tf.cast(general as tf.Tensor, 'bool');
    const ones = tf.onesLike(c);

    // θ = 2·atan2(√(1−c), √(1+c)) with c = ⟨a, b⟩: as a function of c this is acos(c), so the gradient
    // (including its radial part, for inputs that are leaves rather than normalised outputs) is the
    // reference's. The VALUES of 1∓c are taken from the chords, ½‖a∓b‖², which equal 1∓c on the
    // sphere without the cancellation of 1 − c near c = 1; the difference is added as a constant.
    // Rows outside this branch get (1, 1) so that sqrt and 1/sin θ stay finite in the backward pass
    // too: a masked-out NaN gradient would still poison the sum (NaN·0 = NaN).
    const oneMinusC = tf.where(isGeneral, tf.add(tf.sub(1, c), fixMinus as tf.Tensor), ones);
    const onePlusC = tf.where(isGeneral, tf.add(tf.add(1, c), fixPlus as tf.Tensor), ones);
    const theta = tf.mul(2, tf.atan2(tf.sqrt(oneMinusC), tf.sqrt(onePlusC)));
    const sinTheta = tf.sin(theta);
    const wa = tf.div(tf.sin(tf.mul(lambda, theta)), sinTheta);
    const wb = tf.div(tf.sin(tf.mul(1 - lambda, theta)), sinTheta);
    const slerp = tf.add(tf.mul(wa, a), tf.mul(wb, b));
    let out: tf.Tensor = tf.mul(general as tf.Tensor, slerp);

    const isIdentical = tf.cast(identical as tf.Tensor, 'bool');
    const lerp = tf.add(tf.mul(lambda, a), tf.mul(1 - lambda, b));
    const lerpSq = tf.sum(tf.square(lerp), 1, true);
    const safeSq = tf.where(isIdentical, lerpSq, ones);
    out = tf.add(out, tf.mul(identical as tf.Tensor, tf.div(lerp, tf.sqrt(safeSq))));

    // Antipodal: the great circle through a and p ⟂ a, p from Gram–Schmidt on the basis vector e at
    // a's smallest |component|. |a_k| ≤ 1/√D there, so ‖e − a_k·a‖² = 1 − a_k² ≥ 1 − 1/D > 0 on unit
    // rows; the floor only keeps rows outside this branch (masked to 0) finite in both passes.
    const e = basis as tf.Tensor;
    const q = tf.sub(e, tf.mul(tf.sum(tf.mul(a, e), 1, true), a));
    const qNorm = tf.sqrt(tf.maximum(tf.sum(tf.square(q), 1, true), 1e-30));
    const p = tf.div(q, qNorm);
    const phi = (1 - lambda) * Math.PI;
    const arc = tf.add(tf.mul(Math.cos(phi), a), tf.mul(Math.sin(phi), p));
    out = tf.add(out, tf.mul(antipodal as tf.Tensor, arc));
    const checks = validate
      ? [
          { tensor: a, unitNormTolerance },
          { tensor: b, unitNormTolerance },
        ]
      : [];
    return guardValues(out as tf.Tensor2D, checks);
  });
}

/**
 * `fn(...inputs)` computed as a constant of the gradient: a custom-gradient op with a zero gradient,
 * so comparisons and other ops without a gradient inside it never reach the tape, and nothing is read
 * back to the host. Returns the tensors `fn` returns.
 */
function offTape(inputs: tf.Tensor[], fn: (...xs: tf.Tensor2D[]) => tf.Tensor[]): tf.Tensor[] {
  // customGrad returns one tensor: pack the outputs (all [N, 1] or [N, D]) into one and split after.
  const widths: number[] = [];
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const xs = args.slice(0, inputs.length) as tf.Tensor2D[];
    const value = tf.tidy(() => {
      const outs = fn(...xs);
      for (const o of outs) widths.push(o.shape[1] as number);
      return tf.concat(outs, 1);
    });
    return { value, gradFunc: () => xs.map((x) => tf.zerosLike(x)) };
  });
  const packed = op(...inputs);
  return tf.split(packed, widths, 1);
}

/** Row i paired with row N−1−i (`torch.flip(x, [0])`), the pairing of V-Mix, L-Mix and VL-Mix. */
export function flipBatch<T extends tf.Tensor>(x: T): T {
  return tf.reverse(x, 0);
}
