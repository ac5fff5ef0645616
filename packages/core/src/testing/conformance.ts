import * as tf from '@tensorflow/tfjs-core';
import { createRng } from '../rng';

/**
 * Backend conformance: forward values and gradients of every op robust-ft differentiates through,
 * computed on a backend under test and compared with an oracle backend (normally 'cpu'). Written once,
 * backend-agnostic (only tfjs-core), and run by backend-node (cpu, wasm, Node WebGPU) and backend-web
 * (Chromium WebGPU/WebGL/wasm). Gradients are of `sum(f(x) · r)` for a fixed random `r`, so every
 * output element carries a distinct weight and a gradient routed to the wrong element is caught.
 */

/** How one input is generated (deterministically, from the case's seed). */
export interface ConformanceInput {
  shape: number[];
  /** Default 'float32'. int32 inputs (indices) are never differentiated. */
  dtype?: 'float32' | 'int32';
  /** Uniform range for floats / integers in [low, high). Default [-1, 1). */
  range?: [number, number];
  /** Exact values instead of random ones. */
  values?: number[];
  /** Differentiate with respect to this input. Default: true for float32. */
  grad?: boolean;
}

/** `|actual − expected| ≤ atol + rtol·|expected|`, element-wise, for outputs and gradients. */
export interface Tolerance {
  rtol: number;
  atol: number;
}

export interface ConformanceCase {
  name: string;
  inputs: ConformanceInput[];
  fn: (...xs: tf.Tensor[]) => tf.Tensor;
  tolerance: Tolerance;
  /** Default 1. */
  seed?: number;
  /**
   * Only these backends run the case (default: every backend). For behaviour that is ours to pin on
   * some backends and an upstream implementation choice on others; `casesFor` applies it.
   */
  backends?: readonly string[];
}

export interface CaseValues {
  shape: number[];
  output: number[];
  /** One per differentiated input, in input order. */
  grads: number[][];
}

export interface CaseComparison {
  name: string;
  backend: string;
  ok: boolean;
  /** Largest |Δ| / (atol + rtol·|expected|) seen; ≤ 1 passes. */
  worst: number;
  /** Where the worst element was, e.g. `grad[1][17]: 0.51 vs 0.50`. */
  detail: string;
}

/** Tolerances, stated once: float32 accumulations over a few hundred terms. */
export const TOLERANCE = {
  exact: { rtol: 1e-5, atol: 1e-6 },
  elementwise: { rtol: 1e-4, atol: 1e-5 },
  reduction: { rtol: 1e-3, atol: 1e-4 },
  /** Convolutions and matmuls: different summation orders (XNNPACK, GPU shaders). */
  conv: { rtol: 2e-3, atol: 5e-4 },
} as const satisfies Record<string, Tolerance>;

const f = (shape: number[], range?: [number, number]): ConformanceInput =>
  range === undefined ? { shape } : { shape, range };
const ints = (shape: number[], high: number): ConformanceInput => ({
  shape,
  dtype: 'int32',
  range: [0, high],
});
const positive = (shape: number[]): ConformanceInput => ({ shape, range: [0.5, 2] });

type T4 = tf.Tensor4D;

type Pad = 'same' | 'valid' | tf.backend_util.ExplicitPadding;

/**
 * Plain conv2d / depthwise cases: the families most cases belong to, differing only in shapes, stride
 * and padding (depthwise filters are `[kh, kw, ci, multiplier]`).
 */
const windowCase =
  (op: (x: T4, w: T4, strides: number | [number, number], pad: Pad) => tf.Tensor) =>
  (
    name: string,
    x: number[],
    w: number[],
    strides: number | [number, number],
    pad: Pad,
  ): ConformanceCase => ({
    name,
    inputs: [f(x), f(w)],
    fn: (a, b) => op(a as T4, b as T4, strides, pad),
    tolerance: TOLERANCE.conv,
  });
const conv2dCase = windowCase((x, w, s, p) => tf.conv2d(x, w, s, p));
const depthwiseCase = windowCase((x, w, s, p) => tf.depthwiseConv2d(x, w, s, p));

/** A max-pool case: exact, since the gradient only routes dy. */
const maxPoolCase = (
  name: string,
  x: ConformanceInput,
  size: number | [number, number],
  strides: number | [number, number],
  pad: 'same' | 'valid',
): ConformanceCase => ({
  name,
  inputs: [x],
  fn: (a) => tf.maxPool(a as T4, size, strides, pad),
  tolerance: TOLERANCE.exact,
});

