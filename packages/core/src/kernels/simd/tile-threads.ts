import { isSharedMemory } from '../../embedded-wasm';

/**
 * Helper threads for training.wat's filter-gradient tiles and large element-wise passes. tfjs-backend-wasm's threaded build keeps
 * its heap in a shared WebAssembly.Memory and runs XNNPACK's operators on its pthread pool, but our
 * kernels run on the calling thread: the digits CNN's Conv2DBackpropFilter was ~25 % of a 2-thread
 * step with the second core idle. Here a helper (a worker the backend package starts: Node's
 * worker_threads or a browser Worker) instantiates the same module over the same memory and takes
 * part of each job.
 *
 * A job is a list of tile calls (items) repeated over blocks of images; the items are split into
 * `parts` contiguous partitions that write disjoint outputs, so nothing is reduced afterwards and every
 * output element sums the same products in the same order as on one thread (bit-identical values).
 * Partitions are claimed with a compare-and-swap on a shared counter by the calling thread and the
 * helpers alike, so a helper that is not running yet (starting, descheduled, dead) costs nothing: the
 * calling thread claims what is left. The kernel stays synchronous: it waits (bounded) only for
 * partitions a helper has claimed and is computing.
 *
 * Element-wise passes are flat jobs: one call per partition (a slice of the output), same claiming.
 * Where the helpers turn out not to run beside the calling thread (the overlap check, CHECK_JOBS),
 * jobs run on the calling thread alone for a while.
 */

/** A started helper: something to post the set-up message to (Node's Worker, a browser Worker). */
export interface KernelWorker {
  postMessage(message: unknown): void;
}

/**
 * Starts a helper running `source` (a script with no imports: Node's eval'd Worker, as a script or a
 * module, or a browser Worker from a Blob URL), or returns null where none can be started.
 */
export type KernelWorkerFactory = (source: string) => KernelWorker | null;

/** Control words (Int32 indices into the control buffer). */
const SEQ = 0; // bumped for every job: helpers sleep on it
const NEXT = 1; // the next global partition number to claim
const BASE = 2; // the current job's first global partition number
const END = 3; // BASE + parts: claims stop there
const DONE = 4; // partitions finished in the current job
const FAILED = 5; // set by a helper whose tile call threw
const STOP = 6; // set to retire the helpers
const HELPED = 7; // partitions the helpers ran, all jobs together (for tests and the benchmark)
const JOBS = 8; // jobs run through the pool
const PARTS = 9; // partitions in those jobs
const CONTROL_WORDS = 10;

/** Job header words, then the blocks (b0 byte offsets of x and dy, nb), then the items. */
const H_X = 0;
const H_DY = 1;
const H_STRIDES = 2; // xsB xsR xsC dsB dsR dsC ws
const H_BLOCKS = 9;
const H_ITEMS = 10;
const H_PARTS = 11;
const H_KIND = 12; // 0: tile job (blocks × items), 1: flat job (one call per partition, float64 words)
const HEADER_WORDS = 13;
/** Flat jobs: calls of FLAT_WORDS float64 words (function, up to 9 arguments) from float64 index 8. */
const FLAT_START = 8;
export const FLAT_WORDS = 10;
const BLOCK_WORDS = 3;
/** Per item: tile function, x offset, dy offset, dW pointer, rows, columns. */
export const ITEM_WORDS = 6;
/** The shared job buffer's size in int32 words (256 KiB); larger jobs run on the calling thread. */
export const JOB_WORDS = 1 << 16;

/**
 * Partitions per thread of an element-wise pass. More than one, so a helper that wakes late (its core
 * busy) still takes a share and the calling thread does not wait long for the last one.
 */
export const PARTS_PER_THREAD = 4;

/**
 * Partitions per thread of a filter gradient: one. Each partition walks every image block (its outputs
 * sum over all of them, in order), so a thread that runs k partitions streams x and dy k times; with
 * 4 per thread the calling thread alone took +15 % (conv 16→32, 14×14) and +83 % (conv 1→16, 28×28,
 * dy 6.4 MB) at B = 128.
 */
