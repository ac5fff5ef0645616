import { embeddedWasm } from '@robust-ft/core/internal';
import { kernelError } from '../errors';
import {
  type AdamConstants,
  ftpProjectByPasses,
  ftpRowsByPasses,
  type Geometry,
  JS_ENGINE,
  Scratch,
  type StepEngine,
  stridedRows,
} from '../loops';
import { fusedRuntime } from '../runtime';
import { STEPS_SHARED_WASM_BASE64, STEPS_WASM_BASE64 } from './steps.generated';

/**
 * The SIMD step module (steps.wat) as a StepEngine, two ways:
 * - on the wasm backend ('wasm-simd') it is instantiated over the backend's own WebAssembly.Memory, so
 *   every pass runs in place on the tensors' bytes: a Float32Array view handed in by the kernel
 *   becomes a byte pointer (its byteOffset);
 * - on the cpu backend ('wasm-simd-copy') it gets a small private memory, and each pass streams its
 *   arrays through it in cache-sized chunks (copy in, f32x4 pass, copy out): the copies hit L1/L2, and
 *   the module's float32 SIMD arithmetic is several times faster than a scalar JS loop in doubles.
 * Either way the module handles the first ⌊n/4⌋·4 elements of each range and the JS pass the rest.
 */

type Ptr = number;

/** The exports of steps.wat (argument order as there). */
interface StepExports {
  adam(...args: number[]): void;
  l2sp(...args: number[]): void;
  ftp1(...args: number[]): void;
  ftp1rows(...args: number[]): void;
  ftp2rows(...args: number[]): void;
  ftp1cols(...args: number[]): void;
  ftpcolsfin(...args: number[]): void;
  ftpscale(...args: number[]): void;
  ftp2cols(...args: number[]): void;
  axpby(...args: number[]): void;
  spd1(...args: number[]): void;
  digrap1(...args: number[]): void;
  digrap2(...args: number[]): void;
  s0: WebAssembly.Global;
  s1: WebAssembly.Global;
  s2: WebAssembly.Global;
  s3: WebAssembly.Global;
  s4: WebAssembly.Global;
  /** Σ g − g over the f32x4 part of every pass that read g since it was zeroed (0, or NaN). */
  bad: WebAssembly.Global;
}

/**
 * The module, compiled where this runtime has wasm SIMD (else null, and the JS passes run), in a plain
 * and a shared-memory variant: tfjs-wasm's threaded build has a shared heap, which a module importing
 * a plain memory cannot link to (the steps fell back to JS loops there).
 */
const steps = embeddedWasm(STEPS_WASM_BASE64, STEPS_SHARED_WASM_BASE64);

const engines = new WeakMap<WebAssembly.Memory, StepEngine | null>();

/** Whether the SIMD module is usable here at all (compiles; does not need a backend). */
export function wasmStepsAvailable(): boolean {
  return steps.module(false) !== null;
}

function instantiate(memory: WebAssembly.Memory): StepExports | null {
  return steps.instantiate<StepExports>(memory);
}

/**
 * A step engine over `memory` (the wasm backend's heap, shared in the threaded build), cached per
 * memory; null when the module cannot be compiled or linked: the caller then uses the JS passes on the
 * same views.
 */
export function wasmEngineFor(memory: WebAssembly.Memory): StepEngine | null {
  const cached = engines.get(memory);
  if (cached !== undefined) return cached;
  const x = instantiate(memory);
  const engine = x ? withRowKernels(buildEngine('wasm-simd', x, directExec(x, memory)), x, memory) : null;
  engines.set(memory, engine);
  return engine;
}

/**
 * Elements per chunk of the copying engine: 10 slots (DiGraP pass 2's arrays) × 32 KiB fit in L2; two
 * more hold FTP's per-column f64 accumulators (strided rows).
 */
const CHUNK = 8192;
const SLOTS = 12;

/** The copying engine for JS-heap tensors (cpu backend), or null without wasm SIMD. */
export function wasmCopyEngine(): StepEngine | null {
  const runtime = fusedRuntime();
  if (runtime.copyEngine === undefined) {
    const pages = Math.ceil((SLOTS * CHUNK * 4) / 65536);
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    const x = instantiate(memory);
    runtime.copyEngine = x
      ? withCopyRowKernels(buildEngine('wasm-simd-copy', x, copyExec(x, memory)), x, memory)
      : null;
  }
  return runtime.copyEngine;
}

