import { type EmbeddedWasm, embeddedWasm } from '../../embedded-wasm';
import type { WindowGeometry } from '../typed-array';
import {
  elementwiseSplitEnabled,
  FLAT_WORDS,
  ITEM_WORDS,
  PARTS_PER_THREAD,
  runPartition,
  splitThresholds,
  TILE_NAMES,
  TILE_PARTS_PER_THREAD,
  type TilePool,
  type TilePoolStats,
  tilePoolFor,
  tilePoolStats,
  writeFlatJob,
  writeJob,
} from './tile-threads';
import { TRAINING_SHARED_WASM_BASE64, TRAINING_WASM_BASE64 } from './training.generated';

/**
 * The SIMD training kernels of training.wat, instantiated over tfjs-backend-wasm's own heap so they
 * read and write tensors in place (a tensor is its byte offset there). This file only walks shapes and
 * hands byte pointers to the module; the arithmetic is in the .wat. Where the runtime has no wasm SIMD,
 * or the heap cannot be found, `trainingSimdFor` returns null and the callers keep their typed-array
 * loops (or XNNPACK compositions).
 */

type Ptr = number;
/** (xp, dp, wp, nb, nr, nc, xsB, xsR, xsC, dsB, dsR, dsC[, ws]): see training.wat. */
type Tile = (...args: number[]) => void;

interface TrainingExports {
  t4x8: Tile;
  t4x4: Tile;
  t1x16: Tile;
  t1x4: Tile;
  dw16: Tile;
  dw4: Tile;
  maxpoolgrad: (...args: number[]) => void;
  maxpool2x2: (...args: number[]) => void;
  avgpoolgrad: (...args: number[]) => void;
  relugrad: (dy: Ptr, x: Ptr, out: Ptr, n: number, hi: number) => void;
  clipgrad: (dy: Ptr, x: Ptr, out: Ptr, n: number, lo: number, hi: number) => void;
  colsum: (x: Ptr, out: Ptr, rows: number, cols: number) => void;
  addrow: (x: Ptr, bias: Ptr, out: Ptr, rows: number, cols: number) => void;
}

/**
 * Bytes of input a tile pass covers before moving on: the filter-gradient tiles each re-read x and dy
 * (once per tap and channel block), so they are handed a few images at a time that stay in L2; at
 * B = 128 the whole batch (≈ 5–8 MB for the digits CNN) streamed from memory ~150 times made the
 * kernel 5× slower per image than at B = 32. (The conformance suite has cases that span two blocks.)
 */
const BLOCK_BYTES = 512 * 1024;

/** tfjs-backend-wasm's emscripten module: `asm.memory` (plain build) or `wasmMemory` (threaded build). */
interface WasmModuleLike {
  wasm?: { asm?: { memory?: unknown }; wasmMemory?: unknown };
}

let enabled = true;

/**
 * Switches the SIMD training kernels on (the default) or off. Off, the wasm kernels take the paths
 * they use where wasm SIMD is missing (typed-array loops, the XNNPACK filter-gradient matmul, the stock
 * Sum and Add): the conformance suite runs both, and the training benchmark can compare them.
 */
export function setWasmTrainingSimdEnabled(on: boolean): void {
  enabled = on;
}

/**
 * Whether the wasm backend `backend` (`tf.backend()`) runs the SIMD training kernels: wasm SIMD is
 * available, the module links to its heap, and they are enabled.
 */
export function wasmTrainingSimdInUse(backend: unknown): boolean {
  return trainingSimdFor(backend) !== null;
}

/**
 * The wasm backend's heap when robust-ft's SIMD kernels may run over it (they are enabled and the
 * memory can be found), else null. Shared with the matrix-product module (matmul-simd.ts).
 */
export function simdHeapOf(backend: unknown): WebAssembly.Memory | null {
  if (!enabled) return null;
  const w = (backend as WasmModuleLike).wasm;
  const memory = w?.asm?.memory ?? w?.wasmMemory;
  return memory instanceof WebAssembly.Memory ? memory : null;
}

