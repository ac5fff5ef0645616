import {
  type AnyTransformation,
  type GradientTransformation,
  type NameSelector,
  nameMatcher,
  type RobustOptimizer,
  registerOptimizerFactory,
  type StateTree,
} from '@robust-ft/core';
import { assertInRange, assertNonNegative, assertOneOf, carryOver } from '@robust-ft/core/internal';
import type { NamedTensorMap, Tensor } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { adamMomentsFromJson } from './adamw';
import { DIGRAP_SCALAR_KEYS, DIGRAP_TENSOR_KEYS, type DigrapTensors } from './digrap-keys';
import { withFusedDigrap } from './fused';
import { hyperAdamStep } from './hyper-adam';
import { type InnerOption, type InnerOptions, innerFromJson, innerLearningRate, resolveInner } from './inner';
import { findNodes, type StateSource, scalars } from './inspect';
import { type AxisMap, axisMap, checkLayout, type LayoutOption, lastAxisSum, layoutFromJson } from './layout';
import { checkFactoryOptions } from './option-schemas';
import {
  bool,
  buildOptimizer,
  type CommonOptions,
  checkLearningRate,
  commonFromJson,
  learningRateFromJson,
  num,
  selectorFromJson,
  selectorToJson,
} from './options';
import { sgdMomentumFromJson } from './sgd';
import { withMaps } from './state-maps';

/** The reference's epsilon on ‖c‖² and ‖g‖² in the trainable projections. */
const DIGRAP_EPS = 1e-8;

/** The axis map of a tensor whose reductions are whole-tensor (no per-row step reads it). */
const WHOLE: AxisMap = { rowAxes: [], lastAxis: null };

export type DigrapProjTerm = 'both' | 'grad' | 'reg';

export interface DigrapTransformOptions {
  /** λ ≥ 0 of the coupled L2-SP term λ(θ − θ₀) (the reference's `weight_decay`). Default 0. */
  weightDecay?: number;
  /** Learn the two strengths by hyper-Adam (default true, the reference runner's default). */
  trainableStrength?: boolean;
  /** Fixed projection strength ω ∈ [0, 1] when `trainableStrength` is false. Default 1. */
  strength?: number;
  /** Fixed mode only: project the task gradient ('grad'), the regulariser ('reg') or both (default). */
  projTerm?: DigrapProjTerm;
  /** Parameters left on the plain inner optimizer (no L2-SP, no projection). The reference stored this list but ignored it. */
  exclude?: NameSelector;
  /**
   * Which axis is torch's `dim=-1` for the fixed-strength per-row orthogonalisation: `'tfjs'` (default,
   * by name and rank: `in` of a Dense `[in,out]`, `kw` of a Conv2D `[kh,kw,cin,cout]`), `'torch'` (the
   * last axis) or a function of (name, shape); see `layout.ts`. The trainable mode is whole-tensor.
   */
  layout?: LayoutOption;
}

export interface DigrapOptions extends DigrapTransformOptions, InnerOptions, CommonOptions {
  /**
   * The optimizer fed DiGraP's modified gradient: `'adam'` (default; the reference PCGrad, fused where
   * the backend has the kernel), `'sgd'` (torch SGD with momentum/Nesterov, no decay toward zero) or any
   * gradient transformation producing deltas (not serialisable).
   */
  inner?: InnerOption;
}

export const DIGRAP_DEFAULTS = {
  learningRate: 1e-3,
  learningRateSgd: 1e-2,
  weightDecay: 0,
  trainableStrength: true,
  strength: 1,
  projTerm: 'both' as DigrapProjTerm,
} as const;
export const DIGRAP_FACTORY = 'robust-ft/digrap';

/** The state of `digrapGradient` (everything DiGraP keeps besides its inner optimizer's state). */
export type DigrapGradientState = {
  /** Σ g ⊙ (θ − θ₀) of the last step; the projection ran iff it was < 0. */
  digrapDot: Record<string, Tensor>;
  lossStrength: Record<string, Tensor>;
  regStrength: Record<string, Tensor>;
  lossM: Record<string, Tensor>;
  lossV: Record<string, Tensor>;
  regM: Record<string, Tensor>;
  regV: Record<string, Tensor>;
  pPrev: Record<string, Tensor>;
  qPrev: Record<string, Tensor>;
  lrPrev: Record<string, number>;
  t: number;
};

export type DigrapState = { digrap: DigrapGradientState; inner: StateTree };

