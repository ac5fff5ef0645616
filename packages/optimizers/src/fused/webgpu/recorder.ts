import type { TensorInfo } from '@tensorflow/tfjs-core';
import { sizeOf } from '../args';
import { kernelError } from '../errors';
import {
  bufferOf,
  type GpuBuffer,
  type GpuBufferBinding,
  type GpuDevice,
  type GpuPipeline,
  type GpuTexture,
  type GpuTextureView,
  TEXTURE_USAGE,
  USAGE,
  type WebGPUBackendInternals,
} from './backend';
import { F, FLOAT_BASE_BYTES, REDUCE_SPAN, type ShaderSource, SLOT_BYTES, WORKGROUP } from './shaders';

/** Pipelines compiled once per device and shader. */
const pipelines = new WeakMap<GpuDevice, Map<string, GpuPipeline>>();

function pipelineFor(device: GpuDevice, source: ShaderSource): GpuPipeline {
  let cache = pipelines.get(device);
  if (!cache) {
    cache = new Map();
    pipelines.set(device, cache);
  }
  let pipeline = cache.get(source.key);
  if (!pipeline) {
    const module = device.createShaderModule({ code: source.code });
    pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
    cache.set(source.key, pipeline);
  }
  return pipeline;
}

/** A region of a scratch buffer, aligned for binding at an offset. */
export interface ScratchRegion {
  binding: GpuBufferBinding;
  /** Byte offset in the scratch buffer. */
  offset: number;
}

interface Dispatch {
  source: ShaderSource;
  slot: number;
  bindings: GpuBufferBinding[];
  /** A count, or the byte offset of its [x, y, z] in the call's indirect buffer. */
  workgroups: number | { indirect: number };
}

interface Copy {
  src: GpuBuffer;
  srcOffset: number;
  dst: GpuBuffer | 'uniforms';
  dstOffset: number;
  bytes: number;
}

/**
 * Records one fused kernel call: per-dispatch uniform slots, scratch regions, and dispatches grouped in
 * phases with buffer copies between them (a copy cannot sit inside a compute pass). `finish` writes the
 * uniforms, records everything into the backend's command encoder after the work already queued there
 * (so the gradients' producers run first) and submits, with no host read anywhere.
 */
export class StepRecorder {
  private floats: Float32Array;
  private words: Uint32Array;
  private readonly phases: { copies: Copy[]; dispatches: Dispatch[] }[] = [];
  private readonly scratch: TensorInfo[] = [];
  private readonly align: number;
  private flag: { texture: GpuTexture; view: GpuTextureView } | null = null;
  private indirect: { buffer: GpuBuffer; words: Uint32Array } | null = null;
  private seenBuffer: GpuBuffer | null = null;

  constructor(
    readonly backend: WebGPUBackendInternals,
    slots: number,
  ) {
    const { limits } = backend.device;
    this.align = Math.max(limits.minStorageBufferOffsetAlignment, 4);
    if (limits.minUniformBufferOffsetAlignment > SLOT_BYTES)
      throw kernelError('BACKEND_UNAVAILABLE', 'the device needs uniform slots larger than 256 B');
    const buffer = new ArrayBuffer(Math.max(slots, 1) * SLOT_BYTES);
    this.floats = new Float32Array(buffer);
    this.words = new Uint32Array(buffer);
  }

  /** Slots in this call's uniform buffer. */
  get slots(): number {
    return this.words.length / (SLOT_BYTES / 4);
  }

  /** One more uniform slot (zeroed), for dispatches beyond the one slot per tensor; returns its index. */
  addSlot(): number {
    const slot = this.slots;
    const buffer = new ArrayBuffer((slot + 1) * SLOT_BYTES);
    new Uint8Array(buffer).set(new Uint8Array(this.floats.buffer));
    this.floats = new Float32Array(buffer);
    this.words = new Uint32Array(buffer);
    return slot;
  }

  /** Sets a slot's header words (n, rows, rowLen, parts; FTP's `inner` as a u32 at F(F.inner)) and floats. */
  setSlot(
    slot: number,
    header: { n: number; rows?: number; rowLen?: number; parts?: number; inner?: number },
    floats: Record<number, number>,
  ): void {
    const base = (slot * SLOT_BYTES) / 4;
    this.words[base] = header.n;
    this.words[base + 1] = header.rows ?? 0;
    this.words[base + 2] = header.rowLen ?? 0;
    this.words[base + 3] = header.parts ?? 0;
    const fbase = base + FLOAT_BASE_BYTES / 4;
    for (const [k, v] of Object.entries(floats)) this.floats[fbase + Number(k)] = v;
    if (header.inner !== undefined) this.words[fbase + F.inner] = header.inner;
  }

