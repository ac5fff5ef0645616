import {
  type AnyTransformation,
  type GradientTransformation,
  type NameSelector,
  nameMatcher,
  type RobustOptimizer,
  registerOptimizerFactory,
  type StateTree,
} from '@robust-ft/core';
import { assertNonNegative, carryOver } from '@robust-ft/core/internal';
import type { NamedTensorMap, Tensor } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { adamMomentsFromJson } from './adamw';
import { withFusedSpd } from './fused';
import { type InnerOption, type InnerOptions, innerFromJson, innerLearningRate, resolveInner } from './inner';
import { findNodes, type StateSource, scalars } from './inspect';
import { checkFactoryOptions } from './option-schemas';
import {
  buildOptimizer,
  type CommonOptions,
  checkLearningRate,
  commonFromJson,
  learningRateFromJson,
  num,
  selectorFromJson,
  selectorToJson,
  unsupported,
} from './options';
import { sgdMomentumFromJson } from './sgd';
import { withMaps } from './state-maps';

export interface SpdTransformOptions {
  /** SPD strength λ ≥ 0 (the reference's `weight_decay`; not a decay toward zero). λ = 0 is the inner optimizer. */
  weightDecay?: number;
  /** Parameters that get the plain inner-optimizer update (e.g. a new head). */
  exclude?: NameSelector;
}

export interface SpdOptions extends SpdTransformOptions, InnerOptions, CommonOptions {
  /**
   * The optimizer whose candidate step SPD decays: `'adam'` (default; the reference AdamSPD, fused where
   * the backend has the kernel), `'sgd'` (torch SGD with momentum/Nesterov, no decay toward zero) or any
   * gradient transformation producing deltas (not serialisable).
   */
  inner?: InnerOption;
}

export const SPD_DEFAULTS = { learningRate: 1e-3, learningRateSgd: 1e-2, weightDecay: 0 } as const;
export const SPD_FACTORY = 'robust-ft/spd';

export type SpdState = {
  /** The inner optimizer's state. */
  inner: StateTree;
  /** −Σ g ⊙ (θ − a) of the last step; SPD decayed the tensor iff it was < 0. */
  spdCondition: Record<string, Tensor>;
  /** The clamped deviation-growth ratio r of the last step (meaningful when the condition was < 0). */
  spdRatio: Record<string, Tensor>;
};

export interface SpdTensorInput {
  param: Tensor;
  grad: Tensor;
  anchor: Tensor;
  /** The inner optimizer's delta for this step (candidate q = param + update). */
  update: Tensor;
  weightDecay: number;
}

export interface SpdTensorOutput {
  param: Tensor;
  condition: Tensor;
  ratio: Tensor;
}

/**
 * SPD for one tensor, given the inner optimizer's candidate q = θ + update: only when −⟨g, θ−a⟩ < 0,
 * pull q toward the anchor by λ·r where r = clamp((‖q−a‖ − ‖θ−a‖)/‖q−a‖, 0, 1) is how much the step
 * grew the deviation. Fixes the reference's 0/0 (q = a with the condition firing gave NaN): r = 0 there.
 */
export function spdTensorStep(i: SpdTensorInput): SpdTensorOutput {
  // Same op as the adapter's θ + update; with λ = 0 the decay term is ±0, so the result is bit-identical
  // to the inner optimizer.
  const q = tf.add(i.param, i.update);
  const dev = tf.sub(i.param, i.anchor);
  const condition = tf.neg(tf.sum(tf.mul(i.grad, dev)));
  const qa = tf.sub(q, i.anchor);
  const nq = tf.norm(qa);
  const nonzero = tf.greater(nq, 0);
  const growth = tf.div(tf.sub(nq, tf.norm(dev)), tf.where(nonzero, nq, tf.onesLike(nq)));
  const ratio = tf.where(nonzero, tf.clipByValue(growth, 0, 1), tf.zerosLike(nq));
  const strength = tf.where(tf.less(condition, 0), tf.mul(ratio, i.weightDecay), tf.zerosLike(ratio));
  return { param: tf.sub(q, tf.mul(strength, qa)), condition, ratio };
}

