import { describe, expect, it } from 'vitest';
import { checkOptions, closestKey, levenshtein, type OptionSpec, selectorSpec } from '../src/check-options';

describe('checkOptions', () => {
  const schema = { learningRate: 'number', exclude: 'string', mode: ['a', 'b'] } as const;

  it('accepts known keys, undefined values and no options', () => {
    expect(() => checkOptions('f', { learningRate: 1, exclude: undefined, mode: 'b' }, schema)).not.toThrow();
    expect(() => checkOptions('f', undefined, schema)).not.toThrow();
  });

  it('names an unknown key and its closest known one, or lists the known keys', () => {
    expect(() => checkOptions('f', { lerningRate: 1 }, schema)).toThrowError(
      expect.objectContaining({
        code: 'INVALID_ARGUMENT',
        argument: 'options.lerningRate',
        message: expect.stringContaining('did you mean `learningRate`?'),
      }),
    );
    expect(() => checkOptions('f', { zzz: 1 }, schema)).toThrowError(
      /known options: `learningRate`, `exclude`, `mode`/,
    );
    expect(() => checkOptions('f', { zzz: 1 }, schema, { hints: { zzz: 'not here' } })).toThrowError(
      /\(not here\)/,
    );
  });

  it('types values: numbers (not NaN), strings, enums; options must be an object', () => {
    expect(() => checkOptions('f', { learningRate: Number.NaN }, schema)).toThrowError(
      /options.learningRate must be a number/,
    );
    expect(() => checkOptions('f', { mode: 'c' }, schema)).toThrowError(/one of "a", "b"/);
    expect(() => checkOptions('f', [], schema)).toThrowError(/f options must be an options object/);
    expect(() => checkOptions('f', { constructor: 1 }, schema)).toThrowError(/unknown option `constructor`/);
  });

  it('suggests by case/underscore, aliases and edit distance up to a third of the key', () => {
    expect(closestKey('weight_decay', ['weightDecay', 'beta1'])).toBe('weightDecay');
    expect(closestKey('lr', ['learningRate'])).toBe('learningRate');
    expect(closestKey('lambda', ['weightDecay'])).toBe('weightDecay');
    expect(closestKey('epsilom', ['epsilon'])).toBe('epsilon');
    expect(closestKey('momentum', ['epsilon', 'beta1'])).toBeUndefined();
    expect(levenshtein('kitten', 'sitting')).toBe(3);
    expect(levenshtein('', 'abc')).toBe(3);
  });
});

/** Every branch of the strict-options check, value by value (issue #20). */
describe('checkOptions: the error contract', () => {
  const schema = { learningRate: 'number', exclude: 'string', mode: ['a', 'b'] } as const;
  const errorOf = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      return e as { code: string; argument: string; expected: string; message: string };
    }
    throw new Error('expected an error');
  };

  it('an unknown key: with a suggestion, with a hint, or listing the known keys', () => {
    const near = errorOf(() => checkOptions('f', { lerningRate: 1 }, schema));
    expect([near.code, near.argument, near.expected, near.message]).toEqual([
      'INVALID_ARGUMENT',
      'options.lerningRate',
      '`learningRate`',
      'f: unknown option `lerningRate`; did you mean `learningRate`?',
    ]);
    const none = errorOf(() => checkOptions('f', { zzz: 1 }, schema));
    expect([none.expected, none.message]).toEqual([
      'one of learningRate, exclude, mode',
      'f: unknown option `zzz`; known options: `learningRate`, `exclude`, `mode`',
    ]);
    // A hint replaces the suggestion, even where one exists.
    const hinted = errorOf(() =>
      checkOptions('f', { lerningRate: 1 }, schema, { hints: { lerningRate: 'elsewhere' } }),
    );
    expect([hinted.expected, hinted.message]).toEqual([
      'one of learningRate, exclude, mode',
      'f: unknown option `lerningRate` (elsewhere)',
    ]);
    expect(errorOf(() => checkOptions('f', { zzz: 1 }, schema, { prefix: 'config' })).argument).toBe(
      'config.zzz',
    );
  });

  it('a wrong type names owner, prefix, key, the expected type and the value', () => {
    const e = errorOf(() => checkOptions('f', { learningRate: 'x' }, schema, { prefix: 'config' }));
    expect([e.code, e.argument, e.expected, e.message]).toEqual([
      'INVALID_ARGUMENT',
      'config.learningRate',
      'a number',
      'f: config.learningRate must be a number (received "x")',
    ]);
    for (const bad of [null, 3, 'x']) {
      const o = errorOf(() => checkOptions('g', bad, schema));
      expect([o.argument, o.expected]).toEqual(['g options', 'an options object']);
    }
  });

  it('each spec accepts its type and names it otherwise', () => {
    const cases: [OptionSpec, unknown[], unknown[], string][] = [
      ['number', [0, -1.5, Number.POSITIVE_INFINITY], ['1', Number.NaN, null], 'a number'],
      ['integer', [0, -3, 7], [1.5, '1', Number.NaN], 'an integer'],
      ['boolean', [true, false], [0, 'true', null], 'a boolean'],
      ['string', ['', 'a'], [1, null, ['a']], 'a string'],
      ['function', [() => 1, Math.max], [1, {}, 'f'], 'a function'],
      ['object', [{}, [], new Map()], [null, 1, 'o'], 'an object'],
      [['x', 'y'], ['x', 'y'], ['z', 1, ['x']], 'one of "x", "y"'],
      [(v) => (v === 7 ? undefined : 'seven'), [7], [8], 'seven'],
    ];
    for (const [spec, good, bad, expected] of cases) {
      for (const v of good) expect(() => checkOptions('f', { k: v }, { k: spec }), String(v)).not.toThrow();
      for (const v of bad)
        expect(errorOf(() => checkOptions('f', { k: v }, { k: spec })).expected).toBe(expected);
    }
    for (const v of [1, null, 'x', {}]) expect(() => checkOptions('f', { k: v }, { k: 'any' })).not.toThrow();
  });
});

