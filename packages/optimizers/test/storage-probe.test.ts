import type { TensorInfo } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import { setWasmSimdEnabled, storageFor } from '../src/fused/storage';
import './setup-backend';
import { caught } from './typed-error';

/*
 * `storageFor` reads a backend by its shape (no backend is imported): which objects it takes as cpu- or
 * wasm-like storage, and what each of its members calls on the backend. Stand-in backends record the
 * calls, so a backend of another tfjs version that lacks a member is refused (null: the fused kernels
 * are then not used there) instead of failing inside a step.
 */

type Call = [string, ...unknown[]];

/** A stand-in for tfjs-backend-cpu's members that storageFor uses, recording every call. */
function cpuLike(calls: Call[], values: unknown = new Float32Array([1, 2])) {
  return {
    data: {
      get: (id: object) => {
        calls.push(['data.get', id]);
        return { values };
      },
    },
    makeTensorInfo: (shape: number[], dtype: string, v: Float32Array) => {
      calls.push(['makeTensorInfo', shape, dtype, v.length]);
      return { dataId: {}, shape, dtype } as TensorInfo;
    },
    disposeData: (id: object, force?: boolean) => {
      calls.push(['disposeData', id, force]);
      return true;
    },
  };
}

/** A stand-in for tfjs-backend-wasm's members that storageFor uses. */
function wasmLike(calls: Call[], heap: unknown = new Float32Array([3])) {
  return {
    dataIdMap: {
      get: (id: object) => {
        calls.push(['dataIdMap.get', id]);
        return {};
      },
    },
    makeOutput: (shape: number[], dtype: string) => {
      calls.push(['makeOutput', shape, dtype]);
      return { dataId: {}, shape, dtype } as TensorInfo;
    },
    typedArrayFromHeap: (info: TensorInfo) => {
      calls.push(['typedArrayFromHeap', info]);
      return heap;
    },
    disposeData: (id: object, force?: boolean) => {
      calls.push(['disposeData', id, force]);
      return true;
    },
  };
}

const info = (): TensorInfo => ({ dataId: {}, shape: [1], dtype: 'float32' });

afterEach(() => setWasmSimdEnabled(true));

describe('storageFor: which backend objects are cpu-like', () => {
  it('the running cpu backend and a stand-in with every member are; null, the wrong kind and a missing member are not', () => {
    expect(storageFor('cpu', tf.findBackend('cpu'))).not.toBeNull();
    expect(storageFor('cpu', cpuLike([]))).not.toBeNull();
    expect(storageFor('cpu', null)).toBeNull();
    expect(storageFor('cpu', undefined)).toBeNull();
    expect(storageFor('wasm', cpuLike([]))).toBeNull();
    const full = cpuLike([]);
    for (const broken of [
      { ...full, makeTensorInfo: undefined },
      { ...full, makeTensorInfo: 'fn' },
      { ...full, disposeData: undefined },
      { ...full, disposeData: 1 },
      { ...full, data: undefined },
      { ...full, data: null },
      { ...full, data: {} },
      { ...full, data: { get: 'get' } },
    ])
      expect(storageFor('cpu', broken)).toBeNull();
  });

  it('its members call the backend: data.get, makeTensorInfo with a zeroed float32 array of the size, disposeData forced', () => {
    const calls: Call[] = [];
    const s = storageFor('cpu', cpuLike(calls))!;
    const t = info();
    s.touch(t);
    expect(calls).toEqual([['data.get', t.dataId]]);
    const out = s.makeOutput([2, 3, 4]);
    expect(out.shape).toEqual([2, 3, 4]);
    expect(calls[1]).toEqual(['makeTensorInfo', [2, 3, 4], 'float32', 24]);
    s.release(t);
    expect(calls[2]).toEqual(['disposeData', t.dataId, true]);
    expect(Array.from(s.view(t))).toEqual([1, 2]);
  });

  it('a view of memory that is not float32 is a typed UNSUPPORTED error naming the cpu tensor', () => {
    const s = storageFor('cpu', cpuLike([], new Int32Array(2)))!;
    const e = caught(() => s.view(info()));
    expect(e.code).toBe('UNSUPPORTED');
    expect(e.message).toMatch(/a cpu tensor is not float32 memory/);
  });

  it('the engine: the SIMD module streaming through its own memory, or the JS loops with SIMD off', () => {
    expect(storageFor('cpu', cpuLike([]))!.engine().name).toBe('wasm-simd-copy');
    setWasmSimdEnabled(false);
    expect(storageFor('cpu', cpuLike([]))!.engine().name).toBe('js');
  });
});

