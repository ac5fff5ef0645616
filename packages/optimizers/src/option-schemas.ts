import type { AdamMomentsOptions as AdamMomentOptions, JsonObject, LearningRate } from '@robust-ft/core';
import {
  type AnyTransformation,
  isSchedule,
  type RobustOptimizer,
  registerOptimizerFactory,
} from '@robust-ft/core';
import {
  anchorOptionProblem,
  checkOptions,
  type OptionSchema,
  type OptionSpec,
  selectorSpec,
} from '@robust-ft/core/internal';
import type { AdamWOptions } from './adamw';
import type { DigrapOptions } from './digrap';
import type { FtpOptions } from './ftp';
import type { L2spOptions } from './l2sp';
import { layoutFromJson } from './layout';
import type { CommonOptions } from './options';
import { commonFromJson, learningRateFromJson, selectorFromJson } from './options';
import type { SgdMomentumOptions, SgdOptions } from './sgd';
import type { SpdOptions } from './spd';
import type { TpgmOptions } from './tpgm';

/** Option schemas (core's `checkOptions`): every factory rejects unknown keys and wrong types. */
const COMMON_OPTIONS: OptionSchema<CommonOptions> = {
  learningRate: (v) =>
    isSchedule(v) || (typeof v === 'number' && v >= 0 && Number.isFinite(v))
      ? undefined
      : 'a finite number >= 0 or a schedule',
  anchor: anchorOptionProblem,
  nonFinite: ['error', 'skip', 'guard', 'off'],
};

const ADAM_MOMENT_OPTIONS: OptionSchema<AdamMomentOptions> = {
  beta1: 'number',
  beta2: 'number',
  epsilon: 'number',
};

const SGD_MOMENT_OPTIONS: OptionSchema<SgdMomentumOptions> = {
  momentum: 'number',
  nesterov: 'boolean',
  weightDecay: 'number',
};

/** An `inner` option: one of the named optimizers or a gradient transformation. */
function innerSpec(...names: string[]): OptionSpec {
  return (v) =>
    (typeof v === 'string' && names.includes(v)) ||
    (typeof v === 'object' && v !== null && typeof (v as AnyTransformation).update === 'function')
      ? undefined
      : `${names.map((n) => `'${n}'`).join(', ')} or a gradient transformation`;
}

/** `layout` of ftp, tpgm and digrap: the type check here; `layout.ts` (checkLayout) owns its meaning. */
const LAYOUT_OPTION: Readonly<Record<'layout', OptionSpec>> = {
  layout: (v) =>
    v === 'tfjs' || v === 'torch' || typeof v === 'function' ? undefined : "'tfjs', 'torch' or a function",
};

/** The schema without the keys that do not apply to the chosen inner optimizer (named in the error). */
function withoutKeys(
  schema: Readonly<Record<string, OptionSpec>>,
  keys: readonly string[],
): Record<string, OptionSpec> {
  const out: Record<string, OptionSpec> = { ...schema };
  for (const k of keys) delete out[k];
  return out;
}

/** Hints for keys that only one inner optimizer takes. */
function innerHints(keys: readonly string[], inner: string): Record<string, string> {
  return Object.fromEntries(keys.map((k) => [k, `\`${k}\` applies only with inner: '${inner}'`]));
}

const ADAM_ONLY = ['beta1', 'beta2', 'epsilon'] as const;
const SGD_ONLY = ['momentum', 'nesterov'] as const;

/**
 * Every factory's schema, typed against its options interface: a declared option missing here does not
 * compile, so the known keys cannot drift from the API.
 */