/** An average-pool case (the gradient spreads dy/(KH·KW) over each window). */
const avgPoolCase = (
  name: string,
  x: number[],
  size: number | [number, number],
  strides: number | [number, number],
  pad: 'same' | 'valid',
): ConformanceCase => ({
  name,
  inputs: [f(x)],
  fn: (a) => tf.avgPool(a as T4, size, strides, pad),
  tolerance: TOLERANCE.reduction,
});

/** A 2-D matMul case with the given transposes. */
const matMulCase = (
  name: string,
  a: number[],
  b: number[],
  transposeA: boolean,
  transposeB: boolean,
): ConformanceCase => ({
  name,
  inputs: [f(a), f(b)],
  fn: (x, y) => tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D, transposeA, transposeB),
  tolerance: TOLERANCE.conv,
});

/** The cases. Shapes are tiny so a software GPU finishes in seconds. */
export const CONFORMANCE_CASES: readonly ConformanceCase[] = [
  conv2dCase('conv2d 3x3 stride 1 same', [2, 7, 7, 3], [3, 3, 3, 4], 1, 'same'),
  conv2dCase('conv2d 3x3 stride 2 valid', [2, 9, 9, 3], [3, 3, 3, 5], 2, 'valid'),
  conv2dCase(
    'conv2d 3x3 stride 2 same (asymmetric padding, unread rows)',
    [2, 8, 8, 2],
    [3, 3, 2, 3],
    2,
    'same',
  ),
  conv2dCase(
    'conv2d 3x3 stride 2 valid, last row and column never read',
    [2, 8, 8, 2],
    [3, 3, 2, 3],
    2,
    'valid',
  ),
  conv2dCase('conv2d 2x3 strides [1,2] valid, non-square', [1, 6, 7, 2], [2, 3, 2, 3], [1, 2], 'valid'),
  conv2dCase('conv2d 1x1 (pointwise)', [2, 5, 5, 4], [1, 1, 4, 6], 1, 'valid'),
  conv2dCase('conv2d 5x5 stride 2 same, odd 11x13', [2, 11, 13, 3], [5, 5, 3, 4], 2, 'same'),
  conv2dCase(
    'conv2d 3x3 stride 3 same, 10x10 (gaps between windows)',
    [1, 10, 10, 2],
    [3, 3, 2, 3],
    3,
    'same',
  ),
  conv2dCase('conv2d 1x1 stride 2 valid, odd 7x9', [2, 7, 9, 3], [1, 1, 3, 4], 2, 'valid'),
  conv2dCase('conv2d 3x2 strides [2,3] same, odd 9x11', [1, 9, 11, 2], [3, 2, 2, 3], [2, 3], 'same'),
  {
    name: 'conv2d explicit padding, asymmetric, strides [2,1]',
    inputs: [f([2, 7, 8, 2]), f([3, 3, 2, 3])],
    fn: (x, w) =>
      tf.conv2d(
        x as T4,
        w as T4,
        [2, 1],
        [
          [0, 0],
          [2, 0],
          [1, 2],
          [0, 0],
        ],
      ),
    tolerance: TOLERANCE.conv,
  },
  {
    name: 'conv2d explicit padding wider than the filter',
    inputs: [f([1, 5, 6, 2]), f([2, 2, 2, 3])],
    fn: (x, w) =>
      tf.conv2d(x as T4, w as T4, 1, [
        [0, 0],
        [3, 0],
        [0, 4],
        [0, 0],
      ]),
    tolerance: TOLERANCE.conv,
  },
  {
    name: 'fused conv2d + bias + relu',
    inputs: [f([2, 6, 6, 3]), f([3, 3, 3, 4]), f([4])],
    fn: (x, w, b) =>
      tf.fused.conv2d({ x: x as T4, filter: w as T4, strides: 1, pad: 'same', bias: b, activation: 'relu' }),
    tolerance: TOLERANCE.conv,
  },
  {
    name: 'conv2dTranspose stride 2',
    inputs: [f([1, 4, 4, 3]), f([3, 3, 2, 3])],
    fn: (x, w) => tf.conv2dTranspose(x as T4, w as T4, [1, 8, 8, 2], 2, 'same'),
    tolerance: TOLERANCE.conv,
  },
  // Channel counts that take wasm's SIMD filter-gradient tiles (4×8 + 4×4, 1×16 + 1×4), with odd
  // sizes, strides and padding that leave taps with no valid output position.
  conv2dCase('conv2d 3x3 stride 2 same, 8 → 12 channels, odd 9x7', [2, 9, 7, 8], [3, 3, 8, 12], 2, 'same'),
  conv2dCase(
    'conv2d 2x3 strides [3,2] valid, 4 → 8 channels, odd 10x9',
    [1, 10, 9, 4],
    [2, 3, 4, 8],
    [3, 2],
    'valid',
  ),
  conv2dCase('conv2d 3x3 explicit padding, 1 → 20 channels, odd 7x6', [2, 7, 6, 1], [3, 3, 1, 20], 1, [
    [0, 0],
    [2, 0],
    [1, 3],
    [0, 0],
  ]),
  depthwiseCase(
    'depthwiseConv2d 3x3 stride 2 same, 20 channels, odd 7x9',
    [2, 7, 9, 20],
    [3, 3, 20, 1],
    2,
    'same',
  ),
  // Big enough that wasm's SIMD filter gradients walk the batch in several cache-sized blocks.
  conv2dCase('conv2d 3x3 same, 3 images of 64x64, 4 → 8 channels', [3, 64, 64, 4], [3, 3, 4, 8], 1, 'same'),
  depthwiseCase(
    'depthwiseConv2d 3x3 same, 3 images of 64x64, 8 channels',
    [3, 64, 64, 8],
    [3, 3, 8, 1],
    1,
    'same',
  ),
  depthwiseCase('depthwiseConv2d 3x3 stride 1 same', [2, 6, 6, 3], [3, 3, 3, 1], 1, 'same'),
  depthwiseCase('depthwiseConv2d 3x3 stride 2 same, multiplier 2', [2, 7, 7, 3], [3, 3, 3, 2], 2, 'same'),
  depthwiseCase('depthwiseConv2d 3x3 stride 2 valid, odd 9x7', [2, 9, 7, 4], [3, 3, 4, 1], 2, 'valid'),
  depthwiseCase(
    'depthwiseConv2d 5x5 strides [1,2] explicit padding',
    [1, 8, 9, 3],
    [5, 5, 3, 1],
    [1, 2],
    [
      [0, 0],
      [2, 1],
      [0, 2],
      [0, 0],
    ],
  ),
  {
    name: 'fused depthwiseConv2d + bias + relu6 (MobileNetV2 block)',
    inputs: [f([2, 6, 6, 4]), f([3, 3, 4, 1]), f([4])],
    fn: (x, w, b) =>
      tf.fused.depthwiseConv2d({
        x: x as T4,
        filter: w as T4,
        strides: 2,
        pad: 'same',
        bias: b,
        activation: 'relu6',
      }),
    tolerance: TOLERANCE.conv,
  },
  {
    name: 'relu6 and clipByValue (values on both sides of the clip)',
    inputs: [f([4, 6], [-3, 9])],
    fn: (x) => tf.add(tf.relu6(x), tf.clipByValue(x, -1, 2)),
    tolerance: TOLERANCE.elementwise,
  },
  {
    name: 'separableConv2d',
    inputs: [f([1, 6, 6, 3]), f([3, 3, 3, 2]), f([1, 1, 6, 4])],
    fn: (x, d, p) => tf.separableConv2d(x as T4, d as T4, p as T4, 1, 'same'),
    tolerance: TOLERANCE.conv,
  },
  {
    name: 'batchNorm (x, mean, variance, offset, scale)',
    inputs: [f([4, 3, 3, 5]), f([5]), positive([5]), f([5]), positive([5])],
    fn: (x, m, v, o, s) => tf.batchNorm(x, m, v, o, s, 1e-3),
    tolerance: TOLERANCE.reduction,
  },
  {
    name: 'batch statistics (moments) as in training-mode batchNorm',
    inputs: [f([6, 2, 2, 4]), f([4]), positive([4])],
    fn: (x, beta, gamma) => {
      const { mean, variance } = tf.moments(x, [0, 1, 2]);
      return tf.batchNorm(x, mean, variance, beta, gamma, 1e-3);
    },
    tolerance: TOLERANCE.reduction,
  },
  matMulCase('matMul', [5, 7], [7, 3], false, false),
  matMulCase('matMul transposeA', [7, 5], [7, 3], true, false),
  matMulCase('matMul transposeB', [5, 7], [3, 7], false, true),
  matMulCase('matMul transposeA and transposeB', [7, 5], [3, 7], true, true),
  // Sizes wasm runs as matmul.wat's products (N % 4 = 0; K % 4 = 0 with transposeB): 4×8 tiles and the
  // rows and columns left over; the gradients take the transposed forms.
  matMulCase('matMul, 4x8 tiles plus 2 rows and 4 columns left', [6, 7], [7, 12], false, false),
  matMulCase('matMul transposeA (a dense weight gradient), 1 row of 4 left', [9, 5], [9, 20], true, false),
  matMulCase('matMul transposeB (a dense input gradient), K = 8', [5, 8], [12, 8], false, true),
  matMulCase('matMul transposeB, K = 6 (not a multiple of 4)', [3, 6], [8, 6], false, true),
  // Past the small-product loop (65536 multiply-adds) with transposes the SIMD product does not take:
  // wasm transposes explicitly, then runs the stock kernel.
  matMulCase('matMul transposeA and transposeB, 40x40x48', [48, 40], [40, 48], true, true),
  matMulCase('matMul transposeB, K = 46, 40x40', [40, 46], [40, 46], false, true),
  {
    name: 'batched matMul 3D, 8 columns',
    inputs: [f([3, 5, 6]), f([3, 6, 8])],
    fn: (a, b) => tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D),
    tolerance: TOLERANCE.conv,
  },
  {
    name: 'batched matMul 3D transposeB',
    inputs: [f([2, 4, 5]), f([2, 3, 5])],
    fn: (a, b) => tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D, false, true),
    tolerance: TOLERANCE.conv,
  },
  {
    name: 'fused matMul + bias + relu',
    inputs: [f([6, 8]), f([8, 4]), f([4])],
    fn: (a, b, bias) =>
      tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, bias, activation: 'relu' }),
    tolerance: TOLERANCE.conv,
  },
  maxPoolCase('maxPool 2x2 stride 2, mostly negative windows', f([2, 6, 6, 3], [-3, 0.5]), 2, 2, 'valid'),
  maxPoolCase('maxPool 3x3 stride 2 same, all negative', f([1, 7, 7, 2], [-4, -0.1]), 3, 2, 'same'),
  maxPoolCase(
    'maxPool 3x3 stride 1 same, overlapping windows, odd 7x5',
    f([2, 7, 5, 3], [-2, 1]),
    3,
    1,
    'same',
  ),
  maxPoolCase(
    'maxPool 2x2 stride 2 valid, odd 7x9 (last row and column unread)',
    f([2, 7, 9, 5]),
    2,
    2,
    'valid',
  ),
  maxPoolCase(
    'maxPool 3x2 strides [2,1] same, all negative, odd 7x5',
    f([1, 7, 5, 2], [-5, -1]),
    [3, 2],
    [2, 1],
    'same',
  ),
  // Channel counts that take wasm's SIMD max-pool gradient (f32x4 lanes).
  maxPoolCase('maxPool 2x2 stride 2 valid, 4 channels, odd 7x9', f([2, 7, 9, 4]), 2, 2, 'valid'),
  maxPoolCase(
    'maxPool 3x3 stride 1 same, overlapping, 8 channels, all negative, odd 7x5',
    f([2, 7, 5, 8], [-3, -0.5]),
    3,
    1,
    'same',
  ),
  maxPoolCase(
    'maxPool 3x2 strides [2,1] same, 12 channels, odd 7x5',
    f([1, 7, 5, 12], [-2, 0.3]),
    [3, 2],
    [2, 1],
    'same',
  ),
  {
    // Ties (as after a ReLU): the gradient goes to each window's first maximum, as on cpu. Pinned
    // where robust-ft's own kernel runs (wasm); tfjs's webgl/webgpu kernels route a tie to another
    // of the tied maxima, an upstream choice that is equally a subgradient.
    name: 'maxPool 2x2 stride 2 valid, 4 channels, tied maxima',
    backends: ['cpu', 'wasm'],
    inputs: [{ shape: [1, 4, 6, 4], values: Array.from({ length: 96 }, (_, i) => ((i * 37) % 5) - 2) }],
    fn: (a) => tf.maxPool(a as T4, 2, 2, 'valid'),
    tolerance: TOLERANCE.exact,
  },
  // wasm's one-pass 2×2 stride-2 kernel: windows tiling the input exactly, and `same` on even sizes
  // (no padding); odd sizes and `same` on odd sizes (padding at the bottom/right) take the general loop.
  maxPoolCase('maxPool 2x2 stride 2 valid, 3 images of 8x6, 16 channels', f([3, 8, 6, 16]), 2, 2, 'valid'),
  maxPoolCase(
    'maxPool 2x2 stride 2 same on even 6x10, 8 channels, all negative',
    f([2, 6, 10, 8], [-3, -0.5]),
    2,
    2,
    'same',
  ),
  maxPoolCase('maxPool 2x2 stride 2 same on odd 7x5, 4 channels (padded)', f([2, 7, 5, 4]), 2, 2, 'same'),
  {
    // Every way a 2×2 window's maximum can tie (pairs, triples, all four, negative, ±0): the gradient
    // goes to the first tied tap in row-major order, as on cpu. Pinned where robust-ft's max-pool
    // kernels run, as the tied-maxima case above.
    name: 'maxPool 2x2 stride 2, 4 channels, every kind of tied maximum',
    backends: ['cpu', 'wasm'],
    inputs: [
      {
        shape: [1, 4, 4, 4],
        // Window (r, c), channel k holds tie pattern 4·(2r + c) + k of: aabb-style pairs (a=b, a=c,
        // a=d, b=c, b=d, c=d), triples, all four, negatives and a 0/−0 window.
        values: [
          2, 2, 2, 0, 2, 0, 0, 2, 0, 0, 2, 2, 2, 0, 2, 2, 0, 2, 0, 2, 0, 0, 2, 0, 0, 2, 2, 0, 2, 2, 0, 2, 2,
          0, 2, -1, 0, 2, 2, -1, -2, -5, 1, -3, -1, -5, 3, -2, 2, 2, 2, -2, 2, 2, 2, -2, -2, -5, 3, -4, -1,
          -5, -1, -0,
        ],
      },
    ],
    fn: (a) => tf.maxPool(a as T4, 2, 2, 'valid'),
    tolerance: TOLERANCE.exact,
  },
  {
    // ReLU then a 2×2 pool (the digits CNN layer pair): max-pool routing and the ReLU gradient mask
    // (wasm's one-pass kernels) together; windows of zeros tie, but the mask zeroes whichever wins.
    name: 'relu then maxPool 2x2 stride 2, 8 channels',
    inputs: [f([2, 6, 8, 8], [-1, 0.6])],
    fn: (a) => tf.maxPool(tf.relu(a) as T4, 2, 2, 'valid'),
    tolerance: TOLERANCE.exact,
  },
  {
    // One-pass ReLU/ReLU6 gradients on wasm: a length that is not a multiple of 4 (the scalar tail),
    // values on both sides of 0 and 6.
    name: 'relu and relu6 gradients (f32x4 body and scalar tail)',
    inputs: [f([3, 5, 7], [-4, 9]), f([2, 4, 8], [-4, 9])],
    fn: (a, b) =>
      tf.concat([tf.reshape(tf.relu(a), [-1]), tf.reshape(tf.relu6(b), [-1]), tf.relu6(tf.reshape(a, [-1]))]),
    tolerance: TOLERANCE.exact,
  },
  {
    // The mask at its edges: ±0, 6 exactly, just above 6, ±∞, NaN (NaN propagates, as step(NaN) does).
    // relu6 leaves the NaN out: its forward value differs between stock cpu (NaN) and wasm (0). cpu and
    // wasm only: GPU backends' NaN handling in relu is theirs.
    name: 'relu and relu6 gradients at 0, 6, ±Infinity and NaN',
    backends: ['cpu', 'wasm'],
    inputs: [
      {
        shape: [13],
        // 13 elements: relu's last one (0) is in wasm's scalar tail.
        values: [
          Number.NaN,
          -0,
          1e-30,
          -1e-30,
          6,
          6.000001,
          7,
          -3,
          Number.POSITIVE_INFINITY,
          Number.NEGATIVE_INFINITY,
          2.5,
          5.999999,
          0,
        ],
      },
    ],
    fn: (a) => tf.concat([tf.relu(a), tf.relu6(tf.slice(a, 1))]),
    tolerance: TOLERANCE.exact,
  },
  {
    // wasm's one-pass ClipByValue gradient: x exactly at the float32 bounds and one ulp outside, ±0,
    // ±∞, non-representable bounds (0.3, −0.7), 13 elements (the last in the scalar tail). No NaN: its
    // forward value differs between stock cpu (NaN) and wasm (the lower bound).
    name: 'clipByValue gradient at and beside the bounds',
    inputs: [
      {
        shape: [13],
        values: [-0.7, 0.3, -0.70000005, 0.30000004, -0.69999995, 0.29999998, 0, -0, 5, -5, 0.1, -1e-30, 0.3],
      },
    ],
    fn: (a) => tf.clipByValue(a, -0.7, 0.3),
    tolerance: TOLERANCE.exact,
  },
  {
    name: 'avgPool 3x3 stride 2 same, odd 7x9',
    inputs: [f([2, 7, 9, 3])],
    fn: (x) => tf.avgPool(x as T4, 3, 2, 'same'),
    tolerance: TOLERANCE.reduction,
  },
  {
    name: 'avgPool 2x2 stride 2 and 3x3 same',
    inputs: [f([2, 6, 6, 3])],
    fn: (x) => tf.add(tf.mean(tf.avgPool(x as T4, 2, 2, 'valid')), tf.avgPool(x as T4, 3, 1, 'same')),
    tolerance: TOLERANCE.reduction,
  },
  // Channel counts that take wasm's SIMD average-pool gradient (f32x4 lanes): overlapping windows,
  // padding (which counts in the divisor), unread rows and columns, gaps between windows.
  avgPoolCase('avgPool 3x3 stride 2 same, 8 channels, odd 7x9', [2, 7, 9, 8], 3, 2, 'same'),
  avgPoolCase(
    'avgPool 2x2 stride 2 valid, 4 channels, odd 7x9 (last row and column unread)',
    [2, 7, 9, 4],
    2,
    2,
    'valid',
  ),
  avgPoolCase('avgPool 3x2 strides [1,2] same, 12 channels, odd 5x7', [1, 5, 7, 12], [3, 2], [1, 2], 'same'),
  avgPoolCase(
    'avgPool 2x2 stride 3 valid, 4 channels, 8x10 (gaps between windows)',
    [2, 8, 10, 4],
    2,
    3,
    'valid',
  ),
  avgPoolCase('avgPool 3x3 stride 1 same, 16 channels, odd 5x3', [3, 5, 3, 16], 3, 1, 'same'),
  {
    // A bias gradient's reduction; wasm runs leading-axis float32 sums as SIMD column sums, in
    // blocks of rows (the 18000-row case takes two), eight columns then four at a time.
    name: 'sum over leading axes (bias gradients), keepDims and not',
    inputs: [f([2, 100, 90, 8]), f([5, 3, 20]), f([4, 6, 12])],
    fn: (a, b, c) =>
      tf.concat([
        tf.sum(a, [0, 1, 2]),
        tf.reshape(tf.sum(b, [1, 0]), [-1]),
        tf.reshape(tf.sum(c, 0, true), [-1]),
      ]),
    tolerance: TOLERANCE.reduction,
  },
  {
    // Bias adds, both operand orders (wasm runs [..., C] + [C] with C % 4 = 0 as a SIMD row loop).
    name: 'add a bias [C] to [..., C], both orders',
    inputs: [f([2, 5, 7, 8]), f([8]), f([12]), f([3, 12])],
    fn: (x, b, c, y) => tf.concat([tf.reshape(tf.add(x, b), [-1]), tf.reshape(tf.add(c, y), [-1])]),
    tolerance: TOLERANCE.elementwise,
  },
  {
    // wasm runs small float32 Add/Sub/Mul/Div on the calling thread when each operand is whole, a
    // scalar, a trailing row or a leading column (the loss gradient's [B,1]-by-[B,10] products); the
    // gradients reduce back over the broadcast axes.
    name: 'add, sub, mul, div with scalars, rows and columns ([B,1] by [B,10])',
    inputs: [f([6, 10]), f([6, 1]), f([10]), positive([6, 10]), positive([6, 1]), f([1])],
    fn: (x, c, r, p, q, s) =>
      tf.concat(
        [
          tf.mul(c, x),
          tf.div(x, q),
          tf.sub(x, r),
          tf.add(r, x),
          tf.mul(s, x),
          tf.sub(c, x),
          tf.div(c, p),
          tf.mul(x, x),
          tf.add(c, tf.reshape(r, [1, 10])),
        ].map((t) => tf.reshape(t, [-1])),
      ),
    tolerance: TOLERANCE.elementwise,
  },
  {
    name: 'softmax of a [8,10] head and over the last axis of [2,3,7]',
    inputs: [f([8, 10], [-4, 4]), f([2, 3, 7], [-4, 4])],
    fn: (x, y) => tf.concat([tf.reshape(tf.softmax(x), [-1]), tf.reshape(tf.softmax(y), [-1])]),
    tolerance: TOLERANCE.reduction,
  },
  {
    // A dense head (N = 10): wasm's small product loop and the bias/ReLU epilogue on the calling thread.
    name: 'fused matMul + bias, N = 10, linear and relu',
    inputs: [f([8, 12]), f([12, 10]), f([10])],
    fn: (a, b, bias) =>
      tf.concat([
        tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, bias }),
        tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, bias, activation: 'relu' }),
      ]),
    tolerance: TOLERANCE.conv,
  },
  {
    name: 'softmax',
    inputs: [f([4, 6], [-3, 3])],
    fn: (x) => tf.softmax(x),
    tolerance: TOLERANCE.reduction,
  },
  {
    name: 'logSoftmax',
    inputs: [f([4, 6], [-3, 3])],
    fn: (x) => tf.logSoftmax(x),
    tolerance: TOLERANCE.reduction,
  },
  {
    name: 'norm (euclidean, per-row, ord 1)',
    inputs: [f([5, 6])],
    fn: (x) => tf.concat([tf.reshape(tf.norm(x), [1]), tf.norm(x, 'euclidean', 1), tf.norm(x, 1, 0)]),
    tolerance: TOLERANCE.reduction,
  },
  {
    name: 'acos',
    inputs: [f([12], [-0.9, 0.9])],
    fn: (x) => tf.acos(x),
    tolerance: TOLERANCE.elementwise,
  },
  {
    name: 'atan2',
    inputs: [f([12]), f([12])],
    fn: (y, x) => tf.atan2(y, x),
    tolerance: TOLERANCE.elementwise,
  },
  {
    name: 'where(greaterEqual) and maximum',
    inputs: [f([4, 5]), f([4, 5])],
    fn: (a, b) => tf.add(tf.where(tf.greaterEqual(a, 0), a, tf.mul(b, 2)), tf.maximum(a, b)),
    tolerance: TOLERANCE.elementwise,
  },
  {
    name: 'elementwise chain (relu, sigmoid, tanh, exp, log, sqrt)',
    inputs: [f([10]), positive([10])],
    fn: (x, p) =>
      tf.addN([tf.relu(x), tf.sigmoid(x), tf.tanh(x), tf.exp(x), tf.log(p), tf.sqrt(p), tf.square(x)]),
    tolerance: TOLERANCE.elementwise,
  },
  {
    name: 'gather rows (embedding, repeated indices)',
    inputs: [f([6, 4]), { shape: [7], dtype: 'int32', values: [0, 3, 3, 5, 1, 0, 3] }],
    fn: (table, idx) => tf.gather(table, idx),
    tolerance: TOLERANCE.exact,
  },
  {
    name: 'gather axis 1',
    inputs: [f([3, 5, 2]), ints([4], 5)],
    fn: (x, idx) => tf.gather(x, idx, 1),
    tolerance: TOLERANCE.exact,
  },
  {
    name: 'unsortedSegmentSum',
    inputs: [f([6, 3]), { shape: [6], dtype: 'int32', values: [2, 0, 2, 1, 0, 2] }],
    fn: (x, ids) => tf.unsortedSegmentSum(x, ids as tf.Tensor1D, 4),
    tolerance: TOLERANCE.elementwise,
  },
  {
    name: 'softmax cross-entropy loss',
    inputs: [f([4, 5], [-2, 2]), { shape: [4, 5], values: oneHotRows(4, 5, [1, 4, 0, 2]), grad: false }],
    fn: (logits, labels) => tf.losses.softmaxCrossEntropy(labels, logits),
    tolerance: TOLERANCE.reduction,
  },
];

