import { chain, RobustFtError, RobustOptimizer, scaleByAdam, scaleByLearningRate } from '@robust-ft/core';
import { expectNoTensorLeaks } from '@robust-ft/core/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { withFusedMethod } from '../src/fused';
import {
  adamw,
  DIGRAP_DEFAULTS,
  digrap,
  l2sp,
  SPD_DEFAULTS,
  sgd,
  spd,
  spdDiagnostics,
  tpgm,
} from '../src/index';
import { FUSED_KERNELS } from '../src/internal';
import { declareMethod } from '../src/method';
import { disposeAll, makeVars, run, signDescent, values } from './helpers';
import './setup-backend';

/*
 * SPD and DiGraP wrap any inner optimizer (`inner: 'adam' | 'sgd' | transformation`, as FTP does).
 * SPD needs only g, θ, the anchor and the inner's candidate; DiGraP's modified gradient only g, θ, θ₀
 * and its own state, so with λ = 0 both step exactly as their inner optimizer.
 */

const SGD = { learningRate: 5e-2, momentum: 0.9, nesterov: true } as const;

const adamChain = () => chain(scaleByAdam(), scaleByLearningRate());

describe('λ = 0 makes SPD and DiGraP over SGD step exactly as SGD (bit-identical)', () => {
  const cases: Record<string, (anchor: tf.NamedTensorMap, lambda: number) => RobustOptimizer> = {
    spd: (anchor, lambda) => spd({ inner: 'sgd', ...SGD, weightDecay: lambda, anchor }),
    digrapFixedStrength0: (anchor, lambda) =>
      digrap({ inner: 'sgd', ...SGD, weightDecay: lambda, trainableStrength: false, strength: 0, anchor }),
    digrapTrainable: (anchor, lambda) => digrap({ inner: 'sgd', ...SGD, weightDecay: lambda, anchor }),
  };
  for (const [label, make] of Object.entries(cases)) {
    it(`${label}: λ = 0 equals sgd; λ > 0 does not (the wrapper acts)`, () => {
      for (const [lambda, acts] of [
        [0, false],
        [1, true],
      ] as const) {
        // Off-anchor start, so ⟨g, θ−θ₀⟩ < 0 (the branch that acts) occurs on many tensor-steps.
        const a = makeVars(7, 0.2);
        const robust = make(a.anchors, lambda);
        const b = makeVars(7, 0.2);
        const reference = sgd(SGD);
        run(robust, a.vars, 20, { seed: 3 });
        run(reference, b.vars, 20, { seed: 3 });
        const va = Object.values(values(a.vars));
        const vb = Object.values(values(b.vars));
        if (acts) expect(va).not.toEqual(vb);
        else expect(va).toEqual(vb);
        disposeAll(a.vars, a.anchors, robust);
        disposeAll(b.vars, b.anchors, reference);
      }
    });
  }

  it('SPD over SGD with λ > 0 decays on some tensor-steps (conflicts occur in this run)', async () => {
    const a = makeVars(7, 0.2);
    const opt = spd({ inner: 'sgd', ...SGD, weightDecay: 1, anchor: a.anchors });
    let fired = 0;
    for (let s = 1; s <= 20; s++) {
      run(opt, a.vars, 1, { from: s, seed: 3 });
      fired += Object.values(await spdDiagnostics(opt)).filter((d) => d.ratio !== null && d.ratio > 0).length;
    }
    expect(fired).toBeGreaterThan(0);
    disposeAll(a.vars, a.anchors, opt);
  });
});

describe('a custom inner transformation', () => {
  const wrappers: Record<string, (anchor: tf.NamedTensorMap) => RobustOptimizer> = {
    spd: (anchor) => spd({ inner: signDescent(), learningRate: 1e-2, weightDecay: 1, anchor }),
    digrap: (anchor) => digrap({ inner: signDescent(), learningRate: 1e-2, weightDecay: 0.5, anchor }),
    digrapFixed: (anchor) =>
      digrap({
        inner: signDescent(),
        learningRate: 1e-2,
        weightDecay: 0.5,
        trainableStrength: false,
        anchor,
      }),
  };
  for (const [label, make] of Object.entries(wrappers)) {
    it(`${label}: its state is the wrapper's, and 100 steps leak no tensor`, async () => {
      const a = makeVars(41, 0.05);
      const opt = make(a.anchors);
      let s = 0;
      await expectNoTensorLeaks(() => run(opt, a.vars, 1, { from: ++s }), {
        warmup: 2,
        repeats: 100,
        label,
      });
      // The custom inner's own state rides along under `inner` and counts every step.
      const weights = await opt.getWeights();
      const counters = weights.filter((w) => w.name.includes('inner') && w.name.includes('steps'));
      expect(counters.length).toBe(Object.keys(a.vars).length);
      for (const w of counters) {
        // Numbers travel as float64 bits in two int32 words.
        const words = Int32Array.from(await w.tensor.data());
        expect(new Float64Array(words.buffer)[0]).toBe(102);
      }
      disposeAll(a.vars, a.anchors, opt);
    });
  }

  it('is not serialisable (getConfig is a typed error naming options.factory)', () => {
    const opt = spd({ inner: signDescent() });
    expect(() => opt.getConfig()).toThrow(RobustFtError);
    opt.dispose();
  });

  for (const [label, make] of Object.entries({
    spd: (anchor: tf.NamedTensorMap) => spd({ inner: signDescent(), learningRate: 1e-2, anchor }),
    digrap: (anchor: tf.NamedTensorMap) => digrap({ inner: signDescent(), learningRate: 1e-2, anchor }),
  })) {
    it(`${label}: λ = 0 over it steps exactly as that transformation alone`, () => {
      const a = makeVars(5, 0.2);
      const b = makeVars(5, 0.2);
      const robust = make(a.anchors);
      const plain = new RobustOptimizer({ transformation: signDescent(), learningRate: 1e-2 });
      run(robust, a.vars, 10, { seed: 2 });
      run(plain, b.vars, 10, { seed: 2 });
      expect(Object.values(values(a.vars))).toEqual(Object.values(values(b.vars)));
      disposeAll(a.vars, a.anchors, robust);
      disposeAll(b.vars, b.anchors, plain);
    });
  }
});

