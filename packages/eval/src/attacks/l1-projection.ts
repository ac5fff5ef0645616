import * as tf from '@tensorflow/tfjs-core';

/** Halvings of the threshold bracket: 2⁻³² of the largest |u| is below float32 resolution. */
export const L1_PROJECTION_HALVINGS = 32;

/**
 * Euclidean projection of perturbations `delta` onto { d : ‖d‖₁ ≤ ε, lo ≤ x0 + d ≤ hi }, per sample —
 * the L1 ball intersected with the box, as APGD-L1 ("Mind the box", Croce & Hein 2021) needs it.
 *
 * The box contains d = 0, so the solution is a clipped soft threshold, d_i(λ) = clip(sign(u_i)·max(|u_i| − λ, 0),
 * lo − x0_i, hi − x0_i), with the smallest λ ≥ 0 whose ‖d(λ)‖₁ ≤ ε. ‖d(λ)‖₁ is non-increasing in λ, so λ is
 * found by bisection on [0, max|u|], batched over samples and kept on the device (no reads). The result
 * uses the bracket's feasible end, so ‖d‖₁ ≤ ε holds exactly up to float rounding and is optimal to within
 * 2⁻³²·max|u| in λ. (AutoAttack sorts the breakpoints instead; same projection, different arithmetic.)
 */
export function projectL1Box(
  x0: tf.Tensor,
  delta: tf.Tensor,
  epsilon: number,
  lo: number,
  hi: number,
): tf.Tensor {
  return tf.tidy(() => {
    const n = x0.shape[0] as number;
    const u = tf.reshape(delta, [n, -1]);
    const base = tf.reshape(x0, [n, -1]);
    const boxLo = tf.sub(lo, base);
    const boxHi = tf.sub(hi, base);
    const absU = tf.abs(u);
    const signU = tf.sign(u);
    const shrink = (lambda: tf.Tensor) =>
      tf.minimum(tf.maximum(tf.mul(signU, tf.relu(tf.sub(absU, tf.reshape(lambda, [n, 1])))), boxLo), boxHi);
    const l1 = (d: tf.Tensor) => tf.sum(tf.abs(d), 1);
    let low: tf.Tensor = tf.zeros([n]);
    let high: tf.Tensor = tf.max(absU, 1);
    for (let i = 0; i < L1_PROJECTION_HALVINGS; i++) {
      const [nextLow, nextHigh] = tf.tidy(() => {
        const mid = tf.mul(tf.add(low, high), 0.5);
        const feasible = tf.lessEqual(l1(shrink(mid)), epsilon);
        return [tf.where(feasible, low, mid), tf.where(feasible, mid, high)];
      });
      tf.dispose([low, high]);
      low = nextLow as tf.Tensor;
      high = nextHigh as tf.Tensor;
    }
    const inBox = shrink(tf.zeros([n]));
    const inside = tf.reshape(tf.lessEqual(l1(inBox), epsilon), [n, 1]);
    return tf.reshape(tf.where(inside, inBox, shrink(high)), delta.shape);
  });
}