/**
 * How robust-ft's filter-gradient kernels used helper threads over `backend`'s heap (tile-threads.ts):
 * jobs, their partitions and the partitions the helpers ran; null where no helpers run there.
 */
export function wasmKernelHelperStats(backend: unknown): TilePoolStats | null {
  const memory = simdHeapOf(backend);
  return memory ? tilePoolStats(memory) : null;
}

/**
 * `module` instantiated over a backend's heap, once per heap (`simdHeapOf`): the exports, or null
 * where the module cannot (or may not) run there.
 */
export function perHeap<T>(module: EmbeddedWasm): (backend: unknown) => T | null {
  const instances = new WeakMap<WebAssembly.Memory, T | null>();
  return (backend) => {
    const memory = simdHeapOf(backend);
    if (memory === null) return null;
    let x = instances.get(memory);
    if (x === undefined) {
      x = module.instantiate<T>(memory);
      instances.set(memory, x);
    }
    return x;
  };
}

const trainingModule = embeddedWasm(TRAINING_WASM_BASE64, TRAINING_SHARED_WASM_BASE64);
const trainingExports = perHeap<TrainingExports>(trainingModule);

const wrappers = new WeakMap<TrainingExports, TrainingSimd>();

/** The kernels over `backend`'s heap (cached per heap), or null where they cannot (or may not) run. */
export function trainingSimdFor(backend: unknown): TrainingSimd | null {
  const x = trainingExports(backend);
  const memory = simdHeapOf(backend);
  if (!x || !memory) return null;
  let simd = wrappers.get(x);
  if (simd === undefined) {
    simd = new TrainingSimd(x, memory);
    wrappers.set(x, simd);
  }
  return simd;
}

/** Indices of the functions in tile-threads.ts's TILE_NAMES, and the output channels each tile covers. */
const [T4X8, T4X4, T1X16, T1X4, DW16, DW4, RELUGRAD, CLIPGRAD, ADDROW, MAXPOOL2X2] = [
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
];

const TILE_WIDTH = [8, 4, 16, 4, 16, 4];

/**
 * How a filter-gradient kernel went: 'skip' (shape not taken, nothing written), 'done', 'redo' (a
 * helper thread failed and the result was recomputed on the calling thread: done too) or 'abandoned'
 * (a helper did not answer in time: recompute into a fresh output and never free this one).
 */
export type TileOutcome = 'skip' | 'done' | 'redo' | 'abandoned';

/** Output positions [lo, hi) whose tap at offset `off` (input = pos·stride + off) lies in [0, size). */
function validRange(off: number, stride: number, size: number, outSize: number): [number, number] {
  const lo = Math.max(0, Math.ceil(-off / stride));
  const hi = Math.min(outSize, Math.floor((size - 1 - off) / stride) + 1);
  return [lo, Math.max(lo, hi)];
}

/**
 * For each filter tap (kh, kw): the byte offsets of the first input and dy positions it meets and the
 * number of output rows/columns it meets, plus the strides to walk them (batch, row, column), for
 * inputs of `ci` and dy of `co` channels.
 */
function forEachTap(
  g: WindowGeometry,
  ci: number,
  co: number,
  fn: (tap: number, xOff: number, dyOff: number, nr: number, nc: number) => void,
): void {
  const { inHeight: H, inWidth: W, outHeight: HO, outWidth: WO, strideHeight: sh, strideWidth: sw } = g;
  for (let kh = 0; kh < g.filterHeight; kh++) {
    const offR = kh * g.dilationHeight - g.padInfo.top;
    const [r0, r1] = validRange(offR, sh, H, HO);
    for (let kw = 0; kw < g.filterWidth; kw++) {
      const offC = kw * g.dilationWidth - g.padInfo.left;
      const [c0, c1] = validRange(offC, sw, W, WO);
      const xOff = 4 * ((r0 * sh + offR) * W + (c0 * sw + offC)) * ci;
      const dyOff = 4 * (r0 * WO + c0) * co;
      fn(kh * g.filterWidth + kw, r1 > r0 && c1 > c0 ? xOff : 0, dyOff, r1 - r0, c1 - c0);
    }
  }
}

