import {
  type AnyTransformation,
  type GradientTransformation,
  type NameSelector,
  RobustFtError,
  type RobustOptimizer,
  type StateTree,
} from '@robust-ft/core';
import {
  adamMomentStep,
  assertInteger,
  assertOneOf,
  assertPositive,
  invalidArgument,
} from '@robust-ft/core/internal';
import type { NamedTensorMap, Scalar, Tensor } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import type { AdamMomentsOptions } from './adamw';
import { resolveInner } from './inner';
import type { StateSource } from './inspect';
import { type AxisMap, axisMap, checkLayout, type LayoutOption, rowL1 } from './layout';
import { declareMethod, projectionTransformation, readDiagnostics } from './method';
import { checkFactoryOptions, registerFactory } from './option-schemas';
import { buildOptimizer, type CommonOptions, checkLearningRate, selectorToJson } from './options';
import type { SgdMomentumOptions } from './sgd';

/** TPGM's fixed epsilon (in the ratio only) and lower clip of γ. */
const TPGM_EPS = 1e-8;

export type TpgmNormMode = 'mars' | 'l2';

/**
 * The validation objective TPGM learns its radii on: given (projected) parameters by name, return a
 * scalar loss built from them with differentiable tfjs ops. It receives every parameter of the step,
 * excluded ones unprojected.
 */
export type ValidationLoss = (params: NamedTensorMap) => Scalar;

export interface TpgmTransformOptions {
  /** 'mars' (default: per-row L1, the DomainNet setting) or 'l2' (whole-tensor L2, the ViT setting). */
  normMode?: TpgmNormMode;
  /**
   * Which axes are a parameter's rows for the 'mars' norms (one radius constraint per output unit):
   * `'tfjs'` (default, by name and rank), `'torch'` (axis 0) or a function of (name, shape); see `layout.ts`.
   */
  layout?: LayoutOption;
  /** Learning rate of the Adam that trains γ. Default 1e-2. */
  projLr?: number;
  /** γ-updates per projection. Default 1. */
  maxIters?: number;
  /** Project every `projFreq` steps. Default 1. */
  projFreq?: number;
  /** Parameters never projected (e.g. the head). */
  exclude?: NameSelector;
  /** Required before the first projection; can be (re)attached later with `setTpgmValidationLoss`. */
  validationLoss?: ValidationLoss;
}

export interface TpgmOptions
  extends TpgmTransformOptions,
    SgdMomentumOptions,
    AdamMomentsOptions,
    CommonOptions {
  /** The outer optimizer: `'sgd'` (default; momentum 0.9, Nesterov, wd 5e-4 as the reference), `'adam'`, or a transformation. */
  inner?: 'sgd' | 'adam' | AnyTransformation;
}

export const TPGM_DEFAULTS = {
  inner: 'sgd',
  learningRate: 1e-2,
  momentum: 0.9,
  nesterov: true,
  weightDecay: 5e-4,
  normMode: 'mars' as TpgmNormMode,
  projLr: 1e-2,
  maxIters: 1,
  projFreq: 1,
} as const;
export const TPGM_FACTORY = 'robust-ft/tpgm';

export type TpgmState = {
  inner: StateTree;
  /** Per projected tensor: γ, its Adam moments and step count, and whether γ was initialised. */
  constraint: Record<string, Tensor>;
  gammaM: Record<string, Tensor>;
  gammaV: Record<string, Tensor>;
  gammaCount: Record<string, number>;
  started: Record<string, number>;
  t: number;
};

function norms(delta: Tensor, mode: TpgmNormMode, axes: AxisMap): Tensor {
  return mode === 'l2' ? tf.norm(delta) : rowL1(delta, axes);
}

/** γ clipped to [1e-8, max n] (the reference clips before every use). */
function clipGamma(gamma: Tensor, n: Tensor): Tensor {
  return tf.minimum(tf.maximum(gamma, TPGM_EPS), tf.maximum(tf.max(n), TPGM_EPS));
}

export interface TpgmTensorProjection {
  /** θ₀ + clamp(γ/(n + 1e-8), 0, 1)·δ. */
  param: Tensor;
  /** ∂param/∂γ = δ/(n + 1e-8) where the clamp is not saturated, else 0. */
  dParamDGamma: Tensor;
}

/** TPGM's projection of one tensor onto radius γ around the anchor (γ already clipped). */
export function tpgmTensorProject(
  param: Tensor,
  anchor: Tensor,
  gamma: Tensor,
  mode: TpgmNormMode,
  axes: AxisMap,
): TpgmTensorProjection {
  const delta = tf.sub(param, anchor);
  const denom = tf.add(norms(delta, mode, axes), TPGM_EPS);
  const raw = tf.div(gamma, denom);
  const inside = tf.logicalAnd(tf.greater(raw, 0), tf.less(raw, 1));
  return {
    param: tf.add(anchor, tf.mul(tf.clipByValue(raw, 0, 1), delta)),
    dParamDGamma: tf.where(inside, tf.div(delta, denom), tf.zerosLike(delta)),
  };
}