function oneHotRows(rows: number, cols: number, hot: number[]): number[] {
  const out = new Array<number>(rows * cols).fill(0);
  hot.forEach((c, r) => {
    out[r * cols + c] = 1;
  });
  return out;
}

function inputValues(input: ConformanceInput, rng: ReturnType<typeof createRng>): number[] {
  const size = input.shape.reduce((a, d) => a * d, 1);
  if (input.values !== undefined) {
    if (input.values.length !== size) throw new Error(`values length ${input.values.length} ≠ size ${size}`);
    return input.values;
  }
  const [low, high] = input.range ?? [-1, 1];
  if (input.dtype === 'int32') return Array.from({ length: size }, () => low + rng.int(high - low));
  return Array.from({ length: size }, () => low + (high - low) * rng.uniform());
}

/** Computes a case's output and input gradients on `backendName`, restoring the previous backend. */
export async function computeCase(testCase: ConformanceCase, backendName: string): Promise<CaseValues> {
  const previous = tf.getBackend();
  const ok = await tf.setBackend(backendName);
  if (!ok) throw new Error(`backend '${backendName}' could not be initialised`);
  try {
    const rng = createRng(testCase.seed ?? 1);
    const raw = testCase.inputs.map((input) => inputValues(input, rng));
    const diffIndex = testCase.inputs
      .map((input, i) => ((input.grad ?? input.dtype !== 'int32') ? i : -1))
      .filter((i) => i >= 0);
    const result = tf.tidy(() => {
      const xs = testCase.inputs.map((input, i) => tf.tensor(raw[i]!, input.shape, input.dtype ?? 'float32'));
      const probe = testCase.fn(...xs);
      const r = tf.tensor(
        Array.from({ length: probe.size }, () => 0.5 + rng.uniform()),
        probe.shape,
      );
      const grads = tf.grads((...diff: tf.Tensor[]) => {
        const all = xs.slice();
        diffIndex.forEach((at, k) => {
          all[at] = diff[k]!;
        });
        return tf.sum(tf.mul(testCase.fn(...all), r));
      })(diffIndex.map((i) => xs[i]!));
      return { output: probe, grads };
    });
    const values: CaseValues = {
      shape: result.output.shape.slice(),
      output: Array.from(await result.output.data()),
      grads: [],
    };
    for (const g of result.grads) values.grads.push(Array.from(await g.data()));
    tf.dispose([result.output, ...result.grads]);
    return values;
  } finally {
    if (previous && previous !== backendName) await tf.setBackend(previous);
  }
}