/**
 * Blocks of images whose x and dy together fit BLOCK_BYTES, as tile-threads.ts's block words: the x
 * and dy byte offsets of the block's first image and its image count.
 */
function batchBlocks(g: WindowGeometry, ci: number, co: number): number[] {
  const perImage = 4 * (g.inHeight * g.inWidth * ci + g.outHeight * g.outWidth * co);
  const block = Math.max(1, Math.floor(BLOCK_BYTES / perImage));
  const xsB = 4 * g.inHeight * g.inWidth * ci;
  const dsB = 4 * g.outHeight * g.outWidth * co;
  const out: number[] = [];
  for (let b0 = 0; b0 < g.batchSize; b0 += block)
    out.push(b0 * xsB, b0 * dsB, Math.min(block, g.batchSize - b0));
  return out;
}

/** Calls `fns[call[0]]` with the rest of `call` as its arguments. */
function runCall(fns: readonly ((...args: number[]) => void)[], call: number[]): void {
  fns[call[0]!]!(...call.slice(1));
}

/** [B, H, W, C, HO, WO, KH, KW, sh, sw]: the leading sizes training.wat's pooling kernels take. */
function poolArgs(g: WindowGeometry): number[] {
  return [
    g.batchSize,
    g.inHeight,
    g.inWidth,
    g.inChannels,
    g.outHeight,
    g.outWidth,
    g.filterHeight,
    g.filterWidth,
    g.strideHeight,
    g.strideWidth,
  ];
}

export class TrainingSimd {
  private readonly fns: ((...args: number[]) => void)[];

  constructor(
    private readonly x: TrainingExports,
    private readonly memory: WebAssembly.Memory,
  ) {
    this.fns = TILE_NAMES.map((n) => x[n]);
  }

  /** The helper threads over this heap (tile-threads.ts), or null: tiles run on the calling thread. */
  private pool(): TilePool | null {
    return tilePoolFor(this.memory, trainingModule.module(true), () => this.fns);
  }

  /**
   * dW[kh,kw,ci,co] = Σ x·dy over batch and output positions, added to `dw` (allocate it zeroed).
   * Needs co % 4 = 0; returns 'skip' (and writes nothing) otherwise. With helper threads
   * (tile-threads.ts) the tiles are split among them; see `runTiles` for the other outcomes.
   */
  conv2dBackpropFilter(x: Ptr, dy: Ptr, dw: Ptr, g: WindowGeometry): TileOutcome {
    const { inChannels: CI, outChannels: CO } = g;
    if (CO % 4 !== 0 || g.batchSize < 1) return 'skip';
    // One tap's tiles, in the order one thread runs them: [function, ci, co].
    const tiles: number[] = [];
    if (CI % 4 === 0) {
      for (let ci = 0; ci < CI; ci += 4) {
        let co = 0;
        for (; co + 8 <= CO; co += 8) tiles.push(T4X8, ci, co);
        for (; co < CO; co += 4) tiles.push(T4X4, ci, co);
      }
    } else {
      for (let ci = 0; ci < CI; ci++) {
        let co = 0;
        for (; co + 16 <= CO; co += 16) tiles.push(T1X16, ci, co);
        for (; co < CO; co += 4) tiles.push(T1X4, ci, co);
      }
    }
    const items: number[] = [];
    forEachTap(g, CI, CO, (tap, xOff, dyOff, nr, nc) => {
      const wTap = dw + 4 * tap * CI * CO;
      for (let t = 0; t < tiles.length; t += 3) {
        const [f, ci, co] = [tiles[t]!, tiles[t + 1]!, tiles[t + 2]!];
        items.push(f, xOff + 4 * ci, dyOff + 4 * co, wTap + 4 * (ci * CO + co), nr, nc);
      }
    });
    const macs = g.batchSize * g.outHeight * g.outWidth * g.filterHeight * g.filterWidth * CI * CO;
    return this.runTiles(x, dy, [...this.strides(g, CI, CO), 4 * CO], batchBlocks(g, CI, CO), items, macs);
  }