export interface DigrapTensorInput {
  param: Tensor;
  grad: Tensor;
  anchor: Tensor;
  weightDecay: number;
  trainableStrength: boolean;
  strength: number;
  projTerm: DigrapProjTerm;
  lossStrength: Tensor;
  regStrength: Tensor;
  lossM: Tensor;
  lossV: Tensor;
  regM: Tensor;
  regV: Tensor;
  pPrev: Tensor;
  qPrev: Tensor;
  lrPrev: number;
  /** DiGraP's global step counter (1 on the first step). */
  t: number;
  /** This tensor's axis map (fixed mode: `lastAxis` is torch's `dim=-1`); from `axisMap(layout, name, shape)`. */
  axes: AxisMap;
}

export interface DigrapTensorOutput {
  /** The modified gradient ĝ handed to the inner optimizer. */
  grad: Tensor;
  dot: Tensor;
  lossStrength: Tensor;
  regStrength: Tensor;
  lossM: Tensor;
  lossV: Tensor;
  regM: Tensor;
  regV: Tensor;
  pPrev: Tensor;
  qPrev: Tensor;
}

/**
 * a − ω·(⟨a,b⟩/⟨b,b⟩)·b per row of torch's last axis (`dim=-1`, mapped by the layout rule); a zero row
 * of b leaves a unchanged (the reference gave NaN).
 */
function orth(a: Tensor, b: Tensor, strength: number, axes: AxisMap): Tensor {
  const ab = lastAxisSum(tf.mul(a, b), axes);
  const bb = lastAxisSum(tf.square(b), axes);
  const nonzero = tf.greater(bb, 0);
  const coef = tf.where(nonzero, tf.div(ab, tf.where(nonzero, bb, tf.onesLike(bb))), tf.zerosLike(bb));
  return tf.sub(a, tf.mul(tf.mul(coef, strength), b));
}

/**
 * DiGraP for one tensor. With c = θ − θ₀ and dot = ⟨g, c⟩: when the task gradient and the L2-SP pull
 * conflict (dot < 0) the gradient fed to the inner optimizer is projected, otherwise it is g + λc.
 * Trainable mode: ĝ = (g − ω_loss·P) + λ(c − ω_reg·Q) with P, Q the components of g along c and of c
 * along g; ω_loss, ω_reg take one hyper-Adam step each on the hyper-gradients lr_prev·⟨g+λc, P_prev⟩ and
 * λ·lr_prev·⟨g+λc, Q_prev⟩, then are clamped to [0, 1]. Fixed mode: per-row orthogonalisation with ω.
 * With λ = 0 there is no regulariser to conflict with, so ĝ = g (the plain inner optimizer).
 */
export function digrapTensorStep(i: DigrapTensorInput): DigrapTensorOutput {
  const lambda = i.weightDecay;
  const g = i.grad;
  const c = tf.sub(i.param, i.anchor);
  const dot = tf.sum(tf.mul(g, c));
  const regularised = lambda === 0 ? g : tf.add(g, tf.mul(c, lambda));
  let hatG = regularised;
  let out: Omit<DigrapTensorOutput, 'grad' | 'dot'>;
  if (i.trainableStrength) {
    const p = tf.mul(tf.div(dot, tf.add(tf.sum(tf.square(c)), DIGRAP_EPS)), c);
    const q = tf.mul(tf.div(dot, tf.add(tf.sum(tf.square(g)), DIGRAP_EPS)), g);
    const hLoss = tf.mul(tf.sum(tf.mul(regularised, i.pPrev)), i.lrPrev);
    const hReg = tf.mul(tf.sum(tf.mul(regularised, i.qPrev)), lambda * i.lrPrev);
    const l = hyperAdamStep(i.lossStrength, i.lossM, i.lossV, hLoss, i.t);
    const r = hyperAdamStep(i.regStrength, i.regM, i.regV, hReg, i.t);
    const lossStrength = tf.clipByValue(l.x, 0, 1);
    const regStrength = tf.clipByValue(r.x, 0, 1);
    if (lambda !== 0) {
      const projected = tf.add(
        tf.sub(g, tf.mul(lossStrength, p)),
        tf.mul(tf.sub(c, tf.mul(regStrength, q)), lambda),
      );
      hatG = tf.where(tf.less(dot, 0), projected, regularised);
    }
    out = { lossStrength, regStrength, lossM: l.m, lossV: l.v, regM: r.m, regV: r.v, pPrev: p, qPrev: q };
  } else {
    if (lambda !== 0) {
      const w = i.strength;
      const gPart = i.projTerm === 'reg' ? g : orth(g, c, w, i.axes);
      const cPart = i.projTerm === 'grad' ? c : orth(c, g, w, i.axes);
      hatG = tf.where(tf.less(dot, 0), tf.add(gPart, tf.mul(cPart, lambda)), regularised);
    }
    out = {
      lossStrength: i.lossStrength,
      regStrength: i.regStrength,
      lossM: i.lossM,
      lossV: i.lossV,
      regM: i.regM,
      regV: i.regV,
      pPrev: i.pPrev,
      qPrev: i.qPrev,
    };
  }
  return { grad: hatG, dot, ...out };
}

