import type { TensorInfo } from '@tensorflow/tfjs-core';
import { kernelError } from './errors';
import { JS_ENGINE, type StepEngine } from './loops';
import { fusedRuntime } from './runtime';
import { wasmCopyEngine, wasmEngineFor } from './wasm/engine';

/**
 * Direct access to a backend's float32 memory, so a fused kernel reads and writes the tensors in place
 * of tfjs's element-wise kernels. Library code never imports a backend: these structural views are
 * feature-detected on the backend object tfjs hands to the kernel.
 */
export interface KernelStorage {
  /** Brings every input into this backend (tfjs moves data lazily) before any view is taken. */
  touch(info: TensorInfo): void;
  /** A new float32 tensor of this backend (contents unspecified). */
  makeOutput(shape: number[]): TensorInfo;
  /** Frees a tensor made by `makeOutput` that is not returned (kernel scratch). */
  release(info: TensorInfo): void;
  /** A Float32Array over the tensor's memory. Take views only after all outputs are made (wasm memory may grow). */
  view(info: TensorInfo): Float32Array;
  /** The passes to run on these views: the SIMD module on the wasm heap where it links, else JS loops. */
  engine(): StepEngine;
}

/**
 * Switches our SIMD step module on or off (on by default) for both backends. Off, the kernels run the
 * JS passes on the same views; tests use it to check both paths, the bench to measure them.
 */
export function setWasmSimdEnabled(on: boolean): void {
  fusedRuntime().simd = on;
}

export function wasmSimdEnabled(): boolean {
  return fusedRuntime().simd;
}

/** tfjs-backend-cpu: each tensor's values live in a JS typed array. */
interface CpuLikeBackend {
  data: { get(dataId: object): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
}

/** tfjs-backend-wasm: each tensor is a region of the wasm module's heap. */
interface WasmLikeBackend {
  dataIdMap: { get(dataId: object): unknown };
  /**
   * The emscripten module; `asm.memory` is the heap every tensor lives in (tfjs 4.x). The threaded
   * build imports its (shared) heap instead of exporting it: there it is `wasmMemory`.
   */
  wasm?: { asm?: { memory?: unknown }; wasmMemory?: unknown };
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): unknown;
  disposeData(dataId: object, force?: boolean): boolean;
}

function isCpuLike(b: unknown): b is CpuLikeBackend {
  const c = b as Partial<CpuLikeBackend> | null;
  return (
    c != null &&
    typeof c.makeTensorInfo === 'function' &&
    typeof c.disposeData === 'function' &&
    c.data != null &&
    typeof c.data.get === 'function'
  );
}

function isWasmLike(b: unknown): b is WasmLikeBackend {
  const w = b as Partial<WasmLikeBackend> | null;
  return (
    w != null &&
    typeof w.makeOutput === 'function' &&
    typeof w.typedArrayFromHeap === 'function' &&
    typeof w.disposeData === 'function' &&
    w.dataIdMap != null &&
    typeof w.dataIdMap.get === 'function'
  );
}

function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function asFloat32(values: unknown, what: string): Float32Array {
  if (!(values instanceof Float32Array)) throw kernelError('UNSUPPORTED', `${what} is not float32 memory`);
  return values;
}

export type StorageKind = 'cpu' | 'wasm';

/** The storage of `backend` seen as `kind`, or null when its shape is not the one expected. */
export function storageFor(kind: StorageKind, backend: unknown): KernelStorage | null {
  if (kind === 'cpu' && isCpuLike(backend)) {
    return {
      touch(info) {
        backend.data.get(info.dataId);
      },
      makeOutput(shape) {
        return backend.makeTensorInfo(shape, 'float32', new Float32Array(sizeOf(shape)));
      },
      release(info) {
        backend.disposeData(info.dataId, true);
      },
      view(info) {
        return asFloat32(backend.data.get(info.dataId).values, 'a cpu tensor');
      },
      engine: () => (fusedRuntime().simd ? (wasmCopyEngine() ?? JS_ENGINE) : JS_ENGINE),
    };
  }
  if (kind === 'wasm' && isWasmLike(backend)) {
    return {
      touch(info) {
        backend.dataIdMap.get(info.dataId);
      },
      makeOutput(shape) {
        return backend.makeOutput(shape, 'float32');
      },
      release(info) {
        backend.disposeData(info.dataId, true);
      },
      view(info) {
        return asFloat32(backend.typedArrayFromHeap(info), 'a wasm tensor');
      },
      engine() {
        const memory = backend.wasm?.asm?.memory ?? backend.wasm?.wasmMemory;
        if (!fusedRuntime().simd || !(memory instanceof WebAssembly.Memory)) return JS_ENGINE;
        return wasmEngineFor(memory) ?? JS_ENGINE;
      },
    };
  }
  return null;
}
