import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  CHECK_JOBS,
  elementwiseSplitEnabled,
  HELPER_WAIT_MS,
  JOB_WORDS,
  KERNEL_WORKER_SOURCE,
  type KernelWorkerFactory,
  MIN_OVERLAP,
  PARTS_PER_THREAD,
  PAUSE_JOBS,
  processCpuClock,
  SPLIT_MIN_ELEMENTS,
  SPLIT_MIN_MACS,
  setWasmKernelThreads,
  splitThresholds,
  TILE_PARTS_PER_THREAD,
  wasmKernelHelpers,
} from '../src/kernels/simd/tile-threads';
import { trainingSimdFor, wasmKernelHelperStats } from '../src/kernels/simd/training-simd';
import { convInfoOf, poolInfoOf } from '../src/kernels/training-kernels';
import { conv2dBackpropFilterNhwc, depthwiseBackpropFilterNhwc } from '../src/kernels/typed-array';
import { testHeap } from './wasm-heap';

// The helper threads of robust-ft's SIMD filter-gradient kernels (tile-threads.ts), driven here on
// standalone shared heaps with Node workers: the threaded wasm backend itself only starts in a child
// process (backend-node's wasm-threads test runs the kernels there end to end).

const workers: Worker[] = [];
/** Node workers running the helper script, optionally edited to break it. */
const nodeFactory =
  (edit: (source: string) => string = (s) => s, execArgv?: string[]): KernelWorkerFactory =>
  (source) => {
    const w = new Worker(edit(source), { eval: true, ...(execArgv ? { execArgv } : {}) });
    w.unref();
    workers.push(w);
    return w;
  };

afterEach(() => setWasmKernelThreads(1, null));

/** The overlap check off (a test machine's other work would pause the helpers at random). */
const NO_CHECK = { cpuClock: null, minMacs: 0, minElements: 1 << 16 };
afterAll(async () => {
  await Promise.all(workers.map((w) => w.terminate()));
});

/** A shared heap (as the threaded wasm build's), large enough for the split cases. */
const sharedHeap = () => testHeap(256, true);

const seq = (n: number, k: number) => Array.from({ length: n }, (_, i) => Math.sin(i * k));

interface Case {
  name: string;
  x: number[];
  w: number[];
  strides: number | [number, number];
  pad: 'same' | 'valid';
  depthwise?: boolean;
}

/**
 * Filter-gradient geometries for the split: odd input channels (the 1×16/1×4 tiles), a tile count per
 * tap that no thread count divides, one image, a single item (nothing to split), strides and
 * padding, and depthwise.
 */
const CASES: Case[] = [
  { name: 'CI 3, CO 20, stride 2 × 1', x: [5, 9, 7, 3], w: [3, 3, 3, 20], strides: [2, 1], pad: 'same' },
  { name: 'CI 12, CO 28 (7 co tiles)', x: [3, 8, 8, 12], w: [3, 3, 12, 28], strides: 1, pad: 'same' },
  { name: 'one image, CI 5, CO 12', x: [1, 10, 9, 5], w: [3, 2, 5, 12], strides: 1, pad: 'valid' },
  { name: 'one item: 1×1, CI 1, CO 16', x: [4, 6, 6, 1], w: [1, 1, 1, 16], strides: 1, pad: 'valid' },
  { name: 'digits conv2, B 6', x: [6, 14, 14, 16], w: [3, 3, 16, 32], strides: 1, pad: 'same' },
  {
    name: 'depthwise, 20 channels',
    x: [3, 9, 8, 20],
    w: [3, 3, 20, 1],
    strides: 2,
    pad: 'same',
    depthwise: true,
  },
  // Two 16-channel tiles (the second at channel 16) and a 4-channel one.
  {
    name: 'depthwise, 36 channels',
    x: [2, 6, 5, 36],
    w: [3, 3, 36, 1],
    strides: 1,
    pad: 'same',
    depthwise: true,
  },
];

