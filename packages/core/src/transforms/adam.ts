import type { NamedTensorMap, Tensor } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import type { GradientTransformation } from '../transformation';
import { carryOver } from '../transformation';
import { assertInRange, assertNonNegative } from '../validate';

/** Adam's moment settings, shared by every Adam-based optimizer. */
export interface AdamMomentsOptions {
  /** Default 0.9. */
  beta1?: number;
  /** Default 0.999. */
  beta2?: number;
  /** Added after √v/√(1−β₂ˢ), as torch does. Default 1e-8. */
  epsilon?: number;
}

/** The state of `scaleByAdam`: first and second moments and the step count, per parameter name. */
export type AdamState = {
  mu: Record<string, Tensor>;
  nu: Record<string, Tensor>;
  /** Per-parameter step count, as torch keeps it (a parameter without a gradient does not advance). */
  count: Record<string, number>;
};

export function validateAdamMoments({ beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8 }: AdamMomentsOptions) {
  assertInRange('beta1', beta1, 0, 1, { openHigh: true });
  assertInRange('beta2', beta2, 0, 1, { openHigh: true });
  assertNonNegative('epsilon', epsilon);
  return { beta1, beta2, epsilon };
}

/**
 * One Adam moment update for a single tensor, in torch's arithmetic:
 * m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², u = (m / (1−β₁ˢ)) / (√v / √(1−β₂ˢ) + ε).
 * Exported so wrappers (FTP, SPD, DiGraP) share one Adam core instead of re-implementing it.
 */
export function adamMomentStep(
  g: Tensor,
  m: Tensor,
  v: Tensor,
  count: number,
  beta1: number,
  beta2: number,
  epsilon: number,
): { m: Tensor; v: Tensor; u: Tensor } {
  const m2 = tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1));
  const v2 = tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2));
  const bc1 = 1 - beta1 ** count;
  const bc2 = 1 - beta2 ** count;
  const denom = tf.add(tf.div(tf.sqrt(v2), Math.sqrt(bc2)), epsilon);
  const u = tf.div(tf.div(m2, denom), bc1);
  return { m: m2, v: v2, u };
}

/** Rescales updates by Adam's bias-corrected moments (torch arithmetic; ε added after √v/√bc₂). */
export function scaleByAdam(options: AdamMomentsOptions = {}): GradientTransformation<AdamState> {
  const { beta1, beta2, epsilon } = validateAdamMoments(options);
  return {
    label: 'scaleByAdam',
    init(params) {
      const mu: Record<string, Tensor> = {};
      const nu: Record<string, Tensor> = {};
      const count: Record<string, number> = {};
      for (const [name, p] of Object.entries(params)) {
        mu[name] = tf.zerosLike(p);
        nu[name] = tf.zerosLike(p);
        count[name] = 0;
      }
      return { mu, nu, count };
    },
    update(grads, state) {
      const updates: NamedTensorMap = {};
      const mu: Record<string, Tensor> = {};
      const nu: Record<string, Tensor> = {};
      const count: Record<string, number> = {};
      for (const [name, g] of Object.entries(grads)) {
        const c = (state.count[name] ?? 0) + 1;
        const r = adamMomentStep(g, state.mu[name]!, state.nu[name]!, c, beta1, beta2, epsilon);
        updates[name] = r.u;
        mu[name] = r.m;
        nu[name] = r.v;
        count[name] = c;
      }
      return {
        updates,
        state: {
          mu: carryOver(state.mu, mu, grads),
          nu: carryOver(state.nu, nu, grads),
          count: carryOver(state.count, count, grads),
        },
      };
    },
  };
}