  /** Writes u32 `values` into a slot's float area from F(`from`) (read there as u32, e.g. sizes). */
  setWords(slot: number, from: number, values: readonly number[]): void {
    const fbase = (slot * SLOT_BYTES + FLOAT_BASE_BYTES) / 4;
    values.forEach((v, j) => {
      this.words[fbase + from + j] = v;
    });
  }

  /** A fresh float32 output on the GPU (released by tfjs like any kernel output). */
  output(shape: number[]): TensorInfo {
    const info = this.backend.makeTensorInfo(shape, 'float32');
    if (sizeOf(shape) > 0) this.backend.uploadToGPU(info.dataId);
    return info;
  }

  /**
   * Binds a tensor's whole buffer. WebGPU cannot bind an empty one: it gets a 4-byte scratch of its
   * own (one per tensor, so an empty output and an empty input never alias in one dispatch).
   */
  bind(info: TensorInfo): GpuBufferBinding {
    if (sizeOf(info.shape) === 0) return this.scratchRegions([1])[0]!.binding;
    this.backend.uploadToGPU(info.dataId);
    return { buffer: bufferOf(this.backend, info) };
  }

  bufferOf(info: TensorInfo): GpuBuffer {
    return bufferOf(this.backend, info);
  }

  /** One scratch buffer (freed after the submit) split into aligned regions of `floats[k]` floats. */
  scratchRegions(floats: readonly number[]): ScratchRegion[] {
    const offsets: number[] = [];
    let total = 0;
    for (const n of floats) {
      offsets.push(total);
      total += Math.ceil((Math.max(n, 1) * 4) / this.align) * this.align;
    }
    const info = this.backend.makeTensorInfo([total / 4], 'float32');
    this.backend.uploadToGPU(info.dataId);
    this.scratch.push(info);
    const buffer = bufferOf(this.backend, info);
    return floats.map((n, k) => ({
      offset: offsets[k]!,
      binding: { buffer, offset: offsets[k]!, size: Math.max(n, 1) * 4 },
    }));
  }

  /**
   * The call's finite flag: a 1×1 r32uint texture, zero when created (WebGPU zero-initialises every
   * resource), which passes that check g set to 1 on a NaN/±Inf (FLAG_CHECK in shaders.ts). Destroyed
   * after the submit (its pending uses complete first).
   */
  flagView(): GpuTextureView {
    if (!this.flag) {
      const texture = this.backend.device.createTexture({
        size: [1, 1, 1],
        format: 'r32uint',
        usage: TEXTURE_USAGE.STORAGE_BINDING | TEXTURE_USAGE.TEXTURE_BINDING,
      });
      this.flag = { texture, view: texture.createView() };
    }
    return this.flag.view;
  }

  /**
   * The call's `seen` word (16 bytes, storage and uniform): PUBLISH_SEEN writes it before any pass
   * reads it (so a pooled buffer's old contents never count). Released with the uniforms.
   */
  seen(): GpuBufferBinding {
    this.seenBuffer ??= this.backend.bufferManager.acquireBuffer(16, USAGE.UNIFORM | USAGE.STORAGE);
    return { buffer: this.seenBuffer, offset: 0, size: 16 };
  }

  /**
   * This call's indirect-dispatch buffer, holding `triples` ([x, y, z] each, written before the submit
   * like the uniforms; storage too, so a pass can zero a count on the device). Returns its binding.
   */
  indirectArgs(triples: readonly (readonly [number, number, number])[]): GpuBufferBinding {
    if (this.indirect) throw kernelError('UNSUPPORTED', 'one indirect buffer per call');
    const words = Uint32Array.from(triples.flat());
    const bytes = Math.max(words.byteLength, 12);
    const buffer = this.backend.bufferManager.acquireBuffer(
      bytes,
      USAGE.INDIRECT | USAGE.STORAGE | USAGE.COPY_DST,
    );
    this.indirect = { buffer, words };
    return { buffer, offset: 0, size: bytes };
  }

  /** The index of the last phase recorded so far (−1 before any). */
  get lastPhase(): number {
    return this.phases.length - 1;
  }

  private phase(p: number): { copies: Copy[]; dispatches: Dispatch[] } {
    while (this.phases.length <= p) this.phases.push({ copies: [], dispatches: [] });
    return this.phases[p]!;
  }

