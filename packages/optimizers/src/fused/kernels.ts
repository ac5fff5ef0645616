import type { KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { adamConstants, type DigrapScalars, digrapStep, type FtpScalars, ftpStep, spdStep } from './loops';
import { type KernelStorage, type StorageKind, storageFor } from './storage';
import { webgpuAdamWKernel } from './webgpu';

/**
 * Fused optimizer-step kernels, registered in tfjs's kernel registry per backend. Each call steps a
 * batch of tensors (inputs `param0, grad0, m0, v0, param1, …`), so a model with many small tensors
 * pays the engine's per-kernel overhead once per step, not once per tensor.
 */
export const FUSED_KERNELS = {
  adamw: 'RobustFtAdamWStep',
  l2sp: 'RobustFtL2spStep',
  ftp: 'RobustFtFtpStep',
  spd: 'RobustFtSpdStep',
  digrap: 'RobustFtDigrapStep',
} as const;

export type FusedMethod = keyof typeof FUSED_KERNELS;
export type FusedKernelName = (typeof FUSED_KERNELS)[FusedMethod];

/** Backends that have fused kernels, with the storage layout each one uses. */
const BACKENDS: Record<string, StorageKind> = { cpu: 'cpu', wasm: 'wasm' };

/**
 * WGSL kernels for the `webgpu` backend (see `webgpu.ts`). Only AdamW so far: every other method has no
 * webgpu kernel, so its `withFused*` wrapper finds none there and runs the composed path.
 */
const WEBGPU_KERNELS: Partial<Record<FusedMethod, KernelFunc>> = { adamw: webgpuAdamWKernel };

function num(attrs: NamedAttrMap | undefined, key: string): number {
  const v = attrs?.[key];
  if (typeof v !== 'number') throw new Error(`fused optimizer kernel: attribute "${key}" must be a number`);
  return v;
}

function numAt(attrs: NamedAttrMap | undefined, key: string, i: number): number {
  const v = attrs?.[key];
  const x = Array.isArray(v) ? v[i] : undefined;
  if (typeof x !== 'number')
    throw new Error(`fused optimizer kernel: attribute "${key}[${i}]" must be a number`);
  return x;
}

function input(inputs: NamedTensorInfoMap, key: string): TensorInfo {
  const t = inputs[key];
  if (!t) throw new Error(`fused optimizer kernel: missing input "${key}"`);
  return t;
}

function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** FTP's row count: axis 0 for rank ≥ 2, the whole tensor otherwise (the reference's torch.sum(dim=())). */
export function ftpRows(shape: readonly number[]): number {
  return shape.length >= 2 ? shape[0]! : 1;
}

/** Shape of FTP's stored 1/n: the row norms with dims kept; a scalar for rank ≤ 1. */
export function ftpRowShape(shape: readonly number[]): number[] {
  return shape.length >= 2 ? [shape[0]!, ...shape.slice(1).map(() => 1)] : [];
}

interface Prepared {
  storage: KernelStorage;
  count: number;
}

function prepare(
  kind: StorageKind,
  backend: unknown,
  inputs: NamedTensorInfoMap,
  attrs?: NamedAttrMap,
): Prepared {
  const storage = storageFor(kind, backend);
  if (!storage) throw new Error(`fused optimizer kernel: the active backend is not a ${kind} backend`);
  for (const info of Object.values(inputs)) if (info) storage.touch(info);
  return { storage, count: num(attrs, 'n') };
}

function checkSameSize(main: TensorInfo, others: (TensorInfo | undefined)[]): void {
  const n = sizeOf(main.shape);
  for (const o of others) {
    if (o && sizeOf(o.shape) !== n)
      throw new Error('fused optimizer kernel: a state tensor does not match its parameter size');
  }
}

function adamwKernel(kind: StorageKind): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { storage, count } = prepare(kind, backend, inputs, attrs);
    const lr = num(attrs, 'learningRate');
    const b1 = num(attrs, 'beta1');
    const b2 = num(attrs, 'beta2');
    const eps = num(attrs, 'epsilon');
    const wd = num(attrs, 'weightDecay');
    const outs: TensorInfo[] = [];
    for (let i = 0; i < count; i++) {
      const p = input(inputs, `param${i}`);
      checkSameSize(p, [input(inputs, `grad${i}`), input(inputs, `m${i}`), input(inputs, `v${i}`)]);
      outs.push(storage.makeOutput(p.shape), storage.makeOutput(p.shape), storage.makeOutput(p.shape));
    }
    const E = storage.engine();
    for (let i = 0; i < count; i++) {
      const th = storage.view(input(inputs, `param${i}`));
      E.adam(
        th,
        storage.view(input(inputs, `grad${i}`)),
        storage.view(input(inputs, `m${i}`)),
        storage.view(input(inputs, `v${i}`)),
        storage.view(outs[3 * i]!),
        storage.view(outs[3 * i + 1]!),
        storage.view(outs[3 * i + 2]!),
        adamConstants(lr, b1, b2, eps, numAt(attrs, 'counts', i), wd),
        0,
        th.length,
      );
    }
    return outs;
  };
}