/** Runs a case on `h` (helpers as configured), returning the outcome, the values and the oracle's. */
function runCase(h: ReturnType<typeof sharedHeap>, c: Case) {
  const g = convInfoOf(c.x, c.w, { strides: c.strides, pad: c.pad }, c.depthwise === true);
  const x = seq(tf.util.sizeFromShape(c.x), 0.37);
  const dy = seq(g.batchSize * g.outHeight * g.outWidth * g.outChannels, 1.3);
  const expected = new Float32Array(tf.util.sizeFromShape(c.w));
  (c.depthwise ? depthwiseBackpropFilterNhwc : conv2dBackpropFilterNhwc)(x, dy, expected, g);
  const simd = trainingSimdFor(h.backend)!;
  // Inputs below the output on the heap, as in a kernel call (the output is allocated last).
  const [px, pdy] = [h.put(x), h.put(dy)];
  const dw = h.zeros(expected.length);
  const outcome = c.depthwise
    ? simd.depthwiseBackpropFilter(px, pdy, dw, g)
    : simd.conv2dBackpropFilter(px, pdy, dw, g);
  return { outcome, values: h.read(dw, expected.length), expected, dw };
}

/** The values on the calling thread alone (no helpers configured), on a heap of its own. */
function single(c: Case): number[] {
  setWasmKernelThreads(1, null);
  return runCase(sharedHeap(), c).values;
}

const near = (actual: number[], expected: Float32Array) => {
  expect(actual.length).toBe(expected.length);
  actual.forEach((v, i) => {
    expect(Math.abs(v - expected[i]!)).toBeLessThan(1e-4 * (1 + Math.abs(expected[i]!)));
  });
};

/**
 * The helper script edited so that every partition it claims throws, 200 ms after claiming it (so the
 * calling thread has meanwhile computed the others, which the redo must zero first).
 */
const breakRun = (s: string) =>
  s.replace(
    'function run(fns, j, f, p) {',
    'function run(fns, j, f, p) { const t0 = Date.now(); while (Date.now() - t0 < 200); throw new Error("broken");',
  );

/** Repeats `run` until a helper has taken a partition on `h` (they start asynchronously), at most 10 s. */
async function untilHelped(h: ReturnType<typeof sharedHeap>, run: () => void): Promise<number> {
  const deadline = performance.now() + 10_000;
  let rounds = 0;
  while (performance.now() < deadline) {
    run();
    rounds++;
    if ((wasmKernelHelperStats(h.backend)?.helped ?? 0) > 0) return rounds;
    await new Promise((r) => setTimeout(r, 5));
  }
  return rounds;
}