export const OPTION_SCHEMAS = {
  adamw: {
    ...COMMON_OPTIONS,
    ...ADAM_MOMENT_OPTIONS,
    weightDecay: 'number',
  } satisfies OptionSchema<AdamWOptions>,
  sgd: { ...COMMON_OPTIONS, ...SGD_MOMENT_OPTIONS } satisfies OptionSchema<SgdOptions>,
  l2sp: {
    ...COMMON_OPTIONS,
    ...ADAM_MOMENT_OPTIONS,
    alpha: 'number',
    exclude: selectorSpec,
  } satisfies OptionSchema<L2spOptions>,
  spd: {
    ...COMMON_OPTIONS,
    ...ADAM_MOMENT_OPTIONS,
    ...SGD_MOMENT_OPTIONS,
    weightDecay: 'number',
    exclude: selectorSpec,
    inner: innerSpec('adam', 'sgd'),
  } satisfies OptionSchema<SpdOptions>,
  ftp: {
    ...COMMON_OPTIONS,
    ...ADAM_MOMENT_OPTIONS,
    ...SGD_MOMENT_OPTIONS,
    ...LAYOUT_OPTION,
    k: 'number',
    exclude: selectorSpec,
    inner: innerSpec('adam', 'sgd'),
  } satisfies OptionSchema<FtpOptions>,
  tpgm: {
    ...COMMON_OPTIONS,
    ...ADAM_MOMENT_OPTIONS,
    ...SGD_MOMENT_OPTIONS,
    ...LAYOUT_OPTION,
    normMode: ['mars', 'l2'],
    projLr: 'number',
    maxIters: 'number',
    projFreq: 'number',
    exclude: selectorSpec,
    validationLoss: 'function',
    inner: innerSpec('sgd', 'adam'),
  } satisfies OptionSchema<TpgmOptions>,
  digrap: {
    ...COMMON_OPTIONS,
    ...ADAM_MOMENT_OPTIONS,
    ...SGD_MOMENT_OPTIONS,
    ...LAYOUT_OPTION,
    inner: innerSpec('adam', 'sgd'),
    weightDecay: 'number',
    trainableStrength: 'boolean',
    strength: 'number',
    projTerm: ['both', 'grad', 'reg'],
    exclude: selectorSpec,
  } satisfies OptionSchema<DigrapOptions>,
} as const;

export type OptimizerName = keyof typeof OPTION_SCHEMAS;

/**
 * Strict options of a factory: unknown keys (with the closest known one), wrong types and enum values
 * are `INVALID_ARGUMENT`. For ftp/tpgm/spd/digrap the keys of the other inner optimizer are refused with a hint
 * (`ftp({ momentum })` over Adam would otherwise be ignored).
 */
export function checkFactoryOptions(name: OptimizerName, options: unknown): void {
  let schema: Readonly<Record<string, OptionSpec>> = OPTION_SCHEMAS[name];
  let hints: Record<string, string> = {};
  if (name === 'ftp' || name === 'tpgm' || name === 'spd' || name === 'digrap') {
    const inner = (options as { inner?: unknown } | undefined)?.inner ?? (name === 'tpgm' ? 'sgd' : 'adam');
    // SPD's and DiGraP's `weightDecay` is their own strength λ, not the inner optimizer's decay.
    const innerKeys =
      name === 'spd' || name === 'digrap'
        ? [...ADAM_ONLY, ...SGD_ONLY]
        : [...ADAM_ONLY, ...SGD_ONLY, 'weightDecay'];
    if (inner === 'adam') {
      schema = withoutKeys(schema, SGD_ONLY);
      hints = innerHints(SGD_ONLY, 'sgd');
    } else if (inner === 'sgd') {
      schema = withoutKeys(schema, ADAM_ONLY);
      hints = innerHints(ADAM_ONLY, 'adam');
    } else if (typeof inner === 'object') {
      // A custom inner transformation takes its own options; these would be ignored.
      schema = withoutKeys(schema, innerKeys);
      hints = Object.fromEntries(
        innerKeys.map((k) => [k, `\`${k}\` does not apply to a custom inner transformation`]),
      );
    }
  }
  checkOptions(name, options, schema, { hints });
}

/** What a factory record can hold: options without functions and transformations. */
type RecordedOptions = Record<string, unknown> & { inner?: 'adam' | 'sgd'; learningRate?: LearningRate };

/**
 * A factory record (the JSON a `getConfig` wrote) back to options, driven by the factory's schema:
 * every schema key present is read (the selector, layout, learning rate and anchor through their JSON
 * forms; the rest as recorded, type-checked again by the factory). `learningRate` falls back to
 * `fallbackLr(inner)` when absent.
 */
export function optionsFromJson(
  name: OptimizerName,
  o: JsonObject,
  fallbackLr: (inner: 'adam' | 'sgd' | undefined) => number,
): RecordedOptions {
  const out: RecordedOptions = { ...commonFromJson(o), ...layoutFromJson(o) };
  for (const key of Object.keys(OPTION_SCHEMAS[name])) {
    const v = o[key];
    if (v === undefined || v === null || key in out) continue;
    if (key === 'exclude') out.exclude = selectorFromJson(v);
    else if (key === 'inner') out.inner = v === 'sgd' ? 'sgd' : 'adam';
    else if (key !== 'learningRate') out[key] = v;
  }
  out.learningRate = learningRateFromJson(o.learningRate, fallbackLr(out.inner));
  return out;
}

/** Registers a factory that rebuilds its optimizer from a record (`optionsFromJson`). */
export function registerFactory<O>(
  factory: string,
  name: OptimizerName,
  build: (options: O) => RobustOptimizer,
  fallbackLr: (inner: 'adam' | 'sgd' | undefined) => number,
): void {
  registerOptimizerFactory(factory, (o) => build(optionsFromJson(name, o, fallbackLr) as O));
}