export const TILE_PARTS_PER_THREAD = 1;

/**
 * The overlap check: every CHECK_JOBS jobs, the process CPU time they took over their wall time. Two
 * threads computing side by side give ≈ 2; a helper woken onto the calling thread's core (no idle
 * core: other processes hold them) gives ≈ 1 and only adds hand-offs (+5–15 % per kernel measured).
 * Below MIN_OVERLAP the next PAUSE_JOBS jobs run on the calling thread alone, then it checks again.
 */
export const CHECK_JOBS = 16;
export const MIN_OVERLAP = 1.25;
export const PAUSE_JOBS = 256;

/** Process CPU time in ms (Node's `process.cpuUsage`), or null where the runtime has none. */
export function processCpuClock(): (() => number) | null {
  const p = (globalThis as { process?: { cpuUsage?: () => { user: number; system: number } } }).process;
  const usage = p?.cpuUsage;
  if (typeof usage !== 'function') return null;
  return () => {
    const u = usage.call(p);
    return (u.user + u.system) / 1000;
  };
}

/**
 * Element-wise passes (ReLU/clip gradients, bias adds, 2×2 max-pool gradients) are split among helper
 * threads from this many float32 elements (4 MiB): quiet runs lost time splitting the digits CNN's
 * B = 32 passes (200–400 Ki elements), and gained at B = 128 (0.8–1.6 Mi).
 */
export const SPLIT_MIN_ELEMENTS = 1 << 20;

/**
 * Filter gradients are split among helper threads from this many multiply-adds (images × output
 * positions × taps × input × output channels): 64 Mi. Quiet runs of the digits CNN (2 threads) saved
 * kernel time at B = 32 (29 M for the larger conv) but not step time, and saved 1.5–2.5 ms a step at
 * B = 128 (116 M).
 */
export const SPLIT_MIN_MACS = 1 << 26;

/** Longest wait for a partition a helper has claimed before the job is redone on the calling thread. */
export const HELPER_WAIT_MS = 2000;

/** The tile functions by index: the job's item words name them. */
export const TILE_NAMES = [
  't4x8',
  't4x4',
  't1x16',
  't1x4',
  'dw16',
  'dw4',
  'relugrad',
  'clipgrad',
  'addrow',
  'maxpool2x2',
] as const;
export type TileName = (typeof TILE_NAMES)[number];
type Tile = (...args: number[]) => void;

/**
 * The helper's script: a classic script with no imports (so it can be eval'd by Node's Worker or run
 * from a Blob URL). The tile loop is `runPartition`'s, word for word.
 */
