import { describe, expect, it } from 'vitest';
import {
  constantSchedule,
  cosineDecaySchedule,
  isSchedule,
  learningRateAt,
  linearSchedule,
  RobustFtError,
  scheduleFromSpec,
  warmupCosineSchedule,
} from '../src/index';

/** Every schedule's value at a few counts, its clamp past the end, its defaults and its spec (issue #20). */
describe('schedule values', () => {
  it('constantSchedule returns its value at every count', () => {
    const c = constantSchedule(0.3);
    expect([0, 1, 1000].map(c)).toEqual([0.3, 0.3, 0.3]);
    expect(c.spec).toEqual({ kind: 'constant', value: 0.3 });
    expect(() => constantSchedule(-0.1)).toThrowError(expect.objectContaining({ argument: 'value' }));
  });

  it('cosineDecaySchedule follows init·((1−α)·½(1+cos πt/T) + α), then stays at α·init', () => {
    const c = cosineDecaySchedule(2, 8, 0.25);
    for (const count of [0, 1, 3, 4, 7, 8]) {
      const expected = 2 * (0.75 * 0.5 * (1 + Math.cos((Math.PI * count) / 8)) + 0.25);
      expect(c(count)).toBeCloseTo(expected, 12);
    }
    expect(c(4)).toBeCloseTo(1.25, 12);
    // Past decaySteps it is flat at α·init (the clamp), never rising again along the cosine.
    expect(c(9)).toBeCloseTo(0.5, 12);
    expect(c(16)).toBeCloseTo(0.5, 12);
    expect(c(1000)).toBeCloseTo(0.5, 12);
    // alpha defaults to 0: decays to exactly 0 and stays there.
    const zero = cosineDecaySchedule(1, 4);
    expect(zero.spec).toEqual({ kind: 'cosine', init: 1, decaySteps: 4, alpha: 0 });
    expect(zero(4)).toBeCloseTo(0, 12);
    expect(zero(6)).toBeCloseTo(0, 12);
    expect(zero(2)).toBeCloseTo(0.5, 12);
  });

  it('warmupCosineSchedule warms up linearly from init, decays to end by decaySteps, then stays at end', () => {
    const w = warmupCosineSchedule({ init: 0.1, peak: 1.1, warmupSteps: 4, decaySteps: 12, end: 0.3 });
    expect(w(0)).toBeCloseTo(0.1, 12);
    expect(w(1)).toBeCloseTo(0.35, 12);
    expect(w(3)).toBeCloseTo(0.85, 12);
    expect(w(4)).toBeCloseTo(1.1, 12);
    for (const count of [5, 8, 11]) {
      const t = (count - 4) / 8;
      expect(w(count)).toBeCloseTo(0.3 + 0.8 * 0.5 * (1 + Math.cos(Math.PI * t)), 12);
    }
    expect(w(8)).toBeCloseTo(0.7, 12);
    expect(w(12)).toBeCloseTo(0.3, 12);
    expect(w(13)).toBeCloseTo(0.3, 12);
    expect(w(100)).toBeCloseTo(0.3, 12);
    // init and end default to 0.
    const d = warmupCosineSchedule({ peak: 2, warmupSteps: 2, decaySteps: 6 });
    expect(d.spec).toEqual({ kind: 'warmupCosine', init: 0, peak: 2, warmupSteps: 2, decaySteps: 6, end: 0 });
    expect(d(0)).toBe(0);
    expect(d(1)).toBeCloseTo(1, 12);
    expect(d(6)).toBeCloseTo(0, 12);
    expect(d(7)).toBeCloseTo(0, 12);
    // No warm-up: the first step is at the peak.
    const noWarmup = warmupCosineSchedule({ peak: 1, warmupSteps: 0, decaySteps: 2 });
    expect(noWarmup(0)).toBeCloseTo(1, 12);
    expect(noWarmup(1)).toBeCloseTo(0.5, 12);
  });

  it('linearSchedule interpolates init → end over transitionSteps and is clamped at end afterwards', () => {
    const l = linearSchedule(1, 0.2, 4);
    expect(l(0)).toBe(1);
    expect(l(1)).toBeCloseTo(0.8, 12);
    expect(l(3)).toBeCloseTo(0.4, 12);
    expect(l(4)).toBeCloseTo(0.2, 12);
    // The clamp: without it the rate keeps falling, and goes negative from count 6 on.
    expect(l(5)).toBeCloseTo(0.2, 12);
    expect(l(6)).toBeCloseTo(0.2, 12);
    expect(l(100)).toBeCloseTo(0.2, 12);
    // Increasing schedules are clamped too.
    const up = linearSchedule(0, 1, 2);
    expect([0, 1, 2, 3, 10].map(up)).toEqual([0, 0.5, 1, 1, 1]);
  });

  it('scheduleFromSpec rebuilds every kind with the same values', () => {
    const schedules = [
      constantSchedule(0.5),
      cosineDecaySchedule(1, 10, 0.1),
      warmupCosineSchedule({ init: 0.2, peak: 1, warmupSteps: 3, decaySteps: 9, end: 0.05 }),
      linearSchedule(0.5, 0.1, 5),
    ];
    for (const s of schedules) {
      const back = scheduleFromSpec(JSON.parse(JSON.stringify(s.spec)));
      expect(back.spec).toEqual(s.spec);
      for (const count of [0, 1, 2, 3, 4, 5, 6, 9, 12]) expect(back(count)).toBe(s(count));
    }
  });

  it('validates every argument, naming it', () => {
    const cases: Array<[() => unknown, string]> = [
      [() => cosineDecaySchedule(-1, 10), 'init'],
      [() => cosineDecaySchedule(1, 0), 'decaySteps'],
      [() => cosineDecaySchedule(1, 2.5), 'decaySteps'],
      [() => cosineDecaySchedule(1, 10, -0.1), 'alpha'],
      [() => warmupCosineSchedule({ init: -1, peak: 1, warmupSteps: 1, decaySteps: 3 }), 'init'],
      [() => warmupCosineSchedule({ peak: -1, warmupSteps: 1, decaySteps: 3 }), 'peak'],
      [() => warmupCosineSchedule({ peak: 1, warmupSteps: 1, decaySteps: 3, end: -1 }), 'end'],
      [() => warmupCosineSchedule({ peak: 1, warmupSteps: -1, decaySteps: 3 }), 'warmupSteps'],
      // decaySteps counts the warm-up: it must exceed warmupSteps.
      [() => warmupCosineSchedule({ peak: 1, warmupSteps: 3, decaySteps: 3 }), 'decaySteps'],
      [() => linearSchedule(-1, 0, 3), 'init'],
      [() => linearSchedule(1, -1, 3), 'end'],
      [() => linearSchedule(1, 0, 0), 'transitionSteps'],
    ];
    for (const [fn, argument] of cases) {
      let error: unknown;
      try {
        fn();
      } catch (e) {
        error = e;
      }
      expect(RobustFtError.isInstance(error), argument).toBe(true);
      expect((error as RobustFtError).argument).toBe(argument);
    }
    // The smallest valid values are accepted.
    expect(warmupCosineSchedule({ peak: 1, warmupSteps: 3, decaySteps: 4 })(4)).toBeCloseTo(0, 12);
    expect(linearSchedule(0, 0, 1)(0)).toBe(0);
    expect(cosineDecaySchedule(0, 1, 0)(0)).toBe(0);
  });

  it('isSchedule and learningRateAt tell schedules from numbers', () => {
    const l = linearSchedule(1, 0, 2);
    expect(isSchedule(l)).toBe(true);
    expect(isSchedule(0.1)).toBe(false);
    expect(isSchedule((n: number) => n)).toBe(false);
    expect(isSchedule({ spec: { kind: 'constant', value: 1 } })).toBe(false);
    expect(learningRateAt(0.25, 7)).toBe(0.25);
    expect(learningRateAt(l, 1)).toBe(0.5);
  });
});
