import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { wasmThreadCount } from '../src/index';

// resolveWasmThreads itself (defaults, clamp, refusals) is tested in @robust-ft/core's test/kernels.test.ts.
describe('wasm thread count', () => {
  it('reads options.threads before ROBUST_FT_WASM_THREADS', () => {
    expect(wasmThreadCount(3, { ROBUST_FT_WASM_THREADS: '5' })).toBe(3);
    expect(wasmThreadCount(undefined, { ROBUST_FT_WASM_THREADS: '5' })).toBe(5);
    expect(() => wasmThreadCount(0, {})).toThrow(expect.objectContaining({ argument: 'options.threads' }));
  });
});

/**
 * The threaded build in Node, end to end in a child process (a backend starts once per process):
 * useBestBackend with ROBUST_FT_WASM_THREADS=2 must run 2 XNNPACK threads, compute a conv and both
 * its gradient kernels as 1 thread does (the filter gradient through robust-ft's SIMD module, linked to the
 * threaded build's shared heap), and let the process exit by itself (the pool's workers are unref'd).
 */
describe('wasm threads in Node', () => {
  // Plain Node ESM (no bundler): tfjs-core's CJS build, and the kernels called directly since the
  // gradient registry is not loadable there.
  const script = `
    import * as tf from '@tensorflow/tfjs-core';
    import { useBestBackend } from '@robust-ft/backend-node';
    import { wasmTrainingSimdInUse } from '@robust-ft/core/kernels';
    const d = await useBestBackend({ force: 'wasm', logger: null });
    const x = tf.randomUniform([4, 12, 12, 3], 0, 1, 'float32', 1);
    const w = tf.randomUniform([3, 3, 3, 8], -1, 1, 'float32', 2);
    const y = tf.conv2d(x, w, 2, 'same');
    const dx = tf.conv2dTranspose(y, w, x.shape, 2, 'same');
    const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy: y },
      { strides: 2, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 3, 8] });
    const sums = await Promise.all([y, dx, dw].map(async (t) => (await tf.sum(tf.abs(t)).data())[0]));
    console.log(JSON.stringify({ threads: d.threads, simd: wasmTrainingSimdInUse(tf.backend()), sums }));
  `;
  const run = (threads: string) => {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      env: { ...process.env, ROBUST_FT_WASM_THREADS: threads },
      timeout: 120_000,
    });
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as {
      threads: number;
      simd: boolean;
      sums: number[];
    };
  };

  it('runs 2 threads, matches 1 thread, and exits', () => {
    const one = run('1');
    const two = run('2');
    expect(one.threads).toBe(1);
    expect(two.threads).toBe(2);
    expect([one.simd, two.simd]).toEqual([true, true]);
    two.sums.forEach((s, i) => {
      expect(Math.abs(s - one.sums[i]!)).toBeLessThan(1e-3 * Math.max(1, Math.abs(one.sums[i]!)));
    });
  }, 240_000);
});
