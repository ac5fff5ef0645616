import {
  type AdamState,
  adamMomentStep,
  carryOver,
  type GradientTransformation,
  type NameSelector,
  nameMatcher,
  type RobustOptimizer,
  registerOptimizerFactory,
  validateAdamMoments,
} from '@robust-ft/core';
import { assertNonNegative } from '@robust-ft/core/internal';
import type { NamedTensorMap, Tensor } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { type AdamMomentsOptions, adamMomentsFromJson } from './adamw';
import { withFusedSpd } from './fused';
import { findNodes, type StateSource, scalars } from './inspect';
import {
  buildOptimizer,
  type CommonOptions,
  checkLearningRate,
  commonFromJson,
  learningRateFromJson,
  num,
  selectorFromJson,
  selectorToJson,
} from './options';
import { withMaps } from './state-maps';

export interface SpdTransformOptions extends AdamMomentsOptions {
  /** SPD strength λ ≥ 0 (the reference's `weight_decay`; not a decay toward zero). λ = 0 is plain Adam. */
  weightDecay?: number;
  /** Parameters that get plain Adam updates (e.g. a new head). */
  exclude?: NameSelector;
}

export interface SpdOptions extends SpdTransformOptions, CommonOptions {}

export const SPD_DEFAULTS = { learningRate: 1e-3, weightDecay: 0 } as const;
export const SPD_FACTORY = 'robust-ft/spd';

export type SpdState = AdamState & {
  /** −Σ g ⊙ (θ − a) of the last step; SPD decayed the tensor iff it was < 0. */
  spdCondition: Record<string, Tensor>;
  /** The clamped deviation-growth ratio r of the last step (meaningful when the condition was < 0). */
  spdRatio: Record<string, Tensor>;
};

export interface SpdTensorInput {
  param: Tensor;
  grad: Tensor;
  anchor: Tensor;
  m: Tensor;
  v: Tensor;
  /** This tensor's Adam step count including this step (1-based). */
  count: number;
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  weightDecay: number;
}

export interface SpdTensorOutput {
  param: Tensor;
  m: Tensor;
  v: Tensor;
  condition: Tensor;
  ratio: Tensor;
}

/**
 * SPD for one tensor: an Adam step to q, then, only when −⟨g, θ−a⟩ < 0, pull q toward the anchor by
 * λ·r where r = clamp((‖q−a‖ − ‖θ−a‖)/‖q−a‖, 0, 1) is how much the step grew the deviation.
 * Fixes the reference's 0/0 (q = a with the condition firing gave NaN): r = 0 there.
 */
export function spdTensorStep(i: SpdTensorInput): SpdTensorOutput {
  const { m, v, u } = adamMomentStep(i.grad, i.m, i.v, i.count, i.beta1, i.beta2, i.epsilon);
  // Same op order as adamw's chain (θ + (−lr·u)); with λ = 0 the decay term is ±0, so the result is
  // bit-identical to Adam.
  const q = tf.add(i.param, tf.mul(u, -i.learningRate));
  const dev = tf.sub(i.param, i.anchor);
  const condition = tf.neg(tf.sum(tf.mul(i.grad, dev)));
  const qa = tf.sub(q, i.anchor);
  const nq = tf.norm(qa);
  const nonzero = tf.greater(nq, 0);
  const growth = tf.div(tf.sub(nq, tf.norm(dev)), tf.where(nonzero, nq, tf.onesLike(nq)));
  const ratio = tf.where(nonzero, tf.clipByValue(growth, 0, 1), tf.zerosLike(nq));
  const strength = tf.where(tf.less(condition, 0), tf.mul(ratio, i.weightDecay), tf.zerosLike(ratio));
  return { param: tf.sub(q, tf.mul(strength, qa)), m, v, condition, ratio };
}

