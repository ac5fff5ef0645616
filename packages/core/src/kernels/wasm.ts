import * as tf from '@tensorflow/tfjs-core';
import { RobustFtError } from '../errors';
import {
  CLIP_GRAD_KERNEL,
  installActivationGradients,
  RELU_GRAD_KERNEL,
  RELU6_GRAD_KERNEL,
} from './activation-grads';
import { type WasmBackendLike, wasmHost } from './host';
import { overrideKernel, patchedKernels, restoreKernels, stockKernel } from './registry';
import { ForwardSimd, forwardSimdFor } from './simd/forward-simd';
import { type TileOutcome, TrainingSimd, trainingSimdFor } from './simd/training-simd';
import {
  type BinaryOp,
  binaryLoop,
  binaryPlan,
  type ProductDims,
  productLoop,
  SMALL_OP_MAX_ELEMENTS,
  softmaxRows,
  takesSmallProduct,
} from './small-ops';
import {
  type ConvAttrs,
  convInfoOf,
  depthwiseBackpropFilterConfig,
  depthwiseBackpropInputConfig,
  maxPoolGradConfig,
  type PoolAttrs,
  poolInfoOf,
  unsortedSegmentSumConfig,
} from './training-kernels';
import {
  clipGradLoop,
  flipFilterSwapChannels,
  im2colTransposedNhwc,
  reluGradLoop,
  zeroDilateNhwc,
} from './typed-array';

const WASM = 'wasm';

function wasmKernel(name: string): tf.KernelConfig {
  const k = stockKernel(name, WASM);
  if (k === undefined) {
    throw new RobustFtError(
      'BACKEND_UNAVAILABLE',
      `the wasm backend has no '${name}' kernel: import '@tensorflow/tfjs-backend-wasm' (4.22) before patching`,
    );
  }
  return k;
}

type Run = (inputs: tf.NamedTensorInfoMap, attrs: object) => tf.TensorInfo;

/** Calls wasm's own kernels directly, so intermediates stay on the wasm heap and off the tape. */
function runner(backend: tf.KernelBackend): { run: (name: string) => Run; free: (t: tf.TensorInfo) => void } {
  return {
    run: (name) => {
      const kernel = wasmKernel(name);
      return (inputs, attrs) =>
        kernel.kernelFunc({ inputs, backend, attrs: attrs as tf.NamedAttrMap }) as tf.TensorInfo;
    },
    free: (t) => {
      backend.disposeData(t.dataId);
    },
  };
}

/**
 * Conv2DBackpropFilter. With wasm SIMD and output channels % 4 = 0 (every conv layer we train), it is
 * training.wat's tile kernels: `dW[kh,kw,ci,co] = Σ x · dy` straight from x and dy on the heap, sums in
 * registers, no im2col buffer and no repacking. Before that it was an XNNPACK matmul over a JS-built
 * im2col (2.5 ms of JS plus 4.1 ms of matmul, which packed dy as its weights on every call, for the
 * digits CNN at B = 32), which stays as the path for other channel counts: `dW[(kh,kw,ci), co] =
 * Σ_n cols[(kh,kw,ci), n] · dy[n, co]` over the B·HO·WO output positions n, where `cols` is the
 * transposed im2col of x. (XNNPACK as a conv with batch and channel axes swapped was ~4× slower still.)
 */
function conv2dBackpropFilterWasm(): tf.KernelConfig {
  return {
    kernelName: tf.Conv2DBackpropFilter,
    backendName: WASM,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
      const a = attrs as unknown as ConvAttrs & { filterShape: [number, number, number, number] };
      if ((a.dataFormat ?? 'NHWC') !== 'NHWC') {
        throw new RobustFtError('UNSUPPORTED', 'Conv2DBackpropFilter on wasm supports only NHWC', {
          argument: 'dataFormat',
          expected: 'NHWC',
        });
      }
      const info = convInfoOf(x.shape, a.filterShape, a);
      const h = wasmHost(backend);
      const simd = trainingSimdFor(backend);
      if (simd && info.outChannels % 4 === 0) {
        const out = filterGradient(h, info.filterShape, (dw) =>
          simd.conv2dBackpropFilter(ptr(h, x), ptr(h, dy), dw, info),
        );
        if (out) return out;
      }
      const { run, free } = runner(backend as tf.KernelBackend);
      const rows = info.filterHeight * info.filterWidth * info.inChannels;
      const n = info.batchSize * info.outHeight * info.outWidth;
      // An empty sum (no images or no output positions): zeros. tfjs-wasm's BatchMatMul leaves a
      // product with K = 0 unwritten (whatever the heap held there).
      if (n === 0) return h.alloc(info.filterShape.slice(), 'float32').info;
      const cols = h.alloc([rows, n], 'float32');
      im2colTransposedNhwc(h.read(x) as Float32Array, h.read(cols.info) as Float32Array, info);
      const out = run(tf.BatchMatMul)(
        { a: cols.info, b: { dataId: dy.dataId, shape: [n, info.outChannels], dtype: 'float32' } },
        { transposeA: false, transposeB: false },
      );
      free(cols.info);
      // BatchMatMul's output is [1, rows, CO], i.e. [KH, KW, CI, CO] in memory; tfjs-wasm itself
      // reshapes outputs by replacing the shape of the returned info.
      return { ...out, shape: info.filterShape.slice() };
    },
  };
}