  /** A dispatch of `workgroups` workgroups of `source` in phase `p`; bindings follow `source.bindings`. */
  dispatch(p: number, source: ShaderSource, slot: number, bindings: GpuBufferBinding[], workgroups: number) {
    if (bindings.length !== source.bindings.length)
      throw kernelError('UNSUPPORTED', `${source.key} takes ${source.bindings.length} buffers`);
    if (workgroups > 0) this.phase(p).dispatches.push({ source, slot, bindings, workgroups });
  }

  /** A dispatch whose [x, y, z] count the device reads from `indirectArgs`' buffer at byte `offset`. */
  dispatchIndirect(
    p: number,
    source: ShaderSource,
    slot: number,
    bindings: GpuBufferBinding[],
    offset: number,
  ) {
    if (bindings.length !== source.bindings.length)
      throw kernelError('UNSUPPORTED', `${source.key} takes ${source.bindings.length} buffers`);
    if (!this.indirect) throw kernelError('UNSUPPORTED', 'an indirect dispatch needs indirectArgs first');
    this.phase(p).dispatches.push({ source, slot, bindings, workgroups: { indirect: offset } });
  }

  /** Copies `bytes` before phase `p` runs; `dst` 'uniforms' targets this call's uniform buffer. */
  copy(
    p: number,
    src: GpuBuffer,
    srcOffset: number,
    dst: GpuBuffer | 'uniforms',
    dstOffset: number,
    bytes: number,
  ) {
    this.phase(p).copies.push({ src, srcOffset, dst, dstOffset, bytes });
  }

  finish(): void {
    const b = this.backend;
    const { device } = b;
    const uniforms = b.bufferManager.acquireBuffer(this.floats.byteLength, USAGE.UNIFORM | USAGE.COPY_DST);
    // Queue-ordered before the submit below; the buffer is fresh (or released after an earlier submit).
    b.queue.writeBuffer(uniforms, 0, this.floats.buffer as ArrayBuffer);
    b.uniformPendingDisposal.push(uniforms);
    const indirect = this.indirect;
    if (indirect) {
      // Same queue order as the uniforms; released with them after the submit.
      b.queue.writeBuffer(indirect.buffer, 0, indirect.words.buffer as ArrayBuffer);
      b.uniformPendingDisposal.push(indirect.buffer);
    }
    if (this.seenBuffer) b.uniformPendingDisposal.push(this.seenBuffer);
    b.endComputePassEncoder();
    b.ensureCommandEncoderReady();
    const encoder = b.commandEncoder;
    if (!encoder) throw kernelError('BACKEND_UNAVAILABLE', 'webgpu command encoder unavailable');
    const maxX = device.limits.maxComputeWorkgroupsPerDimension;
    for (const { copies, dispatches } of this.phases) {
      for (const c of copies)
        encoder.copyBufferToBuffer(
          c.src,
          c.srcOffset,
          c.dst === 'uniforms' ? uniforms : c.dst,
          c.dstOffset,
          c.bytes,
        );
      if (dispatches.length === 0) continue;
      const pass = encoder.beginComputePass();
      for (const d of dispatches) {
        const pipeline = pipelineFor(device, d.source);
        pass.setPipeline(pipeline);
        const entries: { binding: number; resource: GpuBufferBinding | GpuTextureView }[] = [
          { binding: 0, resource: { buffer: uniforms, offset: d.slot * SLOT_BYTES, size: SLOT_BYTES } },
          ...d.bindings.map((resource, k) => ({ binding: k + 1, resource })),
        ];
        if (d.source.flag === 'seen') entries.push({ binding: d.bindings.length + 1, resource: this.seen() });
        else if (d.source.flag) entries.push({ binding: d.bindings.length + 1, resource: this.flagView() });
        pass.setBindGroup(0, device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries }));
        if (typeof d.workgroups !== 'number') {
          pass.dispatchWorkgroupsIndirect(indirect!.buffer, d.workgroups.indirect);
          continue;
        }
        const x = Math.min(d.workgroups, maxX);
        pass.dispatchWorkgroups(x, Math.ceil(d.workgroups / x), 1);
      }
      pass.end();
    }
    // Submitting now releases this call's uniforms and lets the scratch go back to the pool.
    b.submitQueue();
    for (const info of this.scratch) b.disposeData(info.dataId);
    this.flag?.texture.destroy();
  }
}

/** Workgroups of an element pass over n elements. */
export function groupsFor(n: number): number {
  return Math.ceil(n / WORKGROUP);
}

/** Workgroups (= partial sums) of a reduction pass over n elements. */
export function partsFor(n: number): number {
  return Math.ceil(n / REDUCE_SPAN);
}