  /**
   * Depthwise filter gradient added to `dw` (zeroed), channel multiplier 1, channels % 4 = 0; 'skip'
   * (nothing written) otherwise.
   */
  depthwiseBackpropFilter(x: Ptr, dy: Ptr, dw: Ptr, g: WindowGeometry): TileOutcome {
    const C = g.inChannels;
    if (g.outChannels !== C || C % 4 !== 0 || g.batchSize < 1) return 'skip';
    const items: number[] = [];
    forEachTap(g, C, C, (tap, xOff, dyOff, nr, nc) => {
      const wTap = dw + 4 * tap * C;
      let c = 0;
      for (; c + 16 <= C; c += 16) items.push(DW16, xOff + 4 * c, dyOff + 4 * c, wTap + 4 * c, nr, nc);
      for (; c < C; c += 4) items.push(DW4, xOff + 4 * c, dyOff + 4 * c, wTap + 4 * c, nr, nc);
    });
    const macs = g.batchSize * g.outHeight * g.outWidth * g.filterHeight * g.filterWidth * C;
    return this.runTiles(x, dy, [...this.strides(g, C, C), 0], batchBlocks(g, C, C), items, macs);
  }

  /**
   * Runs tile items over batch blocks: each item is `fn(x + block's x offset + item's x offset, dy +
   * …, dW pointer, images, rows, columns, strides…)`, blocks in order. Items write disjoint outputs
   * (a tap × channel tile each), so with helper threads they are split into one contiguous partition
   * per thread and the values are the same bits as on one thread. 'done': `dw` holds the result.
   * 'redo': a helper failed part-way; `dw` was zeroed and recomputed here ('done' in effect, reported
   * for tests). 'abandoned': a helper did not finish in time and may still write to `dw`: the caller
   * must recompute into a fresh output (helpers are off from then on) and never free `dw`.
   */
  private runTiles(
    x: Ptr,
    dy: Ptr,
    strides: number[],
    blocks: number[],
    items: number[],
    macs: number,
  ): TileOutcome {
    const nItems = items.length / ITEM_WORDS;
    const pool = macs >= splitThresholds().macs ? this.pool() : null;
    const parts = pool === null ? 1 : Math.min(TILE_PARTS_PER_THREAD * (pool.helpers + 1), nItems);
    if (pool !== null && parts > 1 && pool.admit()) {
      const job = writeJob(pool.job, x, dy, strides, blocks, items, parts);
      if (job === pool.job) {
        const outcome = pool.run(job);
        if (outcome === 'ok') return 'done';
        if (outcome === 'redo-fresh') return 'abandoned';
        // A helper threw: its partition may be half-added. Zero what the items write, run here.
        this.zeroItems(items, strides[6]!);
        runPartition(this.fns, writeJob(null, x, dy, strides, blocks, items, 1), 0);
        return 'redo';
      }
    }
    runPartition(this.fns, writeJob(null, x, dy, strides, blocks, items, 1), 0);
    return 'done';
  }

  /** Zeroes the dW cells the items write (4 rows of `ws` bytes apart for 4-input tiles). */
  private zeroItems(items: number[], ws: number): void {
    const heap = new Uint8Array(this.memory.buffer);
    for (let q = 0; q < items.length; q += ITEM_WORDS) {
      const f = items[q]!;
      const width = TILE_WIDTH[f]!;
      const rows = f === T4X8 || f === T4X4 ? 4 : 1;
      for (let r = 0; r < rows; r++) heap.fill(0, items[q + 3]! + r * ws, items[q + 3]! + r * ws + 4 * width);
    }
  }

