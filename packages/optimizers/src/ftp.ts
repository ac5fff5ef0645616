import {
  type AnyTransformation,
  type GradientTransformation,
  type NameSelector,
  nameMatcher,
  RobustFtError,
  type RobustOptimizer,
  registerOptimizerFactory,
  type StateTree,
} from '@robust-ft/core';
import { assertInRange, carryOver } from '@robust-ft/core/internal';
import type { NamedTensorMap, Tensor } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { type AdamMomentsOptions, adamMomentsFromJson } from './adamw';
import { withFusedFtpWhenAdam } from './fused';
import { hyperAdamStep } from './hyper-adam';
import { type InnerOption, innerFromJson, innerLearningRate, resolveInner } from './inner';
import { findNodes, type StateSource, scalars } from './inspect';
import {
  type AxisMap,
  axisMap,
  checkLayout,
  checkRowState,
  type LayoutOption,
  layoutFromJson,
  rowL1,
  rowShape,
} from './layout';
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
import { type SgdMomentumOptions, sgdMomentumFromJson } from './sgd';
import { withMaps } from './state-maps';

/** FTP's fixed constants (reference `FTP.__init__`): norm epsilon and lower clip of γ, initial γ. */
const FTP_EPS = 1e-8;
const FTP_GAMMA0 = 1e-8;

export interface FtpTransformOptions {
  /** Annealing factor for positive (γ-shrinking) hyper-gradients, in [0, 1]. Default 1. */
  k?: number;
  /** Parameters left on plain inner-optimizer updates (no projection), e.g. the head. */
  exclude?: NameSelector;
  /**
   * How a parameter's axes map to the reference's rows (one L1 ball per output unit): `'tfjs'` (default,
   * by name and rank: Dense `[in,out]`, Conv `[…,cin,cout]`, `…/depthwise_kernel` `[kh,kw,cin,mult]`),
   * `'torch'` (rows on axis 0) or a function of (name, shape). See `layout.ts`.
   */
  layout?: LayoutOption;
}

export interface FtpOptions
  extends FtpTransformOptions,
    AdamMomentsOptions,
    SgdMomentumOptions,
    CommonOptions {
  /**
   * The optimizer whose step FTP projects: `'adam'` (default; the reference AdamP, decoupled weight
   * decay toward zero = our AdamW), `'sgd'` (SGDP: torch SGD with momentum/Nesterov and coupled weight
   * decay), or any gradient transformation producing deltas (not serialisable).
   */
  inner?: InnerOption;
}

export const FTP_DEFAULTS = { learningRateAdam: 1e-3, learningRateSgd: 1e-2, k: 1, weightDecay: 0 } as const;
export const FTP_FACTORY = 'robust-ft/ftp';

export type FtpProjectionState = {
  gamma: Record<string, Tensor>;
  gammaM: Record<string, Tensor>;
  gammaV: Record<string, Tensor>;
  /** The previous unprojected deviation c, parameter-sized. */
  cPrev: Record<string, Tensor>;
  /** 1/n of the previous step, row-sized. */
  rPrev: Record<string, Tensor>;
};

export type FtpState = { inner: StateTree; ftp: FtpProjectionState; t: number };

export interface FtpTensorInput {
  param: Tensor;
  grad: Tensor;
  anchor: Tensor;
  /** The inner optimizer's delta for this step (−d: candidate = param + update). */
  update: Tensor;
  gamma: Tensor;
  gammaM: Tensor;
  gammaV: Tensor;
  cPrev: Tensor;
  rPrev: Tensor;
  /** FTP's global step counter (1 on the first step). */
  t: number;
  k: number;
  /** Which axes are this tensor's rows (from `axisMap(layout, name, shape)`). */
  axes: AxisMap;
}

export interface FtpTensorOutput {
  param: Tensor;
  gamma: Tensor;
  gammaM: Tensor;
  gammaV: Tensor;
  cPrev: Tensor;
  rPrev: Tensor;
}