function l2spKernel(kind: StorageKind): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { storage, count } = prepare(kind, backend, inputs, attrs);
    const lr = num(attrs, 'learningRate');
    const b1 = num(attrs, 'beta1');
    const b2 = num(attrs, 'beta2');
    const eps = num(attrs, 'epsilon');
    const alpha = num(attrs, 'alpha');
    const outs: TensorInfo[] = [];
    for (let i = 0; i < count; i++) {
      const p = input(inputs, `param${i}`);
      checkSameSize(p, [
        input(inputs, `grad${i}`),
        input(inputs, `m${i}`),
        input(inputs, `v${i}`),
        input(inputs, `anchor${i}`),
      ]);
      outs.push(storage.makeOutput(p.shape), storage.makeOutput(p.shape), storage.makeOutput(p.shape));
    }
    const E = storage.engine();
    for (let i = 0; i < count; i++) {
      const th = storage.view(input(inputs, `param${i}`));
      E.l2sp(
        th,
        storage.view(input(inputs, `grad${i}`)),
        storage.view(input(inputs, `m${i}`)),
        storage.view(input(inputs, `v${i}`)),
        storage.view(input(inputs, `anchor${i}`)),
        storage.view(outs[3 * i]!),
        storage.view(outs[3 * i + 1]!),
        storage.view(outs[3 * i + 2]!),
        adamConstants(lr, b1, b2, eps, numAt(attrs, 'counts', i)),
        alpha,
        0,
        th.length,
      );
    }
    return outs;
  };
}

/** Outputs per tensor: param, m, v, condition κ (0-d), ratio r (0-d). */
function spdKernel(kind: StorageKind): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { storage, count } = prepare(kind, backend, inputs, attrs);
    const lr = num(attrs, 'learningRate');
    const b1 = num(attrs, 'beta1');
    const b2 = num(attrs, 'beta2');
    const eps = num(attrs, 'epsilon');
    const lambda = num(attrs, 'lambda');
    const outs: TensorInfo[] = [];
    for (let i = 0; i < count; i++) {
      const p = input(inputs, `param${i}`);
      checkSameSize(p, [
        input(inputs, `grad${i}`),
        input(inputs, `m${i}`),
        input(inputs, `v${i}`),
        input(inputs, `anchor${i}`),
      ]);
      outs.push(storage.makeOutput(p.shape), storage.makeOutput(p.shape), storage.makeOutput(p.shape));
      outs.push(storage.makeOutput([]), storage.makeOutput([]));
    }
    const E = storage.engine();
    for (let i = 0; i < count; i++) {
      const o = outs.slice(5 * i, 5 * i + 5);
      const r = spdStep(
        E,
        storage.view(input(inputs, `param${i}`)),
        storage.view(input(inputs, `grad${i}`)),
        storage.view(input(inputs, `m${i}`)),
        storage.view(input(inputs, `v${i}`)),
        storage.view(input(inputs, `anchor${i}`)),
        storage.view(o[0]!),
        storage.view(o[1]!),
        storage.view(o[2]!),
        adamConstants(lr, b1, b2, eps, numAt(attrs, 'counts', i)),
        lambda,
      );
      storage.view(o[3]!)[0] = r.condition;
      storage.view(o[4]!)[0] = r.ratio;
    }
    return outs;
  };
}

/** The first element of an optional 0-d input, or `fallback`. */
function scalarIn(storage: KernelStorage, inputs: NamedTensorInfoMap, key: string, fallback: number): number {
  const t = inputs[key];
  return t ? (storage.view(t)[0] ?? fallback) : fallback;
}

function writeScalars(storage: KernelStorage, outs: TensorInfo[], values: number[]): void {
  values.forEach((x, j) => {
    storage.view(outs[j]!)[0] = x;
  });
}

/**
 * Inputs per tensor: param, grad, m, v, anchor, and (after the first step) cPrev, rPrev, gamma,
 * gammaM, gammaV. Outputs per tensor: param, m, v, cPrev (c), rPrev (1/n, row-shaped), gamma, gammaM,
 * gammaV (0-d).
 */
