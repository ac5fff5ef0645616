import {
  type AnyTransformation,
  type GradientTransformation,
  type JsonObject,
  type NameSelector,
  nameMatcher,
  RobustFtError,
  type RobustOptimizer,
  registerOptimizerFactory,
  type StateTree,
} from '@robust-ft/core';
import {
  adamMomentStep,
  assertInteger,
  assertOneOf,
  assertPositive,
  carryOver,
  invalidArgument,
} from '@robust-ft/core/internal';
import type { NamedTensorMap, Scalar, Tensor } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { type AdamMomentsOptions, adamMomentsFromJson, adamwTransformation } from './adamw';
import { findNodes, type StateSource, scalars } from './inspect';
import { type AxisMap, axisMap, checkLayout, type LayoutOption, layoutFromJson, rowL1 } from './layout';
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
} from './options';
import { type SgdMomentumOptions, sgdMomentumFromJson, sgdTransformation } from './sgd';
import { withMaps } from './state-maps';

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
 * TPGM around an inner optimizer: after the inner step, γ (one per tensor) takes `maxIters` Adam steps
 * on the validation loss of the projected parameters, then the parameters are projected with the new γ.
 * γ starts at min(n)/2 at the first projection. `holder.fn` is read at step time so a restored
 * optimizer can have its callback attached after `fromConfig`.
 */
export function tpgmTransformation(
  inner: AnyTransformation,
  options: TpgmTransformOptions = {},
  holder: { fn: ValidationLoss | undefined } = { fn: options.validationLoss },
): GradientTransformation<TpgmState> {
  const mode = options.normMode ?? TPGM_DEFAULTS.normMode;
  assertOneOf('normMode', mode, ['mars', 'l2']);
  const projLr = options.projLr ?? TPGM_DEFAULTS.projLr;
  assertPositive('projLr', projLr);
  const maxIters = options.maxIters ?? TPGM_DEFAULTS.maxIters;
  assertInteger('maxIters', maxIters, 1);
  const projFreq = options.projFreq ?? TPGM_DEFAULTS.projFreq;
  assertInteger('projFreq', projFreq, 1);
  if (holder.fn !== undefined && typeof holder.fn !== 'function')
    throw invalidArgument('options.validationLoss', 'a function (params) => tf.Scalar', holder.fn);
  const excluded = nameMatcher(options.exclude);
  const layout = checkLayout(options.layout);
  // The 'l2' norm is whole-tensor: no axes to read (and no layout error for a rank-5 tensor).
  const axesOf = (name: string, t: Tensor): AxisMap =>
    mode === 'l2' ? { rowAxes: [], lastAxis: null } : axisMap(layout, name, t.shape);
  return {
    label: `tpgm(${inner.label})`,
    init(params) {
      const s: TpgmState = {
        inner: inner.init(params) as StateTree,
        constraint: {},
        gammaM: {},
        gammaV: {},
        gammaCount: {},
        started: {},
        t: 1,
      };
      for (const name of Object.keys(params)) {
        if (excluded(name)) continue;
        s.constraint[name] = tf.scalar(0);
        s.gammaM[name] = tf.scalar(0);
        s.gammaV[name] = tf.scalar(0);
        s.gammaCount[name] = 0;
        s.started[name] = 0;
      }
      return s;
    },
    update(grads, saved, params, ctx) {
      const state = withMaps(saved, ['inner', 'constraint', 'gammaM', 'gammaV', 'gammaCount', 'started']);
      const r = inner.update(grads, state.inner, params, ctx);
      if (r.assign)
        throw new RobustFtError(
          'UNSUPPORTED',
          `TPGM's inner transformation ${inner.label} must return deltas`,
          {
            argument: 'inner',
          },
        );
      const names = Object.keys(grads);
      const candidate: NamedTensorMap = {};
      for (const n of names) candidate[n] = tf.add(params[n]!, r.updates[n]!);
      const projected = names.filter((n) => !excluded(n));
      const next = { constraint: {}, gammaM: {}, gammaV: {}, gammaCount: {}, started: {} } as Pick<
        TpgmState,
        'constraint' | 'gammaM' | 'gammaV' | 'gammaCount' | 'started'
      >;
      const carry = () => ({
        constraint: carryOver(state.constraint, next.constraint, grads),
        gammaM: carryOver(state.gammaM, next.gammaM, grads),
        gammaV: carryOver(state.gammaV, next.gammaV, grads),
        gammaCount: carryOver(state.gammaCount, next.gammaCount, grads),
        started: carryOver(state.started, next.started, grads),
      });
      if (state.t % projFreq !== 0 || projected.length === 0) {
        for (const n of projected) {
          next.constraint[n] = state.constraint[n]!;
          next.gammaM[n] = state.gammaM[n]!;
          next.gammaV[n] = state.gammaV[n]!;
          next.gammaCount[n] = state.gammaCount[n]!;
          next.started[n] = state.started[n]!;
        }
        return { updates: r.updates, state: { inner: r.state, ...carry(), t: state.t + 1 } };
      }
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
      const n: Record<string, Tensor> = {};
      for (const name of projected) {
        n[name] = norms(tf.sub(candidate[name]!, ctx.anchor(name)), mode, axesOf(name, candidate[name]!));
        const started = state.started[name] === 1;
        next.constraint[name] = started ? state.constraint[name]! : tf.div(tf.min(n[name]!), 2);
        next.gammaM[name] = state.gammaM[name]!;
        next.gammaV[name] = state.gammaV[name]!;
        next.gammaCount[name] = state.gammaCount[name]!;
        next.started[name] = 1;
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
          const gamma = clipGamma(next.constraint[name]!, n[name]!);
          next.constraint[name] = gamma;
          return tpgmTensorProject(
            candidate[name]!,
            ctx.anchor(name),
            gamma,
            mode,
            axesOf(name, candidate[name]!),
          );
        });
        const dV = valueAndGrads(proj.map((p) => p.param));
        projected.forEach((name, j) => {
          const h = tf.sum(tf.mul(dV[j]!, proj[j]!.dParamDGamma));
          const count = next.gammaCount[name]! + 1;
          const a = adamMomentStep(h, next.gammaM[name]!, next.gammaV[name]!, count, 0.9, 0.999, 1e-8);
          next.constraint[name] = tf.sub(next.constraint[name]!, tf.mul(a.u, projLr));
          next.gammaM[name] = a.m;
          next.gammaV[name] = a.v;
          next.gammaCount[name] = count;
        });
      }
      const assign: NamedTensorMap = {};
      const updates: NamedTensorMap = {};
      for (const name of names) {
        if (excluded(name)) {
          updates[name] = r.updates[name]!;
          continue;
        }
        const gamma = clipGamma(next.constraint[name]!, n[name]!);
        next.constraint[name] = gamma;
        assign[name] = tpgmTensorProject(
          candidate[name]!,
          ctx.anchor(name),
          gamma,
          mode,
          axesOf(name, candidate[name]!),
        ).param;
      }
      return { updates, assign, state: { inner: r.state, ...carry(), t: state.t + 1 } };
    },
  };
}

