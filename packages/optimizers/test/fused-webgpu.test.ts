import { installNodeWebGpu } from '@robust-ft/backend-node';
import '@tensorflow/tfjs-backend-cpu';
import {
  type AnyTransformation,
  collectTensors,
  createRng,
  flattenState,
  isTensor,
  type StateTree,
} from '@robust-ft/core';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { adamwTransformation } from '../src/adamw';
import {
  FUSED_KERNELS,
  fusedStepEngine,
  hasFusedKernel,
  setFusedKernelsEnabled,
  withFusedAdamW,
} from '../src/fused';

tf.env().set('PROD', true);

/*
 * The WGSL AdamW kernel, run through `withFusedAdamW` on the webgpu backend, against the composed AdamW
 * chain on cpu (the oracle). WebGPU runs in Node through Dawn (`webgpu@0.6.2`) on SwiftShader's Vulkan
 * driver (software, slow: tiny tensors only). Only async reads on webgpu: `dataSync` is unreliable there.
 * Without an adapter the tests are reported as skipped and the reason is printed.
 */
const skipReason = await installNodeWebGpu(() => import('webgpu'));
if (skipReason !== null) console.warn(`[fused-webgpu] SKIPPED: ${skipReason}`);

// Ranks 0–3, sizes not multiples of the workgroup (64), so the bounds check and flat indexing are hit.
const SHAPES: Record<string, number[]> = { kernel: [3, 4, 5], bias: [7], gain: [2, 3], scalar: [] };
const HP = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.05 };
const LR = 1e-2;
const STEPS = 4;

/** Fixed inputs (the same Float32Arrays on both backends): initial θ and one gradient per step. */
function inputs() {
  const rng = createRng(11);
  const fill = (shape: number[], scale: number) =>
    Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal() * scale);
  const init = Object.fromEntries(Object.entries(SHAPES).map(([n, s]) => [n, fill(s, 0.3)]));
  // Step 2 has tiny gradients so v' is dominated by the decayed history and ε matters less than 1e-3.
  const grads = Array.from({ length: STEPS }, (_, s) =>
    Object.fromEntries(Object.entries(SHAPES).map(([n, shape]) => [n, fill(shape, s === 2 ? 1e-3 : 1)])),
  );
  return { init, grads };
}

/** Runs STEPS steps on the active backend with sync kernels only; returns θ and state read asynchronously. */
async function run(transformation: AnyTransformation) {
  const { init, grads } = inputs();
  let params: tf.NamedTensorMap = Object.fromEntries(
    Object.entries(SHAPES).map(([n, s]) => [n, tf.tensor(init[n]!, s)]),
  );
  let state: StateTree = transformation.init(params);
  const ctx = {
    learningRate: LR,
    anchor: (): tf.Tensor => {
      throw new Error('AdamW has no anchor');
    },
  };
  for (let s = 0; s < STEPS; s++) {
    const next = tf.tidy(() => {
      const g = Object.fromEntries(
        Object.entries(SHAPES).map(([n, sh]) => [n, tf.tensor(grads[s]![n]!, sh)]),
      );
      const r = transformation.update(g, state, params, { ...ctx, step: s + 1 });
      const p = Object.fromEntries(
        Object.keys(SHAPES).map((n) => [n, r.assign?.[n] ?? tf.add(params[n]!, r.updates[n]!)]),
      );
      return { params: p, state: r.state };
    });
    // Dispose what the step replaced (carried-over state tensors are kept).
    const keep = collectTensors(next.state);
    for (const t of collectTensors(state)) if (!keep.has(t)) t.dispose();
    for (const t of Object.values(params)) t.dispose();
    params = next.params as tf.NamedTensorMap;
    state = next.state as StateTree;
  }
  const out: Record<string, number[]> = {};
  for (const [n, t] of Object.entries(params)) out[`param/${n}`] = Array.from(await t.data());
  for (const { path, value } of flattenState(state))
    out[`state/${path.join('/')}`] = isTensor(value) ? Array.from(await value.data()) : [Number(value)];
  for (const t of Object.values(params)) t.dispose();
  for (const t of collectTensors(state)) t.dispose();
  return out;
}

describe('fused AdamW on WebGPU in Node (Dawn + SwiftShader)', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
    const nav = (globalThis as { navigator?: { gpu?: unknown } }).navigator;
    // Dawn keeps the process alive while a GPU object is reachable.
    if (nav) delete nav.gpu;
  });

  it.skipIf(skipReason !== null)(
    'matches the composed AdamW on cpu over several steps, dispatches to the WGSL kernel, no leaks',
    { timeout: 60_000 },
    async () => {
      setFusedKernelsEnabled(true);
      expect(await tf.setBackend('cpu')).toBe(true);
      const want = await run(adamwTransformation(HP));

      await import('@tensorflow/tfjs-backend-webgpu');
      expect(await tf.setBackend('webgpu')).toBe(true);
      expect(hasFusedKernel('adamw')).toBe(true);
      expect(fusedStepEngine()).toBe('wgsl');
      // Methods without a WGSL kernel report none, so their wrappers take the composed path.
      expect(hasFusedKernel('spd')).toBe(false);

      const fused = withFusedAdamW(adamwTransformation(HP), HP);
      // The step really runs our kernel (not the composed ops): one RobustFtAdamWStep per step.
      const before = tf.memory().numTensors;
      const profile = await tf.profile(async () => {
        await run(fused);
      });
      expect(profile.kernelNames).toContain(FUSED_KERNELS.adamw);
      expect(profile.kernelNames).not.toContain('Sqrt');
      // Leak check: the whole run (state init, steps, replaced state) leaves no tensor behind.
      expect(tf.memory().numTensors).toBe(before);

      const got = await run(fused);
      expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
      // Tolerance: the cpu composed chain rounds each op to f32, the shader evaluates the same formula
      // in f32 in one expression (different rounding points, GPU sqrt/div within a few ulp). Gradients do
      // not depend on θ, so the per-step error of ~1e-6 relative does not compound over 4 steps; the
      // same bound as the cpu/wasm fused-vs-composed tests.
      for (const [k, w] of Object.entries(want)) {
        const g = got[k]!;
        expect(g.length, k).toBe(w.length);
        const worst = Math.max(0, ...w.map((x, i) => Math.abs(g[i]! - x) - (2e-6 + 2e-5 * Math.abs(x))));
        expect(worst, k).toBe(0);
      }
      // The run moved the parameters (a no-op step would make the comparison vacuous).
      expect(got['param/kernel']).not.toEqual(Array.from(inputs().init.kernel!));
    },
  );
});
