import * as tf from '@tensorflow/tfjs-core';
import { RobustFtError } from '../errors';
import { wasmHost } from './host';
import { overrideKernel, patchedKernels, restoreKernels, stockKernel } from './registry';
import {
  type ConvAttrs,
  convInfoOf,
  depthwiseBackpropFilterConfig,
  depthwiseBackpropInputConfig,
  maxPoolGradConfig,
  unsortedSegmentSumConfig,
} from './training-kernels';
import { flipFilterSwapChannels, im2colTransposedNhwc, zeroDilateNhwc } from './typed-array';

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
 * Conv2DBackpropFilter as one XNNPACK matmul: `dW[(kh,kw,ci), co] = Σ_n cols[(kh,kw,ci), n] ·
 * dy[n, co]` over the B·HO·WO output positions n, where `cols` is the transposed im2col of x (built
 * on the wasm heap by a typed-array loop). An earlier version ran it as a conv with batch and channel
 * axes swapped; XNNPACK handles that shape (a filter as big as the image) ~4× slower.
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
      const { run, free } = runner(backend as tf.KernelBackend);
      const rows = info.filterHeight * info.filterWidth * info.inChannels;
      const n = info.batchSize * info.outHeight * info.outWidth;
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

/**
 * BatchMatMul / _FusedMatMul with transposeA/B: an explicit Transpose then the stock kernel with the
 * flags cleared. XNNPACK's transposed path is 10–25× slower than this on 4.22.
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
 * MaxPoolGrad that drops the gradient of all-negative windows, and routes transposed matmuls through
 * an explicit transpose. Idempotent; the wasm kernels must be registered (import the package first).
 * Returns the names of the kernels added or replaced.
 */
export function registerWasmTrainingKernels(): string[] {
  wasmKernel(tf.Conv2D); // fails loudly when the wasm package was not imported
  overrideKernel(conv2dBackpropFilterWasm());
  overrideKernel(inputGradientWasm(tf.Conv2DBackpropInput, tf.Conv2D, wasmKernel(tf.Conv2DBackpropInput)));
  overrideKernel(transposedMatMulWasm(tf.BatchMatMul));
  overrideKernel(transposedMatMulWasm(tf._FusedMatMul));
  overrideKernel(depthwiseBackpropFilterConfig(WASM, wasmHost));
  overrideKernel(
    inputGradientWasm(
      tf.DepthwiseConv2dNativeBackpropInput,
      tf.DepthwiseConv2dNative,
      depthwiseBackpropInputConfig(WASM, wasmHost),
    ),
  );
  overrideKernel(maxPoolGradConfig(WASM, wasmHost));
  overrideKernel(unsortedSegmentSumConfig(WASM, wasmHost));
  return patchedKernels(WASM);
}

/** Puts back wasm's stock kernels (for side-by-side comparisons). */
export function unpatchWasmBackend(): void {
  restoreKernels(WASM);
}