export const KERNEL_WORKER_SOURCE = `'use strict';
const NAMES = ${JSON.stringify(TILE_NAMES)};
function start(msg) {
  const fns = [];
  const exports = new WebAssembly.Instance(msg.module, { env: { memory: msg.memory } }).exports;
  for (const n of NAMES) fns.push(exports[n]);
  const c = new Int32Array(msg.control);
  const j = new Int32Array(msg.job);
  const f = new Float64Array(msg.job);
  for (;;) {
    const seen = Atomics.load(c, ${SEQ});
    if (Atomics.load(c, ${STOP}) !== 0) return;
    for (;;) {
      const end = Atomics.load(c, ${END});
      const n = Atomics.load(c, ${NEXT});
      if (n >= end) break;
      if (Atomics.compareExchange(c, ${NEXT}, n, n + 1) !== n) continue;
      try {
        run(fns, j, f, n - Atomics.load(c, ${BASE}));
      } catch (e) {
        Atomics.store(c, ${FAILED}, 1);
      }
      Atomics.add(c, ${HELPED}, 1);
      Atomics.add(c, ${DONE}, 1);
      Atomics.notify(c, ${DONE});
    }
    Atomics.wait(c, ${SEQ}, seen);
  }
}
function run(fns, j, f, p) {
  if (j[${H_KIND}] === 1) {
    const q = ${FLAT_START} + ${FLAT_WORDS} * p;
    fns[f[q]](f[q + 1], f[q + 2], f[q + 3], f[q + 4], f[q + 5], f[q + 6], f[q + 7], f[q + 8], f[q + 9]);
    return;
  }
  const nBlocks = j[${H_BLOCKS}], nItems = j[${H_ITEMS}], parts = j[${H_PARTS}];
  const lo = Math.floor((p * nItems) / parts), hi = Math.floor(((p + 1) * nItems) / parts);
  const x = j[${H_X}], dy = j[${H_DY}];
  const xsB = j[${H_STRIDES}], xsR = j[${H_STRIDES + 1}], xsC = j[${H_STRIDES + 2}];
  const dsB = j[${H_STRIDES + 3}], dsR = j[${H_STRIDES + 4}], dsC = j[${H_STRIDES + 5}], ws = j[${H_STRIDES + 6}];
  const items = ${HEADER_WORDS} + ${BLOCK_WORDS} * nBlocks;
  for (let b = 0; b < nBlocks; b++) {
    const o = ${HEADER_WORDS} + ${BLOCK_WORDS} * b;
    const xb = x + j[o], db = dy + j[o + 1], nb = j[o + 2];
    for (let i = lo; i < hi; i++) {
      const q = items + ${ITEM_WORDS} * i;
      fns[j[q]](xb + j[q + 1], db + j[q + 2], j[q + 3], nb, j[q + 4], j[q + 5], xsB, xsR, xsC, dsB, dsR, dsC, ws);
    }
  }
}
// Node: parentPort (from require in a CommonJS worker, getBuiltinModule where the worker runs as a
// module, e.g. under --input-type=module); a browser: self.
let port = null;
try {
  const g = globalThis.process && globalThis.process.getBuiltinModule;
  port = (g ? g('node:worker_threads') : require('node:worker_threads')).parentPort;
} catch (e) { port = null; }
if (port) port.once('message', start);
else self.addEventListener('message', (ev) => start(ev.data), { once: true });
`;

/** Calls partition `p` of `job`: the same loop as the helper script's `run`. */
export function runPartition(fns: readonly Tile[], j: Int32Array, p: number): void {
  if (j[H_KIND] === 1) {
    const f = new Float64Array(j.buffer, j.byteOffset);
    const q = FLAT_START + FLAT_WORDS * p;
    fns[f[q]!]!(
      f[q + 1]!,
      f[q + 2]!,
      f[q + 3]!,
      f[q + 4]!,
      f[q + 5]!,
      f[q + 6]!,
      f[q + 7]!,
      f[q + 8]!,
      f[q + 9]!,
    );
    return;
  }
  const nBlocks = j[H_BLOCKS]!;
  const nItems = j[H_ITEMS]!;
  const parts = j[H_PARTS]!;
  const lo = Math.floor((p * nItems) / parts);
  const hi = Math.floor(((p + 1) * nItems) / parts);
  const x = j[H_X]!;
  const dy = j[H_DY]!;
  const xsB = j[H_STRIDES]!;
  const xsR = j[H_STRIDES + 1]!;
  const xsC = j[H_STRIDES + 2]!;
  const dsB = j[H_STRIDES + 3]!;
  const dsR = j[H_STRIDES + 4]!;
  const dsC = j[H_STRIDES + 5]!;
  const ws = j[H_STRIDES + 6]!;
  const items = HEADER_WORDS + BLOCK_WORDS * nBlocks;
  for (let b = 0; b < nBlocks; b++) {
    const o = HEADER_WORDS + BLOCK_WORDS * b;
    const xb = x + j[o]!;
    const db = dy + j[o + 1]!;
    const nb = j[o + 2]!;
    for (let i = lo; i < hi; i++) {
      const q = items + ITEM_WORDS * i;
      fns[j[q]!]!(
        xb + j[q + 1]!,
        db + j[q + 2]!,
        j[q + 3]!,
        nb,
        j[q + 4]!,
        j[q + 5]!,
        xsB,
        xsR,
        xsC,
        dsB,
        dsR,
        dsC,
        ws,
      );
    }
  }
}

