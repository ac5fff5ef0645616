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
 * Conv2DBackpropFilter from wasm's XNNPACK kernels. The filter gradient is itself a convolution:
 * with x padded (and cropped to the rows the forward pass read) and transposed to [ci, H, W, B], and
 * dy transposed to [Ho, Wo, B, co] as the filter, a 'valid' conv2d with strides = the forward
 * dilation and dilations = the forward stride yields [ci, kh, kw, co].
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
      const { run, free } = runner(backend as tf.KernelBackend);
      const { batchSize: B, inHeight: H, inWidth: W, inChannels: CI, outHeight: HO, outWidth: WO } = info;
      const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
      const top = info.padInfo.top;
      const left = info.padInfo.left;
      // Rows/cols of padded x that the forward pass actually read.
      const needH = (HO - 1) * sh + (info.filterHeight - 1) * dh + 1;
      const needW = (WO - 1) * sw + (info.filterWidth - 1) * dw + 1;
      const padded = run(tf.PadV2)(
        { x },
        {
          paddings: [
            [0, 0],
            [top, Math.max(0, needH - top - H)],
            [left, Math.max(0, needW - left - W)],
            [0, 0],
          ],
          constantValue: 0,
        },
      );
      const cropped = run(tf.Slice)({ x: padded }, { begin: [0, 0, 0, 0], size: [B, needH, needW, CI] });
      free(padded);
      const xt = run(tf.Transpose)({ x: cropped }, { perm: [3, 1, 2, 0] });
      free(cropped);
      const dyt = run(tf.Transpose)({ x: dy }, { perm: [1, 2, 0, 3] });
      const g = run(tf.Conv2D)(
        { x: xt, filter: dyt },
        {
          strides: [dh, dw],
          pad: 'valid',
          dataFormat: 'NHWC',
          dilations: [sh, sw],
          dimRoundingMode: undefined,
        },
      );
      free(xt);
      free(dyt);
      const out = run(tf.Transpose)({ x: g }, { perm: [1, 2, 0, 3] });
      free(g);
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
  overrideKernel(transposedMatMulWasm(tf.BatchMatMul));
  overrideKernel(transposedMatMulWasm(tf._FusedMatMul));
  overrideKernel(depthwiseBackpropFilterConfig(WASM, wasmHost));
  overrideKernel(depthwiseBackpropInputConfig(WASM, wasmHost));
  overrideKernel(maxPoolGradConfig(WASM, wasmHost));
  overrideKernel(unsortedSegmentSumConfig(WASM, wasmHost));
  return patchedKernels(WASM);
}

/** Puts back wasm's stock kernels (for side-by-side comparisons). */
export function unpatchWasmBackend(): void {
  restoreKernels(WASM);
}