/**
 * Where a TPGM transformation keeps its validation-loss callback (read at step time): on the
 * transformation itself, so `setTpgmValidationLoss` finds it through the optimizer that holds it
 * (no module-level registry of optimizers).
 */
const VALIDATION_LOSS = Symbol('tpgm.validationLoss');
interface ValidationLossHolder {
  [VALIDATION_LOSS]: { fn: ValidationLoss | undefined };
}

interface TpgmSettings {
  mode: TpgmNormMode;
  layout: LayoutOption;
  projLr: number;
  maxIters: number;
  projFreq: number;
  exclude: NameSelector | undefined;
  /** Read at step time (attached or replaced by `setTpgmValidationLoss`). */
  holder: { fn: ValidationLoss | undefined };
}

const WHOLE: AxisMap = { rowAxes: [], lastAxis: null };
const SCALAR = { shape: 'scalar' } as const;
const COUNTER = { shape: 'counter' } as const;

/** θ + δ and the norms n of its deviation from the anchor (the radius γ is compared with n). */
function candidateNorms(
  i: { param: Tensor; update: Tensor; anchor: Tensor; axes: AxisMap },
  mode: TpgmNormMode,
) {
  const candidate = tf.add(i.param, i.update);
  return { candidate, n: norms(tf.sub(candidate, i.anchor), mode, i.axes) };
}

/**
 * TPGM's declaration: a projection method whose per-tensor step projects the candidate onto radius γ
 * around the anchor, and whose γ (one per tensor, with its Adam moments and count, and whether it was
 * initialised) is learned in the declared `joint` hook: γ couples every projected tensor through one
 * scalar validation loss of all the parameters, so it cannot be a per-tensor step. The counter `t`
 * schedules the projection every `projFreq` steps (the hook returns null in between).
 */
export const TPGM_METHOD = declareMethod({
  label: 'tpgm',
  kind: 'projection',
  settings(options: TpgmTransformOptions & { holder?: { fn: ValidationLoss | undefined } }): TpgmSettings {
    const mode = options.normMode ?? TPGM_DEFAULTS.normMode;
    assertOneOf('normMode', mode, ['mars', 'l2']);
    const projLr = options.projLr ?? TPGM_DEFAULTS.projLr;
    assertPositive('projLr', projLr);
    const maxIters = options.maxIters ?? TPGM_DEFAULTS.maxIters;
    assertInteger('maxIters', maxIters, 1);
    const projFreq = options.projFreq ?? TPGM_DEFAULTS.projFreq;
    assertInteger('projFreq', projFreq, 1);
    const holder = options.holder ?? { fn: options.validationLoss };
    if (holder.fn !== undefined && typeof holder.fn !== 'function')
      throw invalidArgument('options.validationLoss', 'a function (params) => tf.Scalar', holder.fn);
    const layout = checkLayout(options.layout);
    return { mode, layout, projLr, maxIters, projFreq, exclude: options.exclude, holder };
  },
  // γ and its Adam moments are 0-d per tensor; γ's Adam count and "started" are plain numbers.
  slots: { constraint: SCALAR, gammaM: SCALAR, gammaV: SCALAR, gammaCount: COUNTER, started: COUNTER },
  counter: true,
  marker: 'constraint',
  // The 'l2' norm is whole-tensor: no axes to read (and no layout error for a rank-5 tensor).
  axes: (s, name, shape) => (s.mode === 'l2' ? WHOLE : axisMap(s.layout, name, shape)),
  joint({ tensors, params, updates, t }, { mode, projLr, maxIters, projFreq, holder }) {
    if (t % projFreq !== 0) return null;
    const fn = holder.fn;
    if (!fn)
      throw new RobustFtError(
        'INVALID_ARGUMENT',
        'TPGM needs a validation loss before its first projection',
        {
          argument: 'options.validationLoss',
          expected: 'a function (params) => tf.Scalar (or call setTpgmValidationLoss)',
        },
      );
    const projected = Object.keys(tensors);
    const candidate: NamedTensorMap = {};
    for (const name of Object.keys(updates)) candidate[name] = tf.add(params[name]!, updates[name]!);
    const n: Record<string, Tensor> = {};
    const next: Record<
      string,
      { constraint: Tensor; gammaM: Tensor; gammaV: Tensor; gammaCount: number; started: number }
    > = {};
    for (const name of projected) {
      const i = tensors[name]!;
      n[name] = candidateNorms(i, mode).n;
      // γ starts at min(n)/2 at the tensor's first projection.
      const constraint = i.slots.started === 1 ? i.slots.constraint : tf.div(tf.min(n[name]!), 2);
      next[name] = { ...i.slots, constraint, started: 1 };
    }
    const valueAndGrads = tf.grads((...xs: Tensor[]) => {
      const all: NamedTensorMap = { ...candidate };
      projected.forEach((name, j) => {
        all[name] = xs[j]!;
      });
      return fn(all);
    });
    for (let iter = 0; iter < maxIters; iter++) {
      const proj = projected.map((name) => {
        const s = next[name]!;
        s.constraint = clipGamma(s.constraint, n[name]!);
        const i = tensors[name]!;
        return tpgmTensorProject(candidate[name]!, i.anchor, s.constraint, mode, i.axes);
      });
      const dV = valueAndGrads(proj.map((p) => p.param));
      projected.forEach((name, j) => {
        const s = next[name]!;
        const h = tf.sum(tf.mul(dV[j]!, proj[j]!.dParamDGamma));
        const count = s.gammaCount + 1;
        const a = adamMomentStep(h, s.gammaM, s.gammaV, count, 0.9, 0.999, 1e-8);
        next[name] = {
          ...s,
          constraint: tf.sub(s.constraint, tf.mul(a.u, projLr)),
          gammaM: a.m,
          gammaV: a.v,
          gammaCount: count,
        };
      });
    }
    return next;
  },
  step(i, { mode }) {
    const { candidate, n } = candidateNorms(i, mode);
    const constraint = clipGamma(i.slots.constraint, n);
    return {
      value: tpgmTensorProject(candidate, i.anchor, constraint, mode, i.axes).param,
      slots: { ...i.slots, constraint },
    };
  },
});

