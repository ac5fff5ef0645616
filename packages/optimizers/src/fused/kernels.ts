import { FINITE_FLAG_KERNEL } from '@robust-ft/core/internal';
import type { KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { DIGRAP_SCALAR_ROLES } from '../digrap-keys';
import { FTP_GAMMA0 } from '../hyper-adam';
import { adamAttrs, checkSameSize, ftpGeometry, input, num, numAt, sizeOf } from './args';
import { kernelError } from './errors';
import { KEPT_INPUTS } from './keep';
import {
  type AdamConstants,
  type AdamTensorViews,
  digrapStep,
  ftpStep,
  type StepEngine,
  spdStep,
  stridedRows,
} from './loops';
import { fusedRuntime } from './runtime';
import { type KernelStorage, type StorageKind, storageFor } from './storage';
import { webgpuInternals } from './webgpu/backend';
import {
  webgpuAdamWKernel,
  webgpuDigrapKernel,
  webgpuFiniteFlagKernel,
  webgpuFtpKernel,
  webgpuL2spKernel,
  webgpuSpdKernel,
} from './webgpu/kernels';

/**
 * Fused optimizer-step kernels, registered in tfjs's kernel registry per backend. Each call steps a
 * batch of tensors (inputs `param0, grad0, m0, v0, param1, …`), so a model with many small tensors
 * pays the engine's per-kernel overhead once per step, not once per tensor.
 */
/** The methods that have a fused kernel (a public union of its own, not a key of the internal table). */
export type FusedMethod = 'adamw' | 'l2sp' | 'ftp' | 'spd' | 'digrap';

export const FUSED_KERNELS = {
  adamw: 'RobustFtAdamWStep',
  l2sp: 'RobustFtL2spStep',
  ftp: 'RobustFtFtpStep',
  spd: 'RobustFtSpdStep',
  digrap: 'RobustFtDigrapStep',
} as const satisfies Record<FusedMethod, string>;

export type FusedKernelName = (typeof FUSED_KERNELS)[FusedMethod];

/** Backends that have fused kernels, with the storage layout each one uses. */
const BACKENDS: Record<string, StorageKind> = { cpu: 'cpu', wasm: 'wasm' };

/** WGSL kernels for the `webgpu` backend (see `webgpu/kernels.ts`). */
const WEBGPU_KERNELS: Record<FusedMethod, KernelFunc> = {
  adamw: webgpuAdamWKernel,
  l2sp: webgpuL2spKernel,
  ftp: webgpuFtpKernel,
  spd: webgpuSpdKernel,
  digrap: webgpuDigrapKernel,
};

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
  if (!storage) throw kernelError('BACKEND_UNAVAILABLE', `the active backend is not a ${kind} backend`);
  for (const info of Object.values(inputs)) if (info) storage.touch(info);
  return { storage, count: num(attrs, 'n') };
}

/** One tensor of a batch, as a method's step sees it. */
interface BatchItem {
  /** Its position in the batch. */
  index: number;
  /** The parameter input `param${i}`. */
  param: TensorInfo;
  /** A view of the required input `${role}${i}`. */
  view(role: string): Float32Array;
  /** A view of the optional input `${role}${i}`, or null when absent. */
  viewOpt(role: string): Float32Array | null;
  /** The first element of the optional 0-d input `${role}${i}`, or `fallback`. */
  scalar(role: string, fallback: number): number;
  /** A view of this tensor's output `j`. */
  out(j: number): Float32Array;
  /** This tensor's Adam step constants. */
  constants(weightDecay?: number): AdamConstants;
  /** This tensor's entry of the array attribute `key`. */
  attrAt(key: string): number;
}

/**
 * A method's batched kernel, per tensor: `required` inputs besides param (each the param's size),
 * `optional` inputs that must match it when present, the output shapes in kernel order (`outputs` may
 * also check inputs), and the step, which returns the values of the trailing 0-d outputs.
 */