/**
 * FTP for one tensor: learn γ by one hyper-Adam step on h = Σ g ⊙ c_prev/n_prev (positive h scaled by
 * k), clip it to [1e-8, max row norm], then pull each row of the candidate's deviation c back onto the
 * L1 ball of radius γ: θ = θ₀ + clamp(γ/n, 0, 1)·c. With zero-initialised hyper-state the first step
 * gives γ = 1e-8 (θ ≈ θ₀), as the reference does.
 */
export function ftpTensorStep(i: FtpTensorInput): FtpTensorOutput {
  const c = tf.sub(tf.add(i.param, i.update), i.anchor);
  const n = tf.add(rowL1(c, i.axes), FTP_EPS);
  const hRaw = tf.sum(tf.mul(tf.mul(i.grad, i.cPrev), i.rPrev));
  const h = i.k === 1 ? hRaw : tf.where(tf.greater(hRaw, 0), tf.mul(hRaw, i.k), hRaw);
  const hyper = hyperAdamStep(i.gamma, i.gammaM, i.gammaV, h, i.t);
  const gamma = tf.minimum(tf.maximum(hyper.x, FTP_GAMMA0), tf.max(n));
  const ratio = tf.clipByValue(tf.div(gamma, n), 0, 1);
  return {
    param: tf.add(i.anchor, tf.mul(ratio, c)),
    gamma,
    gammaM: hyper.m,
    gammaV: hyper.v,
    cPrev: c,
    rPrev: tf.reciprocal(n),
  };
}

/** FTP around any inner transformation that returns deltas. */
export function ftpTransformation(
  inner: AnyTransformation,
  options: FtpTransformOptions = {},
): GradientTransformation<FtpState> {
  const k = options.k ?? FTP_DEFAULTS.k;
  assertInRange('k', k, 0, 1);
  const excluded = nameMatcher(options.exclude);
  const layout = checkLayout(options.layout);
  return {
    label: `ftp(${inner.label})`,
    init(params) {
      const ftp: FtpProjectionState = { gamma: {}, gammaM: {}, gammaV: {}, cPrev: {}, rPrev: {} };
      for (const [name, p] of Object.entries(params)) {
        if (excluded(name)) continue;
        ftp.gamma[name] = tf.scalar(FTP_GAMMA0);
        ftp.gammaM[name] = tf.scalar(0);
        ftp.gammaV[name] = tf.scalar(0);
        ftp.cPrev[name] = tf.zerosLike(p);
        ftp.rPrev[name] = tf.zeros(rowShape(p.shape, axisMap(layout, name, p.shape)));
      }
      return { inner: inner.init(params) as StateTree, ftp, t: 1 };
    },
    update(grads, saved, params, ctx) {
      const state = withMaps(saved, ['inner', 'ftp']);
      state.ftp = withMaps(state.ftp, ['gamma', 'gammaM', 'gammaV', 'cPrev', 'rPrev']);
      const axes: Record<string, AxisMap> = {};
      for (const [name, g] of Object.entries(grads)) {
        if (excluded(name)) continue;
        axes[name] = axisMap(layout, name, g.shape);
        checkRowState(name, state.ftp.rPrev[name], g.shape, axes[name]);
      }
      const r = inner.update(grads, state.inner, params, ctx);
      if (r.assign) {
        throw new RobustFtError(
          'UNSUPPORTED',
          `FTP's inner transformation ${inner.label} must return deltas`,
          {
            argument: 'inner',
          },
        );
      }
      const updates: NamedTensorMap = {};
      const assign: NamedTensorMap = {};
      const next: FtpProjectionState = { gamma: {}, gammaM: {}, gammaV: {}, cPrev: {}, rPrev: {} };
      for (const [name, g] of Object.entries(grads)) {
        const u = r.updates[name]!;
        if (excluded(name)) {
          updates[name] = u;
          continue;
        }
        const s = state.ftp;
        const out = ftpTensorStep({
          param: params[name]!,
          grad: g,
          anchor: ctx.anchor(name),
          update: u,
          gamma: s.gamma[name]!,
          gammaM: s.gammaM[name]!,
          gammaV: s.gammaV[name]!,
          cPrev: s.cPrev[name]!,
          rPrev: s.rPrev[name]!,
          t: state.t,
          k,
          axes: axes[name]!,
        });
        assign[name] = out.param;
        next.gamma[name] = out.gamma;
        next.gammaM[name] = out.gammaM;
        next.gammaV[name] = out.gammaV;
        next.cPrev[name] = out.cPrev;
        next.rPrev[name] = out.rPrev;
      }
      const ftp: FtpProjectionState = {
        gamma: carryOver(state.ftp.gamma, next.gamma, grads),
        gammaM: carryOver(state.ftp.gammaM, next.gammaM, grads),
        gammaV: carryOver(state.ftp.gammaV, next.gammaV, grads),
        cPrev: carryOver(state.ftp.cPrev, next.cPrev, grads),
        rPrev: carryOver(state.ftp.rPrev, next.rPrev, grads),
      };
      return { updates, assign, state: { inner: r.state, ftp, t: state.t + 1 } };
    },
  };
}

