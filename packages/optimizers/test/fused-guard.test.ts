import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { type AnyTransformation, createRng, RobustOptimizer } from '@robust-ft/core';
import {
  collectTensors,
  FINITE_FLAG_KERNEL,
  finiteFlag,
  flattenState,
  isTensor,
} from '@robust-ft/core/internal';
import { expectNoTensorLeaks } from '@robust-ft/core/testing';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasFusedKernel, setFusedKernelsEnabled } from '../src/fused';
import { CASES, expectAllClose, SHAPES } from './fused-cases';

tf.env().set('PROD', true);

// WebGPU through Dawn (SwiftShader here, as in CI); without an adapter its suite reports skipped.
const { useBestBackend } = await import('@robust-ft/backend-node');
const { uninstallNodeWebGpu } = await import('@robust-ft/backend-node/testing');
let noWebGpu: string | null = null;
try {
  await useBestBackend({ force: 'webgpu', allowSoftwareGpu: true, logger: null });
} catch (e) {
  noWebGpu = (e as Error).message;
  console.warn(`[webgpu] guard suite SKIPPED: ${noWebGpu}`);
}

/**
 * The 'guard' policy with fused kernels on cpu, wasm and webgpu: the adapter passes its finite flag into the
 * kernels, which keep θ and the state when it is false (no where-masking afterwards). Checked against
 * the composed path, where the adapter masks: same parameters and state over steps that include a NaN
 * gradient, and the fused result says it guarded.
 */

/** Diagnostics of the step itself (no previous value goes into the kernel): described, not kept. */
const DIAGNOSTICS = /spdCondition|spdRatio|digrapDot/;

let counter = 0;

async function guardedRun(
  transformation: AnyTransformation,
  lr: number,
  steps: number,
  nanAt: number[],
  { poison = Number.NaN, policy = 'guard' }: { poison?: number; policy?: 'guard' | 'off' } = {},
) {
  const prefix = `g${counter++}/`;
  const rng = createRng(11);
  const vars: Record<string, tf.Variable> = {};
  for (const [n, shape] of Object.entries(SHAPES)) {
    const size = shape.reduce((a, b) => a * b, 1);
    const init = tf.tensor(
      Float32Array.from({ length: size }, () => rng.normal() * 0.3),
      shape,
    );
    vars[n] = tf.variable(init, true, `${prefix}${n}`);
    init.dispose();
  }
  const guarded: boolean[] = [];
  const spy: AnyTransformation = {
    ...transformation,
    update: (g, s, p, ctx) => {
      const r = transformation.update(g, s, p, ctx);
      guarded.push(r.guarded === true);
      return r;
    },
  };
  const opt = new RobustOptimizer({ transformation: spy, learningRate: lr, nonFinite: policy });
  for (let s = 0; s < steps; s++) {
    tf.tidy(() => {
      const grads: tf.NamedTensorMap = {};
      for (const n of Object.keys(SHAPES)) {
        const g = tf.sub(vars[n]!, 0.1 * (s + 1));
        // One NaN (or ±Inf) in one tensor poisons the whole step (every tensor is kept).
        grads[`${prefix}${n}`] =
          nanAt.includes(s) && n === 'conv/kernel'
            ? tf.where(tf.equal(tf.reshape(tf.range(0, g.size), g.shape), 3), tf.scalar(poison), g)
            : g;
      }
      opt.applyGradients(grads);
    });
  }
  const params: Record<string, number[]> = {};
  for (const [n, v] of Object.entries(vars)) params[n] = Array.from(await v.data());
  const state: Record<string, number[]> = {};
  /** The tensor state alone (numbers are step counters, which a kept step still advances). */
  const tensors: Record<string, number[]> = {};
  for (const { path, value } of flattenState(opt.state)) {
    const key = path.join('/').replaceAll(prefix, '');
    if (DIAGNOSTICS.test(key)) continue;
    state[key] = isTensor(value) ? Array.from(await value.data()) : [Number(value)];
    if (isTensor(value)) tensors[key] = state[key]!;
  }
  const bad = await opt.nonFiniteSteps();
  const stateTensors = collectTensors(opt.state).size;
  opt.dispose();
  for (const v of Object.values(vars)) v.dispose();
  return { params, state, tensors, guarded, bad, stateTensors };
}