interface MethodSpec<H> {
  required: readonly string[];
  optional?: readonly string[];
  /** The method's own attributes, read once per call after the Adam ones. */
  hyper(attrs: NamedAttrMap | undefined): H;
  outputs(param: TensorInfo, inputs: NamedTensorInfoMap, i: number, h: H): number[][];
  /** How many of the last outputs are scratch: freed after the step, not returned. */
  scratchOutputs?: number;
  step(E: StepEngine, h: H, item: BatchItem): number[];
  /**
   * Per output, the input role whose value it keeps when the 'guard' policy keeps the batch (its
   * `finite` flag input is 0, or with the attribute `checkFinite` a gradient entry was NaN or ±Inf),
   * or null for a diagnostic with no previous value (computed as usual).
   */
  keep: readonly (string | null)[];
}

function batchKernel<H>(spec: MethodSpec<H>): (kind: StorageKind) => KernelFunc {
  return (kind) =>
    ({ inputs, backend, attrs }) => {
      const { storage, count } = prepare(kind, backend, inputs, attrs);
      const scratch = spec.scratchOutputs ?? 0;
      const constants = adamAttrs(attrs);
      const h = spec.hyper(attrs);
      const groups: TensorInfo[][] = [];
      for (let i = 0; i < count; i++) {
        const p = input(inputs, `param${i}`);
        checkSameSize(p, [
          ...spec.required.map((role) => input(inputs, `${role}${i}`)),
          ...(spec.optional ?? []).map((role) => inputs[`${role}${i}`]),
        ]);
        groups.push(spec.outputs(p, inputs, i, h).map((shape) => storage.makeOutput(shape)));
      }
      const E = storage.engine();
      E.resetSeen();
      groups.forEach((o, i) => {
        const item: BatchItem = {
          index: i,
          param: input(inputs, `param${i}`),
          view: (role) => storage.view(input(inputs, `${role}${i}`)),
          viewOpt: (role) => {
            const t = inputs[`${role}${i}`];
            return t ? storage.view(t) : null;
          },
          scalar: (role, fallback) => {
            const t = inputs[`${role}${i}`];
            return t ? (storage.view(t)[0] ?? fallback) : fallback;
          },
          out: (j) => storage.view(o[j]!),
          constants: (weightDecay) => constants(i, weightDecay),
          attrAt: (key) => numAt(attrs, key, i),
        };
        const scalars = spec.step(E, h, item);
        const end = o.length - scratch;
        scalars.forEach((x, j) => {
          storage.view(o[end - scalars.length + j]!)[0] = x;
        });
      });
      // 'guard': a non-finite step leaves θ and the state as they were. The flag is given (the input
      // `finite`) or the passes' own check of every g they read (attribute `checkFinite`), and decided
      // once per batch after the loops: a finite step pays no extra read, the rare bad one a copy.
      const applied =
        (!inputs.finite || storage.view(inputs.finite)[0] !== 0) &&
        (attrs?.checkFinite !== true || E.seenFinite());
      if (!applied) {
        groups.forEach((o, i) => {
          spec.keep.forEach((role, j) => {
            const previous = role === null ? undefined : inputs[`${role}${i}`];
            if (previous) storage.view(o[j]!).set(storage.view(previous));
          });
        });
      }
      const outputs =
        scratch === 0
          ? groups.flat()
          : groups.flatMap((o) => {
              for (const info of o.slice(o.length - scratch)) storage.release(info);
              return o.slice(0, o.length - scratch);
            });
      if (attrs?.checkFinite !== true) return outputs;
      // The batch's own flag, last: 1 when the step was applied (the adapter counts kept steps from it).
      const flag = storage.makeOutput([]);
      storage.view(flag)[0] = applied ? 1 : 0;
      return [...outputs, flag];
    };
}

const ADAM_INPUTS = ['grad', 'm', 'v'] as const;
const ANCHORED_INPUTS = [...ADAM_INPUTS, 'anchor'] as const;

