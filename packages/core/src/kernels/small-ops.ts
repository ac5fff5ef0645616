import * as tf from '@tensorflow/tfjs-core';

/**
 * Small float32 operators as typed-array loops on the calling thread, for tfjs-backend-wasm. Its
 * threaded build runs every XNNPACK operator through one thread pool: a broadcasting `Multiply` of a
 * [32, 1] by a [32, 10] tensor, the 10-way softmax head or a dense product with N = 10 each paid a
 * hand-off and a barrier (0.2–0.9 ms on a busy 2-core machine) for microseconds of work, ≈ 4 ms of a
 * 10 ms digits-CNN step at B = 32. Below these sizes a plain loop is as fast as the stock kernel on one
 * thread, and never waits for another. The values are tfjs-cpu's: the same operations in the same
 * order, rounded to float32 where tfjs-cpu stores an intermediate.
 */

/** Largest output (elements) the element-wise, softmax and matmul-epilogue loops take (64 KiB). */
export const SMALL_OP_MAX_ELEMENTS = 16384;
/** Largest product (M·N·K multiply-adds per batch times batches) the matmul loop takes. */
export const SMALL_MATMUL_MAX_MACS = 65536;

export type BinaryOp = 'add' | 'sub' | 'mul' | 'div';

/**
 * How a binary operator's output [outer, inner] (row-major) reads its operands: element (r, c) of the
 * output is a[r·aRow + c·aCol] op b[r·bRow + c·bCol]. Each operand is whole (stride inner, 1), a row
 * repeated down (0, 1), a column repeated across (1, 0) or a scalar (0, 0).
 */
export interface BinaryPlan {
  outShape: number[];
  outer: number;
  inner: number;
  aRow: number;
  aCol: number;
  bRow: number;
  bCol: number;
}

/** An operand's place in the output: whole, a trailing row of `size`, a leading column of `size`, one value. */
type Form =
  | { kind: 'whole' }
  | { kind: 'scalar' }
  | { kind: 'row'; size: number }
  | { kind: 'col'; size: number };

function formOf(shape: number[], out: number[]): Form | null {
  const size = tf.util.sizeFromShape(shape);
  const n = tf.util.sizeFromShape(out);
  if (size === 1) return { kind: 'scalar' };
  if (size === n) return { kind: 'whole' };
  const padded = [...new Array<number>(out.length - shape.length).fill(1), ...shape];
  for (let k = 1; k < out.length; k++) {
    const lead = padded.slice(0, k);
    const tail = padded.slice(k);
    if (lead.every((d) => d === 1) && tf.util.arraysEqual(tail, out.slice(k)))
      return { kind: 'row', size: tf.util.sizeFromShape(tail) };
    if (tail.every((d) => d === 1) && tf.util.arraysEqual(lead, out.slice(0, k)))
      return { kind: 'col', size: tf.util.sizeFromShape(lead) };
  }
  return null;
}

/**
 * The loop plan for `a op b` with tfjs's broadcasting, or null where the operands are not each whole,
 * a scalar, a trailing row or a leading column of one [outer, inner] view of the output (e.g. [2,1,3]
 * against [2,4,3]), where the shapes do not broadcast, or where the output is empty or larger than
 * `SMALL_OP_MAX_ELEMENTS`.
 */
export function binaryPlan(aShape: number[], bShape: number[]): BinaryPlan | null {
  let outShape: number[];
  try {
    outShape = tf.backend_util.assertAndGetBroadcastShape(aShape, bShape);
  } catch {
    return null;
  }
  const n = tf.util.sizeFromShape(outShape);
  if (n === 0 || n > SMALL_OP_MAX_ELEMENTS) return null;
  const fa = formOf(aShape, outShape);
  const fb = formOf(bShape, outShape);
  if (fa === null || fb === null) return null;
  // The inner size each operand needs (a row fixes it, a column fixes outer); they must agree.
  const innerOf = (f: Form) => (f.kind === 'row' ? f.size : f.kind === 'col' ? n / f.size : null);
  const wanted = [innerOf(fa), innerOf(fb)].filter((v): v is number => v !== null);
  const inner = wanted[0] ?? n;
  if (wanted.some((v) => v !== inner)) return null;
  const strides = (f: Form): [number, number] =>
    f.kind === 'whole' ? [inner, 1] : f.kind === 'row' ? [0, 1] : f.kind === 'col' ? [1, 0] : [0, 0];
  const [aRow, aCol] = strides(fa);
  const [bRow, bCol] = strides(fb);
  return { outShape, outer: n / inner, inner, aRow, aCol, bRow, bCol };
}