/** SPD around any inner transformation that returns deltas: it needs only g, θ, the anchor and the candidate. */
export function spdTransformation(
  inner: AnyTransformation,
  options: SpdTransformOptions = {},
): GradientTransformation<SpdState> {
  const weightDecay = options.weightDecay ?? SPD_DEFAULTS.weightDecay;
  assertNonNegative('weightDecay', weightDecay);
  const excluded = nameMatcher(options.exclude);
  return {
    label: `spd(${inner.label})`,
    init(params) {
      const s: SpdState = { inner: inner.init(params) as StateTree, spdCondition: {}, spdRatio: {} };
      for (const name of Object.keys(params)) {
        if (excluded(name)) continue;
        s.spdCondition[name] = tf.scalar(0);
        s.spdRatio[name] = tf.scalar(0);
      }
      return s;
    },
    update(grads, saved, params, ctx) {
      const state = withMaps(saved, ['inner', 'spdCondition', 'spdRatio']);
      const r = inner.update(grads, state.inner, params, ctx);
      if (r.assign)
        throw unsupported('inner', `SPD's inner transformation ${inner.label} must return deltas`);
      const updates: NamedTensorMap = {};
      const assign: NamedTensorMap = {};
      const spdCondition: Record<string, Tensor> = {};
      const spdRatio: Record<string, Tensor> = {};
      for (const [name, g] of Object.entries(grads)) {
        const u = r.updates[name]!;
        if (excluded(name)) {
          updates[name] = u;
          continue;
        }
        const out = spdTensorStep({
          param: params[name]!,
          grad: g,
          anchor: ctx.anchor(name),
          update: u,
          weightDecay,
        });
        assign[name] = out.param;
        spdCondition[name] = out.condition;
        spdRatio[name] = out.ratio;
      }
      return {
        updates,
        assign,
        state: {
          inner: r.state,
          spdCondition: carryOver(state.spdCondition, spdCondition, grads),
          spdRatio: carryOver(state.spdRatio, spdRatio, grads),
        },
      };
    },
  };
}

/** SPD as a `tf.Optimizer`: over Adam (default, the reference AdamSPD) or SGD, or a given transformation. */
export function spd(options: SpdOptions = {}): RobustOptimizer {
  checkFactoryOptions('spd', options);
  const inner = resolveInner(options, 0);
  const learningRate = checkLearningRate(options.learningRate, spdLearningRate(options.inner));
  const weightDecay = options.weightDecay ?? SPD_DEFAULTS.weightDecay;
  const exclude = selectorToJson(options.exclude);
  const exclusion = options.exclude === undefined ? {} : { exclude: options.exclude };
  // Over Adam the step runs as one fused kernel where the backend has it (same state; the composed
  // transformation is the fallback and the oracle). Any other inner stays composed.
  const composed = spdTransformation(inner.transformation, { weightDecay, ...exclusion });
  return buildOptimizer(
    SPD_FACTORY,
    inner.kind === 'adam' ? withFusedSpd(composed, { ...inner.adam, weightDecay, ...exclusion }) : composed,
    options,
    learningRate,
    // SPD's λ is recorded as `weightDecay`; the inner's own decay is 0 and not recorded.
    inner.json && exclude !== undefined ? { ...inner.json, weightDecay, exclude } : undefined,
  );
}

function spdLearningRate(inner: InnerOption | undefined): number {
  return innerLearningRate(inner, {
    learningRateAdam: SPD_DEFAULTS.learningRate,
    learningRateSgd: SPD_DEFAULTS.learningRateSgd,
  });
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
  const inner = innerFromJson(o);
  const { momentum, nesterov } = sgdMomentumFromJson(o);
  return spd({
    ...commonFromJson(o),
    ...adamMomentsFromJson(o),
    inner,
    ...(momentum === undefined ? {} : { momentum }),
    ...(nesterov === undefined ? {} : { nesterov }),
    ...(wd === undefined ? {} : { weightDecay: wd }),
    ...(exclude === undefined ? {} : { exclude }),
    learningRate: learningRateFromJson(o.learningRate, spdLearningRate(inner)),
  });
});
