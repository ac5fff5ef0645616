import type {
  AnyTransformation,
  GradientTransformation,
  NameSelector,
  RobustOptimizer,
  StateTree,
} from '@robust-ft/core';
import { assertInRange } from '@robust-ft/core/internal';
import type { Tensor } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import type { AdamMomentsOptions } from './adamw';
import { withFusedMethodOverAdam } from './fused';
import { FTP_EPS, FTP_GAMMA0, hyperAdamStep } from './hyper-adam';
import { type InnerOption, innerLearningRate, resolveWrapper } from './inner';
import type { StateSource } from './inspect';
import { type AxisMap, axisMap, checkLayout, type LayoutOption, rowL1, rowSpan } from './layout';
import { declareMethod, projectionTransformation, readDiagnostics } from './method';
import { registerFactory } from './option-schemas';
import { buildOptimizer, type CommonOptions, selectorToJson } from './options';
import type { SgdMomentumOptions } from './sgd';

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

interface FtpSettings {
  k: number;
  exclude: NameSelector | undefined;
  layout: LayoutOption;
}

/**
 * FTP's declaration: a projection of the inner optimizer's candidate onto per-row L1 balls of a
 * learned radius γ; its slots sit under `ftp`, its global counter `t` beside them.
 */
export const FTP_METHOD = declareMethod({
  label: 'ftp',
  kind: 'projection',
  settings(options: FtpTransformOptions): FtpSettings {
    const k = options.k ?? FTP_DEFAULTS.k;
    assertInRange('k', k, 0, 1);
    return { k, exclude: options.exclude, layout: checkLayout(options.layout) };
  },
  slots: {
    gamma: { shape: 'scalar', init: FTP_GAMMA0 },
    gammaM: { shape: 'scalar' },
    gammaV: { shape: 'scalar' },
    cPrev: { shape: 'param' },
    rPrev: { shape: 'row' },
  },
  group: 'ftp',
  counter: true,
  marker: 'gamma',
  axes: (settings, name, shape) => axisMap(settings.layout, name, shape),
  step(i, { k }) {
    const out = ftpTensorStep({ ...i, ...i.slots, k });
    const { param, ...slots } = out;
    return { value: param, slots };
  },
  fused: {
    kernel: 'ftp',
    inputs: ['cPrev', 'rPrev', 'gamma', 'gammaM', 'gammaV'],
    outputs: ['cPrev', 'rPrev', 'gamma', 'gammaM', 'gammaV'],
    attrs(s, batch) {
      // Rows must be one contiguous axis block (only a custom layout function gives others): else composed.
      const rowSpans: number[] = [];
      for (const n of batch.names) {
        const span = rowSpan(batch.axes[n]!);
        if (!span) return null;
        rowSpans.push(...span);
      }
      return { weightDecay: batch.weightDecay, k: s.k, t: batch.t, rowSpans };
    },
  },
});

/** FTP around any inner transformation that returns deltas. */
export function ftpTransformation(
  inner: AnyTransformation,
  options: FtpTransformOptions = {},
): GradientTransformation<FtpState> {
  return projectionTransformation(FTP_METHOD, inner, options) as GradientTransformation<FtpState>;
}

/** FTP as a `tf.Optimizer`: over Adam (default, the reference AdamP) or SGD (SGDP), or a given transformation. */
export function ftp(options: FtpOptions = {}): RobustOptimizer {
  // Read before resolveWrapper checks `options`: null-safe, so ftp(null) is its typed error too.
  const weightDecay = options?.weightDecay ?? FTP_DEFAULTS.weightDecay;
  const { inner, learningRate } = resolveWrapper('ftp', options, weightDecay, FTP_DEFAULTS);
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
  const method = { k, layout, ...exclusion };
  const composed = ftpTransformation(inner.transformation, method);
  const transformation = withFusedMethodOverAdam(FTP_METHOD, composed, method, inner, weightDecay);
  return buildOptimizer(FTP_FACTORY, transformation, options, learningRate, json);
}

export interface FtpDiagnostics {
  /** Per projected tensor: γ (the radius used in the last projection) and its hyper-Adam moments. */
  tensors: Record<string, { gamma: number; gammaM: number; gammaV: number }>;
  /** FTP's global counter after the last step (the reference's `t`). */
  t: number;
}

/** FTP's learned radii and hyper-state. */
export function ftpDiagnostics(source: StateSource): Promise<FtpDiagnostics> {
  return readDiagnostics(FTP_METHOD, source, ['gamma', 'gammaM', 'gammaV']);
}

/** @deprecated Use `ftpDiagnostics` (the same reader; it returns `FtpDiagnostics`). */
export const ftpState = ftpDiagnostics;

registerFactory(FTP_FACTORY, 'ftp', ftp, (inner) => innerLearningRate(inner, FTP_DEFAULTS));