const adamwKernel = batchKernel({
  required: ADAM_INPUTS,
  keep: KEPT_INPUTS.adamw,
  hyper: (attrs) => ({ wd: num(attrs, 'weightDecay') }),
  outputs: (p) => [p.shape, p.shape, p.shape],
  step: (E, { wd }, it) => {
    const th = it.view('param');
    E.adam(
      th,
      it.view('grad'),
      it.view('m'),
      it.view('v'),
      it.out(0),
      it.out(1),
      it.out(2),
      it.constants(wd),
      0,
      th.length,
    );
    return [];
  },
});

const l2spKernel = batchKernel({
  required: ANCHORED_INPUTS,
  keep: KEPT_INPUTS.l2sp,
  hyper: (attrs) => ({ alpha: num(attrs, 'alpha') }),
  outputs: (p) => [p.shape, p.shape, p.shape],
  step: (E, { alpha }, it) => {
    const th = it.view('param');
    E.l2sp(
      th,
      it.view('grad'),
      it.view('m'),
      it.view('v'),
      it.view('anchor'),
      it.out(0),
      it.out(1),
      it.out(2),
      it.constants(),
      alpha,
      0,
      th.length,
    );
    return [];
  },
});

/** The Adam views of a batch item (inputs θ, g, m, v, θ₀; outputs 0–2 = θ', m', v'). */
function adamViews(it: BatchItem, weightDecay?: number): AdamTensorViews {
  return {
    param: it.view('param'),
    grad: it.view('grad'),
    m: it.view('m'),
    v: it.view('v'),
    anchor: it.view('anchor'),
    paramOut: it.out(0),
    mOut: it.out(1),
    vOut: it.out(2),
    adam: it.constants(weightDecay),
  };
}

/** Outputs per tensor: param, m, v, condition κ (0-d), ratio r (0-d). */
const spdKernel = batchKernel({
  required: ANCHORED_INPUTS,
  keep: KEPT_INPUTS.spd,
  hyper: (attrs) => ({ lambda: num(attrs, 'lambda') }),
  outputs: (p) => [p.shape, p.shape, p.shape, [], []],
  step: (E, { lambda }, it) => {
    const r = spdStep(E, { ...adamViews(it), lambda });
    return [r.condition, r.ratio];
  },
});

/**
 * Inputs per tensor: param, grad, m, v, anchor, and (after the first step) cPrev, rPrev, gamma,
 * gammaM, gammaV; attribute `rowSpans` (two per tensor, see `ftpGeometry`). Outputs per tensor: param,
 * m, v, cPrev (c), rPrev (1/n, row-shaped), gamma, gammaM, gammaV (0-d).
 */
const ftpKernel = batchKernel({
  required: ANCHORED_INPUTS,
  keep: KEPT_INPUTS.ftp,
  optional: ['cPrev'],
  hyper: (attrs) => ({
    wd: num(attrs, 'weightDecay'),
    t: num(attrs, 't'),
    k: num(attrs, 'k'),
    geometry: (i: number, shape: readonly number[]) => ftpGeometry(attrs, i, shape),
  }),
  outputs: (p, inputs, i, h) => {
    const geo = h.geometry(i, p.shape);
    const rPrev = inputs[`rPrev${i}`];
    if (rPrev && sizeOf(rPrev.shape) !== geo.rows)
      throw kernelError('STATE_MISMATCH', 'FTP row state does not match its parameter', 'inputs.rPrev');
    // The last output is scratch for strided rows (an f64 per row), freed after the step.
    return [
      p.shape,
      p.shape,
      p.shape,
      p.shape,
      geo.rowShape,
      [],
      [],
      [],
      [stridedRows(geo) ? 2 * geo.rows : 0],
    ];
  },
  scratchOutputs: 1,
  step: (E, { wd, t, k, geometry }, it) => {
    const next = ftpStep(E, {
      ...adamViews(it, wd),
      cPrev: it.viewOpt('cPrev'),
      rPrev: it.viewOpt('rPrev'),
      cOut: it.out(3),
      rOut: it.out(4),
      acc: it.out(8),
      geometry: geometry(it.index, it.param.shape),
      scalars: {
        gamma: it.scalar('gamma', FTP_GAMMA0),
        mGamma: it.scalar('gammaM', 0),
        vGamma: it.scalar('gammaV', 0),
      },
      t,
      k,
    });
    return [next.gamma, next.mGamma, next.vGamma];
  },
});