for (const backend of ['cpu', 'wasm', 'webgpu'] as const) {
  describe.skipIf(backend === 'webgpu' && noWebGpu !== null)(
    `'guard' inside the fused kernels on ${backend}`,
    () => {
      beforeAll(async () => {
        expect(await tf.setBackend(backend)).toBe(true);
      });
      afterAll(async () => {
        await tf.setBackend('cpu');
        if (backend === 'webgpu') uninstallNodeWebGpu();
      });

      for (const c of CASES) {
        it(`${c.name}: a NaN step keeps θ and the state, exactly as the adapter's masking does`, async () => {
          setFusedKernelsEnabled(false);
          const masked = await guardedRun(c.fused(c.make()), c.lr, 5, [0, 2]);
          setFusedKernelsEnabled(true);
          const fused = await guardedRun(c.fused(c.make()), c.lr, 5, [0, 2]);
          expect(masked.guarded.every((g) => !g)).toBe(true);
          // Every fused kernel on every backend takes the flag: no where-masking after it.
          expect(fused.guarded).toEqual(Array(5).fill(true));
          expect(fused.bad).toBe(2);
          expect(masked.bad).toBe(2);
          for (const values of Object.values(fused.params)) expect(values.every(Number.isFinite)).toBe(true);
          expectAllClose(fused.params, masked.params, 'param');
          expectAllClose(fused.state, masked.state, 'state');
          expect(fused.stateTensors).toBe(masked.stateTensors);
          // Steps 1, 3, 4 applied: the parameters moved.
          const still = await guardedRun(c.fused(c.make()), c.lr, 0, []);
          expect(fused.params['conv/kernel']).not.toEqual(still.params['conv/kernel']);
        });
      }

      for (const c of CASES) {
        it(`${c.name}: an Inf or -Inf in one entry leaves θ, m, v and every state tensor bit-identical`, async () => {
          setFusedKernelsEnabled(true);
          const before = await guardedRun(c.fused(c.make()), c.lr, 2, []);
          for (const poison of [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
            const after = await guardedRun(c.fused(c.make()), c.lr, 3, [2], { poison });
            expect(after.guarded).toEqual([true, true, true]);
            expect(after.bad).toBe(1);
            expect(after.params).toEqual(before.params);
            expect(after.tensors).toEqual(before.tensors);
            expect(Object.keys(after.tensors).some((k) => /mu|nu/.test(k))).toBe(true);
          }
        });

        it(`${c.name}: a finite step under 'guard' equals the unguarded step exactly`, async () => {
          setFusedKernelsEnabled(true);
          const guarded = await guardedRun(c.fused(c.make()), c.lr, 3, []);
          const off = await guardedRun(c.fused(c.make()), c.lr, 3, [], { policy: 'off' });
          expect(guarded.guarded).toEqual([true, true, true]);
          expect(off.guarded).toEqual([false, false, false]);
          expect(guarded.bad).toBe(0);
          expect(guarded.params).toEqual(off.params);
          expect(guarded.state).toEqual(off.state);
        });
      }

      it("the 'guard' flag is one kernel call on any number of tensors, exact on NaN, ±Inf and huge finite values", async () => {
        expect(hasFusedKernel('adamw')).toBe(true);
        expect(tf.getKernel(FINITE_FLAG_KERNEL, backend)).toBeDefined();
        // 17 tensors: three check passes of ≤ 7; a 9000-element one spans three workgroups (last partial).
        const shapes = [
          [9000],
          [3],
          [0],
          [130, 70],
          [],
          [2, 2],
          [5000],
          ...Array.from({ length: 10 }, () => [7]),
        ];
        const make = (at?: { tensor: number; index: number; value: number }) =>
          shapes.map((shape, t) => {
            const size = shape.reduce((a, b) => a * b, 1);
            // Huge but finite entries: a sum over them overflows, the entry check must not.
            const values = Float32Array.from({ length: size }, (_, i) => (i % 2 ? 3e38 : -1.5));
            if (at && at.tensor === t) values[at.index] = at.value;
            return tf.tensor(values, shape);
          });
        const flagOf = async (ts: tf.Tensor[]) => {
          const map = Object.fromEntries(ts.map((x, i) => [`t${i}`, x]));
          const profile = await tf.profile(async () => {
            const f = finiteFlag(map);
            const v = (await f.data())[0];
            f.dispose();
            return v;
          });
          expect(profile.kernelNames).toEqual([FINITE_FLAG_KERNEL, 'Greater']);
          const f = finiteFlag(map);
          const value = (await f.data())[0];
          f.dispose();
          tf.dispose(ts);
          return value;
        };
        expect(await flagOf(make())).toBe(1);
        for (const value of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
          for (const at of [
            { tensor: 0, index: 8999 },
            { tensor: 0, index: 4095 },
            { tensor: 0, index: 4096 },
            { tensor: 3, index: 0 },
            { tensor: 4, index: 0 },
            { tensor: 16, index: 6 },
            { tensor: 1, index: 2 },
          ]) {
            expect(await flagOf(make({ ...at, value })), `${value} at ${JSON.stringify(at)}`).toBe(0);
          }
        }
        await expectNoTensorLeaks(
          async () => {
            const ts = make({ tensor: 6, index: 4999, value: Number.NaN });
            const f = finiteFlag(Object.fromEntries(ts.map((x, i) => [`t${i}`, x])));
            expect((await f.data())[0]).toBe(0);
            tf.dispose([f, ...ts]);
          },
          { label: 'finite flag', repeats: 2 },
        );
      });

      it('leaks nothing on good and bad steps', async () => {
        const c = CASES.find((x) => x.name === 'ftp')!;
        await expectNoTensorLeaks(() => guardedRun(c.fused(c.make()), c.lr, 3, [1]), { repeats: 2 });
      });
    },
  );
}