/** FTP as a `tf.Optimizer`: over Adam (default, the reference AdamP) or SGD (SGDP), or a given transformation. */
export function ftp(options: FtpOptions = {}): RobustOptimizer {
  checkFactoryOptions('ftp', options);
  const weightDecay = options.weightDecay ?? FTP_DEFAULTS.weightDecay;
  const inner = resolveInner(options, weightDecay);
  const learningRate = checkLearningRate(
    options.learningRate,
    innerLearningRate(options.inner, FTP_DEFAULTS),
  );
  const k = options.k ?? FTP_DEFAULTS.k;
  const exclude = selectorToJson(options.exclude);
  const layout = checkLayout(options.layout);
  // A layout function cannot be serialised (like a predicate selector): no factory record then.
  const json =
    inner.json && exclude !== undefined && typeof layout === 'string'
      ? { ...inner.json, k, exclude, layout }
      : undefined;
  const exclusion = options.exclude === undefined ? {} : { exclude: options.exclude };
  // Over Adam (the reference AdamP) the step runs as one fused kernel where the backend has it (same
  // state layout; the composed transformation is the fallback and the oracle).
  const transformation = withFusedFtpWhenAdam(
    inner.kind === 'adam',
    ftpTransformation(inner.transformation, { k, layout, ...exclusion }),
    { ...inner.adam, weightDecay, k, layout, ...exclusion },
  );
  return buildOptimizer(FTP_FACTORY, transformation, options, learningRate, json);
}

export interface FtpDiagnostics {
  /** Per projected tensor: γ (the radius used in the last projection) and its hyper-Adam moments. */
  tensors: Record<string, { gamma: number; gammaM: number; gammaV: number }>;
  /** FTP's global counter after the last step (the reference's `t`). */
  t: number;
}

/** FTP's learned radii and hyper-state. */
export async function ftpState(source: StateSource): Promise<FtpDiagnostics> {
  const tensors: FtpDiagnostics['tensors'] = {};
  let t = 1;
  for (const node of findNodes(source, 'ftp')) {
    const ftp = node.ftp as unknown as Record<string, unknown>;
    if (typeof node.t === 'number') t = node.t;
    const [gamma, gm, gv] = await Promise.all([scalars(ftp.gamma), scalars(ftp.gammaM), scalars(ftp.gammaV)]);
    for (const name of Object.keys(gamma))
      tensors[name] = { gamma: gamma[name]!, gammaM: gm[name]!, gammaV: gv[name]! };
  }
  return { tensors, t };
}

registerOptimizerFactory(FTP_FACTORY, (o) => {
  const inner = innerFromJson(o);
  const k = num(o, 'k');
  const exclude = selectorFromJson(o.exclude);
  return ftp({
    ...commonFromJson(o),
    ...adamMomentsFromJson(o),
    ...sgdMomentumFromJson(o),
    inner,
    ...(k === undefined ? {} : { k }),
    ...(exclude === undefined ? {} : { exclude }),
    ...layoutFromJson(o),
    learningRate: learningRateFromJson(o.learningRate, innerLearningRate(inner, FTP_DEFAULTS)),
  });
});
