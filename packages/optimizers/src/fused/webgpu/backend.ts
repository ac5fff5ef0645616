import type { DataType, TensorInfo } from '@tensorflow/tfjs-core';
import { kernelError } from '../errors';

/**
 * The parts of tfjs-webgpu's `WebGPUBackend` (4.22) and of WebGPU that the fused steps use, described
 * structurally: nothing here imports `@tensorflow/tfjs-backend-webgpu` or needs `@webgpu/types`.
 *
 * Why reach past `runWebGPUProgram`: a tfjs-webgpu program has one output buffer and read-only inputs,
 * so AdamW alone would take three programs (44 B/parameter against a 28 B floor) and the methods with
 * whole-tensor sums would need a host read between passes. Recording our own pipelines into the
 * backend's command encoder gives multi-output passes, keeps every scalar decision on the device, and
 * orders our work after whatever produced the gradients (same encoder) without a host sync.
 * `webgpuInternals` checks every member at call time; with another tfjs-webgpu layout the fused
 * kernels report themselves unavailable and the optimizers take the composed path.
 */

export interface GpuBuffer {
  readonly size: number;
}

export interface GpuBufferBinding {
  buffer: GpuBuffer;
  offset?: number;
  size?: number;
}

/** A texture view (opaque here: only passed back into bind groups). */
export type GpuTextureView = object;

export interface GpuTexture {
  createView(): GpuTextureView;
  destroy(): void;
}

export interface GpuPipeline {
  getBindGroupLayout(index: number): unknown;
}

export interface GpuComputePass {
  setPipeline(pipeline: GpuPipeline): void;
  setBindGroup(index: number, group: unknown): void;
  dispatchWorkgroups(x: number, y?: number, z?: number): void;
  dispatchWorkgroupsIndirect(indirectBuffer: GpuBuffer, indirectOffset: number): void;
  end(): void;
}

export interface GpuCommandEncoder {
  beginComputePass(descriptor?: object): GpuComputePass;
  copyBufferToBuffer(
    source: GpuBuffer,
    sourceOffset: number,
    destination: GpuBuffer,
    destinationOffset: number,
    size: number,
  ): void;
}

export interface GpuDevice {
  createShaderModule(descriptor: { code: string }): unknown;
  createComputePipeline(descriptor: {
    layout: 'auto';
    compute: { module: unknown; entryPoint: string };
  }): GpuPipeline;
  createBindGroup(descriptor: {
    layout: unknown;
    entries: { binding: number; resource: GpuBufferBinding | GpuTextureView }[];
  }): unknown;
  createTexture(descriptor: { size: [number, number, number]; format: 'r32uint'; usage: number }): GpuTexture;
  readonly limits: {
    readonly maxComputeWorkgroupsPerDimension: number;
    readonly minStorageBufferOffsetAlignment: number;
    readonly minUniformBufferOffsetAlignment: number;
  };
}

export interface WebGPUBackendInternals {
  device: GpuDevice;
  queue: { writeBuffer(buffer: GpuBuffer, offset: number, data: ArrayBuffer): void };
  tensorMap: { get(dataId: object): { resource?: unknown } | undefined };
  bufferManager: { acquireBuffer(size: number, usage: number): GpuBuffer };
  commandEncoder: GpuCommandEncoder | null;
  uniformPendingDisposal: GpuBuffer[];
  makeTensorInfo(shape: number[], dtype: DataType): TensorInfo;
  uploadToGPU(dataId: object): void;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  disposeData(dataId: object): boolean;
}

const METHODS = [
  'makeTensorInfo',
  'uploadToGPU',
  'ensureCommandEncoderReady',
  'endComputePassEncoder',
  'submitQueue',
  'disposeData',
] as const;

/** The backend seen through `WebGPUBackendInternals`, or null when it is not a tfjs-webgpu 4.x backend. */
export function webgpuInternals(backend: unknown): WebGPUBackendInternals | null {
  if (typeof backend !== 'object' || backend === null) return null;
  const b = backend as Record<string, unknown>;
  for (const m of METHODS) if (typeof b[m] !== 'function') return null;
  const device = b.device as Record<string, unknown> | undefined;
  const objects = [device, b.queue, b.tensorMap, b.bufferManager];
  if (objects.some((o) => typeof o !== 'object' || o === null)) return null;
  if (typeof device?.createComputePipeline !== 'function' || typeof device.limits !== 'object') return null;
  if (typeof device.createTexture !== 'function') return null;
  if (!Array.isArray(b.uniformPendingDisposal)) return null;
  return backend as WebGPUBackendInternals;
}

/** GPUBufferUsage flags (numeric, so no WebGPU globals are needed at import). */
export const USAGE = { COPY_SRC: 0x4, COPY_DST: 0x8, UNIFORM: 0x40, STORAGE: 0x80, INDIRECT: 0x100 } as const;

/** GPUTextureUsage flags. */
export const TEXTURE_USAGE = { TEXTURE_BINDING: 0x4, STORAGE_BINDING: 0x8 } as const;

/** The GPU buffer behind a tensor (after `uploadToGPU`). */
export function bufferOf(backend: WebGPUBackendInternals, info: TensorInfo): GpuBuffer {
  const resource = backend.tensorMap.get(info.dataId)?.resource;
  if (typeof resource !== 'object' || resource === null || typeof (resource as GpuBuffer).size !== 'number')
    throw kernelError('UNSUPPORTED', 'a webgpu tensor is not held in a GPU buffer');
  return resource as GpuBuffer;
}