function ftpKernel(kind: StorageKind): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { storage, count } = prepare(kind, backend, inputs, attrs);
    const lr = num(attrs, 'learningRate');
    const b1 = num(attrs, 'beta1');
    const b2 = num(attrs, 'beta2');
    const eps = num(attrs, 'epsilon');
    const wd = num(attrs, 'weightDecay');
    const t = num(attrs, 't');
    const annealK = num(attrs, 'k');
    const outs: TensorInfo[] = [];
    for (let i = 0; i < count; i++) {
      const p = input(inputs, `param${i}`);
      checkSameSize(p, [
        input(inputs, `grad${i}`),
        input(inputs, `m${i}`),
        input(inputs, `v${i}`),
        input(inputs, `anchor${i}`),
        inputs[`cPrev${i}`],
      ]);
      const rPrev = inputs[`rPrev${i}`];
      if (rPrev && sizeOf(rPrev.shape) !== ftpRows(p.shape))
        throw new Error('fused optimizer kernel: FTP row state does not match its parameter');
      for (let j = 0; j < 4; j++) outs.push(storage.makeOutput(p.shape));
      outs.push(storage.makeOutput(ftpRowShape(p.shape)));
      for (let j = 0; j < 3; j++) outs.push(storage.makeOutput([]));
    }
    const E = storage.engine();
    for (let i = 0; i < count; i++) {
      const p = input(inputs, `param${i}`);
      const cPrev = inputs[`cPrev${i}`];
      const rPrev = inputs[`rPrev${i}`];
      const prev: FtpScalars = {
        gamma: scalarIn(storage, inputs, `gamma${i}`, 1e-8),
        mGamma: scalarIn(storage, inputs, `gammaM${i}`, 0),
        vGamma: scalarIn(storage, inputs, `gammaV${i}`, 0),
      };
      const o = outs.slice(8 * i, 8 * i + 8);
      const next = ftpStep(
        E,
        storage.view(p),
        storage.view(input(inputs, `grad${i}`)),
        storage.view(input(inputs, `m${i}`)),
        storage.view(input(inputs, `v${i}`)),
        storage.view(input(inputs, `anchor${i}`)),
        cPrev ? storage.view(cPrev) : null,
        rPrev ? storage.view(rPrev) : null,
        storage.view(o[0]!),
        storage.view(o[1]!),
        storage.view(o[2]!),
        storage.view(o[3]!),
        storage.view(o[4]!),
        ftpRows(p.shape),
        adamConstants(lr, b1, b2, eps, numAt(attrs, 'counts', i), wd),
        prev,
        t,
        annealK,
      );
      writeScalars(storage, o.slice(5), [next.gamma, next.mGamma, next.vGamma]);
    }
    return outs;
  };
}

const DIGRAP_SCALARS = ['lossStrength', 'regStrength', 'lossM', 'lossV', 'regM', 'regV'] as const;

/**
 * Inputs per tensor: param, grad, m, v, anchor, and (after the first step) pPrev, qPrev and the six
 * hyper scalars; attribute `lrPrevs` per tensor. Outputs per tensor: param, m, v, pPrev, qPrev, dot,
 * lossStrength, regStrength, lossM, lossV, regM, regV (the last seven 0-d).
 */
function digrapKernel(kind: StorageKind): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { storage, count } = prepare(kind, backend, inputs, attrs);
    const lr = num(attrs, 'learningRate');
    const b1 = num(attrs, 'beta1');
    const b2 = num(attrs, 'beta2');
    const eps = num(attrs, 'epsilon');
    const lambda = num(attrs, 'lambda');
    const t = num(attrs, 't');
    const outs: TensorInfo[] = [];
    for (let i = 0; i < count; i++) {
      const p = input(inputs, `param${i}`);
      checkSameSize(p, [
        input(inputs, `grad${i}`),
        input(inputs, `m${i}`),
        input(inputs, `v${i}`),
        input(inputs, `anchor${i}`),
        inputs[`pPrev${i}`],
        inputs[`qPrev${i}`],
      ]);
      for (let j = 0; j < 5; j++) outs.push(storage.makeOutput(p.shape));
      for (let j = 0; j < 7; j++) outs.push(storage.makeOutput([]));
    }
    const E = storage.engine();
    for (let i = 0; i < count; i++) {
      const p = input(inputs, `param${i}`);
      const pPrev = inputs[`pPrev${i}`];
      const qPrev = inputs[`qPrev${i}`];
      const [omegaLoss, omegaReg, mLoss, vLoss, mReg, vReg] = DIGRAP_SCALARS.map((key) =>
        scalarIn(storage, inputs, `${key}${i}`, 0),
      ) as [number, number, number, number, number, number];
      const prev: DigrapScalars = { omegaLoss, omegaReg, mLoss, vLoss, mReg, vReg };
      const o = outs.slice(12 * i, 12 * i + 12);
      const next = digrapStep(
        E,
        storage.view(p),
        storage.view(input(inputs, `grad${i}`)),
        storage.view(input(inputs, `m${i}`)),
        storage.view(input(inputs, `v${i}`)),
        storage.view(input(inputs, `anchor${i}`)),
        pPrev ? storage.view(pPrev) : null,
        qPrev ? storage.view(qPrev) : null,
        storage.view(o[0]!),
        storage.view(o[1]!),
        storage.view(o[2]!),
        storage.view(o[3]!),
        storage.view(o[4]!),
        adamConstants(lr, b1, b2, eps, numAt(attrs, 'counts', i)),
        lambda,
        numAt(attrs, 'lrPrevs', i),
        prev,
        t,
      );
      writeScalars(storage, o.slice(5), [
        next.dot,
        next.omegaLoss,
        next.omegaReg,
        next.mLoss,
        next.vLoss,
        next.mReg,
        next.vReg,
      ]);
    }
    return outs;
  };
}

