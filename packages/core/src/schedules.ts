import { assertInteger, assertNonNegative } from './validate';

/**
 * Learning-rate schedules: functions of the number of steps already taken (0 on the first step), as in
 * optax. Each carries a JSON `spec` so an optimizer using it can be serialised and restored.
 */
export type ScheduleSpec =
  | { kind: 'constant'; value: number }
  | { kind: 'cosine'; init: number; decaySteps: number; alpha: number }
  | { kind: 'warmupCosine'; init: number; peak: number; warmupSteps: number; decaySteps: number; end: number }
  | { kind: 'linear'; init: number; end: number; transitionSteps: number };

/** A learning-rate schedule: the rate after `count` steps, and the JSON `spec` it is rebuilt from. */
export interface Schedule {
  (count: number): number;
  readonly spec: ScheduleSpec;
}

/** A fixed learning rate or a schedule. */
export type LearningRate = number | Schedule;

function make(spec: ScheduleSpec, fn: (count: number) => number): Schedule {
  return Object.assign((count: number) => fn(count), { spec });
}

/** The same `value` at every step. */
export function constantSchedule(value: number): Schedule {
  assertNonNegative('value', value);
  return make({ kind: 'constant', value }, () => value);
}

/** Cosine decay from `init` to `alpha·init` over `decaySteps`, then flat. */
export function cosineDecaySchedule(init: number, decaySteps: number, alpha = 0): Schedule {
  assertNonNegative('init', init);
  assertInteger('decaySteps', decaySteps, 1);
  assertNonNegative('alpha', alpha);
  return make({ kind: 'cosine', init, decaySteps, alpha }, (count) => {
    const t = Math.min(count, decaySteps) / decaySteps;
    return init * ((1 - alpha) * 0.5 * (1 + Math.cos(Math.PI * t)) + alpha);
  });
}

/** Linear warm-up from `init` to `peak` over `warmupSteps`, then cosine decay to `end` by `decaySteps` (total). */
export function warmupCosineSchedule(options: {
  init?: number;
  peak: number;
  warmupSteps: number;
  decaySteps: number;
  end?: number;
}): Schedule {
  const { init = 0, peak, warmupSteps, decaySteps, end = 0 } = options;
  assertNonNegative('init', init);
  assertNonNegative('peak', peak);
  assertNonNegative('end', end);
  assertInteger('warmupSteps', warmupSteps, 0);
  assertInteger('decaySteps', decaySteps, warmupSteps + 1);
  return make({ kind: 'warmupCosine', init, peak, warmupSteps, decaySteps, end }, (count) => {
    if (count < warmupSteps) return init + ((peak - init) * count) / warmupSteps;
    const t = Math.min(count - warmupSteps, decaySteps - warmupSteps) / (decaySteps - warmupSteps);
    return end + (peak - end) * 0.5 * (1 + Math.cos(Math.PI * t));
  });
}

/** Linear interpolation from `init` to `end` over `transitionSteps`, then flat. */
export function linearSchedule(init: number, end: number, transitionSteps: number): Schedule {
  assertNonNegative('init', init);
  assertNonNegative('end', end);
  assertInteger('transitionSteps', transitionSteps, 1);
  return make({ kind: 'linear', init, end, transitionSteps }, (count) => {
    const t = Math.min(count, transitionSteps) / transitionSteps;
    return init + (end - init) * t;
  });
}

/** Rebuilds a schedule from its JSON `spec` (what a saved optimizer stores). */
export function scheduleFromSpec(spec: ScheduleSpec): Schedule {
  switch (spec.kind) {
    case 'constant':
      return constantSchedule(spec.value);
    case 'cosine':
      return cosineDecaySchedule(spec.init, spec.decaySteps, spec.alpha);
    case 'warmupCosine':
      return warmupCosineSchedule(spec);
    case 'linear':
      return linearSchedule(spec.init, spec.end, spec.transitionSteps);
  }
}

/** True for a schedule made by this module (a function with a `spec`). */
export function isSchedule(value: unknown): value is Schedule {
  return typeof value === 'function' && typeof (value as Partial<Schedule>).spec === 'object';
}

/** The learning rate after `count` steps: the number itself, or the schedule at `count`. */
export function learningRateAt(lr: LearningRate, count: number): number {
  return typeof lr === 'number' ? lr : lr(count);
}