describe('the inner option', () => {
  const factories = { spd, digrap } as const;
  for (const [label, make] of Object.entries(factories)) {
    it(`${label}: default 'adam' (recorded), learning rate 1e-3 over Adam and 1e-2 over SGD`, () => {
      const byDefault = make();
      const overSgd = make({ inner: 'sgd' });
      const d = JSON.parse(byDefault.getConfig().options as string);
      const s = JSON.parse(overSgd.getConfig().options as string);
      expect(d.inner).toBe('adam');
      expect(d.learningRate).toBe(1e-3);
      expect(s.inner).toBe('sgd');
      expect(s.learningRate).toBe(1e-2);
      expect(s.momentum).toBe(0);
      expect(s.nesterov).toBe(false);
      byDefault.dispose();
      overSgd.dispose();
    });

    it(`${label}: anything else is a typed error naming options.inner`, () => {
      for (const bad of ['rmsprop', 3, { label: 'x' }]) {
        try {
          make({ inner: bad as 'adam' });
          expect.unreachable();
        } catch (e) {
          expect(e).toBeInstanceOf(RobustFtError);
          expect((e as RobustFtError).argument).toBe('options.inner');
        }
      }
    });
  }

  it("the error lists the wrapper's default inner first (Adam for SPD, SGD for TPGM)", () => {
    const message = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as RobustFtError).message;
      }
      return 'no error';
    };
    expect(message(() => spd({ inner: 'rmsprop' as 'adam' }))).toBe(
      `spd: options.inner must be 'adam', 'sgd' or a gradient transformation (received "rmsprop")`,
    );
    expect(message(() => tpgm({ inner: 'rmsprop' as 'adam' }))).toBe(
      `tpgm: options.inner must be 'sgd', 'adam' or a gradient transformation (received "rmsprop")`,
    );
  });

  it('the defaults are pinned', () => {
    expect(SPD_DEFAULTS).toMatchObject({ learningRate: 1e-3, learningRateSgd: 1e-2, weightDecay: 0 });
    expect(DIGRAP_DEFAULTS).toMatchObject({ learningRate: 1e-3, learningRateSgd: 1e-2, weightDecay: 0 });
  });
});

describe('the fused kernel runs only over Adam', () => {
  const cases: [string, () => RobustOptimizer, string | null][] = [
    ['spd default', () => spd({ weightDecay: 1 }), FUSED_KERNELS.spd],
    ['spd over sgd', () => spd({ inner: 'sgd', weightDecay: 1 }), null],
    ['digrap default', () => digrap({ weightDecay: 0.5 }), FUSED_KERNELS.digrap],
    ['digrap over sgd', () => digrap({ inner: 'sgd', weightDecay: 0.5 }), null],
    ['digrap over a custom inner', () => digrap({ inner: signDescent(), weightDecay: 0.5 }), null],
    // A custom inner holding Adam moments is still not "Adam" to the dispatch: it stays composed.
    ['spd over a custom Adam chain', () => spd({ inner: adamChain(), weightDecay: 1 }), null],
    ['digrap over a custom Adam chain', () => digrap({ inner: adamChain(), weightDecay: 0.5 }), null],
    ['adamw (reference)', () => adamw(), FUSED_KERNELS.adamw],
    // Chained methods: the Adam slot is found in the chain's own state (the declaration's `chained`).
    ['l2sp default', () => l2sp(), FUSED_KERNELS.l2sp],
    ['l2sp with alpha 0 (passes through: plain AdamW)', () => l2sp({ alpha: 0 }), FUSED_KERNELS.adamw],
  ];
  for (const [label, make, kernel] of cases) {
    it(label, async () => {
      const a = makeVars(3, 0.1);
      const opt = make();
      run(opt, a.vars, 1);
      const profile = await tf.profile(() => run(opt, a.vars, 1, { from: 2 }));
      const fused = profile.kernelNames.filter((k) => k.startsWith('RobustFt'));
      if (kernel) expect(fused).toContain(kernel);
      else expect(fused).toEqual([]);
      disposeAll(a.vars, a.anchors, opt);
    });
  }
});

describe('a chained fused method', () => {
  it('declares no slots (it has no state node of its own to keep them in)', () => {
    const decl = declareMethod({
      label: 'slotted',
      kind: 'gradient',
      settings: () => ({}),
      slots: { s: { shape: 'scalar' } },
      step: (i) => ({ value: i.grad, slots: { s: i.slots.s } }),
      fused: { kernel: 'l2sp', chained: true, inputs: [], outputs: [], attrs: () => ({}) },
    });
    const composed = chain(scaleByAdam(), scaleByLearningRate());
    const build = () =>
      withFusedMethod(decl, composed, undefined, { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 });
    expect(build).toThrow(RobustFtError);
    expect(build).toThrow(/chained fused method keeps no slots/);
  });
});
