import type {
  AnyTransformation,
  GradientTransformation,
  NameSelector,
  RobustOptimizer,
  StateTree,
} from '@robust-ft/core';
import { assertNonNegative } from '@robust-ft/core/internal';
import type { Tensor } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { withFusedMethodOverAdam } from './fused';
import { type InnerOption, type InnerOptions, innerLearningRate, resolveWrapper } from './inner';
import type { StateSource } from './inspect';
import { declareMethod, projectionTransformation, readDiagnostics } from './method';
import { registerFactory } from './option-schemas';
import { buildOptimizer, type CommonOptions, selectorToJson } from './options';

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

/** SPD's declaration: a projection of the inner optimizer's candidate; two scalar diagnostics per tensor. */
export const SPD_METHOD = declareMethod({
  label: 'spd',
  kind: 'projection',
  settings(options: SpdTransformOptions): { weightDecay: number; exclude: NameSelector | undefined } {
    const weightDecay = options.weightDecay ?? SPD_DEFAULTS.weightDecay;
    assertNonNegative('weightDecay', weightDecay);
    return { weightDecay, exclude: options.exclude };
  },
  slots: { spdCondition: { shape: 'scalar' }, spdRatio: { shape: 'scalar' } },
  marker: 'spdCondition',
  step(i, { weightDecay }) {
    const out = spdTensorStep({ ...i, weightDecay });
    return { value: out.param, slots: { spdCondition: out.condition, spdRatio: out.ratio } };
  },
  fused: {
    kernel: 'spd',
    inputs: [],
    outputs: ['spdCondition', 'spdRatio'],
    attrs: (s) => ({ lambda: s.weightDecay }),
  },
});

/** SPD around any inner transformation that returns deltas: it needs only g, θ, the anchor and the candidate. */
export function spdTransformation(
  inner: AnyTransformation,
  options: SpdTransformOptions = {},
): GradientTransformation<SpdState> {
  return projectionTransformation(SPD_METHOD, inner, options) as GradientTransformation<SpdState>;
}

/** SPD as a `tf.Optimizer`: over Adam (default, the reference AdamSPD) or SGD, or a given transformation. */
export function spd(options: SpdOptions = {}): RobustOptimizer {
  const { inner, learningRate } = resolveWrapper('spd', options, 0, SPD_DEFAULTS);
  const weightDecay = options.weightDecay ?? SPD_DEFAULTS.weightDecay;
  const exclude = selectorToJson(options.exclude);
  const exclusion = options.exclude === undefined ? {} : { exclude: options.exclude };
  // Over Adam the step runs as one fused kernel where the backend has it (same state; the composed
  // transformation is the fallback and the oracle). Any other inner stays composed.
  const composed = spdTransformation(inner.transformation, { weightDecay, ...exclusion });
  return buildOptimizer(
    SPD_FACTORY,
    withFusedMethodOverAdam(SPD_METHOD, composed, { weightDecay, ...exclusion }, inner, 0),
    options,
    learningRate,
    // SPD's λ is recorded as `weightDecay`; the inner's own decay is 0 and not recorded.
    inner.json && exclude !== undefined ? { ...inner.json, weightDecay, exclude } : undefined,
  );
}

export interface SpdTensorDiagnostics {
  /** −Σ g ⊙ (θ − a) of the last step. */
  condition: number;
  /** The ratio r used by the decay, or null when the condition was ≥ 0 (no decay). */
  ratio: number | null;
}

/** SPD's per-tensor diagnostics of the last step. */
export async function spdDiagnostics(source: StateSource): Promise<Record<string, SpdTensorDiagnostics>> {
  const { tensors } = await readDiagnostics(SPD_METHOD, source, ['spdCondition', 'spdRatio']);
  const out: Record<string, SpdTensorDiagnostics> = {};
  for (const [name, d] of Object.entries(tensors))
    out[name] = { condition: d.spdCondition, ratio: d.spdCondition < 0 ? d.spdRatio : null };
  return out;
}

/** @deprecated Use `spdDiagnostics` (the same reader; renamed like the other `*Diagnostics()` inspectors). */
export const spdState = spdDiagnostics;

registerFactory(SPD_FACTORY, 'spd', spd, (inner) => innerLearningRate(inner, SPD_DEFAULTS));