  /**
   * Max-pool gradient into a zeroed `dx`, with `scratch` 2·C float32 words of working space;
   * channels % 4 = 0, else false (nothing written).
   */
  maxPoolGrad(dy: Ptr, x: Ptr, dx: Ptr, scratch: Ptr, g: WindowGeometry): boolean {
    const C = g.inChannels;
    if (C % 4 !== 0 || g.outChannels !== C) return false;
    if (g.batchSize * g.outHeight * g.outWidth * C * g.filterHeight * g.filterWidth === 0) return true;
    const { dilationHeight: dh, dilationWidth: dw, padInfo } = g;
    this.x.maxpoolgrad(dy, x, dx, ...poolArgs(g), dh, dw, padInfo.top, padInfo.left, scratch);
    return true;
  }

  /**
   * Whether `maxPoolGrad2x2` takes this geometry: 2×2 windows, stride 2, no dilation, no padding at
   * the top/left (`valid`, or `same` on even sizes), channels % 4 = 0. Its windows never overlap.
   */
  static takesMaxPool2x2(g: WindowGeometry): boolean {
    return (
      g.filterHeight === 2 &&
      g.filterWidth === 2 &&
      g.strideHeight === 2 &&
      g.strideWidth === 2 &&
      g.dilationHeight === 1 &&
      g.dilationWidth === 1 &&
      g.padInfo.top === 0 &&
      g.padInfo.left === 0 &&
      2 * g.outHeight <= g.inHeight &&
      2 * g.outWidth <= g.inWidth &&
      g.inChannels % 4 === 0 &&
      g.outChannels === g.inChannels
    );
  }

  /**
   * Max-pool gradient for a geometry `takesMaxPool2x2` accepts, one pass per window. It writes every
   * dx element a window covers; the rest (the last row/column of odd sizes) must be zeroed by the
   * caller, see `maxPool2x2CoversInput`.
   */
  maxPoolGrad2x2(dy: Ptr, x: Ptr, dx: Ptr, g: WindowGeometry): void {
    const [, H, W, C, HO, WO] = poolArgs(g) as [number, number, number, number, number, number];
    const [xs, ys] = [4 * H * W * C, 4 * HO * WO * C];
    this.split(g.batchSize, 1, H * W * C, (b0, nb) => [
      MAXPOOL2X2,
      dy + ys * b0,
      x + xs * b0,
      dx + xs * b0,
      nb,
      H,
      W,
      C,
      HO,
      WO,
    ]);
  }

  /**
   * Runs `call(i0, len)` over [0, n) (units of `unit` float32 elements; chunks are multiples of `align`
   * units): in chunks split among the helper threads when there are any and the pass has at least
   * SPLIT_MIN_ELEMENTS (tile-threads.ts) elements, else as one call here. Each chunk writes its own slice of the output
   * (every element it covers, nothing else), so the values are the same either way, and a chunk that
   * must be redone on this thread (a helper failed or stalled) can simply be run again. (A helper
   * stalled past tile-threads.ts's HELPER_WAIT_MS may still write its chunk later: the same values, but into memory the
   * output may no longer own by then. Unlike the filter gradients, which leave such an output
   * allocated, this is not guarded: a 2 s stall inside a sub-millisecond chunk.)
   */
  private split(n: number, align: number, unit: number, call: (i0: number, len: number) => number[]): void {
    const pool = n * unit >= splitThresholds().elements && elementwiseSplitEnabled() ? this.pool() : null;
    const parts = pool === null ? 1 : Math.min(PARTS_PER_THREAD * (pool.helpers + 1), Math.floor(n / align));
    if (pool === null || parts < 2 || !pool.admit()) {
      runCall(this.fns, call(0, n));
      return;
    }
    const step = align * Math.ceil(n / parts / align);
    const calls: number[] = [];
    for (let i0 = 0; i0 < n; i0 += step) {
      const c = call(i0, Math.min(step, n - i0));
      calls.push(...c, ...new Array<number>(FLAT_WORDS - c.length).fill(0));
    }
    const job = writeFlatJob(pool.job, calls);
    if (job !== pool.job || pool.run(job) !== 'ok') {
      for (let i = 0; i < calls.length; i += FLAT_WORDS) runCall(this.fns, calls.slice(i, i + FLAT_WORDS));
    }
  }

