import { RobustFtError } from '@robust-ft/core';
import { describe, expect, it } from 'vitest';
import { adamw, digrap, ftp, l2sp, sgd, spd, tpgm } from '../src/index';
import { OPTION_SCHEMAS } from '../src/option-schemas';
import './setup-backend';

function errorOf(fn: () => unknown): RobustFtError {
  try {
    const o = fn() as { dispose?: () => void };
    o?.dispose?.();
  } catch (e) {
    if (RobustFtError.isInstance(e)) return e;
    throw e;
  }
  throw new Error('expected a RobustFtError');
}

// The misspellings of issue 14, each silently ignored before: [call, argument, text the message holds].
const MISSPELLED: [string, () => unknown, string, string][] = [
  ['ftp({ lr })', () => ftp({ lr: 0.1 } as never), 'options.lr', 'did you mean `learningRate`?'],
  [
    'ftp({ learningrate })',
    () => ftp({ learningrate: 0.1 } as never),
    'options.learningrate',
    '`learningRate`',
  ],
  ['spd({ lambda })', () => spd({ lambda: 1 } as never), 'options.lambda', '`weightDecay`'],
  [
    'adamw({ weight_decay })',
    () => adamw({ weight_decay: 0.1 } as never),
    'options.weight_decay',
    '`weightDecay`',
  ],
  ['ftp({ excludes })', () => ftp({ excludes: 'head/*' } as never), 'options.excludes', '`exclude`'],
  ['digrap({ projterm })', () => digrap({ projterm: 'grad' } as never), 'options.projterm', '`projTerm`'],
  ['ftp({ momentum }) over Adam', () => ftp({ momentum: 0.9 }), 'options.momentum', "inner: 'sgd'"],
  ['spd({ momentum }) over Adam', () => spd({ momentum: 0.9 }), 'options.momentum', "inner: 'sgd'"],
  [
    'digrap({ beta1 }) over SGD',
    () => digrap({ inner: 'sgd', beta1: 0.8 }),
    'options.beta1',
    "inner: 'adam'",
  ],
  ['tpgm({ beta1 }) over SGD', () => tpgm({ beta1: 0.9 }), 'options.beta1', "inner: 'adam'"],
  ['sgd({ nesterow })', () => sgd({ nesterow: true } as never), 'options.nesterow', '`nesterov`'],
  ['l2sp({ alhpa })', () => l2sp({ alhpa: 1 } as never), 'options.alhpa', '`alpha`'],
  ['tpgm({ projfreq })', () => tpgm({ projfreq: 2 } as never), 'options.projfreq', '`projFreq`'],
];

// Wrong types and enum values: [call, argument].
const WRONG_VALUES: [string, () => unknown, string][] = [
  ["ftp({ anchor: 'pretrained' })", () => ftp({ anchor: 'pretrained' as never }), 'options.anchor'],
  ['ftp({ exclude: 42 })', () => ftp({ exclude: 42 as never }), 'options.exclude'],
  ["ftp({ nonFinite: 'ignore' })", () => ftp({ nonFinite: 'ignore' as never }), 'options.nonFinite'],
  ["adamw({ beta1: '0.9' })", () => adamw({ beta1: '0.9' as never }), 'options.beta1'],
  ["sgd({ nesterov: 'yes' })", () => sgd({ nesterov: 'yes' as never }), 'options.nesterov'],
  ["digrap({ projTerm: 'all' })", () => digrap({ projTerm: 'all' as never }), 'options.projTerm'],
  ["tpgm({ normMode: 'l1' })", () => tpgm({ normMode: 'l1' as never }), 'options.normMode'],
  ['tpgm({ validationLoss: 1 })', () => tpgm({ validationLoss: 1 as never }), 'options.validationLoss'],
  ["ftp({ layout: 'keras' })", () => ftp({ layout: 'keras' } as never), 'options.layout'],
  ['ftp({ learningRate: NaN })', () => ftp({ learningRate: Number.NaN }), 'options.learningRate'],
  ["spd('fast')", () => spd('fast' as never), 'spd options'],
];

