import {
  adamw,
  digrap,
  type FusedMethod,
  ftp,
  fusedStepEngine,
  hasFusedKernel,
  l2sp,
  setFusedKernelsEnabled,
  spd,
} from '@robust-ft/optimizers';
import { FUSED_KERNELS } from '@robust-ft/optimizers/internal';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import './browser-setup';
import { activate, values } from './browser-harness';

/*
 * The optimizers' WGSL step kernels in a real browser's WebGPU (headless Chromium; SwiftShader here):
 * each method must dispatch to its fused kernel and give the composed ops' parameters after several
 * steps. The shapes take the kernels' multi-workgroup paths (a 9000-element vector: three reduction
 * workgroups; 30 FTP rows of 500, eight to a workgroup).
 */

const CASES: [FusedMethod, () => tf.Optimizer][] = [
  ['adamw', () => adamw({ learningRate: 0.05, weightDecay: 0.05 })],
  ['l2sp', () => l2sp({ learningRate: 0.05, alpha: 0.3 })],
  ['spd', () => spd({ learningRate: 0.05, weightDecay: 0.8 })],
  ['ftp', () => ftp({ learningRate: 0.05 })],
  ['digrap', () => digrap({ learningRate: 0.05, weightDecay: 0.5 })],
];

let run = 0;

/** Six steps on a quadratic whose target flips sign every third step (both SPD/DiGraP branches run). */
async function train(make: () => tf.Optimizer): Promise<Float32Array[]> {
  run++;
  const vars = [
    tf.variable(tf.tensor2d(values(30 * 500, 3, 0.3), [30, 500]), true, `fused${run}/kernel`),
    tf.variable(tf.tensor1d(values(9000, 4, 0.3)), true, `fused${run}/bias`),
  ];
  const targets = [tf.tensor2d(values(30 * 500, 5, 0.5), [30, 500]), tf.tensor1d(values(9000, 6, 0.5))];
  const optimizer = make();
  for (let step = 0; step < 6; step++) {
    const sign = step % 3 === 2 ? -1 : 1;
    optimizer.minimize(
      () => tf.addN(vars.map((v, i) => tf.sum(tf.square(tf.sub(v, tf.mul(targets[i]!, sign)))))) as tf.Scalar,
    );
  }
  const out = await Promise.all(vars.map(async (v) => (await v.data()) as Float32Array));
  optimizer.dispose();
  tf.dispose([...vars, ...targets]);
  return out;
}

describe('fused optimizer steps on webgpu in Chromium', () => {
  beforeAll(() => activate('webgpu'));
  afterAll(() => setFusedKernelsEnabled(true));

  it('uses the WGSL engine for every method', () => {
    expect(tf.getBackend()).toBe('webgpu');
    expect(fusedStepEngine()).toBe('wgsl');
    for (const [method] of CASES) expect(hasFusedKernel(method), method).toBe(true);
  });

  for (const [method, make] of CASES) {
    it(`${method}: dispatches to ${FUSED_KERNELS[method]} and matches the composed steps`, async () => {
      setFusedKernelsEnabled(false);
      const composed = await train(make);
      setFusedKernelsEnabled(true);
      const profile = await tf.profile(() => train(make));
      expect(profile.kernelNames).toContain(FUSED_KERNELS[method]);
      const fused = await train(make);
      // Compare the deviations from the start: FTP moves the weights by ~1e-5 in six steps (γ starts
      // at 1e-8 and grows ≤ 0.01 a step), which a comparison of the weights themselves would not see.
      const starts = [values(30 * 500, 3, 0.3), values(9000, 4, 0.3)];
      for (const [i, c] of composed.entries()) {
        const dc = c.map((x, j) => x - starts[i]![j]!);
        const df = fused[i]!.map((x, j) => x - starts[i]![j]!);
        const scale = Math.max(...dc.map(Math.abs));
        expect(scale, `${method} var ${i} moved`).toBeGreaterThan(1e-6);
        const worst = Math.max(...df.map((x, j) => Math.abs(x - dc[j]!)));
        // 2e-3 of the deviation, plus two float32 ulps of weights below 1 (the deviations are differences).
        expect(worst, `${method} var ${i}`).toBeLessThanOrEqual(2e-3 * scale + 2.5e-7);
      }
    });
  }
});
