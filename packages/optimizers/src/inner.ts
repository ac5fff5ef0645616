import type { AnyTransformation, JsonObject } from '@robust-ft/core';
import { invalidArgument } from '@robust-ft/core/internal';
import { type AdamMomentsOptions, adamwTransformation } from './adamw';
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

/**
 * Validates `options.inner` (default `'adam'`) and builds it. `weightDecay` is the inner optimizer's own
 * decay toward zero (FTP's AdamW/SGD decay); SPD and DiGraP, whose `weightDecay` is their strength λ,
 * pass 0.
 */
export function resolveInner(options: InnerOptions, weightDecay: number): ResolvedInner {
  const inner = options.inner ?? 'adam';
  if (inner !== 'adam' && inner !== 'sgd' && typeof inner?.update !== 'function')
    throw invalidArgument('options.inner', "'adam', 'sgd' or a gradient transformation", inner);
  const { beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8 } = options;
  const adam = { beta1, beta2, epsilon };
  if (inner === 'adam') {
    const transformation = adamwTransformation({ ...adam, weightDecay });
    return { kind: 'adam', transformation, adam, json: { inner, ...adam, weightDecay } };
  }
  if (inner === 'sgd') {
    const { momentum = 0, nesterov = false } = options;
    const transformation = sgdTransformation({ momentum, nesterov, weightDecay });
    return { kind: 'sgd', transformation, adam, json: { inner, momentum, nesterov, weightDecay } };
  }
  return { kind: 'custom', transformation: inner, adam, json: undefined };
}

/** A wrapper's default learning rate for `options.inner`: SGD's, else Adam's (custom inners too). */
export function innerLearningRate(
  inner: InnerOption | undefined,
  defaults: { learningRateAdam: number; learningRateSgd: number },
): number {
  return inner === 'sgd' ? defaults.learningRateSgd : defaults.learningRateAdam;
}

/** A factory record's `inner` ('sgd' or the default 'adam'; custom inners are never recorded). */
export function innerFromJson(o: JsonObject): 'adam' | 'sgd' {
  return o.inner === 'sgd' ? 'sgd' : 'adam';
}
