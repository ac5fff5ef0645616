import { installNodeWebGpu } from '@robust-ft/backend-node/testing';
import '@tensorflow/tfjs-backend-cpu';
import { RobustOptimizer } from '@robust-ft/core';
import { expectNoTensorLeaks } from '@robust-ft/core/testing';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adamwTransformation } from '../src/adamw';
import {
  FUSED_KERNELS,
  type FusedMethod,
  fusedStepEngine,
  hasFusedKernel,
  registerFusedOptimizerKernels,
  setFusedKernelsEnabled,
} from '../src/fused';
import { CASES, expectAllClose, run, SHAPES } from './fused-cases';

tf.env().set('PROD', true);

/*
 * The WGSL kernels, run through the fused wrappers and the real tf.Optimizer adapter on the webgpu
 * backend, against the composed transformations on cpu (the oracle). WebGPU runs in Node through Dawn
 * (`webgpu@0.6.2`) on SwiftShader's Vulkan driver (software, so small tensors only). Without an adapter
 * the tests are reported as skipped and the reason is printed.
 */
const skipReason = await installNodeWebGpu(() => import('webgpu'));
if (skipReason !== null) console.warn(`[fused-webgpu] SKIPPED: ${skipReason}`);

/**
 * The shared shapes plus tensors that take the multi-workgroup paths: whole-tensor sums over several
 * reduction workgroups (4096 elements each) with a partial last one (9000 = 2·4096 + 808), FTP rows
 * spanning two chunks (3 rows of 5000 in torch layout; 5000 strided columns of 3 in tfjs layout), and
 * strided FTP rows of one thread each over several chunks (a Dense [130, 70]: 70 columns of 130).
 */
const WEBGPU_SHAPES: Record<string, number[]> = {
  ...SHAPES,
  'wide/bias': [9000],
  'tall/kernel': [3, 5000],
  'deep/kernel': [130, 70],
};

let counter = 0;

describe.skipIf(skipReason !== null)('fused WGSL kernels on WebGPU in Node (Dawn + SwiftShader)', () => {
  beforeAll(async () => {
    setFusedKernelsEnabled(true);
    await import('@tensorflow/tfjs-backend-webgpu');
    registerFusedOptimizerKernels();
  });

  afterAll(async () => {
    await tf.setBackend('cpu');
    const nav = (globalThis as { navigator?: { gpu?: unknown } }).navigator;
    // Dawn keeps the process alive while a GPU object is reachable.
    if (nav) delete nav.gpu;
  });

  it('every method has a WGSL kernel there', async () => {
    expect(await tf.setBackend('webgpu')).toBe(true);
    for (const m of Object.keys(FUSED_KERNELS) as FusedMethod[]) expect(hasFusedKernel(m), m).toBe(true);
    expect(fusedStepEngine()).toBe('wgsl');
  });

  for (const c of CASES) {
    it(`${c.name}: same parameters and state as the composed path on cpu over 6 steps, no leaks`, {
      timeout: 120_000,
    }, async () => {
      expect(await tf.setBackend('cpu')).toBe(true);
      const want = await run(c.make(), c.lr, `c${counter++}/`, 6, WEBGPU_SHAPES);
      const start = await run(c.make(), c.lr, `s${counter++}/`, 0, WEBGPU_SHAPES);

      expect(await tf.setBackend('webgpu')).toBe(true);
      // The step really runs our kernel: the composed path's Sqrt never appears.
      const profile = await tf.profile(() =>
        run(c.fused(c.make()), c.lr, `p${counter++}/`, 2, WEBGPU_SHAPES),
      );
      expect(profile.kernelNames).toContain(FUSED_KERNELS[c.method ?? (c.name as FusedMethod)]);
      expect(profile.kernelNames).not.toContain('Sqrt');

      const got = await run(c.fused(c.make()), c.lr, `f${counter++}/`, 6, WEBGPU_SHAPES);
      expectAllClose(got.params, want.params, `${c.name} param`);
      expectAllClose(got.state, want.state, `${c.name} state`);
      expect(got.stateTensors).toBe(want.stateTensors);
      // The run moved the parameters (a no-op step would make the comparison vacuous).
      expect(want.params['tall/kernel']).not.toEqual(start.params['tall/kernel']);

      await expectNoTensorLeaks(() => run(c.fused(c.make()), c.lr, `l${counter++}/`, 3, WEBGPU_SHAPES), {
        label: `${c.name} WGSL run`,
        repeats: 2,
      });
    });
  }

  it('the default non-finite policy there (guard) steps 12 tensors and masks a NaN step', async () => {
    // Regression: the guard's one finite flag summed all tensors in one AddN, which binds every input
    // as a storage buffer; past 7 tensors WebGPU rejected the shader.
    expect(await tf.setBackend('webgpu')).toBe(true);
    const vars = Array.from({ length: 12 }, (_, i) =>
      tf.variable(tf.fill([5], i / 10), true, `g${counter}/${i}`),
    );
    counter++;
    const opt = new RobustOptimizer({
      transformation: adamwTransformation({ weightDecay: 0 }),
      learningRate: 0.1,
    });
    const grads = (bad: boolean) =>
      Object.fromEntries(vars.map((v, i) => [v.name, tf.fill([5], bad && i === 3 ? Number.NaN : 1)]));
    const read = async () => Promise.all(vars.map(async (v) => Array.from(await v.data())));
    const g1 = grads(false);
    opt.applyGradients(g1);
    const afterGood = await read();
    expect(afterGood[0]![0]).toBeCloseTo(-0.1, 5);
    const g2 = grads(true);
    opt.applyGradients(g2);
    expect(await read()).toEqual(afterGood);
    tf.dispose([...Object.values(g1), ...Object.values(g2), ...vars]);
    opt.dispose();
  });
});