function worstOf(expected: number[], actual: number[], tol: Tolerance, label: string) {
  let worst = 0;
  let detail = '';
  if (expected.length !== actual.length)
    return { worst: Number.POSITIVE_INFINITY, detail: `${label}: length` };
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const a = actual[i]!;
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    const v =
      Number.isNaN(e) || Number.isNaN(a)
        ? Number.POSITIVE_INFINITY
        : Math.abs(a - e) / (tol.atol + tol.rtol * Math.abs(e));
    if (v > worst || detail === '') {
      worst = Math.max(worst, v);
      detail = `${label}[${i}]: ${a} vs ${e}`;
    }
  }
  return { worst, detail };
}

/** Element-wise comparison of two results of the same case under the case's tolerance. */
export function compareCase(
  testCase: ConformanceCase,
  expected: CaseValues,
  actual: CaseValues,
  backend = 'backend',
): CaseComparison {
  const parts = [worstOf(expected.output, actual.output, testCase.tolerance, 'output')];
  if (expected.shape.join() !== actual.shape.join())
    parts.push({ worst: Number.POSITIVE_INFINITY, detail: `shape ${actual.shape} vs ${expected.shape}` });
  if (expected.grads.length !== actual.grads.length)
    parts.push({ worst: Number.POSITIVE_INFINITY, detail: 'number of gradients' });
  expected.grads.forEach((g, i) => {
    parts.push(worstOf(g, actual.grads[i] ?? [], testCase.tolerance, `grad[${i}]`));
  });
  const top = parts.reduce((a, b) => (b.worst > a.worst ? b : a));
  return { name: testCase.name, backend, ok: top.worst <= 1, worst: top.worst, detail: top.detail };
}

/** The cases `backendName` runs (a case's `backends`, when given, lists the backends that run it). */
export function casesFor(
  backendName: string,
  cases: readonly ConformanceCase[] = CONFORMANCE_CASES,
): ConformanceCase[] {
  return cases.filter((c) => c.backends === undefined || c.backends.includes(backendName));
}

export interface RunConformanceOptions {
  /** Default 'cpu'. */
  oracle?: string;
  cases?: readonly ConformanceCase[];
}

/** Runs every case on `backendName` and on the oracle; one comparison per case (errors count as failures). */
export async function runConformance(
  backendName: string,
  options: RunConformanceOptions = {},
): Promise<CaseComparison[]> {
  const oracle = options.oracle ?? 'cpu';
  const out: CaseComparison[] = [];
  for (const c of casesFor(backendName, options.cases)) {
    try {
      const expected = await computeCase(c, oracle);
      const actual = await computeCase(c, backendName);
      out.push(compareCase(c, expected, actual, backendName));
    } catch (error) {
      out.push({
        name: c.name,
        backend: backendName,
        ok: false,
        worst: Number.POSITIVE_INFINITY,
        detail: error instanceof Error ? error.message : String(error),
      });
    }
  }
  return out;
}