const FACTORIES: Record<FusedMethod, (kind: StorageKind) => KernelFunc> = {
  adamw: adamwKernel,
  l2sp: l2spKernel,
  ftp: ftpKernel,
  spd: spdKernel,
  digrap: digrapKernel,
};

let enabled = true;
let registered = false;

/**
 * Registers every fused kernel for the cpu and wasm backends, and those in WEBGPU_KERNELS for webgpu
 * (idempotent; a kernel someone else registered under the same name is left alone). Registration does not need the backend to exist yet.
 */
export function registerFusedOptimizerKernels(): void {
  registered = true;
  for (const [method, kernelName] of Object.entries(FUSED_KERNELS) as [FusedMethod, FusedKernelName][]) {
    for (const [backendName, kind] of Object.entries(BACKENDS)) {
      if (tf.getKernel(kernelName, backendName)) continue;
      tf.registerKernel({ kernelName, backendName, kernelFunc: FACTORIES[method](kind) });
    }
    const wgsl = WEBGPU_KERNELS[method];
    if (wgsl && !tf.getKernel(kernelName, 'webgpu'))
      tf.registerKernel({ kernelName, backendName: 'webgpu', kernelFunc: wgsl });
  }
}

/** Removes the kernels registered here (for tests and benchmarks that compare with the composed path). */
export function unregisterFusedOptimizerKernels(): void {
  registered = false;
  for (const kernelName of Object.values(FUSED_KERNELS)) {
    for (const backendName of [...Object.keys(BACKENDS), 'webgpu']) {
      if (tf.getKernel(kernelName, backendName)) tf.unregisterKernel(kernelName, backendName);
    }
  }
}

/**
 * Switches automatic use of the fused kernels by the optimizers on or off (on by default). Off, every
 * optimizer runs its composed-op path, which is also the oracle the fused kernels are tested against.
 */
export function setFusedKernelsEnabled(on: boolean): void {
  enabled = on;
}

export function fusedKernelsEnabled(): boolean {
  return enabled;
}

/**
 * Whether the fused kernel of `method` (or a kernel name) exists for `backendName` (default: the
 * active backend) and fused kernels are enabled. Registers the kernels on first use.
 */
export function hasFusedKernel(method: FusedMethod | FusedKernelName, backendName?: string): boolean {
  if (!enabled) return false;
  if (!registered) registerFusedOptimizerKernels();
  const name = method in FUSED_KERNELS ? FUSED_KERNELS[method as FusedMethod] : method;
  return tf.getKernel(name, backendName ?? tf.getBackend()) !== undefined;
}

/**
 * Which implementation the fused kernels use on the active backend: 'wasm-simd' (our SIMD module in
 * place on the wasm heap), 'wasm-simd-copy' (the same module streaming cpu tensors through a private
 * memory), 'js' (JS loops: no wasm SIMD here, or it is switched off), 'wgsl' (WebGPU compute shaders;
 * AdamW only), or null (no fused kernels there).
 */
export function fusedStepEngine(): 'js' | 'wasm-simd' | 'wasm-simd-copy' | 'wgsl' | null {
  if (tf.getBackend() === 'webgpu') return hasFusedKernel('adamw') ? 'wgsl' : null;
  const kind = BACKENDS[tf.getBackend()];
  if (!kind) return null;
  return storageFor(kind, tf.backend())?.engine().name ?? null;
}