/**
 * Runs one module pass over [s, s + n4) of `arrays` (the first `nIn` are read, the rest written; an
 * array may appear as both, e.g. an in-place update) with `call(pointers, count)`, adds the pass's
 * `nSums` sums into `sums`, and returns n4 = (e − s) rounded down to a multiple of 4.
 */
type Exec = (
  arrays: readonly F32[],
  nIn: number,
  s: number,
  e: number,
  nSums: number,
  sums: Float64Array | null,
  call: (p: readonly Ptr[], n: number) => void,
) => number;

type F32 = Float32Array;

function addSums(x: StepExports, nSums: number, sums: Float64Array | null): void {
  if (!sums) return;
  const globals = [x.s0, x.s1, x.s2, x.s3, x.s4];
  for (let j = 0; j < nSums; j++) sums[j] = sums[j]! + (globals[j]!.value as number);
}

function directExec(x: StepExports, memory: WebAssembly.Memory): Exec {
  return (arrays, _nIn, s, e, nSums, sums, call) => {
    const n4 = (e - s) & ~3;
    if (n4 === 0) return 0;
    const ptrs = arrays.map((a) => {
      // A view of another buffer (a detached or stale heap after growth) would be read at wrong bytes.
      if (a.buffer !== memory.buffer) throw kernelError('UNSUPPORTED', 'a view is not on the wasm heap');
      return a.byteOffset + 4 * s;
    });
    call(ptrs, n4);
    addSums(x, nSums, sums);
    return n4;
  };
}

function copyExec(x: StepExports, memory: WebAssembly.Memory): Exec {
  const heap = new Float32Array(memory.buffer);
  return (arrays, nIn, s, e, nSums, sums, call) => {
    const n4 = (e - s) & ~3;
    const ptrs = arrays.map((_, j) => j * CHUNK * 4);
    for (let c = s; c < s + n4; c += CHUNK) {
      const len = Math.min(CHUNK, s + n4 - c);
      for (let j = 0; j < nIn; j++) heap.set(arrays[j]!.subarray(c, c + len), j * CHUNK);
      call(ptrs, len);
      for (let j = nIn; j < arrays.length; j++) arrays[j]!.set(heap.subarray(j * CHUNK, j * CHUNK + len), c);
      addSums(x, nSums, sums);
    }
    return n4;
  };
}

const K = (k: AdamConstants) => [k.b1, k.c1, k.b2, k.c2, k.rs2, k.e, k.sk] as const;

/** Rows the module cannot take: JS columns for strided rows, else one `ftp1` call per contiguous run. */
function ftpRowsFallback(engine: StepEngine, ...a: Parameters<StepEngine['ftpRows']>): void {
  if (stridedRows(a[12])) JS_ENGINE.ftpRows(...a);
  else ftpRowsByPasses(engine, ...a);
}

/**
 * On the shared heap, FTP's per-row passes run as one module call per tensor: rows of whole f32x4
 * vectors (torch layout, rowLen % 4 = 0) through the row kernels, strided rows (tfjs layouts, rows % 4
 * = 0) through the column kernels with their f64 accumulators in the kernel's heap scratch `acc`;
 * otherwise one call per row run, or JS columns. A call per row cost ~1 µs of JS → wasm overhead,
 * which dominated on sets with thousands of short rows.
 */