/**
 * Builds a job: `x`/`dy` byte pointers, the seven strides, the blocks ([x offset, dy offset, images]
 * each) and the items (ITEM_WORDS each), into `into` when it is large enough, else a new array.
 * Returns the job's words (a view of `into` or the new array).
 */
export function writeJob(
  into: Int32Array | null,
  x: number,
  dy: number,
  strides: readonly number[],
  blocks: readonly number[],
  items: readonly number[],
  parts: number,
): Int32Array {
  const words = HEADER_WORDS + blocks.length + items.length;
  const j = into !== null && into.length >= words ? into : new Int32Array(words);
  j[H_X] = x;
  j[H_DY] = dy;
  for (let i = 0; i < 7; i++) j[H_STRIDES + i] = strides[i]!;
  j[H_BLOCKS] = blocks.length / BLOCK_WORDS;
  j[H_ITEMS] = items.length / ITEM_WORDS;
  j[H_PARTS] = parts;
  j[H_KIND] = 0;
  j.set(blocks, HEADER_WORDS);
  j.set(items, HEADER_WORDS + blocks.length);
  return j;
}

/**
 * Builds a flat job: one partition per call, each FLAT_WORDS numbers (function index, then its
 * arguments, padded with anything), into `into` when it is large enough, else a new array. Calls
 * must write disjoint outputs.
 */
export function writeFlatJob(into: Int32Array | null, calls: readonly number[]): Int32Array {
  const words = 2 * (FLAT_START + calls.length);
  const j = into !== null && into.length >= words ? into : new Int32Array(words);
  j[H_PARTS] = calls.length / FLAT_WORDS;
  j[H_KIND] = 1;
  new Float64Array(j.buffer, j.byteOffset).set(calls, FLAT_START);
  return j;
}

/** How `TilePool.run` went: 'ok', or 'redo' when the output must be recomputed (see `run`). */
export type PoolOutcome = 'ok' | 'redo-fresh' | 'redo';

/** The helper threads over one shared heap. */
export class TilePool {
  private readonly control: Int32Array;
  readonly job: Int32Array;
  private retired = false;
  /** Whether this thread may block in Atomics.wait (Node's main thread, workers; not a page's). */
  private readonly canBlock: boolean;
  /** The overlap check's window (CPU and wall ms, jobs), jobs left to run alone, pauses so far. */
  private window = { cpu: 0, wall: 0, jobs: 0 };
  private pausedJobs = 0;
  private pauses = 0;

  constructor(
    readonly helpers: number,
    private readonly fns: readonly Tile[],
    module: WebAssembly.Module,
    memory: WebAssembly.Memory,
    factory: KernelWorkerFactory,
    private readonly cpuClock: (() => number) | null = processCpuClock(),
  ) {
    this.control = new Int32Array(new SharedArrayBuffer(4 * CONTROL_WORDS));
    this.job = new Int32Array(new SharedArrayBuffer(4 * JOB_WORDS));
    this.canBlock = blockingAllowed();
    const message = { module, memory, control: this.control.buffer, job: this.job.buffer };
    let started = 0;
    for (let i = 0; i < helpers; i++) {
      try {
        const w = factory(KERNEL_WORKER_SOURCE);
        if (w === null) break;
        w.postMessage(message);
        started++;
      } catch {
        break;
      }
    }
    if (started === 0) this.retired = true;
  }

  /** Whether helpers may take part (started, not retired after a failure). */
  get active(): boolean {
    return !this.retired;
  }

