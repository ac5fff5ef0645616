import * as tf from '@tensorflow/tfjs-core';
import type { KernelHost } from './host';
import {
  conv2dBackpropFilterNhwc,
  depthwiseBackpropFilterNhwc,
  depthwiseBackpropInputNhwc,
  maxPoolGradNhwc,
  unsortedSegmentSumFlat,
} from './typed-array';

/**
 * Kernel configs built from the typed-array loops for a given backend. Each reads its inputs where
 * the backend keeps them and writes its output in the backend's own storage. NCHW and other layouts
 * the loops do not cover are handed to `fallback` (the stock kernel) when there is one.
 */
type HostFactory = (backend: unknown) => KernelHost;

export interface ConvAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: [number, number] | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape?: [number, number, number, number];
  inputShape?: [number, number, number, number];
}

function unsupported(kernel: string, what: string): Error {
  return new Error(`robust-ft ${kernel}: ${what} is not supported by the typed-array kernel`);
}

function attrsOf<T>(attrs: tf.NamedAttrMap | undefined): T {
  return attrs as unknown as T;
}

/**
 * The convolution geometry of a gradient kernel from its attributes. Depthwise kernels honour the
 * dilations and pass `depthwise`, as tfjs' own do; Conv2DBackpropFilter uses dilation 1 like tfjs-cpu.
 */
export function convInfoOf(
  xShape: readonly number[],
  filterShape: readonly number[],
  a: Omit<ConvAttrs, 'filterShape' | 'inputShape'>,
  depthwise = false,
): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    a.strides,
    depthwise ? (a.dilations ?? 1) : 1,
    a.pad,
    a.dimRoundingMode,
    depthwise,
  );
}

export function conv2dBackpropFilterConfig(
  backendName: string,
  host: HostFactory,
  fallback?: tf.KernelConfig,
): tf.KernelConfig {
  return {
    kernelName: tf.Conv2DBackpropFilter,
    backendName,
    kernelFunc: (args) => {
      const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
      const a = attrsOf<ConvAttrs>(args.attrs);
      if ((a.dataFormat ?? 'NHWC') !== 'NHWC') {
        if (fallback) return fallback.kernelFunc(args);
        throw unsupported('Conv2DBackpropFilter', `dataFormat ${a.dataFormat}`);
      }
      const info = convInfoOf(x.shape, a.filterShape!, a);
      const h = host(args.backend);
      const out = h.alloc(info.filterShape, 'float32');
      conv2dBackpropFilterNhwc(h.read(x), h.read(dy), out.values as Float32Array, info);
      return out.info;
    },
  };
}

export function depthwiseBackpropFilterConfig(backendName: string, host: HostFactory): tf.KernelConfig {
  return {
    kernelName: tf.DepthwiseConv2dNativeBackpropFilter,
    backendName,
    kernelFunc: (args) => {
      const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
      const a = attrsOf<ConvAttrs>(args.attrs);
      const info = convInfoOf(x.shape, a.filterShape!, a, true);
      const h = host(args.backend);
      const out = h.alloc(info.filterShape, 'float32');
      depthwiseBackpropFilterNhwc(h.read(x), h.read(dy), out.values as Float32Array, info);
      return out.info;
    },
  };
}

export function depthwiseBackpropInputConfig(backendName: string, host: HostFactory): tf.KernelConfig {
  return {
    kernelName: tf.DepthwiseConv2dNativeBackpropInput,
    backendName,
    kernelFunc: (args) => {
      const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
      const a = attrsOf<ConvAttrs>(args.attrs);
      const info = convInfoOf(a.inputShape!, filter.shape, a, true);
      const h = host(args.backend);
      const out = h.alloc(info.inShape, 'float32');
      depthwiseBackpropInputNhwc(h.read(dy), h.read(filter), out.values as Float32Array, info);
      return out.info;
    },
  };
}

export interface PoolAttrs {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** The window geometry of a pooling gradient kernel from its input shape and attributes. */
export function poolInfoOf(inputShape: readonly number[], a: PoolAttrs): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computePool2DInfo(
    inputShape as [number, number, number, number],
    a.filterSize,
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
  );
}

export function maxPoolGradConfig(backendName: string, host: HostFactory): tf.KernelConfig {
  return {
    kernelName: tf.MaxPoolGrad,
    backendName,
    kernelFunc: (args) => {
      const { dy, input } = args.inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
      const info = poolInfoOf(input.shape, attrsOf<PoolAttrs>(args.attrs));
      const h = host(args.backend);
      const out = h.alloc(input.shape.slice(), 'float32');
      maxPoolGradNhwc(h.read(dy), h.read(input), out.values as Float32Array, info);
      return out.info;
    },
  };
}

export function unsortedSegmentSumConfig(backendName: string, host: HostFactory): tf.KernelConfig {
  return {
    kernelName: tf.UnsortedSegmentSum,
    backendName,
    kernelFunc: (args) => {
      const { x, segmentIds } = args.inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
      const { numSegments } = attrsOf<{ numSegments: number }>(args.attrs);
      const idsSize = segmentIds.shape.reduce((p, d) => p * d, 1);
      const xSize = x.shape.reduce((p, d) => p * d, 1);
      const inner = idsSize === 0 ? 0 : xSize / idsSize;
      const dtype = x.dtype === 'int32' ? 'int32' : 'float32';
      const h = host(args.backend);
      const out = h.alloc([numSegments, ...x.shape.slice(segmentIds.shape.length)], dtype);
      unsortedSegmentSumFlat(h.read(x), h.read(segmentIds), out.values as Float32Array, inner, numSegments);
      return out.info;
    },
  };
}