/**
 * TPGM around an inner optimizer (`TPGM_METHOD` over `inner`): after the inner step, γ (one per tensor)
 * takes `maxIters` Adam steps on the validation loss of the projected parameters, then the parameters
 * are projected with the new γ. γ starts at min(n)/2 at the first projection. `holder.fn` is read at
 * step time so a restored optimizer can have its callback attached after `fromConfig`.
 */
export function tpgmTransformation(
  inner: AnyTransformation,
  options: TpgmTransformOptions = {},
  holder: { fn: ValidationLoss | undefined } = { fn: options.validationLoss },
): GradientTransformation<TpgmState> {
  const transformation = projectionTransformation(TPGM_METHOD, inner, { ...options, holder });
  const held: ValidationLossHolder = { [VALIDATION_LOSS]: holder };
  // The declared builder's state is `{inner, constraint, gammaM, gammaV, gammaCount, started, t}`:
  // `TpgmState`, which the generic builder types as a plain state tree.
  return Object.assign(
    transformation as GradientTransformation<StateTree> as GradientTransformation<TpgmState>,
    held,
  );
}

/** TPGM as a `tf.Optimizer`; γ is learned from `validationLoss` after every `projFreq` steps. */
export function tpgm(options: TpgmOptions = {}): RobustOptimizer {
  checkFactoryOptions('tpgm', options);
  const learningRate = checkLearningRate(options.learningRate, TPGM_DEFAULTS.learningRate);
  // The reference TPGM runs over SGD with Nesterov momentum and a decay toward zero; Adam's is 0.
  const sgdFirst = options.inner === undefined || options.inner === 'sgd';
  const weightDecay = options.weightDecay ?? (sgdFirst ? TPGM_DEFAULTS.weightDecay : 0);
  const { transformation: innerT, json } = resolveInner(options, weightDecay, TPGM_DEFAULTS);
  const {
    normMode = TPGM_DEFAULTS.normMode,
    projLr = TPGM_DEFAULTS.projLr,
    maxIters = TPGM_DEFAULTS.maxIters,
    projFreq = TPGM_DEFAULTS.projFreq,
  } = options;
  const holder = { fn: options.validationLoss };
  const layout = checkLayout(options.layout);
  const transformation = tpgmTransformation(
    innerT,
    {
      normMode,
      layout,
      projLr,
      maxIters,
      projFreq,
      ...(options.exclude === undefined ? {} : { exclude: options.exclude }),
    },
    holder,
  );
  const exclude = selectorToJson(options.exclude);
  const opt = buildOptimizer(
    TPGM_FACTORY,
    transformation,
    options,
    learningRate,
    // A layout function cannot be serialised (like a predicate selector): no factory record then.
    json && exclude !== undefined && typeof layout === 'string'
      ? { ...json, normMode, projLr, maxIters, projFreq, exclude, layout }
      : undefined,
  );
  return opt;
}

/** Attaches (or replaces) the validation loss of a TPGM optimizer, e.g. after `tf.loadLayersModel`. */
export function setTpgmValidationLoss(optimizer: RobustOptimizer, validationLoss: ValidationLoss): void {
  const holder = (optimizer?.transformation as Partial<ValidationLossHolder> | undefined)?.[VALIDATION_LOSS];
  if (!holder) throw invalidArgument('optimizer', 'an optimizer built by tpgm()', typeof optimizer);
  if (typeof validationLoss !== 'function')
    throw invalidArgument('validationLoss', 'a function (params) => tf.Scalar', validationLoss);
  holder.fn = validationLoss;
}

/** TPGM's per-tensor radius γ after the last step. */
export async function tpgmDiagnostics(source: StateSource): Promise<Record<string, { constraint: number }>> {
  return (await readDiagnostics(TPGM_METHOD, source, ['constraint'])).tensors;
}

/** @deprecated Use `tpgmDiagnostics` (the same reader; renamed like the other `*Diagnostics()` inspectors). */
export const tpgmState = tpgmDiagnostics;

registerFactory(TPGM_FACTORY, 'tpgm', tpgm, () => TPGM_DEFAULTS.learningRate);