  /**
   * Runs every partition of `job` (written into `this.job` by `writeJob`), the calling thread
   * claiming partitions alongside the helpers. 'ok': the output is complete. 'redo': a helper's tile
   * call threw (its partition may be half-added): zero the output and run the job on this thread.
   * 'redo-fresh': a claimed partition did not finish within HELPER_WAIT_MS: a helper may still write
   * to the output later, so compute into a fresh one and never free this one. Either way the helpers
   * are retired.
   */
  run(job: Int32Array): PoolOutcome {
    const c = this.control;
    const parts = job[H_PARTS]!;
    const cpu0 = this.cpuClock?.() ?? 0;
    const wall0 = performance.now();
    Atomics.store(c, DONE, 0);
    const base = Atomics.load(c, NEXT);
    Atomics.store(c, BASE, base);
    Atomics.store(c, END, base + parts);
    Atomics.add(c, SEQ, 1);
    Atomics.notify(c, SEQ);
    Atomics.add(c, JOBS, 1);
    Atomics.add(c, PARTS, parts);
    for (;;) {
      const n = Atomics.load(c, NEXT);
      if (n >= base + parts) break;
      if (Atomics.compareExchange(c, NEXT, n, n + 1) !== n) continue;
      runPartition(this.fns, job, n - base);
      Atomics.add(c, DONE, 1);
    }
    const deadline = performance.now() + HELPER_WAIT_MS;
    for (;;) {
      const done = Atomics.load(c, DONE);
      if (done >= parts) break;
      const left = deadline - performance.now();
      if (left <= 0) {
        this.retire();
        return 'redo-fresh';
      }
      if (this.canBlock) Atomics.wait(c, DONE, done, Math.min(left, 50));
    }
    if (Atomics.load(c, FAILED) !== 0) {
      this.retire();
      return 'redo';
    }
    if (this.cpuClock) this.checkOverlap(this.cpuClock() - cpu0, performance.now() - wall0);
    return 'ok';
  }

  /**
   * Whether the next job may use the helpers: false while paused by the overlap check (counting the
   * job down), then the caller runs it alone.
   */
  admit(): boolean {
    if (this.pausedJobs === 0) return true;
    this.pausedJobs--;
    return false;
  }

  private checkOverlap(cpu: number, wall: number): void {
    const w = this.window;
    w.cpu += cpu;
    w.wall += wall;
    if (++w.jobs < CHECK_JOBS) return;
    if (w.cpu < MIN_OVERLAP * w.wall) {
      this.pausedJobs = PAUSE_JOBS;
      this.pauses++;
    }
    this.window = { cpu: 0, wall: 0, jobs: 0 };
  }

  /** Jobs run through the pool, their partitions, and how many of those the helpers ran. */
  stats(): TilePoolStats {
    const c = this.control;
    return {
      jobs: Atomics.load(c, JOBS),
      parts: Atomics.load(c, PARTS),
      helped: Atomics.load(c, HELPED),
      pauses: this.pauses,
    };
  }

  /** Stops the helpers (they return from their loop at the next wake-up) and runs jobs here from now on. */
  retire(): void {
    this.retired = true;
    Atomics.store(this.control, STOP, 1);
    Atomics.store(this.control, END, Atomics.load(this.control, NEXT));
    Atomics.add(this.control, SEQ, 1);
    Atomics.notify(this.control, SEQ);
  }
}

