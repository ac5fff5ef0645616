import { RobustFtError, RobustOptimizer } from '@robust-ft/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  adamw,
  adamwTransformation,
  digrap,
  digrapGradient,
  ftp,
  setFusedKernelsEnabled,
  tpgm,
} from '../src/index';
import './setup-backend';
import { caught } from './typed-error';

/*
 * What the factories record for getConfig/fromConfig beyond the shared options (config-json.test.ts),
 * when they refuse to record, and options of the composed builders that only their values show.
 */

const record = (o: RobustOptimizer) => JSON.parse(o.getConfig().options as string) as Record<string, unknown>;

describe('adamw records its Adam options and weight decay', () => {
  it('β1, β2, ε and the decay travel through getConfig/fromConfig', () => {
    const opt = adamw({ learningRate: 0.01, beta1: 0.8, beta2: 0.95, epsilon: 1e-6, weightDecay: 0.05 });
    const json = record(opt);
    expect(json).toMatchObject({ beta1: 0.8, beta2: 0.95, epsilon: 1e-6, weightDecay: 0.05 });
    const back = RobustOptimizer.fromConfig(RobustOptimizer, opt.getConfig()) as RobustOptimizer;
    expect(record(back)).toEqual(json);
    opt.dispose();
    back.dispose();
  });
});

describe('adamwTransformation applies the β1, β2 and ε it is given', () => {
  /** Two Adam steps on one element with bias correction, in float64: the reference formula. */
  function adamTwoSteps(g: [number, number], b1: number, b2: number, eps: number, lr: number): number[] {
    let m = 0;
    let v = 0;
    const out: number[] = [];
    g.forEach((gi, k) => {
      const s = k + 1;
      m = b1 * m + (1 - b1) * gi;
      v = b2 * v + (1 - b2) * gi * gi;
      out.push((-lr * (m / (1 - b1 ** s))) / (Math.sqrt(v / (1 - b2 ** s)) + eps));
    });
    return out;
  }

  it('the second step (where β1 and β2 no longer cancel) matches the reference for non-default values', async () => {
    const g: [number, number] = [1, -3];
    const lr = 0.1;
    for (const [b1, b2, eps] of [
      [0.9, 0.999, 1e-8],
      [0.5, 0.6, 0.5],
      [0.9, 0.5, 1e-8],
      [0.9, 0.999, 2],
    ] as const) {
      const want = adamTwoSteps(g, b1, b2, eps, lr);
      const t = adamwTransformation({ beta1: b1, beta2: b2, epsilon: eps, weightDecay: 0 });
      const p = tf.variable(tf.tensor1d([0]), true, `adam-${b1}-${b2}-${eps}`);
      let state = t.init({ w: p });
      const got: number[] = [];
      for (const [k, gk] of g.entries()) {
        const r = tf.tidy(() => {
          const u = t.update({ w: tf.tensor1d([gk]) }, state, { w: p }, {
            learningRate: lr,
            step: k + 1,
            anchor: () => tf.zeros([1]),
          } as never);
          return { u: u.updates.w!, s: u.state };
        });
        // The chain ends in the learning-rate scaling: its update is the delta −lr · m̂ / (√v̂ + ε).
        got.push((await r.u.data())[0]!);
        tf.dispose(r.u);
        state = r.s as typeof state;
      }
      for (const [i, w] of want.entries())
        expect(got[i]!, `${b1} ${b2} ${eps} step ${i + 1}`).toBeCloseTo(w, 5);
      tf.dispose(state as never);
      p.dispose();
    }
  });
});

describe('a layout function makes an optimizer unserialisable (like a predicate selector)', () => {
  const byName = () => 'torch' as const;
  for (const [label, make] of [
    ['ftp', () => ftp({ layout: byName })],
    ['digrap', () => digrap({ layout: byName })],
    ['tpgm', () => tpgm({ layout: byName })],
  ] as const) {
    it(`${label}: getConfig is an UNSUPPORTED error naming options.factory; a string layout is recorded`, () => {
      const opt = make();
      const e = caught(() => opt.getConfig());
      expect(e.code).toBe('UNSUPPORTED');
      expect(e.argument).toBe('options.factory');
      opt.dispose();
    });
  }

  it('digrap and ftp record a string layout and a glob selector', () => {
    for (const make of [ftp, digrap]) {
      const opt = make({ layout: 'torch', exclude: 'head/*' });
      expect(record(opt)).toMatchObject({ layout: 'torch', exclude: 'head/*' });
      opt.dispose();
    }
  });

  it('digrap with a predicate selector is not serialisable either', () => {
    const opt = digrap({ exclude: (n: string) => n.startsWith('head') });
    expect(caught(() => opt.getConfig()).argument).toBe('options.factory');
    opt.dispose();
  });
});

describe("DiGraP's axes", () => {
  it('the trainable-strength mode sums whole tensors: a rank-5 parameter needs no layout', async () => {
    for (const fused of [true, false]) {
      setFusedKernelsEnabled(fused);
      const w = tf.variable(tf.randomNormal([2, 1, 2, 1, 3], 0, 1, 'float32', 7), true, `r5-${fused}`);
      const opt = digrap({ learningRate: 0.01, trainableStrength: true, weightDecay: 0.1 });
      const before = Array.from(await w.data());
      for (let s = 0; s < 2; s++) opt.minimize(() => tf.sum(tf.square(tf.sub(w, 1))) as tf.Scalar);
      const after = Array.from(await w.data());
      expect(after).not.toEqual(before);
      for (const x of after) expect(Number.isFinite(x)).toBe(true);
      opt.dispose();
      w.dispose();
    }
    setFusedKernelsEnabled(true);
  });

  it('the fixed-strength orthogonal mode reads rows: a rank-5 parameter asks for a layout', () => {
    const w = tf.variable(tf.ones([2, 1, 2, 1, 3]), true, 'r5-fixed');
    const opt = digrap({ learningRate: 0.01, trainableStrength: false, weightDecay: 0.1 });
    let error: unknown;
    try {
      opt.minimize(() => tf.sum(tf.square(tf.sub(w, 2))) as tf.Scalar);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RobustFtError);
    expect((error as Error).message).toMatch(/no default tfjs layout for the rank-5 tensor/);
    opt.dispose();
    w.dispose();
  });

  it("projTerm outside 'both' | 'grad' | 'reg' is refused naming projTerm", () => {
    const e = caught(() => digrapGradient({ projTerm: 'all' as never }));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.argument).toBe('projTerm');
    expect(e.expected).toBe('one of "both", "grad", "reg"');
  });
});