/**
 * A zeroed float32 output of `shape` filled by `fill` (a SIMD filter-gradient kernel given its byte
 * pointer), or null when the kernel does not take the shape. When a helper thread did not answer in
 * time (`'abandoned'`, helpers are off from then on) the first output is left allocated, since the
 * helper may still write to it, and the gradient is computed again into a fresh one on this thread.
 */
function filterGradient(
  h: ReturnType<typeof wasmHost>,
  shape: readonly number[],
  fill: (dw: number) => TileOutcome,
): tf.TensorInfo | null {
  const out = h.alloc(shape.slice(), 'float32');
  const outcome = fill(out.values.byteOffset);
  if (outcome === 'skip') {
    h.dispose(out.info);
    return null;
  }
  if (outcome !== 'abandoned') return out.info;
  const fresh = h.alloc(shape.slice(), 'float32');
  fill(fresh.values.byteOffset);
  return fresh.info;
}

/** A tensor's byte offset on the wasm heap (stable across heap growth, unlike a view). */
function ptr(h: ReturnType<typeof wasmHost>, t: tf.TensorInfo): number {
  return h.read(t).byteOffset;
}

/**
 * A kernel that runs training.wat's SIMD loop when `fast` can take the case (it returns the output,
 * or null for shapes it does not cover) and the typed-array loop `loop` otherwise.
 */
function simdFirst(
  loop: tf.KernelConfig,
  fast: (simd: TrainingSimd, args: Parameters<tf.KernelFunc>[0]) => tf.TensorInfo | null,
): tf.KernelConfig {
  return {
    ...loop,
    kernelFunc: (args) => {
      const simd = trainingSimdFor(args.backend);
      return (simd && fast(simd, args)) ?? loop.kernelFunc(args);
    },
  };
}

/**
 * MaxPoolGrad: training.wat's f32x4 loops for channels % 4 = 0 (one pass per window for 2×2 windows
 * of stride 2, the scratch-index loop for other windows), else the typed-array loop (same routing).
 */
function maxPoolGradWasm(): tf.KernelConfig {
  return simdFirst(maxPoolGradConfig(WASM, wasmHost), (simd, { inputs, backend, attrs }) => {
    const { dy, input } = inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
    const info = poolInfoOf(input.shape, attrs as unknown as PoolAttrs);
    if (info.inChannels % 4 !== 0) return null;
    const h = wasmHost(backend);
    if (TrainingSimd.takesMaxPool2x2(info)) {
      // The kernel writes every element a window covers: zero the output only where some are not.
      const out = TrainingSimd.maxPool2x2CoversInput(info)
        ? (backend as unknown as WasmBackendLike).makeOutput(input.shape.slice(), 'float32')
        : h.alloc(input.shape.slice(), 'float32').info;
      if (tf.util.sizeFromShape(dy.shape) > 0)
        simd.maxPoolGrad2x2(ptr(h, dy), ptr(h, input), ptr(h, out), info);
      return out;
    }
    const out = h.alloc(input.shape.slice(), 'float32');
    const scratch = h.alloc([2 * info.inChannels], 'float32');
    simd.maxPoolGrad(ptr(h, dy), ptr(h, input), out.values.byteOffset, scratch.values.byteOffset, info);
    h.dispose(scratch.info);
    return out.info;
  });
}

/**
 * AvgPoolGrad: training.wat's per-cell f32x4 gather for float32 with channels % 4 = 0 (tfjs-wasm's is
 * a scalar loop), else the stock kernel.
 */
function avgPoolGradWasm(): tf.KernelConfig {
  return simdFirst(wasmKernel(tf.AvgPoolGrad), (simd, { inputs, backend, attrs }) => {
    const { dy, input } = inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
    if (dy.dtype !== 'float32' || input.dtype !== 'float32') return null;
    const info = poolInfoOf(input.shape, attrs as unknown as PoolAttrs);
    if (info.inChannels % 4 !== 0) return null;
    const h = wasmHost(backend);
    // Every element is written: no zeroed allocation needed.
    const out = (backend as unknown as WasmBackendLike).makeOutput(input.shape.slice(), 'float32');
    if (tf.util.sizeFromShape(input.shape) === 0) return out;
    if (simd.avgPoolGrad(ptr(h, dy), ptr(h, out), info)) return out;
    h.dispose(out);
    return null;
  });
}

