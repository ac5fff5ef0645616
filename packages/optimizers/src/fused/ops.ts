import { RobustFtError } from '@robust-ft/core';
import type { NamedAttrMap, NamedTensorMap, Tensor } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { FUSED_KERNELS, type FusedMethod, hasFusedKernel } from './kernels';

/**
 * Typed calls of the fused kernels. Each takes a batch of tensors and returns fresh tensors (the caller
 * assigns θ' to its variable, which only swaps buffers), so inputs and old state are never mutated and
 * a failed step changes nothing. All tensors must be float32; see `canFuse`.
 */

export interface AdamHyperparameters {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

/** One tensor's Adam inputs; `count` is its 1-based Adam step count s (after incrementing). */
export interface FusedAdamItem {
  param: Tensor;
  grad: Tensor;
  m: Tensor;
  v: Tensor;
  count: number;
}

export interface FusedAdamResult {
  param: Tensor;
  m: Tensor;
  v: Tensor;
}

export interface FusedAnchoredItem extends FusedAdamItem {
  anchor: Tensor;
}

export interface FusedFtpItem extends FusedAnchoredItem {
  /**
   * Its rows (output units) as the contiguous axis block [first, end) of the layout rule
   * (`rowSpan(axisMap(...))`); [0, 0) reduces the whole tensor.
   */
  rowSpan: readonly [number, number];
  /** Last step's deviation c (absent, or ignored, at the first step). */
  cPrev?: Tensor | null;
  /** Last step's 1/n, row-shaped (absent at the first step). */
  rPrev?: Tensor | null;
  /** γ and its hyper-Adam moments, 0-d (absent at the first step). */
  gamma?: Tensor | null;
  gammaM?: Tensor | null;
  gammaV?: Tensor | null;
}

export interface FusedFtpResult extends FusedAdamResult {
  cPrev: Tensor;
  rPrev: Tensor;
  gamma: Tensor;
  gammaM: Tensor;
  gammaV: Tensor;
}

export interface FusedSpdResult extends FusedAdamResult {
  /** κ = −Σ g ⊙ (θ − a), 0-d; the tensor was decayed iff κ < 0 (and λr > 0). */
  condition: Tensor;
  /** The clamped deviation-growth ratio r, 0-d. */
  ratio: Tensor;
}

export interface FusedDigrapItem extends FusedAnchoredItem {
  pPrev?: Tensor | null;
  qPrev?: Tensor | null;
  lossStrength?: Tensor | null;
  regStrength?: Tensor | null;
  lossM?: Tensor | null;
  lossV?: Tensor | null;
  regM?: Tensor | null;
  regV?: Tensor | null;
  /** This tensor's learning rate of the previous step (0 before the first). */
  lrPrev: number;
}

export interface FusedDigrapResult extends FusedAdamResult {
  pPrev: Tensor;
  qPrev: Tensor;
  /** Σ g ⊙ (θ − θ₀), 0-d; the projection ran iff < 0 and λ > 0. */
  dot: Tensor;
  lossStrength: Tensor;
  regStrength: Tensor;
  lossM: Tensor;
  lossV: Tensor;
  regM: Tensor;
  regV: Tensor;
}

/** True when every tensor is float32 and the fused kernel of `method` runs on the active backend. */
export function canFuse(method: FusedMethod, tensors: Iterable<Tensor | null | undefined>): boolean {
  if (!hasFusedKernel(method)) return false;
  for (const t of tensors) if (t && t.dtype !== 'float32') return false;
  return true;
}

/**
 * Whether the active backend's fused kernels of `methods` all take the `finite` flag: every cpu, wasm
 * and webgpu kernel does (each pass keeps θ and the state on a kept step).
 */
export function kernelsTakeFiniteFlag(methods: readonly FusedMethod[]): boolean {
  const backend = tf.getBackend();
  return (
    methods.every((m) => hasFusedKernel(m)) &&
    (backend === 'cpu' || backend === 'wasm' || backend === 'webgpu')
  );
}

/**
 * Under the 'guard' policy, the step's finite flag (0-d bool): a kernel given it writes its inputs
 * through unchanged when it is false, instead of the adapter masking θ, m and v afterwards.
 */
export interface GuardFlag {
  finite?: Tensor | undefined;
}

function run(
  method: FusedMethod,
  items: readonly FusedAdamItem[],
  roles: readonly string[],
  attrs: NamedAttrMap,
  outputsPerItem: number,
  finite?: Tensor,
): Tensor[][] {
  if (!hasFusedKernel(method)) {
    throw new RobustFtError(
      'BACKEND_UNAVAILABLE',
      `no fused ${method} kernel for backend "${tf.getBackend()}" (or fused kernels are disabled)`,
    );
  }
  if (items.length === 0) return [];
  const inputs: NamedTensorMap = {};
  items.forEach((item, i) => {
    const record = item as unknown as Record<string, Tensor | null | undefined>;
    for (const role of roles) {
      const t = record[role];
      if (t == null) continue;
      if (t.dtype !== 'float32') {
        throw new RobustFtError('UNSUPPORTED', `fused ${method}: ${role} of item ${i} is ${t.dtype}`, {
          argument: `items[${i}].${role}`,
          expected: 'a float32 tensor',
        });
      }
      inputs[`${role}${i}`] = t;
    }
  });
  // A fresh float32 0-d tensor (a cast of a bool can share the bool's byte storage on cpu).
  if (finite) inputs.finite = tf.where(finite, tf.scalar(1), tf.scalar(0));
  const out = tf.engine().runKernel(FUSED_KERNELS[method], inputs as unknown as tf.NamedTensorMap, {
    ...attrs,
    n: items.length,
    counts: items.map((it) => it.count),
  }) as Tensor[];
  if (out.length !== items.length * outputsPerItem) throw new Error(`fused ${method}: unexpected outputs`);
  const groups: Tensor[][] = [];
  for (let i = 0; i < out.length; i += outputsPerItem) groups.push(out.slice(i, i + outputsPerItem));
  return groups;
}

const ADAM_ROLES = ['param', 'grad', 'm', 'v'] as const;

/** Names the outputs of each item in kernel order. */
function named<K extends string>(groups: Tensor[][], keys: readonly K[]): Record<K, Tensor>[] {
  return groups.map((g) => Object.fromEntries(keys.map((k, j) => [k, g[j]!])) as Record<K, Tensor>);
}

const ADAM_OUT = ['param', 'm', 'v'] as const;

/** torch AdamW: θ ← θ(1 − η·wd) − η/bc₁ · m'/(√v'/√bc₂ + ε). */
export function fusedAdamWStep(
  items: readonly FusedAdamItem[],
  opts: AdamHyperparameters & { weightDecay: number } & GuardFlag,
): FusedAdamResult[] {
  const { learningRate, beta1, beta2, epsilon, weightDecay } = opts;
  return named(
    run('adamw', items, ADAM_ROLES, { learningRate, beta1, beta2, epsilon, weightDecay }, 3, opts.finite),
    ADAM_OUT,
  );
}

/** Adam on the coupled L2-SP gradient g + α(θ − θ₀). */
export function fusedL2spStep(
  items: readonly FusedAnchoredItem[],
  opts: AdamHyperparameters & { alpha: number } & GuardFlag,
): FusedAdamResult[] {
  const { learningRate, beta1, beta2, epsilon, alpha } = opts;
  return named(
    run(
      'l2sp',
      items,
      [...ADAM_ROLES, 'anchor'],
      { learningRate, beta1, beta2, epsilon, alpha },
      3,
      opts.finite,
    ),
    ADAM_OUT,
  );
}

/** SPD over Adam with strength λ (spec §5; a 0/0 ratio is taken as 0 instead of NaN). */
export function fusedSpdStep(
  items: readonly FusedAnchoredItem[],
  opts: AdamHyperparameters & { lambda: number } & GuardFlag,
): FusedSpdResult[] {
  const { learningRate, beta1, beta2, epsilon, lambda } = opts;
  return named(
    run(
      'spd',
      items,
      [...ADAM_ROLES, 'anchor'],
      { learningRate, beta1, beta2, epsilon, lambda },
      5,
      opts.finite,
    ),
    [...ADAM_OUT, 'condition', 'ratio'],
  );
}

/**
 * FTP over Adam (AdamP, spec §4) for projected tensors. `t` is FTP's global step (1-based), `k` the
 * annealing of positive hyper-gradients; `weightDecay` decays toward zero before the projection.
 */
export function fusedFtpStep(
  items: readonly FusedFtpItem[],
  opts: AdamHyperparameters & { weightDecay: number; k: number; t: number } & GuardFlag,
): FusedFtpResult[] {
  const { learningRate, beta1, beta2, epsilon, weightDecay, k, t } = opts;
  const groups = run(
    'ftp',
    items,
    [...ADAM_ROLES, 'anchor', 'cPrev', 'rPrev', 'gamma', 'gammaM', 'gammaV'],
    { learningRate, beta1, beta2, epsilon, weightDecay, k, t, rowSpans: items.flatMap((it) => it.rowSpan) },
    8,
    opts.finite,
  );
  return named(groups, [...ADAM_OUT, 'cPrev', 'rPrev', 'gamma', 'gammaM', 'gammaV']);
}

/**
 * DiGraP with trainable strengths over Adam (spec §6); `t` is DiGraP's global step (1-based). With
 * λ = 0 nothing is projected (plain Adam).
 */
export function fusedDigrapStep(
  items: readonly FusedDigrapItem[],
  opts: AdamHyperparameters & { lambda: number; t: number } & GuardFlag,
): FusedDigrapResult[] {
  const { learningRate, beta1, beta2, epsilon, lambda, t } = opts;
  const groups = run(
    'digrap',
    items,
    [...ADAM_ROLES, 'anchor', 'pPrev', 'qPrev', ...DIGRAP_SCALAR_ROLES],
    { learningRate, beta1, beta2, epsilon, lambda, t, lrPrevs: items.map((it) => it.lrPrev) },
    12,
    opts.finite,
  );
  return named(groups, [...ADAM_OUT, 'pPrev', 'qPrev', 'dot', ...DIGRAP_SCALAR_ROLES]);
}

const DIGRAP_SCALAR_ROLES = ['lossStrength', 'regStrength', 'lossM', 'lossV', 'regM', 'regV'] as const;
