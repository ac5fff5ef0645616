import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { expectNoTensorLeaks } from '@robust-ft/core/testing';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { setFusedKernelsEnabled } from '../src/fused';
import { CASES, expectAllClose, run } from './fused-cases';

tf.env().set('PROD', true);

let counter = 0;

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`fused dispatch vs composed transformations on ${backend}`, () => {
    beforeAll(async () => {
      expect(await tf.setBackend(backend)).toBe(true);
      setFusedKernelsEnabled(true);
    });

    for (const c of CASES) {
      it(`${c.name}: same parameters and state over 6 steps`, async () => {
        const composed = await run(c.make(), c.lr, `c${counter++}/`, 6, c.shapes);
        const fused = await run(c.fused(c.make()), c.lr, `f${counter++}/`, 6, c.shapes);
        expectAllClose(fused.params, composed.params, 'param');
        expectAllClose(fused.state, composed.state, 'state');
        expect(fused.stateTensors).toBe(composed.stateTensors);
        // The run moved the parameters (a no-op step would make the comparison vacuous).
        const moved = await run(c.make(), c.lr, `m${counter++}/`, 0);
        expect(composed.params['conv/kernel']).not.toEqual(moved.params['conv/kernel']);
      });
    }

    it('falls back to the composed path when fused kernels are disabled, and does not leak', async () => {
      for (const c of CASES) {
        setFusedKernelsEnabled(false);
        const off = await run(c.fused(c.make()), c.lr, `o${counter++}/`, 3);
        setFusedKernelsEnabled(true);
        const on = await run(c.fused(c.make()), c.lr, `n${counter++}/`, 3);
        expectAllClose(on.params, off.params, `${c.name} param`);
        await expectNoTensorLeaks(() => run(c.make(), c.lr, `k${counter++}/`, 3), {
          label: `${c.name} composed run`,
          repeats: 2,
        });
        await expectNoTensorLeaks(() => run(c.fused(c.make()), c.lr, `l${counter++}/`, 3), {
          label: `${c.name} fused run`,
          repeats: 2,
        });
      }
    });
  });
}