const holders = new WeakMap<RobustOptimizer, { fn: ValidationLoss | undefined }>();

/** TPGM as a `tf.Optimizer`; γ is learned from `validationLoss` after every `projFreq` steps. */
export function tpgm(options: TpgmOptions = {}): RobustOptimizer {
  checkFactoryOptions('tpgm', options);
  const inner = options.inner ?? 'sgd';
  if (inner !== 'adam' && inner !== 'sgd' && typeof inner?.update !== 'function')
    throw invalidArgument('options.inner', "'sgd', 'adam' or a gradient transformation", inner);
  const learningRate = checkLearningRate(options.learningRate, TPGM_DEFAULTS.learningRate);
  let innerT: AnyTransformation;
  let json: JsonObject | undefined;
  if (inner === 'sgd') {
    const {
      momentum = TPGM_DEFAULTS.momentum,
      nesterov = TPGM_DEFAULTS.nesterov,
      weightDecay = TPGM_DEFAULTS.weightDecay,
    } = options;
    innerT = sgdTransformation({ momentum, nesterov, weightDecay });
    json = { inner, momentum, nesterov, weightDecay };
  } else if (inner === 'adam') {
    const { beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8, weightDecay = 0 } = options;
    innerT = adamwTransformation({ beta1, beta2, epsilon, weightDecay });
    json = { inner, beta1, beta2, epsilon, weightDecay };
  } else innerT = inner;
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
  holders.set(opt, holder);
  return opt;
}

/** Attaches (or replaces) the validation loss of a TPGM optimizer, e.g. after `tf.loadLayersModel`. */
export function setTpgmValidationLoss(optimizer: RobustOptimizer, validationLoss: ValidationLoss): void {
  const holder = holders.get(optimizer);
  if (!holder) throw invalidArgument('optimizer', 'an optimizer built by tpgm()', typeof optimizer);
  if (typeof validationLoss !== 'function')
    throw invalidArgument('validationLoss', 'a function (params) => tf.Scalar', validationLoss);
  holder.fn = validationLoss;
}

/** TPGM's per-tensor radius γ after the last step. */
export async function tpgmState(source: StateSource): Promise<Record<string, { constraint: number }>> {
  const out: Record<string, { constraint: number }> = {};
  for (const node of findNodes(source, 'constraint'))
    for (const [name, c] of Object.entries(await scalars(node.constraint))) out[name] = { constraint: c };
  return out;
}

registerOptimizerFactory(TPGM_FACTORY, (o) => {
  const inner = o.inner === 'adam' ? 'adam' : 'sgd';
  const exclude = selectorFromJson(o.exclude);
  const projLr = num(o, 'projLr');
  const maxIters = num(o, 'maxIters');
  const projFreq = num(o, 'projFreq');
  return tpgm({
    ...commonFromJson(o),
    ...adamMomentsFromJson(o),
    ...sgdMomentumFromJson(o),
    inner,
    ...(o.normMode === 'l2' || o.normMode === 'mars' ? { normMode: o.normMode } : {}),
    ...(projLr === undefined ? {} : { projLr }),
    ...(maxIters === undefined ? {} : { maxIters }),
    ...(projFreq === undefined ? {} : { projFreq }),
    ...(exclude === undefined ? {} : { exclude }),
    ...layoutFromJson(o),
    learningRate: learningRateFromJson(o.learningRate, TPGM_DEFAULTS.learningRate),
  });
});
