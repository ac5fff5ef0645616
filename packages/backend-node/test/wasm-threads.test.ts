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
 * threaded build's shared heap, its tiles split with a helper thread), and let the process exit by
 * itself (the pool's workers and the helper are unref'd).
 */
describe('wasm threads in Node', () => {
  // Plain Node ESM (no bundler): tfjs-core's CJS build, and the kernels called directly since the
  // gradient registry is not loadable there.
  const script = `
    import * as tf from '@tensorflow/tfjs-core';
    import { nodeKernelWorker, useBestBackend } from '@robust-ft/backend-node';
    import { setWasmKernelThreads, wasmKernelHelpers, wasmKernelHelperStats, wasmTrainingSimdInUse } from '@robust-ft/core/kernels';
    const d = await useBestBackend({ force: 'wasm', logger: null });
    const x = tf.randomUniform([4, 12, 12, 3], 0, 1, 'float32', 1);
    const w = tf.randomUniform([3, 3, 3, 8], -1, 1, 'float32', 2);
    const y = tf.conv2d(x, w, 2, 'same');
    const dx = tf.conv2dTranspose(y, w, x.shape, 2, 'same');
    const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy: y },
      { strides: 2, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 3, 8] });
    // The filter gradient again until the helper thread (started on first use) has taken a share:
    // bit-identical to the first call, which ran before it was up.
    // (A digits-CNN-sized one, long enough for the helper to wake while the main thread works; split
    // whatever its size, and without the overlap check, which a busy test machine would trip.)
    if (d.threads > 1) setWasmKernelThreads(d.threads, nodeKernelWorker, { minMacs: 0, cpuClock: null });
    const x2 = tf.randomUniform([8, 14, 14, 16], 0, 1, 'float32', 3);
    const dy2 = tf.randomUniform([8, 14, 14, 32], -1, 1, 'float32', 4);
    const grad = () => tf.engine().runKernel('Conv2DBackpropFilter', { x: x2, dy: dy2 },
      { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 16, 32] });
    const first = await grad().data();
    let same = true;
    for (let i = 0; i < 400 && !((wasmKernelHelperStats(tf.backend())?.helped ?? 0) > 0); i++) {
      const again = grad();
      const v = await again.data();
      same &&= v.every((e, j) => Object.is(e, first[j]));
      again.dispose();
      await new Promise((r) => setTimeout(r, 5));
    }
    const sums = await Promise.all([y, dx, dw].map(async (t) => (await tf.sum(tf.abs(t)).data())[0]));
    console.log(JSON.stringify({ threads: d.threads, simd: wasmTrainingSimdInUse(tf.backend()), sums,
      helpers: wasmKernelHelpers(), helped: wasmKernelHelperStats(tf.backend())?.helped ?? 0, same }));
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
      helpers: number;
      helped: number;
      same: boolean;
    };
  };

  it('runs 2 threads, matches 1 thread, and exits', () => {
    const one = run('1');
    const two = run('2');
    expect(one.threads).toBe(1);
    expect(two.threads).toBe(2);
    expect([one.simd, two.simd]).toEqual([true, true]);
    // With 2 threads one helper thread splits robust-ft's filter-gradient tiles (core's tile-threads.ts).
    expect([one.helpers, two.helpers]).toEqual([0, 1]);
    expect(one.helped).toBe(0);
    expect(two.helped).toBeGreaterThan(0);
    expect([one.same, two.same]).toEqual([true, true]);
    two.sums.forEach((s, i) => {
      expect(Math.abs(s - one.sums[i]!)).toBeLessThan(1e-3 * Math.max(1, Math.abs(one.sums[i]!)));
    });
  }, 240_000);
});