/**
 * Inputs per tensor: param, grad, m, v, anchor, and (after the first step) pPrev, qPrev and the six
 * hyper scalars; attribute `lrPrevs` per tensor. Outputs per tensor: param, m, v, pPrev, qPrev, dot,
 * lossStrength, regStrength, lossM, lossV, regM, regV (the last seven 0-d).
 */
const digrapKernel = batchKernel({
  required: ANCHORED_INPUTS,
  keep: KEPT_INPUTS.digrap,
  optional: ['pPrev', 'qPrev'],
  hyper: (attrs) => ({ lambda: num(attrs, 'lambda'), t: num(attrs, 't') }),
  outputs: (p) => [p.shape, p.shape, p.shape, p.shape, p.shape, [], [], [], [], [], [], []],
  step: (E, { lambda, t }, it) => {
    const [omegaLoss, omegaReg, mLoss, vLoss, mReg, vReg] = DIGRAP_SCALAR_ROLES.map((key) =>
      it.scalar(key, 0),
    ) as [number, number, number, number, number, number];
    const next = digrapStep(E, {
      ...adamViews(it),
      pPrev: it.viewOpt('pPrev'),
      qPrev: it.viewOpt('qPrev'),
      pOut: it.out(3),
      qOut: it.out(4),
      lambda,
      lrPrev: it.attrAt('lrPrevs'),
      scalars: { omegaLoss, omegaReg, mLoss, vLoss, mReg, vReg },
      t,
    });
    return [next.dot, next.omegaLoss, next.omegaReg, next.mLoss, next.vLoss, next.mReg, next.vReg];
  },
});

/**
 * core's FINITE_FLAG_KERNEL on cpu and wasm: one read of every input on its typed-array view, adding
 * x·0 (±0 for a finite x, NaN for NaN/±Inf) into four accumulators, so the loop has no branch; 1 when
 * they stay 0. Replaces a tfjs Sum per gradient and the ops that combine them.
 */
function finiteFlagKernel(kind: StorageKind): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { storage } = prepare(kind, backend, inputs, attrs);
    const count = num(attrs, 'n');
    const out = storage.makeOutput([]);
    let acc = 0;
    for (let i = 0; i < count; i++) {
      const x = storage.view(input(inputs, `x${i}`));
      let a = 0;
      let b = 0;
      let c = 0;
      let d = 0;
      const end = x.length - (x.length % 4);
      for (let k = 0; k < end; k += 4) {
        a += x[k]! * 0;
        b += x[k + 1]! * 0;
        c += x[k + 2]! * 0;
        d += x[k + 3]! * 0;
      }
      for (let k = end; k < x.length; k++) a += x[k]! * 0;
      acc += a + b + c + d;
    }
    storage.view(out)[0] = acc === 0 ? 1 : 0;
    return out;
  };
}

const FACTORIES: Record<FusedMethod, (kind: StorageKind) => KernelFunc> = {
  adamw: adamwKernel,
  l2sp: l2spKernel,
  ftp: ftpKernel,
  spd: spdKernel,
  digrap: digrapKernel,
};

/**
 * Registers every fused kernel for the cpu, wasm and webgpu backends
 * (idempotent; a kernel someone else registered under the same name is left alone). Registration does not need the backend to exist yet.
 */