type F32 = Float32Array;

/**
 * out = a op b under `plan`. One loop per operator (a switch inside the loop would cost more than
 * the work); `out` may be `a` (an in-place epilogue). Each result is the float64 operation on float32
 * values rounded once on the store: exactly the float32 operation, NaN and ±∞ included, as tfjs-cpu.
 */
export function binaryLoop(op: BinaryOp, a: F32, b: F32, out: F32, p: BinaryPlan): void {
  const { outer, inner, aRow, aCol, bRow, bCol } = p;
  let o = 0;
  for (let r = 0; r < outer; r++) {
    let i = r * aRow;
    let j = r * bRow;
    if (op === 'add') for (let c = 0; c < inner; c++, i += aCol, j += bCol) out[o++] = a[i]! + b[j]!;
    else if (op === 'sub') for (let c = 0; c < inner; c++, i += aCol, j += bCol) out[o++] = a[i]! - b[j]!;
    else if (op === 'mul') for (let c = 0; c < inner; c++, i += aCol, j += bCol) out[o++] = a[i]! * b[j]!;
    else for (let c = 0; c < inner; c++, i += aCol, j += bCol) out[o++] = a[i]! / b[j]!;
  }
}

/**
 * Softmax over the last axis of `rows` rows of `cols`, tfjs-cpu's sequence: the row's max, x − max and
 * its exp each rounded to float32, their float64 sum rounded to float32, then the division. (cpu's Max
 * lets a NaN win; here it need not: a NaN anywhere makes its exp and so the sum and the whole row NaN
 * either way.) `out` must not alias `x`.
 */
export function softmaxRows(x: F32, out: F32, rows: number, cols: number): void {
  for (let r = 0, base = 0; r < rows; r++, base += cols) {
    let max = x[base]!;
    for (let c = 0; c < cols; c++) {
      const v = x[base + c]!;
      if (v > max) max = v;
    }
    let sum = 0;
    for (let c = 0; c < cols; c++) {
      out[base + c] = Math.exp(Math.fround(x[base + c]! - max));
      sum += out[base + c]!;
    }
    const s = Math.fround(sum);
    for (let c = 0; c < cols; c++) out[base + c] = out[base + c]! / s;
  }
}

/** Whether `productLoop` takes these sizes (non-empty, at most `SMALL_MATMUL_MAX_MACS` in all). */
export function takesSmallProduct(batches: number, m: number, n: number, k: number): boolean {
  const macs = batches * m * n * k;
  return macs > 0 && macs <= SMALL_MATMUL_MAX_MACS;
}

/** One product's sizes: C[M,N] = op(A)·op(B) over K, A or B transposed. */
export interface ProductDims {
  m: number;
  n: number;
  k: number;
  tA: boolean;
  tB: boolean;
}

/**
 * C[M,N] = op(A)·op(B) for one batch, A stored [M,K] (or [K,M] with `tA`), B stored [K,N] (or [N,K]
 * with `tB`), offsets in elements; each sum in float64 over all of K, rounded once
 * (tfjs-cpu sums blocks of 64 in float64).
 */
export function productLoop(
  a: F32,
  b: F32,
  c: F32,
  [ao, bo, co]: [number, number, number],
  { m, n, k, tA, tB }: ProductDims,
): void {
  const [asM, asK] = tA ? [1, m] : [k, 1];
  const [bsK, bsN] = tB ? [1, k] : [n, 1];
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      let p = ao + i * asM;
      let q = bo + j * bsN;
      for (let t = 0; t < k; t++, p += asK, q += bsK) sum += a[p]! * b[q]!;
      c[co + i * n + j] = sum;
    }
  }
}