function withRowKernels(engine: StepEngine, x: StepExports, memory: WebAssembly.Memory): StepEngine {
  const at = (a: Float32Array): Ptr => {
    if (a.buffer !== memory.buffer) throw kernelError('UNSUPPORTED', 'a view is not on the wasm heap');
    return a.byteOffset;
  };
  const byColumns = (geo: Geometry, acc: F32) =>
    stridedRows(geo) && geo.rows % 4 === 0 && acc.length >= 2 * geo.rows;
  const byRows = (geo: Geometry) => geo.outer === 1 && geo.inner % 4 === 0;
  return {
    ...engine,
    ftpRows(th, g, m, v, an, cp, rp, co, mo, vo, ro, acc, geo, k, out) {
      // Without R_prev the row sums of g·cp are not needed: pass ro as a valid pointer and ignore s1.
      const rpp = rp ? at(rp) : at(ro);
      // Pass 1's pointers (both kernels): θ, g, m, v, θ₀, C_prev → c, m', v', then their per-row array.
      const pass1 = (rowArray: F32) => [th, g, m, v, an, cp, co, mo, vo, rowArray].map(at);
      if (byColumns(geo, acc)) {
        acc.fill(0, 0, 2 * geo.rows);
        x.ftp1cols(...pass1(acc), rpp, geo.rows, th.length, ...K(k), k.dk);
        const h = x.s1.value as number;
        x.ftpcolsfin(at(acc), at(ro), geo.rows);
        out[0] = x.s0.value as number;
        out[1] = rp ? h : 0;
        return;
      }
      if (!byRows(geo)) {
        ftpRowsFallback(engine, th, g, m, v, an, cp, rp, co, mo, vo, ro, acc, geo, k, out);
        return;
      }
      x.ftp1rows(...pass1(ro), rpp, geo.rows, geo.inner, rp ? 1 : 0, ...K(k), k.dk);
      out[0] = x.s0.value as number;
      out[1] = rp ? (x.s1.value as number) : 0;
    },
    ftpProject(an, co, tho, ro, acc, geo, gamma) {
      if (byColumns(geo, acc)) {
        x.ftpscale(at(ro), at(acc), geo.rows, gamma);
        x.ftp2cols(at(an), at(co), at(tho), at(acc), geo.rows, tho.length);
      } else if (byRows(geo)) x.ftp2rows(at(an), at(co), at(tho), at(ro), geo.rows, geo.inner, gamma);
      else ftpProjectByPasses(engine, an, co, tho, ro, geo, gamma);
    },
  };
}

function buildEngine(name: StepEngine['name'], x: StepExports, exec: Exec): StepEngine {
  const js = JS_ENGINE;
  const engine: StepEngine = {
    name,
    scratch: new Scratch(),
    // The module checks the f32x4 part of each range, the JS passes the n mod 4 tail.
    resetSeen() {
      x.bad.value = 0;
      js.resetSeen();
    },
    seenFinite: () => x.bad.value === 0 && js.seenFinite(),
    adam(th, g, m, v, tho, mo, vo, k, s, e) {
      const n4 = exec([th, g, m, v, tho, mo, vo], 4, s, e, 0, null, (p, n) =>
        x.adam(p[0]!, p[1]!, p[2]!, p[3]!, p[4]!, p[5]!, p[6]!, n, ...K(k), k.dk),
      );
      if (s + n4 < e) js.adam(th, g, m, v, tho, mo, vo, k, s + n4, e);
    },
    l2sp(th, g, m, v, an, tho, mo, vo, k, alpha, s, e) {
      const n4 = exec([th, g, m, v, an, tho, mo, vo], 5, s, e, 0, null, (p, n) =>
        x.l2sp(p[0]!, p[1]!, p[2]!, p[3]!, p[4]!, p[5]!, p[6]!, p[7]!, n, ...K(k), alpha),
      );
      if (s + n4 < e) js.l2sp(th, g, m, v, an, tho, mo, vo, k, alpha, s + n4, e);
    },
    ftp1(th, g, m, v, an, cp, co, mo, vo, k, s, e, sums) {
      const n4 = exec([th, g, m, v, an, cp, co, mo, vo], 6, s, e, 2, sums, (p, n) =>
        x.ftp1(p[0]!, p[1]!, p[2]!, p[3]!, p[4]!, p[5]!, p[6]!, p[7]!, p[8]!, n, ...K(k), k.dk),
      );
      if (s + n4 < e) js.ftp1(th, g, m, v, an, cp, co, mo, vo, k, s + n4, e, sums);
    },
    axpby(xs, ys, out, a, b, s, e) {
      const n4 = exec([xs, ys, out], 2, s, e, 0, null, (p, n) => x.axpby(p[0]!, p[1]!, p[2]!, n, a, b));
      if (s + n4 < e) js.axpby(xs, ys, out, a, b, s + n4, e);
    },
    spd1(th, g, m, v, an, tho, mo, vo, k, s, e, sums) {
      const n4 = exec([th, g, m, v, an, tho, mo, vo], 5, s, e, 3, sums, (p, n) =>
        x.spd1(p[0]!, p[1]!, p[2]!, p[3]!, p[4]!, p[5]!, p[6]!, p[7]!, n, ...K(k)),
      );
      if (s + n4 < e) js.spd1(th, g, m, v, an, tho, mo, vo, k, s + n4, e, sums);
    },
    digrap1(th, g, an, pp, qp, lambda, s, e, sums) {
      const n4 = exec([th, g, an, pp, qp], 5, s, e, 5, sums, (p, n) =>
        x.digrap1(p[0]!, p[1]!, p[2]!, p[3]!, p[4]!, n, lambda),
      );
      if (s + n4 < e) js.digrap1(th, g, an, pp, qp, lambda, s + n4, e, sums);
    },
    digrap2(th, g, m, v, an, tho, mo, vo, po, qo, k, gs, cs, alpha, beta, s, e) {
      const n4 = exec([th, g, m, v, an, tho, mo, vo, po, qo], 5, s, e, 0, null, (p, n) =>
        x.digrap2(
          p[0]!,
          p[1]!,
          p[2]!,
          p[3]!,
          p[4]!,
          p[5]!,
          p[6]!,
          p[7]!,
          p[8]!,
          p[9]!,
          n,
          ...K(k),
          gs,
          cs,
          alpha,
          beta,
        ),
      );
      if (s + n4 < e) js.digrap2(th, g, m, v, an, tho, mo, vo, po, qo, k, gs, cs, alpha, beta, s + n4, e);
    },
    ftpRows(...a) {
      ftpRowsFallback(engine, ...a);
    },
    ftpProject(an, co, tho, ro, _acc, geo, gamma) {
      ftpProjectByPasses(engine, an, co, tho, ro, geo, gamma);
    },
  };
  return engine;
}