export function spdTransformation(options: SpdTransformOptions = {}): GradientTransformation<SpdState> {
  const { beta1, beta2, epsilon } = validateAdamMoments(options);
  const weightDecay = options.weightDecay ?? SPD_DEFAULTS.weightDecay;
  assertNonNegative('weightDecay', weightDecay);
  const excluded = nameMatcher(options.exclude);
  return {
    label: 'spd',
    init(params) {
      const s: SpdState = { mu: {}, nu: {}, count: {}, spdCondition: {}, spdRatio: {} };
      for (const [name, p] of Object.entries(params)) {
        s.mu[name] = tf.zerosLike(p);
        s.nu[name] = tf.zerosLike(p);
        s.count[name] = 0;
        if (!excluded(name)) {
          s.spdCondition[name] = tf.scalar(0);
          s.spdRatio[name] = tf.scalar(0);
        }
      }
      return s;
    },
    update(grads, saved, params, ctx) {
      const state = withMaps(saved, ['mu', 'nu', 'count', 'spdCondition', 'spdRatio']);
      const assign: NamedTensorMap = {};
      const mu: Record<string, Tensor> = {};
      const nu: Record<string, Tensor> = {};
      const count: Record<string, number> = {};
      const spdCondition: Record<string, Tensor> = {};
      const spdRatio: Record<string, Tensor> = {};
      for (const [name, g] of Object.entries(grads)) {
        const c = (state.count[name] ?? 0) + 1;
        count[name] = c;
        if (excluded(name)) {
          const r = adamMomentStep(g, state.mu[name]!, state.nu[name]!, c, beta1, beta2, epsilon);
          assign[name] = tf.add(params[name]!, tf.mul(r.u, -ctx.learningRate));
          mu[name] = r.m;
          nu[name] = r.v;
          continue;
        }
        const r = spdTensorStep({
          param: params[name]!,
          grad: g,
          anchor: ctx.anchor(name),
          m: state.mu[name]!,
          v: state.nu[name]!,
          count: c,
          learningRate: ctx.learningRate,
          beta1,
          beta2,
          epsilon,
          weightDecay,
        });
        assign[name] = r.param;
        mu[name] = r.m;
        nu[name] = r.v;
        spdCondition[name] = r.condition;
        spdRatio[name] = r.ratio;
      }
      return {
        updates: {},
        assign,
        state: {
          mu: carryOver(state.mu, mu, grads),
          nu: carryOver(state.nu, nu, grads),
          count: carryOver(state.count, count, grads),
          spdCondition: carryOver(state.spdCondition, spdCondition, grads),
          spdRatio: carryOver(state.spdRatio, spdRatio, grads),
        },
      };
    },
  };
}

/** SPD over Adam as a `tf.Optimizer`. */
export function spd(options: SpdOptions = {}): RobustOptimizer {
  const learningRate = checkLearningRate(options.learningRate, SPD_DEFAULTS.learningRate);
  const { beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8, weightDecay = SPD_DEFAULTS.weightDecay } = options;
  const exclude = selectorToJson(options.exclude);
  return buildOptimizer(
    SPD_FACTORY,
    withFusedSpd(spdTransformation({ ...options, beta1, beta2, epsilon, weightDecay }), {
      beta1,
      beta2,
      epsilon,
      weightDecay,
      ...(options.exclude === undefined ? {} : { exclude: options.exclude }),
    }),
    options,
    learningRate,
    exclude === undefined ? undefined : { beta1, beta2, epsilon, weightDecay, exclude },
  );
}

export interface SpdTensorDiagnostics {
  /** −Σ g ⊙ (θ − a) of the last step. */
  condition: number;
  /** The ratio r used by the decay, or null when the condition was ≥ 0 (no decay). */
  ratio: number | null;
}

/** SPD's per-tensor diagnostics of the last step. */
export async function spdState(source: StateSource): Promise<Record<string, SpdTensorDiagnostics>> {
  const out: Record<string, SpdTensorDiagnostics> = {};
  for (const node of findNodes(source, 'spdCondition')) {
    const [cond, ratio] = await Promise.all([scalars(node.spdCondition), scalars(node.spdRatio)]);
    for (const [name, c] of Object.entries(cond))
      out[name] = { condition: c, ratio: c < 0 ? ratio[name]! : null };
  }
  return out;
}

registerOptimizerFactory(SPD_FACTORY, (o) => {
  const wd = num(o, 'weightDecay');
  const exclude = selectorFromJson(o.exclude);
  return spd({
    ...commonFromJson(o),
    ...adamMomentsFromJson(o),
    ...(wd === undefined ? {} : { weightDecay: wd }),
    ...(exclude === undefined ? {} : { exclude }),
    learningRate: learningRateFromJson(o.learningRate, SPD_DEFAULTS.learningRate),
  });
});