/** Whether Atomics.wait may block this thread (it throws on a page's main thread). */
function blockingAllowed(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

/** Counts since a pool started (see `TilePool.stats`). */
export interface TilePoolStats {
  jobs: number;
  parts: number;
  helped: number;
  /** Times the overlap check (CHECK_JOBS) paused the helpers for PAUSE_JOBS jobs. */
  pauses: number;
}

interface HelperConfig {
  helpers: number;
  factory: KernelWorkerFactory | null;
  elementwise: boolean;
  cpuClock: (() => number) | null;
  minMacs: number;
  minElements: number;
}

const config: HelperConfig = {
  helpers: 0,
  factory: null,
  elementwise: false,
  cpuClock: processCpuClock(),
  minMacs: SPLIT_MIN_MACS,
  minElements: SPLIT_MIN_ELEMENTS,
};

/** Options of `setWasmKernelThreads`. */
export interface WasmKernelThreadOptions {
  /**
   * Split the large element-wise passes too (ReLU/clip gradients, bias adds, 2×2 max-pool gradients),
   * not only the filter gradients. Default false: they added little at B = 128 beyond the filter split
   * (backend-node's README), and a helper stalled past HELPER_WAIT_MS could still write its chunk into
   * memory the output no longer owns (filter gradients guard against that by leaving the output
   * allocated; these passes do not).
   */
  elementwise?: boolean;
  /**
   * Process CPU time in ms, for the overlap check (see CHECK_JOBS); default `processCpuClock()`
   * (Node's `process.cpuUsage`); null turns the check off (as where there is no such clock).
   */
  cpuClock?: (() => number) | null;
  /** Split filter gradients from this many multiply-adds; default SPLIT_MIN_MACS (tests lower it). */
  minMacs?: number;
  /** Split element-wise passes from this many elements; default SPLIT_MIN_ELEMENTS (tests lower it). */
  minElements?: number;
}
const pools = new WeakMap<WebAssembly.Memory, TilePool | null>();

/**
 * Lets robust-ft's wasm filter-gradient kernels (and, with `options.elementwise`, its large
 * element-wise passes) use `threads − 1` helper threads started by `factory` (the backend packages
 * call this when they start the threaded wasm build). Helpers are started on a kernel's first call
 * over a shared heap; `threads` ≤ 1 or a null factory keeps every kernel on the calling thread. Pools
 * already started keep their helpers.
 */
export function setWasmKernelThreads(
  threads: number,
  factory: KernelWorkerFactory | null,
  options: WasmKernelThreadOptions = {},
): void {
  config.helpers = Math.max(0, Math.floor(threads) - 1);
  config.factory = factory;
  config.elementwise = options.elementwise ?? false;
  config.cpuClock = options.cpuClock === undefined ? processCpuClock() : options.cpuClock;
  config.minMacs = options.minMacs ?? SPLIT_MIN_MACS;
  config.minElements = options.minElements ?? SPLIT_MIN_ELEMENTS;
}

/** The sizes from which kernels split (`setWasmKernelThreads`' minMacs and minElements). */
export function splitThresholds(): { macs: number; elements: number } {
  return { macs: config.minMacs, elements: config.minElements };
}

/** Whether element-wise passes may be split (see `WasmKernelThreadOptions.elementwise`). */
export function elementwiseSplitEnabled(): boolean {
  return config.elementwise;
}

/** The helper count `setWasmKernelThreads` asked for (0 when kernels run on the calling thread only). */
export function wasmKernelHelpers(): number {
  return config.factory === null ? 0 : config.helpers;
}

/** The stats of the pool over `memory`, or null where none was started (or it was retired). */
export function tilePoolStats(memory: WebAssembly.Memory): TilePoolStats | null {
  const pool = pools.get(memory);
  return pool?.active ? pool.stats() : null;
}

/**
 * The pool over `memory` (started on first use), or null where helpers cannot run: none asked for,
 * the memory is not shared, no module, or no helper could be started.
 */
export function tilePoolFor(
  memory: WebAssembly.Memory,
  module: WebAssembly.Module | null,
  fns: () => readonly Tile[],
): TilePool | null {
  if (config.helpers < 1 || config.factory === null || module === null || !isSharedMemory(memory))
    return null;
  let pool = pools.get(memory);
  if (pool === undefined) {
    try {
      pool = new TilePool(config.helpers, fns(), module, memory, config.factory, config.cpuClock);
    } catch {
      pool = null;
    }
    pools.set(memory, pool);
  }
  return pool?.active ? pool : null;
}