describe('filter-gradient helper threads', () => {
  it('pins the split settings', () => {
    // The defaults before any setWasmKernelThreads call (the first test of a fresh module; afterEach
    // puts the same values back): no helpers, filter gradients only, the default thresholds.
    expect(wasmKernelHelpers()).toBe(0);
    expect(elementwiseSplitEnabled()).toBe(false);
    expect(splitThresholds()).toEqual({ macs: SPLIT_MIN_MACS, elements: SPLIT_MIN_ELEMENTS });
    expect(PARTS_PER_THREAD).toBe(4);
    expect(TILE_PARTS_PER_THREAD).toBe(1);
    expect(HELPER_WAIT_MS).toBe(2000);
    expect(JOB_WORDS).toBe(1 << 16);
    setWasmKernelThreads(3, nodeFactory());
    expect(wasmKernelHelpers()).toBe(2);
    setWasmKernelThreads(1, nodeFactory());
    expect(wasmKernelHelpers()).toBe(0);
    setWasmKernelThreads(4, null);
    expect(wasmKernelHelpers()).toBe(0);
    expect(elementwiseSplitEnabled()).toBe(false);
    setWasmKernelThreads(2, null, { elementwise: true });
    expect(elementwiseSplitEnabled()).toBe(true);
    setWasmKernelThreads(2, null);
    expect(elementwiseSplitEnabled()).toBe(false);
    expect(splitThresholds()).toEqual({ macs: SPLIT_MIN_MACS, elements: SPLIT_MIN_ELEMENTS });
    setWasmKernelThreads(2, null, { minMacs: 5, minElements: 7 });
    expect(splitThresholds()).toEqual({ macs: 5, elements: 7 });
  });

  it.each([
    [2, 'a script'],
    [3, 'a script'],
    [2, 'a module (as under a parent run with --input-type=module)'],
  ])(
    'splits the tiles among %i threads, helpers run as %s: the same bits as one thread',
    async (threads, kind) => {
      const execArgv = kind.startsWith('a module') ? ['--input-type=module'] : undefined;
      for (const c of CASES) {
        const one = single(c);
        setWasmKernelThreads(threads, nodeFactory(undefined, execArgv), NO_CHECK);
        const h = sharedHeap();
        let last = runCase(h, c);
        const round = () => {
          last = runCase(h, c);
          expect(last.outcome, c.name).toBe('done');
          expect(Array.from(last.values), c.name).toEqual(Array.from(one));
        };
        // A single item is never split (nothing for a helper); every other case is, in some round.
        if (c.name.startsWith('one item')) {
          round();
          expect(wasmKernelHelperStats(h.backend)!.parts, c.name).toBe(0);
        } else {
          await untilHelped(h, round);
          expect(wasmKernelHelperStats(h.backend)!.helped, c.name).toBeGreaterThan(0);
        }
        expect(Array.from(last.values), c.name).toEqual(Array.from(one));
        near(last.values, last.expected);
      }
    },
    60_000,
  );

  it('keeps the calling thread alone where the heap is not shared or no helper can start (asking once)', () => {
    const c = CASES[1]!;
    const one = single(c);
    let asked = 0;
    const counting = () => {
      asked++;
      return null;
    };
    setWasmKernelThreads(3, counting, { minMacs: 0 });
    const plain = testHeap(256, false);
    expect(Array.from(runCase(plain, c).values)).toEqual(Array.from(one));
    expect(wasmKernelHelperStats(plain.backend)).toBeNull();
    expect(asked).toBe(0);
    // minMacs 0: the case is split-sized, so a pool is attempted (at the default it never would be).
    setWasmKernelThreads(3, counting, { minMacs: 0 });
    const h = sharedHeap();
    expect(runCase(h, c).outcome).toBe('done');
    expect(wasmKernelHelperStats(h.backend)).toBeNull();
    expect(Array.from(runCase(h, c).values)).toEqual(Array.from(one));
    expect(asked).toBe(1);
    asked = 0;
    setWasmKernelThreads(
      3,
      () => {
        asked++;
        throw new Error('no workers here');
      },
      { minMacs: 0 },
    );
    const h2 = sharedHeap();
    expect(Array.from(runCase(h2, c).values)).toEqual(Array.from(one));
    expect(wasmKernelHelperStats(h2.backend)).toBeNull();
    expect(asked).toBe(1);
  });

  it('reads the process CPU time in ms from process.cpuUsage', () => {
    const clock = processCpuClock()!;
    const ms = () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    };
    const before = ms();
    const t = clock();
    const after = ms();
    expect(t).toBeGreaterThanOrEqual(before);
    expect(t).toBeLessThanOrEqual(after);
  });

  it('computes everything on the calling thread when a helper never answers', () => {
    const c = CASES[4]!;
    const one = single(c);
    let started = 0;
    setWasmKernelThreads(
      2,
      () => {
        started++;
        return { postMessage: () => undefined };
      },
      NO_CHECK,
    );
    const h = sharedHeap();
    const t0 = performance.now();
    for (let i = 0; i < 3; i++) {
      const r = runCase(h, c);
      expect(r.outcome).toBe('done');
      expect(Array.from(r.values)).toEqual(Array.from(one));
    }
    // No waiting: partitions nobody claimed are the calling thread's.
    expect(performance.now() - t0).toBeLessThan(HELPER_WAIT_MS);
    expect(wasmKernelHelperStats(h.backend)).toEqual({
      jobs: 3,
      parts: 3 * 2 * TILE_PARTS_PER_THREAD,
      helped: 0,
      pauses: 0,
    });
    // One helper for two threads, started once for the heap.
    expect(started).toBe(1);
  });

  it('runs an element-wise pass after a filter gradient on the same pool (over the earlier job words)', () => {
    const c = CASES[4]!;
    const one = single(c);
    const n = NO_CHECK.minElements + 12;
    const relu = (h: ReturnType<typeof sharedHeap>) => {
      const [dy, x, out] = [h.put(seq(n, 0.9)), h.put(seq(n, 0.13)), h.zeros(n)];
      trainingSimdFor(h.backend)!.reluGrad(dy, x, out, n, Number.POSITIVE_INFINITY);
      return h.read(out, n);
    };
    const oneRelu = relu(sharedHeap());
    // Helpers that never answer: the calling thread runs every partition of both jobs.
    setWasmKernelThreads(2, () => ({ postMessage: () => undefined }), { ...NO_CHECK, elementwise: true });
    const h = sharedHeap();
    expect(Array.from(runCase(h, c).values)).toEqual(Array.from(one));
    expect(relu(h)).toEqual(oneRelu);
    expect(wasmKernelHelperStats(h.backend)).toMatchObject({ jobs: 2, helped: 0 });
  });

  it('splits a filter gradient from exactly minMacs multiply-adds (images × positions × taps × channels)', () => {
    for (const c of [CASES[1]!, CASES[5]!]) {
      const g = convInfoOf(c.x, c.w, { strides: c.strides, pad: c.pad }, c.depthwise === true);
      const macs =
        g.batchSize *
        g.outHeight *
        g.outWidth *
        g.filterHeight *
        g.filterWidth *
        g.inChannels *
        (c.depthwise ? 1 : g.outChannels);
      const one = single(c);
      for (const [minMacs, split] of [
        [macs, true],
        [macs + 1, false],
      ] as const) {
        setWasmKernelThreads(2, () => ({ postMessage: () => undefined }), { cpuClock: null, minMacs });
        const h = sharedHeap();
        expect(Array.from(runCase(h, c).values), c.name).toEqual(Array.from(one));
        // Below the threshold no pool is started for the heap at all.
        expect(wasmKernelHelperStats(h.backend)?.jobs ?? 0, `${c.name}, minMacs ${minMacs}`).toBe(
          split ? 1 : 0,
        );
      }
    }
  });

  it('runs a job larger than the shared job buffer on the calling thread', () => {
    // 5×5 taps × 16 input groups × 28 output tiles = 11,200 items: 67,213 words > JOB_WORDS.
    const c: Case = {
      name: 'CI 64, CO 224, 5×5',
      x: [1, 5, 5, 64],
      w: [5, 5, 64, 224],
      strides: 1,
      pad: 'valid',
    };
    const one = single(c);
    setWasmKernelThreads(2, () => ({ postMessage: () => undefined }), NO_CHECK);
    const h = sharedHeap();
    const r = runCase(h, c);
    expect(r.outcome).toBe('done');
    expect(Array.from(r.values)).toEqual(Array.from(one));
    expect(wasmKernelHelperStats(h.backend)).toMatchObject({ jobs: 0, parts: 0 });
  });

  it('recomputes on the calling thread when a helper fails part-way, then runs alone', async () => {
    // CASES[1] has 4 × 4 tiles beside the 4 × 8 ones (both zeroed before the redo), CASES[4] only 4 × 8.
    for (const c of [CASES[4]!, CASES[1]!]) {
      const one = single(c);
      setWasmKernelThreads(2, nodeFactory(breakRun), NO_CHECK);
      const h = sharedHeap();
      const outcomes = new Set<string>();
      const deadline = performance.now() + 10_000;
      while (!outcomes.has('redo') && performance.now() < deadline) {
        const r = runCase(h, c);
        outcomes.add(r.outcome);
        expect(Array.from(r.values), c.name).toEqual(Array.from(one));
        await new Promise((r) => setTimeout(r, 5));
      }
      expect(outcomes.has('redo'), c.name).toBe(true);
      // Retired: no pool any more, the calling thread alone.
      expect(wasmKernelHelperStats(h.backend)).toBeNull();
      const r = runCase(h, c);
      expect(r.outcome).toBe('done');
      expect(Array.from(r.values), c.name).toEqual(Array.from(one));
    }
  }, 30_000);

  it('recomputes an element-wise pass on the calling thread when a helper fails part-way', async () => {
    const n = NO_CHECK.minElements + 12;
    // Inputs placed once per heap; each round zeroes the output and runs the ReLU gradient.
    const pass = (h: ReturnType<typeof sharedHeap>) => {
      const simd = trainingSimdFor(h.backend)!;
      const dy = h.put(seq(n, 0.9));
      const x = h.put(seq(n, 0.13));
      const out = h.zeros(n);
      return () => {
        new Float32Array(h.memory.buffer, out, n).fill(0);
        simd.reluGrad(dy, x, out, n, Number.POSITIVE_INFINITY);
        return h.read(out, n);
      };
    };
    setWasmKernelThreads(1, null);
    const one = pass(sharedHeap())();
    setWasmKernelThreads(2, nodeFactory(breakRun), { ...NO_CHECK, elementwise: true });
    const h = sharedHeap();
    const round = pass(h);
    expect(round(), 'before the helper starts').toEqual(one);
    expect(wasmKernelHelperStats(h.backend)).not.toBeNull();
    const deadline = performance.now() + 10_000;
    while (wasmKernelHelperStats(h.backend) !== null && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
      expect(round()).toEqual(one);
    }
    // The helper claimed a partition and threw: the pass was redone here, and the pool retired.
    expect(wasmKernelHelperStats(h.backend)).toBeNull();
    expect(round()).toEqual(one);
  }, 30_000);

  it('gives up on a helper stuck in a partition after HELPER_WAIT_MS: the caller redoes it in a fresh output', async () => {
    const c = CASES[4]!;
    const one = single(c);
    setWasmKernelThreads(
      2,
      nodeFactory((s) =>
        s.replace(
          'function run(fns, j, f, p) {',
          'function run(fns, j, f, p) { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);',
        ),
      ),
      NO_CHECK,
    );
    const h = sharedHeap();
    let r = runCase(h, c);
    const deadline = performance.now() + 15_000;
    while (r.outcome === 'done' && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
      r = runCase(h, c);
    }
    expect(r.outcome).toBe('abandoned');
    expect(wasmKernelHelperStats(h.backend)).toBeNull();
    // What the kernel then does (wasm.ts's filterGradient): a fresh output, the calling thread alone.
    const again = runCase(h, c);
    expect(again.outcome).toBe('done');
    expect(again.dw).not.toBe(r.dw);
    expect(Array.from(again.values)).toEqual(Array.from(one));
  }, 30_000);

  it('splits the elementwise passes (ReLU/clip gradients, bias adds, 2×2 max-pool gradients): the same bits', async () => {
    expect([SPLIT_MIN_ELEMENTS, SPLIT_MIN_MACS]).toEqual([1 << 20, 1 << 26]);
    // Sizes at and above the threshold that the chunk counts do not divide; one image; and below it.
    const passes: [string, number][] = [
      ['relu grad', NO_CHECK.minElements + 12],
      ['relu6 grad', 3 * NO_CHECK.minElements + 4],
      ['clip grad', NO_CHECK.minElements],
      ['relu grad, small', 4 * 1000],
      ['bias add, 12 columns', 12 * 5463],
      ['bias add, 16 columns, small', 16 * 100],
      ['max-pool grad, 5 images', 5],
      ['max-pool grad, 1 image', 1],
    ];
    const run = (h: ReturnType<typeof sharedHeap>, name: string, n: number) => {
      const simd = trainingSimdFor(h.backend)!;
      if (name.startsWith('max-pool')) {
        const g = poolInfoOf([n, 58, 57, 24], { filterSize: 2, strides: 2, pad: 'valid' });
        const x = h.put(seq(n * 58 * 57 * 24, 0.71));
        const dy = h.put(seq(n * g.outHeight * g.outWidth * 24, 0.3));
        const dx = h.zeros(n * 58 * 57 * 24);
        simd.maxPoolGrad2x2(dy, x, dx, g);
        return h.read(dx, n * 58 * 57 * 24);
      }
      if (name.startsWith('bias add')) {
        const cols = name.includes('12 columns') ? 12 : 16;
        const out = h.zeros(n);
        expect(simd.addBias(h.put(seq(n, 0.2)), h.put(seq(cols, 1.1)), out, n / cols, cols)).toBe(true);
        return h.read(out, n);
      }
      const [dy, x, out] = [h.put(seq(n, 0.9)), h.put(seq(n, 0.13).map((v) => 8 * v)), h.zeros(n)];
      if (name.startsWith('clip')) simd.clipGrad(dy, x, out, n, -2.5, 3);
      else simd.reluGrad(dy, x, out, n, name.startsWith('relu6') ? 6 : Number.POSITIVE_INFINITY);
      return h.read(out, n);
    };
    for (const [name, n] of passes) {
      setWasmKernelThreads(1, null);
      const one = run(sharedHeap(), name, n);
      setWasmKernelThreads(2, nodeFactory(), { ...NO_CHECK, elementwise: true });
      const h = sharedHeap();
      // Every round is checked: the calling thread runs the partitions no helper took (all of them
      // before the helpers have started).
      const round = () => expect(Array.from(run(h, name, n)), name).toEqual(Array.from(one));
      round();
      const small = name.endsWith('small') || name.endsWith('1 image');
      if (!small) {
        await untilHelped(h, round);
        expect(wasmKernelHelperStats(h.backend)!.helped, name).toBeGreaterThan(0);
      } else {
        expect(wasmKernelHelperStats(h.backend)?.jobs ?? 0, name).toBe(0);
      }
      // The default (`elementwise: false`) keeps these passes on the calling thread.
      setWasmKernelThreads(2, nodeFactory(), NO_CHECK);
      const h2 = sharedHeap();
      expect(Array.from(run(h2, name, n)), name).toEqual(Array.from(one));
      expect(wasmKernelHelperStats(h2.backend)?.jobs ?? 0, name).toBe(0);
    }
  }, 60_000);

  it('pauses the helpers when they do not overlap with the calling thread (no idle core), then checks again', () => {
    expect([CHECK_JOBS, MIN_OVERLAP, PAUSE_JOBS]).toEqual([16, 1.25, 256]);
    expect(processCpuClock()).not.toBeNull(); // Node has process.cpuUsage
    const c = CASES[2]!; // small: ~300 calls on one heap
    const one = single(c);
    // A clock that says the jobs took exactly their wall time in CPU: one core's worth, no overlap.
    setWasmKernelThreads(2, () => ({ postMessage: () => undefined }), {
      cpuClock: () => performance.now(),
      minMacs: 0,
    });
    const h = sharedHeap();
    for (let i = 0; i < CHECK_JOBS + 10; i++)
      expect(Array.from(runCase(h, c).values)).toEqual(Array.from(one));
    // 16 jobs through the pool, then paused: the next 10 ran alone.
    expect(wasmKernelHelperStats(h.backend)).toMatchObject({ jobs: CHECK_JOBS, pauses: 1 });
    for (let i = 0; i < PAUSE_JOBS - 10; i++) runCase(h, c);
    expect(wasmKernelHelperStats(h.backend)).toMatchObject({ jobs: CHECK_JOBS, pauses: 1 });
    runCase(h, c); // the pause is over: through the pool again
    expect(wasmKernelHelperStats(h.backend)).toMatchObject({ jobs: CHECK_JOBS + 1, pauses: 1 });
    // A fresh window: 16 more jobs without overlap pause the helpers again.
    for (let i = 1; i < CHECK_JOBS; i++) runCase(h, c);
    expect(wasmKernelHelperStats(h.backend)).toMatchObject({ jobs: 2 * CHECK_JOBS, pauses: 2 });
    // Twice the wall time in CPU (two threads side by side): never paused.
    let fake = 0;
    let last = performance.now();
    const overlapping = () => {
      const now = performance.now();
      fake += 2 * (now - last);
      last = now;
      return fake;
    };
    setWasmKernelThreads(2, () => ({ postMessage: () => undefined }), { cpuClock: overlapping, minMacs: 0 });
    const h2 = sharedHeap();
    for (let i = 0; i < 3 * CHECK_JOBS; i++) runCase(h2, c);
    expect(wasmKernelHelperStats(h2.backend)).toMatchObject({ jobs: 3 * CHECK_JOBS, pauses: 0 });
  });

  it('ships a helper script with no imports, for Node workers and browser Blob URLs alike', () => {
    expect(KERNEL_WORKER_SOURCE).not.toMatch(/\bimport\b/);
    expect(KERNEL_WORKER_SOURCE).toContain("require('node:worker_threads')");
    expect(KERNEL_WORKER_SOURCE).toContain("g('node:worker_threads')");
    expect(KERNEL_WORKER_SOURCE).toContain("self.addEventListener('message'");
  });
});