export function registerFusedOptimizerKernels(): void {
  for (const [method, kernelName] of Object.entries(FUSED_KERNELS) as [FusedMethod, FusedKernelName][]) {
    for (const [backendName, kind] of Object.entries(BACKENDS)) {
      if (tf.getKernel(kernelName, backendName)) continue;
      tf.registerKernel({ kernelName, backendName, kernelFunc: FACTORIES[method](kind) });
    }
    if (!tf.getKernel(kernelName, 'webgpu'))
      tf.registerKernel({ kernelName, backendName: 'webgpu', kernelFunc: WEBGPU_KERNELS[method] });
  }
  // The adapter's 'guard' flag in one call instead of a tfjs reduction per gradient tensor.
  for (const [backendName, kind] of Object.entries(BACKENDS)) {
    if (!tf.getKernel(FINITE_FLAG_KERNEL, backendName))
      tf.registerKernel({ kernelName: FINITE_FLAG_KERNEL, backendName, kernelFunc: finiteFlagKernel(kind) });
  }
  if (!tf.getKernel(FINITE_FLAG_KERNEL, 'webgpu'))
    tf.registerKernel({
      kernelName: FINITE_FLAG_KERNEL,
      backendName: 'webgpu',
      kernelFunc: webgpuFiniteFlagKernel,
    });
}

/** Removes the kernels registered here (for tests and benchmarks that compare with the composed path). */
export function unregisterFusedOptimizerKernels(): void {
  for (const kernelName of Object.values(FUSED_KERNELS)) {
    for (const backendName of [...Object.keys(BACKENDS), 'webgpu']) {
      if (tf.getKernel(kernelName, backendName)) tf.unregisterKernel(kernelName, backendName);
    }
  }
  for (const backendName of [...Object.keys(BACKENDS), 'webgpu']) {
    if (tf.getKernel(FINITE_FLAG_KERNEL, backendName)) tf.unregisterKernel(FINITE_FLAG_KERNEL, backendName);
  }
}

/**
 * Switches automatic use of the fused kernels by the optimizers on or off (on by default). Off, every
 * optimizer runs its composed-op path, which is also the oracle the fused kernels are tested against.
 */
export function setFusedKernelsEnabled(on: boolean): void {
  fusedRuntime().enabled = on;
}

export function fusedKernelsEnabled(): boolean {
  return fusedRuntime().enabled;
}

/**
 * Whether the fused kernel of `method` is registered for `backendName` (default: the active backend)
 * and fused kernels are enabled. A query only: the package registers the kernels when it is imported,
 * and every fused transformation when it is built (`registerFusedOptimizerKernels`).
 */
export function hasFusedKernel(method: FusedMethod, backendName?: string): boolean {
  if (!fusedRuntime().enabled) return false;
  const name = FUSED_KERNELS[method];
  const backend = backendName ?? tf.getBackend();
  if (tf.getKernel(name, backend) === undefined) return false;
  // The WGSL kernels record into tfjs-webgpu's own encoder: only where its internals are as expected.
  return backend !== 'webgpu' || webgpuInternals(tf.findBackend('webgpu')) !== null;
}

/**
 * Which implementation the fused kernels use on the active backend: 'wasm-simd' (our SIMD module in
 * place on the wasm heap), 'wasm-simd-copy' (the same module streaming cpu tensors through a private
 * memory), 'js' (JS loops: no wasm SIMD here, or it is switched off), 'wgsl' (WebGPU compute shaders), or null (no fused kernels there).
 */
export function fusedStepEngine(): 'js' | 'wasm-simd' | 'wasm-simd-copy' | 'wgsl' | null {
  if (tf.getBackend() === 'webgpu') return hasFusedKernel('adamw') ? 'wgsl' : null;
  const kind = BACKENDS[tf.getBackend()];
  if (!kind) return null;
  return storageFor(kind, tf.backend())?.engine().name ?? null;
}
