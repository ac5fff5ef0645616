import type { Tensor } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';

/**
 * The constants FTP and DiGraP hard-code (not user options in either reference), in one place: the
 * composed steps, the JS drivers (fused/loops.ts) and the WGSL shaders read them here, and
 * `scripts/build-wasm.mjs` injects them into steps.wat.
 */
export const HYPER = { lr: 1e-2, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 } as const;

/** FTP's epsilon on each row's L1 norm, and γ's initial value and lower clip (reference `FTP.__init__`). */
export const FTP_EPS = 1e-8;
export const FTP_GAMMA0 = 1e-8;

/** DiGraP's epsilon on ‖c‖² and ‖g‖² in the trainable projections. */
export const DIGRAP_EPS = 1e-8;

/**
 * One hyper-Adam step on a 0-d hyper-parameter (FTP's γ, DiGraP's strengths), as both references write
 * it: m ← 0.9m + 0.1h, v ← 0.999v + 0.001h², x ← x − μ·(m/(1−0.9ᵗ)) / (√(v/(1−0.999ᵗ)) + 1e-8).
 * `t` is the optimizer's global step counter, not a per-tensor one (the references' choice).
 */
export function hyperAdamStep(
  x: Tensor,
  m: Tensor,
  v: Tensor,
  h: Tensor,
  t: number,
): { x: Tensor; m: Tensor; v: Tensor } {
  const m2 = tf.add(tf.mul(m, HYPER.beta1), tf.mul(h, 1 - HYPER.beta1));
  const v2 = tf.add(tf.mul(v, HYPER.beta2), tf.mul(tf.square(h), 1 - HYPER.beta2));
  const mHat = tf.div(m2, 1 - HYPER.beta1 ** t);
  const vHat = tf.div(v2, 1 - HYPER.beta2 ** t);
  const step = tf.div(mHat, tf.add(tf.sqrt(vHat), HYPER.epsilon));
  return { x: tf.sub(x, tf.mul(step, HYPER.lr)), m: m2, v: v2 };
}