/**
 * The one-pass masked-gradient kernels activation-grads.ts dispatches to (inputs dy and x, float32,
 * one shape): training.wat's f32x4 loop over whole groups of 4 and the typed-array loop (the same
 * values) for the rest, or for everything without wasm SIMD.
 */
function maskedGradWasm(
  kernelName: string,
  simdPass: (
    simd: TrainingSimd,
    dy: number,
    x: number,
    out: number,
    n: number,
    attrs: tf.NamedAttrMap,
  ) => void,
  loop: (dy: Float32Array, x: Float32Array, out: Float32Array, attrs: tf.NamedAttrMap) => void,
): tf.KernelConfig {
  return {
    kernelName,
    backendName: WASM,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { dy, x } = inputs as { dy: tf.TensorInfo; x: tf.TensorInfo };
      const h = wasmHost(backend);
      const out = (backend as unknown as WasmBackendLike).makeOutput(x.shape.slice(), 'float32');
      const n = tf.util.sizeFromShape(x.shape);
      if (n === 0) return out;
      const simd = trainingSimdFor(backend);
      const a = attrs ?? {};
      // The SIMD loop takes whole f32x4 groups; the typed-array loop does the 0–3 left (or all).
      const body = simd ? n - (n % 4) : 0;
      if (simd && body > 0) simdPass(simd, ptr(h, dy), ptr(h, x), ptr(h, out), body, a);
      if (body < n) {
        const tail = (t: tf.TensorInfo) => (h.read(t) as Float32Array).subarray(body);
        loop(tail(dy), tail(x), tail(out), a);
      }
      return out;
    },
  };
}

/** ClipByValue's bounds as the float32 values tfjs-core's comparisons use. */
function clipBounds(attrs: tf.NamedAttrMap): [number, number] {
  const { clipValueMin, clipValueMax } = attrs as { clipValueMin: number; clipValueMax: number };
  return [Math.fround(clipValueMin), Math.fround(clipValueMax)];
}

/** The ReLU, ReLU6 and ClipByValue gradient kernels (`hi` = ∞ for ReLU, 6 for ReLU6). */
function maskedGradKernels(): tf.KernelConfig[] {
  const relu = (name: string, hi: number) =>
    maskedGradWasm(
      name,
      (simd, dy, x, out, n) => simd.reluGrad(dy, x, out, n, hi),
      (dy, x, out) => reluGradLoop(dy, x, out, hi),
    );
  return [
    relu(RELU_GRAD_KERNEL, Number.POSITIVE_INFINITY),
    relu(RELU6_GRAD_KERNEL, 6),
    maskedGradWasm(
      CLIP_GRAD_KERNEL,
      (simd, dy, x, out, n, attrs) => simd.clipGrad(dy, x, out, n, ...clipBounds(attrs)),
      (dy, x, out, attrs) => clipGradLoop(dy, x, out, ...clipBounds(attrs)),
    ),
  ];
}

/** Depthwise filter gradient: training.wat's tiles for multiplier 1 and channels % 4 = 0, else the loop. */
function depthwiseBackpropFilterWasm(): tf.KernelConfig {
  return simdFirst(depthwiseBackpropFilterConfig(WASM, wasmHost), (simd, { inputs, backend, attrs }) => {
    const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
    const a = attrs as unknown as ConvAttrs;
    const info = convInfoOf(x.shape, a.filterShape!, a, true);
    if (info.outChannels !== info.inChannels || info.inChannels % 4 !== 0) return null;
    const h = wasmHost(backend);
    return filterGradient(h, info.filterShape, (dw) =>
      simd.depthwiseBackpropFilter(ptr(h, x), ptr(h, dy), dw, info),
    );
  });
}

/**
 * Sum over the leading axes of a float32 tensor whose remaining size is a multiple of 4 (a bias
 * gradient: dy [B,H,W,C] summed over B,H,W) as training.wat's column sums. tfjs-wasm transposes the
 * reduced axes innermost first, which at B = 128 made the digits CNN's two conv bias gradients cost
 * more than its forward convolutions. Other sums go to the stock kernel.
 */
function sumWasm(): tf.KernelConfig {
  const sum = simdFirst(wasmKernel(tf.Sum), (simd, { inputs, backend, attrs }) => {
    const { x } = inputs as { x: tf.TensorInfo };
    const { axis, keepDims } = attrs as unknown as { axis: number | number[]; keepDims: boolean };
    if (x.dtype !== 'float32' || x.shape.length === 0) return null;
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
    const k = axes.length;
    if (k === 0 || k === x.shape.length || axes.some((d, i) => d !== i)) return null;
    const rows = tf.util.sizeFromShape(x.shape.slice(0, k));
    const cols = tf.util.sizeFromShape(x.shape.slice(k));
    if (cols % 4 !== 0 || rows === 0) return null;
    const h = wasmHost(backend);
    const shape = keepDims ? [...x.shape.slice(0, k).map(() => 1), ...x.shape.slice(k)] : x.shape.slice(k);
    const out = h.alloc(shape, 'float32');
    simd.columnSums(ptr(h, x), out.values.byteOffset, rows, cols);
    return out.info;
  });
  return emptyAwareReduction(sum);
}

