import {
  Anchors,
  isSchedule,
  learningRateAt,
  linearSchedule,
  RobustFtError,
  RobustOptimizer,
  scheduleFromSpec,
} from '@robust-ft/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { digrap, ftp, spd } from '../src/index';
import {
  anchorFromJson,
  anchorToJson,
  checkLearningRate,
  commonFromJson,
  learningRateFromJson,
  learningRateToJson,
  selectorFromJson,
  selectorToJson,
  unsupported,
} from '../src/options';
import './setup-backend';
import { caught } from './typed-error';

/*
 * The JSON side of getConfig/fromConfig for the options every factory shares: selectors, learning rates,
 * anchors and the non-finite policy, one helper at a time and then through a factory's round trip.
 */

describe('selectors', () => {
  it('globs, RegExps (source and flags) and arrays of them serialise; no selector is null', () => {
    expect(selectorToJson(undefined)).toBeNull();
    expect(selectorToJson('head/*')).toBe('head/*');
    expect(selectorToJson(/bias$/gi)).toEqual({ regex: 'bias$', flags: 'gi' });
    expect(selectorToJson(['a/*', /b/, ['c']])).toEqual(['a/*', { regex: 'b', flags: '' }, ['c']]);
    expect(selectorToJson([])).toEqual([]);
  });

  it('a predicate, alone or inside an array, is not serialisable (undefined)', () => {
    expect(selectorToJson(() => true)).toBeUndefined();
    expect(selectorToJson(['a/*', () => true])).toBeUndefined();
    expect(selectorToJson([['a/*', () => false]])).toBeUndefined();
  });

  it('come back from JSON as the same selectors', () => {
    expect(selectorFromJson(null)).toBeUndefined();
    expect(selectorFromJson(undefined)).toBeUndefined();
    expect(selectorFromJson('x/*')).toBe('x/*');
    const re = selectorFromJson({ regex: 'bias$', flags: 'i' }) as RegExp;
    expect(re).toBeInstanceOf(RegExp);
    expect([re.source, re.flags]).toEqual(['bias$', 'i']);
    expect((selectorFromJson({ regex: 'w' }) as RegExp).flags).toBe('');
    expect((selectorFromJson({ regex: 'w', flags: 3 }) as RegExp).flags).toBe('');
    const list = selectorFromJson(['a', { regex: 'b', flags: 'g' }, null]) as unknown[];
    expect(list[0]).toBe('a');
    expect(String(list[1])).toBe('/b/g');
    expect(list[2]).toEqual([]);
  });

  it('anything else is an INVALID_ARGUMENT naming options.exclude', () => {
    for (const bad of [5, true, { regex: 1 }, { source: 'a' }]) {
      const e = caught(() => selectorFromJson(bad as never));
      expect([e.code, e.argument]).toEqual(['INVALID_ARGUMENT', 'options.exclude']);
      expect(e.message).toMatch(/^options\.exclude must be a glob, RegExp or array of these/);
    }
  });
});

