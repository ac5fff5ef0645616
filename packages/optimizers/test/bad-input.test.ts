import { RobustFtError, type RobustOptimizer } from '@robust-ft/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { adamw, digrap, ftp, l2sp, sgd, spd, tpgm } from '../src/index';
import { disposeAll, FACTORIES, makeVars, run, values } from './helpers';
import './setup-backend';

function expectError(fn: () => unknown, code: string, argument: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(RobustFtError.isInstance(caught), String(caught)).toBe(true);
  const e = caught as RobustFtError;
  expect(e.code).toBe(code);
  expect(e.argument).toBe(argument);
}

async function snapshot(opt: RobustOptimizer, vars: Record<string, tf.Variable>) {
  const weights = await opt.getWeights();
  return {
    vars: values(vars),
    state: weights.map((w) => [w.name, Array.from(w.tensor.dataSync())] as const),
    step: opt.step,
  };
}

describe('invalid hyperparameters → typed errors naming the argument', () => {
  const cases: [string, () => unknown, string][] = [
    ['negative lr (adamw)', () => adamw({ learningRate: -1 }), 'options.learningRate'],
    ['negative lr (sgd)', () => sgd({ learningRate: -1e-3 }), 'options.learningRate'],
    ['negative lr (ftp)', () => ftp({ learningRate: -1 }), 'options.learningRate'],
    ['negative lr (spd)', () => spd({ learningRate: -1 }), 'options.learningRate'],
    ['negative lr (digrap)', () => digrap({ learningRate: -1 }), 'options.learningRate'],
    ['negative lr (l2sp)', () => l2sp({ learningRate: -1 }), 'options.learningRate'],
    ['negative lr (tpgm)', () => tpgm({ learningRate: -1 }), 'options.learningRate'],
    ['NaN lr', () => adamw({ learningRate: Number.NaN }), 'options.learningRate'],
    ['k > 1', () => ftp({ k: 1.5 }), 'k'],
    ['k < 0', () => ftp({ k: -0.1 }), 'k'],
    ['SPD λ < 0', () => spd({ weightDecay: -0.5 }), 'weightDecay'],
    ['DiGraP λ < 0', () => digrap({ weightDecay: -1 }), 'weightDecay'],
    ['AdamW wd < 0', () => adamw({ weightDecay: -1 }), 'weightDecay'],
    ['L2-SP α < 0', () => l2sp({ alpha: -1 }), 'alpha'],
    ['DiGraP strength > 1', () => digrap({ trainableStrength: false, strength: 2 }), 'strength'],
    ['DiGraP projTerm', () => digrap({ projTerm: 'neither' as 'both' }), 'options.projTerm'],
    ['beta1 ≥ 1', () => spd({ beta1: 1 }), 'beta1'],
    ['momentum ≥ 1', () => sgd({ momentum: 1 }), 'momentum'],
    ['TPGM normMode', () => tpgm({ normMode: 'l1' as 'l2' }), 'options.normMode'],
    ['TPGM maxIters', () => tpgm({ maxIters: 0 }), 'maxIters'],
    ['TPGM projLr', () => tpgm({ projLr: 0 }), 'projLr'],
    ['FTP inner', () => ftp({ inner: 'rmsprop' as 'adam' }), 'options.inner'],
  ];
  for (const [label, fn, argument] of cases) it(label, () => expectError(fn, 'INVALID_ARGUMENT', argument));

  it('setting a negative learningRate later is refused and keeps the old one', () => {
    const opt = ftp({ learningRate: 0.01 });
    expectError(
      () => {
        opt.learningRate = -1;
      },
      'INVALID_ARGUMENT',
      'learningRate',
    );
    expect(opt.learningRate).toBe(0.01);
    opt.dispose();
  });
});

describe('a failed step mutates nothing', () => {
  for (const [label, make] of Object.entries(FACTORIES)) {
    it(`${label}: NaN and Inf gradients, unknown variable`, async () => {
      const { vars, anchors } = makeVars(101, 0.05);
      const opt = make(anchors, '*/head/**');
      run(opt, vars, 3);
      const before = await snapshot(opt, vars);
      const names = Object.keys(vars);
      const target = names[2]!;
      for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
        const grads: tf.NamedTensorMap = {};
        for (const n of names) grads[n] = tf.ones(vars[n]!.shape);
        grads[target] = tf.fill(vars[target]!.shape, bad);
        expectError(() => opt.applyGradients(grads), 'NON_FINITE', `grads["${target}"]`);
        tf.dispose(Object.values(grads));
      }
      const unknown = {
        ...Object.fromEntries(names.map((n) => [n, tf.ones(vars[n]!.shape)])),
        'no/such/var': tf.ones([2]),
      };
      expectError(() => opt.applyGradients(unknown), 'UNKNOWN_VARIABLE', 'grads["no/such/var"]');
      tf.dispose(Object.values(unknown));
      expect(await snapshot(opt, vars)).toEqual(before);
      disposeAll(vars, anchors, opt);
    });
  }

  it('anchor shape mismatch → SHAPE_MISMATCH naming the anchor; nothing assigned', async () => {
    for (const make of [
      (a: tf.NamedTensorMap) => ftp({ anchor: a }),
      (a: tf.NamedTensorMap) => spd({ anchor: a, weightDecay: 1 }),
      (a: tf.NamedTensorMap) => digrap({ anchor: a, weightDecay: 1 }),
      (a: tf.NamedTensorMap) => l2sp({ anchor: a }),
      (a: tf.NamedTensorMap) => tpgm({ anchor: a, validationLoss: () => tf.scalar(0) }),
    ]) {
      const v = tf.variable(tf.ones([3]), true, `shape-mismatch-${Math.random()}`);
      const wrong = { [v.name]: tf.zeros([2]) };
      const opt = make(wrong);
      const g = tf.ones([3]);
      expectError(() => opt.applyGradients({ [v.name]: g }), 'SHAPE_MISMATCH', `anchor["${v.name}"]`);
      expect(Array.from(v.dataSync())).toEqual([1, 1, 1]);
      expect(opt.step).toBe(0);
      opt.dispose();
      tf.dispose([v, g, ...Object.values(wrong)]);
    }
  });

  it('TPGM without a validation loss fails at its first projection and mutates nothing', async () => {
    const { vars, anchors } = makeVars(111);
    const opt = tpgm({ anchor: anchors });
    expect(() => run(opt, vars, 1)).toThrow(/validation loss/);
    try {
      run(opt, vars, 1);
    } catch (error) {
      expect((error as RobustFtError).argument).toBe('options.validationLoss');
    }
    expect(opt.step).toBe(0);
    for (const [n, v] of Object.entries(vars))
      expect(Array.from(v.dataSync())).toEqual(Array.from(anchors[n]!.dataSync()));
    disposeAll(vars, anchors, opt);
  });
});