/**
 * DiGraP's gradient transformation: its updates are the modified gradient ĝ (g itself for excluded
 * names), to be chained before any optimizer. ĝ depends only on g, θ, θ₀ and this state.
 */
export function digrapGradient(
  options: DigrapTransformOptions = {},
): GradientTransformation<DigrapGradientState> {
  const weightDecay = options.weightDecay ?? DIGRAP_DEFAULTS.weightDecay;
  assertNonNegative('weightDecay', weightDecay);
  const trainableStrength = options.trainableStrength ?? DIGRAP_DEFAULTS.trainableStrength;
  const strength = options.strength ?? DIGRAP_DEFAULTS.strength;
  assertInRange('strength', strength, 0, 1);
  const projTerm = options.projTerm ?? DIGRAP_DEFAULTS.projTerm;
  assertOneOf('projTerm', projTerm, ['both', 'grad', 'reg']);
  const excluded = nameMatcher(options.exclude);
  const layout = checkLayout(options.layout);
  // Only the fixed-strength orth reads axes; the trainable mode's sums are whole-tensor.
  const axesOf = (name: string, t: Tensor): AxisMap =>
    trainableStrength || weightDecay === 0 ? WHOLE : axisMap(layout, name, t.shape);
  return {
    label: 'digrapGradient',
    init(params) {
      const s = {
        ...Object.fromEntries(DIGRAP_TENSOR_KEYS.map((k) => [k, {}])),
        lrPrev: {},
        t: 1,
      } as DigrapGradientState;
      for (const [name, p] of Object.entries(params)) {
        if (excluded(name)) continue;
        for (const key of DIGRAP_SCALAR_KEYS) s[key][name] = tf.scalar(0);
        if (trainableStrength) {
          s.pPrev[name] = tf.zerosLike(p);
          s.qPrev[name] = tf.zerosLike(p);
        }
        s.lrPrev[name] = 0;
      }
      return s;
    },
    update(grads, saved, params, ctx) {
      const state = withMaps(saved, ['lrPrev', ...DIGRAP_TENSOR_KEYS]);
      const updates: NamedTensorMap = {};
      const next = Object.fromEntries(DIGRAP_TENSOR_KEYS.map((k) => [k, {}])) as DigrapTensors;
      const lrPrev: Record<string, number> = {};
      for (const [name, g] of Object.entries(grads)) {
        if (excluded(name)) {
          updates[name] = g;
          continue;
        }
        const zeros = trainableStrength ? undefined : tf.scalar(0);
        const out = digrapTensorStep({
          param: params[name]!,
          grad: g,
          anchor: ctx.anchor(name),
          weightDecay,
          trainableStrength,
          strength,
          projTerm,
          lossStrength: state.lossStrength[name]!,
          regStrength: state.regStrength[name]!,
          lossM: state.lossM[name]!,
          lossV: state.lossV[name]!,
          regM: state.regM[name]!,
          regV: state.regV[name]!,
          pPrev: state.pPrev[name] ?? zeros!,
          qPrev: state.qPrev[name] ?? zeros!,
          lrPrev: state.lrPrev[name] ?? 0,
          t: state.t,
          axes: axesOf(name, g),
        });
        updates[name] = out.grad;
        next.digrapDot[name] = out.dot;
        for (const key of DIGRAP_SCALAR_KEYS) if (key !== 'digrapDot') next[key][name] = out[key];
        if (trainableStrength) {
          next.pPrev[name] = out.pPrev;
          next.qPrev[name] = out.qPrev;
        }
        lrPrev[name] = ctx.learningRate;
      }
      const carried = Object.fromEntries(
        DIGRAP_TENSOR_KEYS.map((k) => [k, carryOver(state[k], next[k], grads)]),
      ) as DigrapTensors;
      return {
        updates,
        state: { ...carried, lrPrev: carryOver(state.lrPrev, lrPrev, grads), t: state.t + 1 },
      };
    },
  };
}

/**
 * DiGraP before any inner transformation that returns deltas: `digrapGradient` then `inner`, with the
 * two states under the names `digrap` and `inner` (not chain positions).
 */
