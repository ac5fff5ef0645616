import type * as tf from '@tensorflow/tfjs-core';

/** The minimum of a backend our kernels need: read an input as a flat array, allocate an output. */
export interface KernelHost {
  read(info: tf.TensorInfo): tf.backend_util.TypedArray;
  /** Allocates a zeroed output and returns it with a writable view (valid until the next allocation). */
  alloc(shape: number[], dtype: tf.DataType): { info: tf.TensorInfo; values: tf.backend_util.TypedArray };
  dispose(info: tf.TensorInfo): void;
}

/** tfjs-backend-cpu's data storage (a subset of `MathBackendCPU`). */
interface CpuBackendLike {
  data: { get(dataId: object): { values: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: tf.backend_util.BackendValues): tf.TensorInfo;
  disposeIntermediateTensorInfo(info: tf.TensorInfo): void;
}

/** tfjs-backend-wasm's heap bridge (a subset of `BackendWasm`). */
export interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): tf.backend_util.TypedArray;
  disposeData(dataId: object, force?: boolean): boolean;
}

function arrayFor(dtype: tf.DataType, size: number): tf.backend_util.TypedArray {
  return dtype === 'int32'
    ? new Int32Array(size)
    : dtype === 'bool'
      ? new Uint8Array(size)
      : new Float32Array(size);
}

export function cpuHost(backend: unknown): KernelHost {
  const b = backend as CpuBackendLike;
  return {
    read: (info) => b.data.get(info.dataId).values as tf.backend_util.TypedArray,
    alloc(shape, dtype) {
      const values = arrayFor(
        dtype,
        shape.reduce((a, d) => a * d, 1),
      );
      return { info: b.makeTensorInfo(shape, dtype, values), values };
    },
    dispose: (info) => b.disposeIntermediateTensorInfo(info),
  };
}

/**
 * Works directly on the wasm heap: inputs are read in place and outputs written in place, so no
 * data crosses to another backend. Views are taken after allocation because allocation can grow
 * (and so detach) the heap.
 */
export function wasmHost(backend: unknown): KernelHost {
  const b = backend as WasmBackendLike;
  return {
    read: (info) => b.typedArrayFromHeap(info),
    alloc(shape, dtype) {
      const info = b.makeOutput(shape, dtype);
      const values = b.typedArrayFromHeap(info);
      values.fill(0);
      return { info, values };
    },
    dispose: (info) => {
      b.disposeData(info.dataId);
    },
  };
}