/**
 * What tfjs-cpu 4.22 (the oracle) gives for a reduction over an empty tensor, and the input dtypes
 * that holds for. tfjs-wasm 4.22's reductions leave such an output unwritten, so it held whatever the
 * heap held there before (zeros only in a fresh process).
 */
const EMPTY_REDUCTIONS: Record<string, { value: number; dtypes: readonly tf.DataType[] }> = {
  [tf.Sum]: { value: 0, dtypes: ['float32', 'int32'] },
  [tf.Prod]: { value: 1, dtypes: ['float32', 'int32'] },
  [tf.Mean]: { value: 0, dtypes: ['float32'] },
  [tf.Max]: { value: Number.NaN, dtypes: ['float32'] },
  [tf.Min]: { value: Number.NaN, dtypes: ['float32'] },
  [tf.Any]: { value: 0, dtypes: ['bool'] },
  [tf.All]: { value: 0, dtypes: ['bool'] },
};

/** `kernelName`'s EMPTY_REDUCTIONS output when its input is empty (and of a dtype listed), else null. */
function emptyReduction(kernelName: string, { inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]) {
  const { x } = inputs as { x: tf.TensorInfo };
  const empty = EMPTY_REDUCTIONS[kernelName];
  if (empty === undefined || tf.util.sizeFromShape(x.shape) !== 0 || !empty.dtypes.includes(x.dtype))
    return null;
  // Max names its axes `reductionIndices`, the others `axis`; null means every axis.
  const a = attrs as {
    axis?: number | number[] | null;
    reductionIndices?: number | number[];
    keepDims?: boolean;
  };
  const named = a.axis ?? a.reductionIndices;
  const axes = named == null ? x.shape.map((_, i) => i) : tf.util.parseAxisParam(named, x.shape);
  const shape = x.shape.flatMap((d, i) => (axes.includes(i) ? (a.keepDims ? [1] : []) : [d]));
  const out = wasmHost(backend).alloc(shape, x.dtype);
  if (empty.value !== 0) out.values.fill(empty.value);
  return out.info;
}

/** `stock` with empty inputs answered by `emptyReduction` (the reductions robust-ft does not replace). */
function emptyAwareReduction(stock: tf.KernelConfig): tf.KernelConfig {
  return { ...stock, kernelFunc: (args) => emptyReduction(stock.kernelName, args) ?? stock.kernelFunc(args) };
}

/**
 * Add of a float32 tensor [..., C] and a bias [C] (either order), C % 4 = 0, as training.wat's row
 * loop: tfjs-wasm runs it through its generic broadcasting loop, ~5× slower for the digits CNN's conv
 * bias adds. Other small float32 adds take `smallBinary`'s loop; the rest go to the stock kernel.
 */
function addWasm(): tf.KernelConfig {
  const stock = wasmKernel(tf.Add);
  const small = binaryWasm(tf.Add, 'add');
  return simdFirst({ ...stock, kernelFunc: small.kernelFunc }, (simd, { inputs, backend }) => {
    const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const [x, bias] = b.shape.length === 1 && a.shape.length >= 2 ? [a, b] : [b, a];
    if (x.dtype !== 'float32' || bias.dtype !== 'float32') return null;
    if (bias.shape.length !== 1 || x.shape.length < 2) return null;
    const cols = bias.shape[0]!;
    if (x.shape[x.shape.length - 1] !== cols || cols % 4 !== 0) return null;
    const h = wasmHost(backend);
    // Every element is written: no zeroed allocation needed.
    const out = (backend as unknown as WasmBackendLike).makeOutput(x.shape.slice(), 'float32');
    simd.addBias(ptr(h, x), ptr(h, bias), ptr(h, out), tf.util.sizeFromShape(x.shape) / cols, cols);
    return out;
  });
}

type F32 = Float32Array;

/**
 * A float32 binary operator as small-ops.ts's loop on the calling thread, where `binaryPlan` takes the
 * shapes (each operand whole, a scalar, a trailing row or a leading column; at most
 * `SMALL_OP_MAX_ELEMENTS`), or null. The stock kernels are XNNPACK operators that the threaded build
 * hands to its pool: the loss's [B,1]-by-[B,10] products and quotients cost 0.2–0.9 ms each there.
 */
