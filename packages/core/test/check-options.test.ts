import { describe, expect, it } from 'vitest';
import { checkOptions, closestKey, levenshtein } from '../src/check-options';

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