describe('storageFor: which backend objects are wasm-like', () => {
  it('a stand-in with every member is; null, the wrong kind and a missing member are not', () => {
    expect(storageFor('wasm', wasmLike([]))).not.toBeNull();
    expect(storageFor('wasm', null)).toBeNull();
    expect(storageFor('cpu', wasmLike([]))).toBeNull();
    const full = wasmLike([]);
    for (const broken of [
      { ...full, makeOutput: undefined },
      { ...full, makeOutput: {} },
      { ...full, typedArrayFromHeap: undefined },
      { ...full, typedArrayFromHeap: 0 },
      { ...full, disposeData: undefined },
      { ...full, disposeData: 'x' },
      { ...full, dataIdMap: undefined },
      { ...full, dataIdMap: null },
      { ...full, dataIdMap: {} },
      { ...full, dataIdMap: { get: 1 } },
    ])
      expect(storageFor('wasm', broken)).toBeNull();
  });

  it('its members call the backend: dataIdMap.get, makeOutput float32, disposeData forced, the heap view', () => {
    const calls: Call[] = [];
    const s = storageFor('wasm', wasmLike(calls))!;
    const t = info();
    s.touch(t);
    expect(calls).toEqual([['dataIdMap.get', t.dataId]]);
    expect(s.makeOutput([5]).shape).toEqual([5]);
    expect(calls[1]).toEqual(['makeOutput', [5], 'float32']);
    s.release(t);
    expect(calls[2]).toEqual(['disposeData', t.dataId, true]);
    expect(Array.from(s.view(t))).toEqual([3]);
    expect(calls[3]).toEqual(['typedArrayFromHeap', t]);
    const bad = storageFor('wasm', wasmLike([], [3]))!;
    expect(caught(() => bad.view(t)).message).toMatch(/a wasm tensor is not float32 memory/);
  });

  it('the engine: JS loops without a wasm heap or with SIMD off; the SIMD module on asm.memory or wasmMemory', () => {
    const noHeap = wasmLike([]);
    expect(storageFor('wasm', noHeap)!.engine().name).toBe('js');
    expect(storageFor('wasm', { ...noHeap, wasm: { asm: {} } })!.engine().name).toBe('js');
    expect(
      storageFor('wasm', { ...noHeap, wasm: { asm: { memory: new ArrayBuffer(8) } } })!.engine().name,
    ).toBe('js');
    const heap = new WebAssembly.Memory({ initial: 1 });
    // Node 20 has wasm SIMD (fused-kernels.test.ts checks the module links on the real wasm heap too).
    expect(storageFor('wasm', { ...noHeap, wasm: { asm: { memory: heap } } })!.engine().name).toBe(
      'wasm-simd',
    );
    expect(storageFor('wasm', { ...noHeap, wasm: { wasmMemory: heap } })!.engine().name).toBe('wasm-simd');
    expect(storageFor('wasm', { ...noHeap, wasm: { asm: {}, wasmMemory: heap } })!.engine().name).toBe(
      'wasm-simd',
    );
    setWasmSimdEnabled(false);
    expect(storageFor('wasm', { ...noHeap, wasm: { asm: { memory: heap } } })!.engine().name).toBe('js');
  });
});