function smallBinary(op: BinaryOp, { inputs, backend }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo | null {
  const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return null;
  const plan = binaryPlan(a.shape, b.shape);
  if (plan === null) return null;
  const h = wasmHost(backend);
  const out = (backend as unknown as WasmBackendLike).makeOutput(plan.outShape, 'float32');
  binaryLoop(op, h.read(a) as F32, h.read(b) as F32, h.read(out) as F32, plan);
  return out;
}

/** `kernelName` as `smallBinary` where it takes the shapes, else the stock kernel. */
function binaryWasm(kernelName: string, op: BinaryOp): tf.KernelConfig {
  const stock = wasmKernel(kernelName);
  return { ...stock, kernelFunc: (args) => smallBinary(op, args) ?? stock.kernelFunc(args) };
}

/**
 * Softmax over the last axis of a float32 tensor of at most `SMALL_OP_MAX_ELEMENTS` as small-ops.ts's
 * row loop (tfjs-cpu's values), else the stock kernel (an XNNPACK operator: 0.2 ms of pool hand-off for
 * the digits CNN's [32, 10] head with 2 threads, 0.01 ms with one).
 */
function softmaxWasm(): tf.KernelConfig {
  const stock = wasmKernel(tf.Softmax);
  return {
    ...stock,
    kernelFunc: (args) => {
      const { logits } = args.inputs as { logits: tf.TensorInfo };
      const { dim } = args.attrs as unknown as { dim: number };
      const rank = logits.shape.length;
      const n = tf.util.sizeFromShape(logits.shape);
      if (logits.dtype !== 'float32' || rank === 0 || (dim !== -1 && dim !== rank - 1))
        return stock.kernelFunc(args);
      if (n === 0 || n > SMALL_OP_MAX_ELEMENTS) return stock.kernelFunc(args);
      const h = wasmHost(args.backend);
      const out = (args.backend as unknown as WasmBackendLike).makeOutput(logits.shape.slice(), 'float32');
      const cols = logits.shape[rank - 1]!;
      softmaxRows(h.read(logits) as F32, h.read(out) as F32, n / cols, cols);
      return out;
    },
  };
}

/**
 * Relu on float32 as forward.wat's one pass (16 floats at a time, tfjs-cpu's `Math.max(0, x)` for
 * the 0–15 left), else the stock kernel. tfjs-wasm's is an XNNPACK operator, which the threaded build hands to
 * its pool: with 2 threads on a shared 2-core machine the digits CNN's three Relus took 3× their
 * 1-thread time.
 */
function reluWasm(): tf.KernelConfig {
  return simdFirst(wasmKernel(tf.Relu), (_training, { inputs, backend }) => {
    const { x } = inputs as { x: tf.TensorInfo };
    const simd = forwardSimdFor(backend);
    if (x.dtype !== 'float32' || !simd) return null;
    const h = wasmHost(backend);
    // Every element is written: no zeroed allocation needed.
    const out = (backend as unknown as WasmBackendLike).makeOutput(x.shape.slice(), 'float32');
    const n = tf.util.sizeFromShape(x.shape);
    const body = n - (n % 16);
    if (body > 0) simd.relu(ptr(h, x), ptr(h, out), body);
    if (body < n) {
      const [xs, os] = [h.read(x), h.read(out)];
      for (let i = body; i < n; i++) os[i] = Math.max(0, xs[i]!);
    }
    return out;
  });
}

/**
 * MaxPool of float32 with 2×2 windows of stride 2 and no top/left padding, channels % 4 = 0 (every
 * pooling layer of the CNNs we train; `TrainingSimd.takesMaxPool2x2`), as forward.wat's one pass per
 * window on the calling thread; else the stock kernel (an XNNPACK operator, handed to the pool by the
 * threaded build). The same windows as the gradient kernel, so the two agree on which tap is the max.
 */
function maxPoolWasm(): tf.KernelConfig {
  return simdFirst(wasmKernel(tf.MaxPool), (_training, { inputs, backend, attrs }) => {
    const { x } = inputs as { x: tf.TensorInfo };
    const simd = forwardSimdFor(backend);
    if (x.dtype !== 'float32' || !simd) return null;
    const info = poolInfoOf(x.shape, attrs as unknown as PoolAttrs);
    if (!TrainingSimd.takesMaxPool2x2(info)) return null;
    const h = wasmHost(backend);
    // Every output element is written: no zeroed allocation needed.
    const out = (backend as unknown as WasmBackendLike).makeOutput(info.outShape.slice(), 'float32');
    if (tf.util.sizeFromShape(info.outShape) > 0) simd.maxPool2x2(ptr(h, x), ptr(h, out), info);
    return out;
  });
}

/**
 * Identity, and Cast to the tensor's own dtype, as a shared reference (the way wasm's own Reshape
 * works: `incRef` and the same dataId) instead of tfjs-wasm's copy. tfjs-core's engine clones every
 * tensor a gradient saves for the backward pass through Identity, and tfjs-layers' losses cast
 * float32 to float32: ~60 copies of activations per digits-CNN step (≈ 8 % of it). Tensors are
 * immutable on this backend (every kernel, ours and robust-ft's fused optimizer steps included, writes
 * a fresh output), so sharing is safe; strings and real casts keep the stock kernels.
 */
function sharingKernel(kernelName: string): tf.KernelConfig {
  const original = wasmKernel(kernelName);
  return {
    ...original,
    kernelFunc: (args) => {
      const { x } = args.inputs as { x: tf.TensorInfo };
      const target = (args.attrs as { dtype?: tf.DataType } | undefined)?.dtype ?? x.dtype;
      if (x.dtype === 'string' || target !== x.dtype) return original.kernelFunc(args);
      (args.backend as unknown as { incRef(dataId: object): void }).incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
    },
  };
}

/**
 * Input gradients on XNNPACK. tfjs-wasm's Conv2DBackpropInput is a naive loop ~10–30× slower than
 * the forward conv of the same size (and it has no depthwise one). The input gradient is a
 * transposed convolution, i.e. a stride-1 convolution of dy (zero-dilated by the stride) with the
 * spatially flipped filter (for a full conv also with in/out channels swapped), padded so the output
 * is the input's size: top/left `k−1−pad`, bottom/right whatever completes it (rows the forward pass
 * never read get zeros). Depthwise runs through wasm's depthwise conv when the channel multiplier is
 * 1 (MobileNets); other multipliers, dilated depthwise filters and explicit paddings wider than the
 * filter (a negative padding here) go to `fallback`.
 */
function inputGradientWasm(
  kernelName: string,
  convKernel: string,
  fallback: tf.KernelConfig,
): tf.KernelConfig {
  const depthwise = kernelName === tf.DepthwiseConv2dNativeBackpropInput;
  return {
    kernelName,
    backendName: WASM,
    ...(fallback.setupFunc ? { setupFunc: fallback.setupFunc } : {}),
    kernelFunc: (args) => {
      const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
      const a = args.attrs as unknown as ConvAttrs & { inputShape: [number, number, number, number] };
      if ((a.dataFormat ?? 'NHWC') !== 'NHWC') return fallback.kernelFunc(args);
      const info = convInfoOf(a.inputShape, filter.shape, a, depthwise);
      const { batchSize: B, inHeight: H, inWidth: W, inChannels: CI, outHeight: HO, outWidth: WO } = info;
      const { outChannels: CO, filterHeight: KH, filterWidth: KW, strideHeight: sh, strideWidth: sw } = info;
      const HD = (HO - 1) * sh + 1;
      const WD = (WO - 1) * sw + 1;
      const top = KH - 1 - info.padInfo.top;
      const left = KW - 1 - info.padInfo.left;
      const bottom = H + KH - 1 - top - HD;
      const right = W + KW - 1 - left - WD;
      const simple =
        Math.min(top, left, bottom, right) >= 0 &&
        HO > 0 &&
        WO > 0 &&
        info.dilationHeight === 1 &&
        info.dilationWidth === 1 &&
        (!depthwise || CO === CI);
      if (!simple) return fallback.kernelFunc(args);
      const backend = args.backend as tf.KernelBackend;
      const h = wasmHost(backend);
      const { run, free } = runner(backend);
      // Depthwise (multiplier 1): [KH,KW,C,1] flipped spatially; as [KH,KW,1,C] it is the same buffer.
      const flipped = h.alloc(depthwise ? [KH, KW, CI, 1] : [KH, KW, CO, CI], 'float32');
      const [fi, fo] = depthwise ? [CI, 1] : [CI, CO];
      flipFilterSwapChannels(h.read(filter), flipped.values as Float32Array, KH, KW, fi, fo);
      let src = dy;
      if (sh > 1 || sw > 1) {
        src = h.alloc([B, HD, WD, CO], 'float32').info;
        zeroDilateNhwc(h.read(dy) as Float32Array, h.read(src) as Float32Array, B, HO, WO, CO, sh, sw);
      }
      const out = run(convKernel)(
        { x: src, filter: flipped.info },
        {
          strides: [1, 1],
          pad: [
            [0, 0],
            [top, bottom],
            [left, right],
            [0, 0],
          ],
          dataFormat: 'NHWC',
          dilations: [1, 1],
          dimRoundingMode: undefined,
        },
      );
      free(flipped.info);
      if (src !== dy) free(src);
      return out;
    },
  };
}

/** The sizes of a product both own paths take: float32, same rank ≥ 2, same leading dimensions. */
interface ProductSizes extends ProductDims {
  outer: number[];
  batches: number;
}

function productSizes(
  { a, b }: { a: tf.TensorInfo; b: tf.TensorInfo },
  attrs: { transposeA?: boolean; transposeB?: boolean },
): ProductSizes | null {
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return null;
  const ra = a.shape.length;
  if (ra < 2 || b.shape.length !== ra) return null;
  const outer = a.shape.slice(0, -2);
  if (!tf.util.arraysEqual(outer, b.shape.slice(0, -2))) return null;
  const tA = attrs.transposeA === true;
  const tB = attrs.transposeB === true;
  const [a0, a1] = [a.shape[ra - 2]!, a.shape[ra - 1]!];
  const [b0, b1] = [b.shape[ra - 2]!, b.shape[ra - 1]!];
  const [m, k] = tA ? [a1, a0] : [a0, a1];
  const n = tB ? b0 : b1;
  if ((tB ? b1 : b0) !== k) return null;
  const batches = tf.util.sizeFromShape(outer);
  if (batches === 0) return null;
  return { outer, batches, m, n, k, tA, tB };
}

/**
 * BatchMatMul as forward.wat's products, straight from the operands on the heap (every batch of
 * `[M,K]·[K,N]`, either operand transposed by strides; float32, same leading dimensions, N % 4 = 0,
 * and K % 4 = 0 when B is transposed; zeros when K = 0); else, up to `SMALL_MATMUL_MAX_MACS`
 * multiply-adds (the digits CNN's 10-way head and its gradients), small-ops.ts's loop on the calling
 * thread; or null for cases neither takes. tfjs-wasm's XNNPACK operator packs `b` as weights whenever
 * `b` is a tensor it has not seen, which in training is every call (the weights were just updated, the
 * gradients are new): for the digits CNN's dense layer at B = 32 the packing was more than half of the
 * forward matmul, the transposed gradient products paid a Transpose on top, and the threaded build
 * hands even a 32×32×10 product to its pool.
 */
function ownMatMul(
  inputs: { a: tf.TensorInfo; b: tf.TensorInfo },
  attrs: { transposeA?: boolean; transposeB?: boolean },
  backend: unknown,
): tf.TensorInfo | null {
  const s = productSizes(inputs, attrs);
  if (s === null) return null;
  const { outer, batches, m, n, k, tA, tB } = s;
  const h = wasmHost(backend);
  // An empty sum: zeros (tfjs-wasm's kernel returns whatever the output memory held).
  if (k === 0 && m * n > 0) return h.alloc([...outer, m, n], 'float32').info;
  const simd = ForwardSimd.takesProduct(m, n, k, tA, tB) ? forwardSimdFor(backend) : null;
  if (simd === null && !takesSmallProduct(batches, m, n, k)) return null;
  const out = (backend as WasmBackendLike).makeOutput([...outer, m, n], 'float32');
  if (simd !== null) {
    const [pa, pb, pc] = [ptr(h, inputs.a), ptr(h, inputs.b), ptr(h, out)];
    for (let i = 0; i < batches; i++)
      simd.product(pa + 4 * i * m * k, pb + 4 * i * k * n, pc + 4 * i * m * n, m, n, k, tA, tB);
    return out;
  }
  const [va, vb, vc] = [h.read(inputs.a) as F32, h.read(inputs.b) as F32, h.read(out) as F32];
  for (let i = 0; i < batches; i++) productLoop(va, vb, vc, [i * m * k, i * k * n, i * m * n], s);
  return out;
}

/**
 * _FusedMatMul with a linear or ReLU activation as `ownMatMul`'s product, then the
 * bias add and the ReLU in place on the calling thread (tfjs-cpu's order: product, `+ bias`,
 * `max(0, ·)`), for outputs of at most `SMALL_OP_MAX_ELEMENTS` when there is an epilogue and a bias
 * `binaryPlan` takes; else null.
 */
function ownFusedMatMul(args: Parameters<tf.KernelFunc>[0]): tf.TensorInfo | null {
  // PReLU weights come only with the 'prelu' activation, which is left to the stock kernel.
  const { a, b, bias } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo; bias?: tf.TensorInfo | null };
  const attrs = args.attrs as { transposeA?: boolean; transposeB?: boolean; activation?: string };
  const activation = attrs.activation ?? 'linear';
  if (activation !== 'linear' && activation !== 'relu') return null;
  const s = productSizes({ a, b }, attrs);
  if (s === null) return null;
  const outShape = [...s.outer, s.m, s.n];
  const hasBias = bias != null;
  const plan = hasBias ? binaryPlan(outShape, bias.shape) : null;
  if (hasBias && (bias.dtype !== 'float32' || plan === null || !tf.util.arraysEqual(plan.outShape, outShape)))
    return null;
  if ((hasBias || activation === 'relu') && tf.util.sizeFromShape(outShape) > SMALL_OP_MAX_ELEMENTS)
    return null;
  const out = ownMatMul({ a, b }, attrs, args.backend);
  if (out === null) return null;
  const h = wasmHost(args.backend);
  const values = h.read(out) as F32;
  if (hasBias && plan !== null) binaryLoop('add', values, h.read(bias) as F32, values, plan);
  if (activation === 'relu') for (let i = 0; i < values.length; i++) values[i] = Math.max(0, values[i]!);
  return out;
}