describe('learning rates', () => {
  it('a number stays a number; a schedule travels as its spec', () => {
    expect(learningRateToJson(0.01)).toBe(0.01);
    const s = linearSchedule(0.1, 0, 10);
    expect(learningRateToJson(s)).toEqual(s.spec);
  });

  it('from JSON: absent → the fallback, a number, or a schedule rebuilt from its spec', () => {
    expect(learningRateFromJson(undefined, 3e-4)).toBe(3e-4);
    expect(learningRateFromJson(null, 0.5)).toBe(0.5);
    expect(learningRateFromJson(0.02, 0.5)).toBe(0.02);
    expect(learningRateFromJson(0, 0.5)).toBe(0);
    const spec = linearSchedule(0.1, 0, 10).spec;
    const lr = learningRateFromJson(spec as never, 1);
    expect(isSchedule(lr)).toBe(true);
    const want = scheduleFromSpec(spec);
    expect([0, 5, 20].map((t) => learningRateAt(lr, t))).toEqual(
      [0, 5, 20].map((t) => learningRateAt(want, t)),
    );
    expect(learningRateAt(lr, 5)).toBeCloseTo(0.05, 12);
    for (const bad of ['0.1', [0.1], true]) {
      const e = caught(() => learningRateFromJson(bad as never, 1));
      expect([e.argument, e.message]).toEqual([
        'options.learningRate',
        `options.learningRate must be a number or a schedule spec (received ${bad === '0.1' ? '"0.1"' : Array.isArray(bad) ? 'array of length 1' : 'true'})`,
      ]);
    }
  });

  it('checkLearningRate: the fallback when absent; negative or non-finite numbers refused; schedules pass', () => {
    expect(checkLearningRate(undefined, 1e-3)).toBe(1e-3);
    expect(checkLearningRate(0, 1e-3)).toBe(0);
    const s = linearSchedule(0.1, 0, 10);
    expect(checkLearningRate(s, 1e-3)).toBe(s);
    for (const bad of [-1e-3, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(caught(() => checkLearningRate(bad, 1e-3)).argument).toBe('options.learningRate');
    }
  });
});

describe('anchors and common options', () => {
  it("only the anchor's mode travels: 'zero' or 'initial'", () => {
    expect(anchorToJson('zero')).toBe('zero');
    expect(anchorToJson(Anchors.zero())).toBe('zero');
    expect(anchorToJson(undefined)).toBe('initial');
    expect(anchorToJson('initial')).toBe('initial');
    expect(anchorToJson(Anchors.initial())).toBe('initial');
    const t = tf.zeros([2]);
    expect(anchorToJson(Anchors.from({ w: t }))).toBe('initial');
    t.dispose();
    expect(anchorFromJson('zero')).toBe('zero');
    for (const v of ['initial', undefined, null, 'ZERO', 0])
      expect(anchorFromJson(v as never)).toBe('initial');
  });

  it('commonFromJson keeps a string non-finite policy and the anchor mode', () => {
    expect(commonFromJson({ anchor: 'zero', nonFinite: 'guard' })).toEqual({
      anchor: 'zero',
      nonFinite: 'guard',
    });
    expect(commonFromJson({})).toEqual({ anchor: 'initial' });
    expect(commonFromJson({ nonFinite: 3 })).toEqual({ anchor: 'initial' });
  });

  it('unsupported() is an UNSUPPORTED error naming its argument', () => {
    const e = unsupported('options.layout', 'a layout function cannot be serialised');
    expect(e).toBeInstanceOf(RobustFtError);
    expect([e.code, e.argument, e.message]).toEqual([
      'UNSUPPORTED',
      'options.layout',
      'a layout function cannot be serialised',
    ]);
  });
});

describe('factories round-trip their shared options through getConfig/fromConfig', () => {
  const options = (o: RobustOptimizer) =>
    JSON.parse(o.getConfig().options as string) as Record<string, unknown>;

  it('exclude, learning-rate schedule, zero anchor and non-finite policy survive', () => {
    for (const make of [ftp, spd, digrap] as ((o: object) => RobustOptimizer)[]) {
      const opt = make({
        exclude: ['**/head/*', /bias$/i],
        learningRate: linearSchedule(0.1, 0.01, 20),
        anchor: 'zero',
        nonFinite: 'skip',
      });
      const json = options(opt);
      expect(json.exclude).toEqual(['**/head/*', { regex: 'bias$', flags: 'i' }]);
      expect(json.learningRate).toEqual(linearSchedule(0.1, 0.01, 20).spec);
      expect(json.anchor).toBe('zero');
      expect(json.nonFinite).toBe('skip');
      // The options reach the adapter itself, not only its config record.
      expect([opt.anchors.mode, opt.nonFinite]).toEqual(['zero', 'skip']);
      const back = RobustOptimizer.fromConfig(RobustOptimizer, opt.getConfig()) as RobustOptimizer;
      expect(options(back)).toEqual(json);
      expect([back.anchors.mode, back.nonFinite]).toEqual(['zero', 'skip']);
      opt.dispose();
      back.dispose();
    }
  });

  it('defaults: no exclude (null), the initial anchor, no non-finite key', () => {
    const opt = ftp({ learningRate: 0.003 });
    const json = options(opt);
    expect(json.exclude).toBeNull();
    expect(json.anchor).toBe('initial');
    expect(json.learningRate).toBe(0.003);
    expect('nonFinite' in json).toBe(false);
    const back = RobustOptimizer.fromConfig(RobustOptimizer, opt.getConfig()) as RobustOptimizer;
    expect(options(back)).toEqual(json);
    opt.dispose();
    back.dispose();
  });

  it('a predicate exclude makes the optimizer not serialisable', () => {
    const opt = spd({ exclude: (name: string) => name.endsWith('bias') });
    const e = caught(() => opt.getConfig());
    expect(e.argument).toBe('options.factory');
    opt.dispose();
  });
});