export function digrapTransformation(
  inner: AnyTransformation,
  options: DigrapTransformOptions = {},
): GradientTransformation<DigrapState> {
  const gradient = digrapGradient(options);
  return {
    label: `digrap(${inner.label})`,
    init: (params) => ({ digrap: gradient.init(params), inner: inner.init(params) as StateTree }),
    update(grads, saved, params, ctx) {
      // A restored state lacks `inner` when all of it was empty (e.g. SGD without momentum).
      const state = withMaps(saved, ['inner']);
      const d = gradient.update(grads, state.digrap, params, ctx);
      const r = inner.update(d.updates, state.inner, params, ctx);
      // Not `guarded`: DiGraP's own state is not masked by an inner kernel's finite flag.
      const nextState = { digrap: d.state, inner: r.state };
      return r.assign
        ? { updates: r.updates, assign: r.assign, state: nextState }
        : { updates: r.updates, state: nextState };
    },
  };
}

/** DiGraP (pre-release PCGrad semantics) as a `tf.Optimizer`: over Adam (default) or SGD, or a given transformation. */
export function digrap(options: DigrapOptions = {}): RobustOptimizer {
  checkFactoryOptions('digrap', options);
  const inner = resolveInner(options, 0);
  const learningRate = checkLearningRate(options.learningRate, digrapLearningRate(options.inner));
  const {
    weightDecay = DIGRAP_DEFAULTS.weightDecay,
    trainableStrength = DIGRAP_DEFAULTS.trainableStrength,
    strength = DIGRAP_DEFAULTS.strength,
    projTerm = DIGRAP_DEFAULTS.projTerm,
  } = options;
  const exclude = selectorToJson(options.exclude);
  const layout = checkLayout(options.layout);
  const exclusion = options.exclude === undefined ? {} : { exclude: options.exclude };
  const settings = { weightDecay, trainableStrength, strength, projTerm, layout };
  const composed = digrapTransformation(inner.transformation, { ...settings, ...exclusion });
  // Over Adam the trainable mode runs as one fused kernel where the backend has it (same state; the
  // composed transformation is the fallback and the oracle). Any other inner stays composed.
  const transformation =
    inner.kind === 'adam'
      ? withFusedDigrap(composed, { ...inner.adam, weightDecay, trainableStrength, ...exclusion })
      : composed;
  return buildOptimizer(
    DIGRAP_FACTORY,
    transformation,
    options,
    learningRate,
    // A layout function cannot be serialised (like a predicate selector): no factory record then.
    // DiGraP's λ is recorded as `weightDecay`; the inner's own decay is 0 and not recorded.
    !inner.json || exclude === undefined || typeof layout !== 'string'
      ? undefined
      : { ...inner.json, ...settings, layout, exclude },
  );
}

function digrapLearningRate(inner: InnerOption | undefined): number {
  return innerLearningRate(inner, {
    learningRateAdam: DIGRAP_DEFAULTS.learningRate,
    learningRateSgd: DIGRAP_DEFAULTS.learningRateSgd,
  });
}

export interface DigrapTensorDiagnostics {
  /** ⟨g, θ − θ₀⟩ of the last step (the projection ran iff < 0 and λ > 0). */
  dot: number;
  /** ω_loss and ω_reg computed and used in the last step (trainable mode; 0 in fixed mode). */
  lossStrength: number;
  regStrength: number;
}

export async function digrapState(source: StateSource): Promise<Record<string, DigrapTensorDiagnostics>> {
  const out: Record<string, DigrapTensorDiagnostics> = {};
  for (const node of findNodes(source, 'digrapDot')) {
    const [dot, ls, rs] = await Promise.all([
      scalars(node.digrapDot),
      scalars(node.lossStrength),
      scalars(node.regStrength),
    ]);
    for (const name of Object.keys(dot))
      out[name] = { dot: dot[name]!, lossStrength: ls[name]!, regStrength: rs[name]! };
  }
  return out;
}

registerOptimizerFactory(DIGRAP_FACTORY, (o) => {
  const wd = num(o, 'weightDecay');
  const ts = bool(o, 'trainableStrength');
  const strength = num(o, 'strength');
  const exclude = selectorFromJson(o.exclude);
  const inner = innerFromJson(o);
  const { momentum, nesterov } = sgdMomentumFromJson(o);
  return digrap({
    ...commonFromJson(o),
    ...adamMomentsFromJson(o),
    inner,
    ...(momentum === undefined ? {} : { momentum }),
    ...(nesterov === undefined ? {} : { nesterov }),
    ...(wd === undefined ? {} : { weightDecay: wd }),
    ...(ts === undefined ? {} : { trainableStrength: ts }),
    ...(strength === undefined ? {} : { strength }),
    ...(typeof o.projTerm === 'string' ? { projTerm: o.projTerm as DigrapProjTerm } : {}),
    ...(exclude === undefined ? {} : { exclude }),
    ...layoutFromJson(o),
    learningRate: learningRateFromJson(o.learningRate, digrapLearningRate(inner)),
  });
});