/**
 * BatchMatMul / _FusedMatMul with transposeA/B where `ownMatMul` / `ownFusedMatMul` do not take them: an explicit
 * Transpose then the stock kernel with the flags cleared. XNNPACK's transposed path is 10–25× slower
 * than this on 4.22.
 */
function transposedMatMulWasm(kernelName: string): tf.KernelConfig {
  const original = wasmKernel(kernelName);
  return {
    kernelName,
    backendName: WASM,
    // The stock kernel binds its wasm exports in setupFunc, which runs only for registered configs.
    ...(original.setupFunc ? { setupFunc: original.setupFunc } : {}),
    ...(original.disposeFunc ? { disposeFunc: original.disposeFunc } : {}),
    kernelFunc: (args) => {
      const attrs = args.attrs as { transposeA?: boolean; transposeB?: boolean } & tf.NamedAttrMap;
      const own =
        kernelName === tf.BatchMatMul
          ? ownMatMul(args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo }, attrs, args.backend)
          : ownFusedMatMul(args);
      if (own) return own;
      if (!attrs.transposeA && !attrs.transposeB) return original.kernelFunc(args);
      const { run, free } = runner(args.backend as tf.KernelBackend);
      const swapLast = (t: tf.TensorInfo): tf.TensorInfo => {
        const perm = t.shape.map((_, i) => i);
        const r = perm.length;
        perm[r - 1] = r - 2;
        perm[r - 2] = r - 1;
        return run(tf.Transpose)({ x: t }, { perm });
      };
      const inputs = { ...args.inputs } as Record<string, tf.TensorInfo>;
      const temps: tf.TensorInfo[] = [];
      if (attrs.transposeA && inputs.a) {
        inputs.a = swapLast(inputs.a);
        temps.push(inputs.a);
      }
      if (attrs.transposeB && inputs.b) {
        inputs.b = swapLast(inputs.b);
        temps.push(inputs.b);
      }
      const out = original.kernelFunc({
        inputs,
        backend: args.backend,
        attrs: { ...attrs, transposeA: false, transposeB: false },
      });
      for (const t of temps) free(t);
      return out;
    },
  };
}