describe('strict options', () => {
  it.each(MISSPELLED)(
    '%s is INVALID_ARGUMENT naming the key and the closest known one',
    (_, call, argument, hint) => {
      const e = errorOf(call);
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.argument).toBe(argument);
      expect(e.message).toContain(hint);
    },
  );

  it.each(WRONG_VALUES)('%s is INVALID_ARGUMENT naming the option', (_, call, argument) => {
    const e = errorOf(call);
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.argument ?? '').toContain(argument);
  });

  it('layout is a known key of ftp, tpgm and digrap (tfjs, torch or a function), of no other factory', () => {
    for (const f of [ftp, tpgm, digrap]) {
      for (const layout of ['tfjs', 'torch', () => 'torch'])
        (f({ layout } as never) as { dispose(): void }).dispose();
    }
    for (const f of [adamw, sgd, l2sp, spd])
      expect(errorOf(() => f({ layout: 'torch' } as never)).code).toBe('INVALID_ARGUMENT');
  });

  it('every declared option of every factory is accepted (the schemas list them all)', () => {
    const factories = { adamw, sgd, l2sp, spd, ftp, tpgm, digrap } as const;
    const sample: Record<string, unknown> = {
      learningRate: 0.01,
      anchor: 'zero',
      nonFinite: 'skip',
      beta1: 0.8,
      beta2: 0.99,
      epsilon: 1e-6,
      weightDecay: 0.01,
      momentum: 0.5,
      nesterov: true,
      alpha: 0.1,
      exclude: 'head/*',
      k: 0.5,
      normMode: 'l2',
      projLr: 0.1,
      maxIters: 2,
      projFreq: 2,
      validationLoss: () => 0,
      trainableStrength: false,
      strength: 0.5,
      projTerm: 'grad',
      layout: 'torch',
    };
    let checked = 0;
    for (const [name, schema] of Object.entries(OPTION_SCHEMAS)) {
      for (const key of Object.keys(schema)) {
        if (key === 'inner') continue;
        const inner = ['momentum', 'nesterov'].includes(key)
          ? 'sgd'
          : ['beta1', 'beta2', 'epsilon'].includes(key)
            ? 'adam'
            : undefined;
        const options = {
          [key]: sample[key],
          ...(inner && ['ftp', 'tpgm', 'spd', 'digrap'].includes(name) ? { inner } : {}),
        };
        expect(key in sample, `${name}.${key} has a sample`).toBe(true);
        (factories[name as keyof typeof factories](options as never) as { dispose(): void }).dispose();
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(60);
  });
});

describe("the schemas' own expected forms (checked before any factory code runs)", () => {
  it('learningRate: a finite number ≥ 0 or a schedule; 0 is allowed', () => {
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, '0.1', null]) {
      const e = errorOf(() => ftp({ learningRate: bad as never }));
      expect(e.argument, String(bad)).toBe('options.learningRate');
      expect(e.expected, String(bad)).toBe('a finite number >= 0 or a schedule');
    }
    (ftp({ learningRate: 0 }) as { dispose(): void }).dispose();
  });

  it('inner: a named optimizer or an object with an update function', () => {
    for (const bad of [{}, null, 'rmsprop', { update: 1 }]) {
      const e = errorOf(() => ftp({ inner: bad as never }));
      expect(e.argument, JSON.stringify(bad)).toBe('options.inner');
      expect(e.expected, JSON.stringify(bad)).toBe("'adam', 'sgd' or a gradient transformation");
    }
  });

  it("layout: the schema's own form", () => {
    const e = errorOf(() => digrap({ layout: 3 as never }));
    expect(e.argument).toBe('options.layout');
    expect(e.expected).toBe("'tfjs', 'torch' or a function");
  });

  it("a custom inner transformation refuses the named inner's keys, each with its own hint", () => {
    const custom = { label: 'mine', init: () => ({}), update: (g: unknown) => ({ updates: g, state: {} }) };
    for (const [make, key] of [
      [ftp, 'momentum'],
      [ftp, 'beta1'],
      [ftp, 'weightDecay'],
      [tpgm, 'nesterov'],
      [spd, 'epsilon'],
    ] as const) {
      const e = errorOf(() => (make as (o: object) => unknown)({ inner: custom, [key]: 0.5 }));
      expect(e.argument).toBe(`options.${key}`);
      expect(e.message).toContain(`\`${key}\` does not apply to a custom inner transformation`);
    }
    // SPD's and DiGraP's weightDecay is their own strength, so it stays allowed with a custom inner.
    (spd({ inner: custom as never, weightDecay: 0.5 }) as { dispose(): void }).dispose();
    (digrap({ inner: custom as never, weightDecay: 0.5 }) as { dispose(): void }).dispose();
  });
});
