import type { AnyTransformation, JsonObject, LearningRate } from '@robust-ft/core';
import { type AdamMomentsOptions, adamwTransformation } from './adamw';
import { checkFactoryOptions } from './option-schemas';
import { type CommonOptions, checkLearningRate } from './options';
import { type SgdMomentumOptions, sgdTransformation } from './sgd';

/**
 * The optimizer a wrapper (FTP, SPD, DiGraP) runs inside: `'adam'` (AdamW's chain), `'sgd'` (torch SGD
 * with momentum/Nesterov) or any gradient transformation producing deltas (not serialisable).
 */
export type InnerOption = 'adam' | 'sgd' | AnyTransformation;

/** The options a wrapper forwards to its built-in inner optimizers. */
export interface InnerOptions extends AdamMomentsOptions, Omit<SgdMomentumOptions, 'weightDecay'> {
  inner?: InnerOption;
}

export interface ResolvedInner {
  kind: 'adam' | 'sgd' | 'custom';
  transformation: AnyTransformation;
  /** Adam's settings (what the fused kernels of the Adam path need); defaults filled in. */
  adam: { beta1: number; beta2: number; epsilon: number };
  /** The inner's factory options, or `undefined` for a custom transformation (not serialisable). */
  json: JsonObject | undefined;
}

/** A wrapper's defaults for its inner optimizer: which one, and SGD's momentum settings. */
export interface InnerDefaults {
  inner: 'adam' | 'sgd';
  momentum: number;
  nesterov: boolean;
}

/** FTP's, SPD's and DiGraP's: Adam (the references' AdamP / AdamSPD / PCGrad), plain SGD otherwise. */
const ADAM_FIRST: InnerDefaults = { inner: 'adam', momentum: 0, nesterov: false };

/**
 * Builds `options.inner` (default `defaults.inner`; the factory's option schema has checked it).
 * `weightDecay` is the inner optimizer's own decay toward zero (FTP's and TPGM's AdamW/SGD decay); SPD and DiGraP, whose
 * `weightDecay` is their strength λ, pass 0.
 */
export function resolveInner(
  options: InnerOptions,
  weightDecay: number,
  defaults: InnerDefaults = ADAM_FIRST,
): ResolvedInner {
  // `options.inner` was checked by the factory's option schema (innerSpec): 'adam', 'sgd' or a transformation.
  const inner = options.inner ?? defaults.inner;
  const { beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8 } = options;
  const adam = { beta1, beta2, epsilon };
  if (inner === 'adam') {
    const transformation = adamwTransformation({ ...adam, weightDecay });
    return { kind: 'adam', transformation, adam, json: { inner, ...adam, weightDecay } };
  }
  if (inner === 'sgd') {
    const { momentum = defaults.momentum, nesterov = defaults.nesterov } = options;
    const transformation = sgdTransformation({ momentum, nesterov, weightDecay });
    return { kind: 'sgd', transformation, adam, json: { inner, momentum, nesterov, weightDecay } };
  }
  return { kind: 'custom', transformation: inner, adam, json: undefined };
}

/** A wrapper's default learning rates: over SGD, and over Adam (custom inners too). */
export type InnerLearningRates = { learningRateSgd: number } & (
  | { learningRateAdam: number }
  | { learningRate: number }
);

/** A wrapper's default learning rate for `options.inner`: SGD's, else Adam's (custom inners too). */
export function innerLearningRate(inner: InnerOption | undefined, defaults: InnerLearningRates): number {
  if (inner === 'sgd') return defaults.learningRateSgd;
  return 'learningRateAdam' in defaults ? defaults.learningRateAdam : defaults.learningRate;
}

/**
 * What every wrapper factory (FTP, SPD, DiGraP) starts with: its options checked against its schema,
 * its inner optimizer built (`weightDecay`: see `resolveInner`) and its learning rate checked, with the
 * default of the chosen inner.
 */
export function resolveWrapper(
  name: 'ftp' | 'spd' | 'digrap',
  options: InnerOptions & CommonOptions,
  weightDecay: number,
  defaults: InnerLearningRates,
): { inner: ResolvedInner; learningRate: LearningRate } {
  checkFactoryOptions(name, options);
  return {
    inner: resolveInner(options, weightDecay),
    learningRate: checkLearningRate(options.learningRate, innerLearningRate(options.inner, defaults)),
  };
}