/**
 * Makes tfjs-backend-wasm 4.22 able to train: adds Conv2DBackpropFilter (XNNPACK-composed), both
 * depthwise backprops and UnsortedSegmentSum (typed-array loops on the wasm heap), replaces the
 * MaxPoolGrad that drops the gradient of all-negative windows, runs BatchMatMul as SIMD products
 * without packing or transposing (forward.wat; other matmuls with transposes through an explicit
 * transpose). It also adds the one-pass ReLU/ReLU6/ClipByValue gradient kernels and installs the
 * 'Relu'/'Relu6'/'ClipByValue' gradients that use them where a backend has them (activation-grads.ts),
 * and runs Relu and 2×2 MaxPool forward as SIMD passes on the calling thread (forward.wat). Idempotent; the wasm kernels must be registered (import the package first).
 * Returns the names of the kernels added or replaced.
 */
export function registerWasmTrainingKernels(): string[] {
  wasmKernel(tf.Conv2D); // fails loudly when the wasm package was not imported
  overrideKernel(conv2dBackpropFilterWasm());
  overrideKernel(inputGradientWasm(tf.Conv2DBackpropInput, tf.Conv2D, wasmKernel(tf.Conv2DBackpropInput)));
  overrideKernel(transposedMatMulWasm(tf.BatchMatMul));
  overrideKernel(transposedMatMulWasm(tf._FusedMatMul));
  overrideKernel(depthwiseBackpropFilterWasm());
  overrideKernel(
    inputGradientWasm(
      tf.DepthwiseConv2dNativeBackpropInput,
      tf.DepthwiseConv2dNative,
      depthwiseBackpropInputConfig(WASM, wasmHost),
    ),
  );
  overrideKernel(maxPoolGradWasm());
  overrideKernel(avgPoolGradWasm());
  for (const k of maskedGradKernels()) overrideKernel(k);
  installActivationGradients();
  overrideKernel(unsortedSegmentSumConfig(WASM, wasmHost));
  overrideKernel(sumWasm());
  for (const name of [tf.Prod, tf.Mean, tf.Max, tf.Min, tf.Any, tf.All])
    overrideKernel(emptyAwareReduction(wasmKernel(name)));
  overrideKernel(addWasm());
  overrideKernel(binaryWasm(tf.Sub, 'sub'));
  overrideKernel(binaryWasm(tf.Multiply, 'mul'));
  overrideKernel(binaryWasm(tf.RealDiv, 'div'));
  overrideKernel(softmaxWasm());
  overrideKernel(sharingKernel(tf.Identity));
  overrideKernel(sharingKernel(tf.Cast));
  overrideKernel(reluWasm());
  overrideKernel(maxPoolWasm());
  return patchedKernels(WASM);
}

/** Puts back wasm's stock kernels (for side-by-side comparisons). */
export function unpatchWasmBackend(): void {
  restoreKernels(WASM);
}
