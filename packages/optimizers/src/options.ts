import {
  type AnchorOption,
  Anchors,
  type AnyTransformation,
  isSchedule,
  type JsonObject,
  type JsonValue,
  type LearningRate,
  type NameSelector,
  type NonFinitePolicy,
  RobustFtError,
  RobustOptimizer,
  type ScheduleSpec,
  scheduleFromSpec,
} from '@robust-ft/core';
import { assertNonNegative, invalidArgument } from '@robust-ft/core/internal';

/** Options every factory of this package accepts. */
export interface CommonOptions {
  /** A constant or a core schedule; settable later through `optimizer.learningRate`. */
  learningRate?: LearningRate;
  /** `'initial'` (default: snapshot at first sight), `'zero'` (PEFT), shared `Anchors` or explicit tensors. */
  anchor?: AnchorOption;
  /** What the adapter does with NaN/Inf gradients (default `'error'`). */
  nonFinite?: NonFinitePolicy;
}

/**
 * Serialises a name selector for `getConfig`. Globs and RegExps survive; a predicate cannot, so an
 * optimizer built with one is not serialisable (`undefined` here disables the factory record).
 */
export function selectorToJson(selector: NameSelector | undefined): JsonValue | undefined {
  if (selector === undefined) return null;
  if (typeof selector === 'string') return selector;
  if (selector instanceof RegExp) return { regex: selector.source, flags: selector.flags };
  if (typeof selector === 'function') return undefined;
  const out: JsonValue[] = [];
  for (const s of selector) {
    const j = selectorToJson(s);
    if (j === undefined) return undefined;
    out.push(j);
  }
  return out;
}

export function selectorFromJson(value: JsonValue | undefined): NameSelector | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map((v) => selectorFromJson(v) ?? []) as NameSelector[];
  if (typeof value === 'object' && typeof value.regex === 'string')
    return new RegExp(value.regex, typeof value.flags === 'string' ? value.flags : '');
  throw invalidArgument('options.exclude', 'a glob, RegExp or array of these', value);
}

export function learningRateToJson(lr: LearningRate): JsonValue {
  return isSchedule(lr) ? (lr.spec as unknown as JsonObject) : lr;
}

export function learningRateFromJson(value: JsonValue | undefined, fallback: number): LearningRate {
  if (value === undefined || value === null) return fallback;
  if (typeof value === 'number') return value;
  if (typeof value === 'object' && !Array.isArray(value))
    return scheduleFromSpec(value as unknown as ScheduleSpec);
  throw invalidArgument('options.learningRate', 'a number or a schedule spec', value);
}

/** Only the mode of an anchor travels in the config; explicit anchors come back through `getWeights`. */
export function anchorToJson(anchor: AnchorOption | undefined): JsonValue {
  if (anchor === 'zero' || (anchor instanceof Anchors && anchor.mode === 'zero')) return 'zero';
  return 'initial';
}

export function anchorFromJson(value: JsonValue | undefined): AnchorOption {
  return value === 'zero' ? 'zero' : 'initial';
}

/** Validates a learning rate given as an option (negative or non-finite → typed error). */
export function checkLearningRate(lr: LearningRate | undefined, fallback: number): LearningRate {
  const value = lr ?? fallback;
  if (!isSchedule(value)) assertNonNegative('options.learningRate', value);
  return value;
}

/**
 * Wraps a transformation in the adapter and records how to rebuild it. `json` is `undefined` when some
 * option (a predicate selector, a custom inner transformation) cannot be serialised.
 */
export function buildOptimizer(
  name: string,
  transformation: AnyTransformation,
  common: CommonOptions,
  learningRate: LearningRate,
  json: JsonObject | undefined,
): RobustOptimizer {
  return new RobustOptimizer({
    transformation,
    learningRate,
    ...(common.anchor === undefined ? {} : { anchor: common.anchor }),
    ...(common.nonFinite === undefined ? {} : { nonFinite: common.nonFinite }),
    ...(json === undefined
      ? {}
      : {
          factory: {
            name,
            options: {
              ...json,
              learningRate: learningRateToJson(learningRate),
              anchor: anchorToJson(common.anchor),
              ...(common.nonFinite === undefined ? {} : { nonFinite: common.nonFinite }),
            },
          },
        }),
  });
}

export function commonFromJson(o: JsonObject): CommonOptions {
  const nonFinite = o.nonFinite;
  return {
    anchor: anchorFromJson(o.anchor),
    ...(typeof nonFinite === 'string' ? { nonFinite: nonFinite as NonFinitePolicy } : {}),
  };
}

export function num(o: JsonObject, key: string): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number') throw invalidArgument(`options.${key}`, 'a number', v);
  return v;
}

export function bool(o: JsonObject, key: string): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw invalidArgument(`options.${key}`, 'a boolean', v);
  return v;
}

export function unsupported(argument: string, message: string): RobustFtError {
  return new RobustFtError('UNSUPPORTED', message, { argument });
}