describe('closestKey and levenshtein', () => {
  it('every alias finds its target, in order of preference, only among the known keys', () => {
    const aliases: [string, string[], string][] = [
      ['lr', ['learningRate'], 'learningRate'],
      ['eta', ['learningRate'], 'learningRate'],
      ['wd', ['weightDecay'], 'weightDecay'],
      ['lambda', ['alpha', 'weightDecay'], 'weightDecay'],
      ['lambda', ['alpha'], 'alpha'],
      ['lam', ['alpha', 'weightDecay'], 'weightDecay'],
      ['lam', ['alpha'], 'alpha'],
      ['eps', ['epsilon'], 'epsilon'],
      ['b1', ['beta1'], 'beta1'],
      ['b2', ['beta1', 'beta2'], 'beta2'],
      ['temp', ['temperature'], 'temperature'],
    ];
    for (const [key, known, want] of aliases) expect(closestKey(key, known), key).toBe(want);
    expect(closestKey('lr', ['epsilon'])).toBeUndefined();
  });

  it('ignores case, underscores, dashes and spaces', () => {
    for (const key of ['Learning-Rate', 'learning rate', 'LEARNING_RATE']) {
      expect(closestKey(key, ['beta1', 'learningRate'])).toBe('learningRate');
    }
  });

  it('suggests within max(1, ⌊length/3⌋) edits; the first known key wins a tie', () => {
    expect(closestKey('mmentm', ['momentum'])).toBe('momentum'); // 2 edits, 6 letters
    expect(closestKey('mmntm', ['momentum'])).toBeUndefined(); // 3 edits, 5 letters
    expect(closestKey('bt', ['beta'])).toBeUndefined(); // 2 edits, 2 letters
    expect(closestKey('bet', ['beta'])).toBe('beta'); // 1 edit, 3 letters
    expect(closestKey('beta', ['beta1', 'beta2'])).toBe('beta1');
    expect(closestKey('beta', ['beta2', 'beta1'])).toBe('beta2');
  });

  it('levenshtein counts insertions, deletions and substitutions', () => {
    expect(levenshtein('abc', 'abc')).toBe(0);
    expect(levenshtein('abc', '')).toBe(3);
    expect(levenshtein('a', 'b')).toBe(1);
    expect(levenshtein('ab', 'ba')).toBe(2);
    expect(levenshtein('flaw', 'lawn')).toBe(2);
    expect(levenshtein('sitting', 'kitten')).toBe(3);
  });
});

describe('selectorSpec', () => {
  it('accepts a glob, a RegExp, a predicate and (nested) arrays of these', () => {
    for (const v of ['dense/*', /x/, () => true, ['a', /b/], [['a'], () => false], []]) {
      expect(selectorSpec(v), String(v)).toBeUndefined();
    }
    for (const v of [1, null, {}, ['a', 1], [[2]]]) {
      expect(selectorSpec(v), String(v)).toBe('a glob string, RegExp, predicate or an array of these');
    }
  });
});