/**
 * The copying engine's FTP passes move blocks through the private memory and run the module's row or
 * column kernels on each block, instead of one copy-and-call per row: on a ViT-like set the per-row
 * calls cost more than the arithmetic. Torch-layout rows: blocks of whole rows of `rowLen` (rows longer
 * than a chunk or not whole f32x4 vectors take the per-row path). Strided rows (tfjs layouts): blocks of
 * whole [rows] lines, the per-column f64 accumulators staying in slots 10–11 across blocks (rows a
 * multiple of 4 and ≤ a chunk; otherwise JS columns).
 */
function withCopyRowKernels(engine: StepEngine, x: StepExports, memory: WebAssembly.Memory): StepEngine {
  const heap = new Float32Array(memory.buffer);
  const slot = (j: number) => j * CHUNK;
  // Slot 9 holds a block's R_prev (first half) and its 1/n (second half): a block has ≤ CHUNK/4 rows.
  const RP = slot(9);
  const RO = slot(9) + CHUNK / 2;
  // Strided rows: R_prev, then 1/n, in slot 9 (≤ CHUNK columns); f64 accumulators, then scales, in 10–11.
  const ACC = slot(10);
  // Pass 1's byte pointers: θ, g, m, v, θ₀, C_prev in slots 0–5 → c, m', v' in slots 6–8.
  const SLOT_PTRS = Array.from({ length: 9 }, (_, j) => slot(j) * 4);
  const fits = (rowLen: number) => rowLen > 0 && rowLen % 4 === 0 && rowLen <= CHUNK;
  const byColumns = (geo: Geometry) => stridedRows(geo) && geo.rows % 4 === 0 && geo.rows <= CHUNK;
  const ins = (th: F32, g: F32, m: F32, v: F32, an: F32, cp: F32) => [th, g, m, v, an, cp];
  return {
    ...engine,
    ftpRows(th, g, m, v, an, cp, rp, co, mo, vo, ro, acc, geo, k, out) {
      const { rows, inner: rowLen } = geo;
      if (byColumns(geo)) {
        const per = Math.floor(CHUNK / rows) * rows;
        const inputs = ins(th, g, m, v, an, cp);
        heap.fill(0, ACC, ACC + 2 * rows);
        if (rp) heap.set(rp.subarray(0, rows), slot(9));
        let h = 0;
        for (let a = 0; a < th.length; a += per) {
          const b = Math.min(a + per, th.length);
          for (let j = 0; j < inputs.length; j++) heap.set(inputs[j]!.subarray(a, b), slot(j));
          x.ftp1cols(...SLOT_PTRS, ACC * 4, slot(9) * 4, rows, b - a, ...K(k), k.dk);
          co.set(heap.subarray(slot(6), slot(6) + b - a), a);
          mo.set(heap.subarray(slot(7), slot(7) + b - a), a);
          vo.set(heap.subarray(slot(8), slot(8) + b - a), a);
          if (rp) h += x.s1.value as number;
        }
        x.ftpcolsfin(ACC * 4, slot(9) * 4, rows);
        ro.set(heap.subarray(slot(9), slot(9) + rows));
        out[0] = x.s0.value as number;
        out[1] = h;
        return;
      }
      if (geo.outer !== 1 || !fits(rowLen)) {
        ftpRowsFallback(engine, th, g, m, v, an, cp, rp, co, mo, vo, ro, acc, geo, k, out);
        return;
      }
      const per = Math.floor(CHUNK / rowLen);
      const inputs = ins(th, g, m, v, an, cp);
      let maxN = 0;
      let h = 0;
      for (let r0 = 0; r0 < rows; r0 += per) {
        const nr = Math.min(per, rows - r0);
        const a = r0 * rowLen;
        const b = a + nr * rowLen;
        for (let j = 0; j < inputs.length; j++) heap.set(inputs[j]!.subarray(a, b), slot(j));
        if (rp) heap.set(rp.subarray(r0, r0 + nr), RP);
        x.ftp1rows(...SLOT_PTRS, RO * 4, RP * 4, nr, rowLen, rp ? 1 : 0, ...K(k), k.dk);
        co.set(heap.subarray(slot(6), slot(6) + nr * rowLen), a);
        mo.set(heap.subarray(slot(7), slot(7) + nr * rowLen), a);
        vo.set(heap.subarray(slot(8), slot(8) + nr * rowLen), a);
        ro.set(heap.subarray(RO, RO + nr), r0);
        maxN = Math.max(maxN, x.s0.value as number);
        if (rp) h += x.s1.value as number;
      }
      out[0] = maxN;
      out[1] = h;
    },
    ftpProject(an, co, tho, ro, _acc, geo, gamma) {
      const { rows, inner: rowLen } = geo;
      if (byColumns(geo)) {
        const per = Math.floor(CHUNK / rows) * rows;
        heap.set(ro.subarray(0, rows), slot(9));
        x.ftpscale(slot(9) * 4, ACC * 4, rows, gamma);
        for (let a = 0; a < tho.length; a += per) {
          const b = Math.min(a + per, tho.length);
          heap.set(an.subarray(a, b), slot(0));
          heap.set(co.subarray(a, b), slot(1));
          x.ftp2cols(0, slot(1) * 4, slot(2) * 4, ACC * 4, rows, b - a);
          tho.set(heap.subarray(slot(2), slot(2) + b - a), a);
        }
        return;
      }
      if (geo.outer !== 1 || !fits(rowLen)) {
        ftpProjectByPasses(engine, an, co, tho, ro, geo, gamma);
        return;
      }
      const per = Math.floor(CHUNK / rowLen);
      for (let r0 = 0; r0 < rows; r0 += per) {
        const nr = Math.min(per, rows - r0);
        const a = r0 * rowLen;
        const b = a + nr * rowLen;
        heap.set(an.subarray(a, b), slot(0));
        heap.set(co.subarray(a, b), slot(1));
        heap.set(ro.subarray(r0, r0 + nr), RO);
        x.ftp2rows(0, slot(1) * 4, slot(2) * 4, RO * 4, nr, rowLen, gamma);
        tho.set(heap.subarray(slot(2), slot(2) + nr * rowLen), a);
      }
    },
  };
}