  /** Whether the 2×2 windows cover every input element (so dx needs no zeroing). */
  static maxPool2x2CoversInput(g: WindowGeometry): boolean {
    return 2 * g.outHeight === g.inHeight && 2 * g.outWidth === g.inWidth;
  }

  /**
   * Average-pool gradient into `dx` (every element written; no zeroing needed), channels % 4 = 0,
   * no dilation; false (nothing written) otherwise.
   */
  avgPoolGrad(dy: Ptr, dx: Ptr, g: WindowGeometry): boolean {
    const C = g.inChannels;
    if (C % 4 !== 0 || g.outChannels !== C || g.dilationHeight !== 1 || g.dilationWidth !== 1) return false;
    const mul = 1 / (g.filterHeight * g.filterWidth);
    this.x.avgpoolgrad(dy, dx, ...poolArgs(g), g.padInfo.top, g.padInfo.left, mul);
    return true;
  }

  /**
   * `out = dy · mask(x)` over `n` float32 elements, the mask being tfjs-core's ReLU (`hi` = ∞) or
   * ReLU6 (`hi` = 6) gradient mask: 1 where 0 < x ≤ hi, NaN where x is NaN, else 0. `n` must be a
   * multiple of 4 (the caller does the rest).
   */
  reluGrad(dy: Ptr, x: Ptr, out: Ptr, n: number, hi: number): void {
    this.split(n, 4, 1, (i0, len) => [RELUGRAD, dy + 4 * i0, x + 4 * i0, out + 4 * i0, len, hi]);
  }

  /**
   * `out = lo ≤ x ≤ hi ? dy : 0` over `n` float32 elements (a multiple of 4): tfjs-core's ClipByValue
   * gradient.
   */
  clipGrad(dy: Ptr, x: Ptr, out: Ptr, n: number, lo: number, hi: number): void {
    this.split(n, 4, 1, (i0, len) => [CLIPGRAD, dy + 4 * i0, x + 4 * i0, out + 4 * i0, len, lo, hi]);
  }

  /** Column sums of a row-major [rows, cols] float32 matrix added to `out` (zeroed); cols % 4 = 0. */
  columnSums(x: Ptr, out: Ptr, rows: number, cols: number): boolean {
    if (cols % 4 !== 0) return false;
    const block = Math.max(1, Math.floor(BLOCK_BYTES / (4 * cols)));
    for (let r0 = 0; r0 < rows; r0 += block)
      this.x.colsum(x + 4 * r0 * cols, out, Math.min(block, rows - r0), cols);
    return true;
  }

  /** out[r, :] = x[r, :] + bias for a row-major [rows, cols] float32 matrix; cols % 4 = 0. */
  addBias(x: Ptr, bias: Ptr, out: Ptr, rows: number, cols: number): boolean {
    if (cols % 4 !== 0) return false;
    const b = 4 * cols;
    this.split(rows, 1, cols, (r0, nr) => [ADDROW, x + b * r0, bias, out + b * r0, nr, cols]);
    return true;
  }

  /** Byte strides [xsB, xsR, xsC, dsB, dsR, dsC] of an NHWC input and dy walked by output position. */
  private strides(
    g: WindowGeometry,
    ci: number,
    co: number,
  ): [number, number, number, number, number, number] {
    const { inHeight: H, inWidth: W, outHeight: HO, outWidth: WO } = g;
    return [
      4 * H * W * ci,
      4 * g.strideHeight * W * ci,
      4 * g.strideWidth * ci,
      4 * HO * WO * co,
      4 * WO * co,
      4 * co,
    ];
  }
}
