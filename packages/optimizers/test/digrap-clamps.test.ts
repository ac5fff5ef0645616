import { adamMomentStep } from '@robust-ft/core/internal';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { fusedDigrapStep, hasFusedKernel } from '../src/fused';
import { digrapTensorStep } from '../src/internal';
import './setup-backend';

/**
 * DiGraP's trainable strengths are clamped to [0, 1] after their hyper-Adam step. A long random run
 * rarely drives ω to 1 (issue #20: the fused driver lost its upper clamp and every test passed), so
 * these steps start next to each bound with a hyper-momentum that pushes across it, and check the
 * fused kernel against the composed step (the oracle) and against the bound itself.
 */
const shape = [2, 3];
const theta = [0.9, -0.4, 0.3, 1.1, -0.7, 0.2];
const anchor = [0.5, -0.1, 0.1, 0.6, -0.2, 0.0];
const c = theta.map((t, i) => t - anchor[i]!);
// g = −0.1·c plus a little noise: ⟨g, c⟩ < 0, so the projection (and the strengths) are in play.
const grad = c.map((x, i) => -0.1 * x + 0.01 * Math.sin(i + 1));
const lambda = 0.5;
const lr = 1e-2;
const lrPrev = 1e-2;
const t = 10;

interface Start {
  strength: number;
  /** Hyper-momentum of both strengths: −1 pushes ω up, +1 down. */
  m: number;
  /** The stored P and Q: −c makes both hyper-gradients negative (ω rises), +c positive. */
  prevSign: number;
}

function inputs(start: Start) {
  const prev = c.map((x) => start.prevSign * x);
  return {
    param: tf.tensor(theta, shape),
    grad: tf.tensor(grad, shape),
    anchor: tf.tensor(anchor, shape),
    m: tf.fill(shape, 0.01),
    v: tf.fill(shape, 1e-4),
    pPrev: tf.tensor(prev, shape),
    qPrev: tf.tensor(prev, shape),
    lossStrength: tf.scalar(start.strength),
    regStrength: tf.scalar(start.strength),
    lossM: tf.scalar(start.m),
    lossV: tf.scalar(1e-6),
    regM: tf.scalar(start.m),
    regV: tf.scalar(1e-6),
  };
}

const read = (x: tf.Tensor) => Array.from(x.dataSync());

describe('DiGraP strength clamps, fused and composed', () => {
  it('runs the fused kernel on this backend', () => {
    expect(hasFusedKernel('digrap')).toBe(true);
  });

  for (const [label, start, bound] of [
    ['upper clamp: ω pushed past 1 stays at 1', { strength: 0.995, m: -1, prevSign: -1 }, 1],
    ['lower clamp: ω pushed below 0 stays at 0', { strength: 0.005, m: 1, prevSign: 1 }, 0],
  ] as const) {
    it(label, () => {
      const i = inputs(start);
      const composed = digrapTensorStep({
        ...i,
        weightDecay: lambda,
        trainableStrength: true,
        strength: 1,
        projTerm: 'both',
        lrPrev,
        t,
        // The trainable mode's sums are whole-tensor: no per-row layout is read.
        axes: { rowAxes: [], lastAxis: null },
      });
      const [fused] = fusedDigrapStep([{ ...i, count: t, lrPrev }], {
        learningRate: lr,
        beta1: 0.9,
        beta2: 0.999,
        epsilon: 1e-8,
        lambda,
        t,
      });
      // Both strengths land exactly on the bound, on both paths.
      expect(composed.lossStrength.dataSync()[0]).toBe(bound);
      expect(composed.regStrength.dataSync()[0]).toBe(bound);
      expect(fused!.lossStrength.dataSync()[0]).toBe(bound);
      expect(fused!.regStrength.dataSync()[0]).toBe(bound);
      expect(fused!.dot.dataSync()[0]).toBeLessThan(0);
      // And the parameters follow from the clamped strengths: same new θ, moments and P/Q.
      // The composed step returns the modified gradient; the inner Adam (count t) steps on it.
      const adam = adamMomentStep(composed.grad, i.m, i.v, t, 0.9, 0.999, 1e-8);
      const updated = tf.add(i.param, tf.mul(adam.u, -lr));
      const pairs: Array<[tf.Tensor, tf.Tensor]> = [
        [fused!.param, updated],
        [fused!.m, adam.m],
        [fused!.v, adam.v],
        [fused!.pPrev, composed.pPrev],
        [fused!.qPrev, composed.qPrev],
      ];
      for (const [a, b] of pairs) {
        const x = read(a);
        read(b).forEach((y, k) => {
          expect(Math.abs(x[k]! - y)).toBeLessThan(1e-6 * (1 + Math.abs(y)));
        });
      }
      tf.dispose([...Object.values(i), updated]);
    });
  }
});
