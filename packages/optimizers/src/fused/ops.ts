import { RobustFtError } from '@robust-ft/core';
import { isTensor } from '@robust-ft/core/internal';
import type { NamedAttrMap, NamedTensorMap, Tensor } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { DIGRAP_SCALAR_ROLES, type DigrapScalarRole } from '../digrap-keys';
import { kernelError } from './errors';
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

/** DiGraP's slot inputs (absent at the first step) and `lrPrev`, this tensor's previous learning rate. */
export interface FusedDigrapItem
  extends FusedAnchoredItem,
    Partial<Record<'pPrev' | 'qPrev' | DigrapScalarRole, Tensor | null>> {
  lrPrev: number;
}

/** θ', m', v', the new P/Q, the dot Σ g ⊙ (θ − θ₀) (0-d; projected iff < 0 and λ > 0) and the scalars. */
export type FusedDigrapResult = FusedAdamResult &
  Record<'pPrev' | 'qPrev' | 'dot' | DigrapScalarRole, Tensor>;

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
 * Whether the active backend's fused kernels of `methods` check the gradients themselves (attribute
 * `checkFinite`): every cpu, wasm and webgpu kernel does, in a pass that already reads g (on webgpu
 * its Adam pass, DiGraP's sums pass; the passes after it keep their outputs on what it found, and a bad
 * step restores on the device what the checking pass wrote: θ, m, v for AdamW, L2-SP and SPD, m, v
 * for FTP, nothing for DiGraP).
 */
export function kernelsCheckFinite(methods: readonly FusedMethod[]): boolean {
  return kernelsTakeFiniteFlag(methods);
}

/**
 * Under the 'guard' policy: the step's finite flag (0-d bool) for a kernel to honour — it writes its
 * inputs through unchanged when the flag is false, instead of the adapter masking θ, m and v
 * afterwards — or `check`: the kernel checks every gradient it reads itself, keeps its inputs on a
 * NaN or ±Inf, and returns its flag (see `kernelsCheckFinite`).
 */
export interface GuardFlag {
  finite?: Tensor | undefined;
  check?: boolean | undefined;
}

/** A batch's results and, when the kernel checked the gradients itself, its 0-d float32 flag (1 = applied). */
export interface CheckedBatch<R> {
  results: R[];
  finite?: Tensor;
}

function run(
  method: FusedMethod,
  items: readonly FusedAdamItem[],
  roles: readonly string[],
  attrs: NamedAttrMap,
  outputsPerItem: number,
  { finite, check }: GuardFlag,
): CheckedBatch<Tensor[]> {
  if (!hasFusedKernel(method)) {
    throw new RobustFtError(
      'BACKEND_UNAVAILABLE',
      `no fused ${method} kernel for backend "${tf.getBackend()}" (or fused kernels are disabled)`,
    );
  }
  if (items.length === 0) return { results: [] };
  const inputs: NamedTensorMap = {};
  items.forEach((item, i) => {
    for (const role of roles) {
      const t: unknown = Reflect.get(item, role);
      if (!isTensor(t)) continue;
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
    ...(check ? { checkFinite: true } : {}),
  }) as Tensor[];
  const expected = items.length * outputsPerItem + (check ? 1 : 0);
  if (out.length !== expected)
    throw kernelError('UNSUPPORTED', `${method} returned ${out.length} outputs, not ${expected}`);
  const flag = check ? out.pop() : undefined;
  const groups: Tensor[][] = [];
  for (let i = 0; i < out.length; i += outputsPerItem) groups.push(out.slice(i, i + outputsPerItem));
  return flag ? { results: groups, finite: flag } : { results: groups };
}

const ADAM_ROLES = ['param', 'grad', 'm', 'v'] as const;

/** Names the outputs of each item in kernel order. */
function named<K extends string>(
  batch: CheckedBatch<Tensor[]>,
  keys: readonly K[],
): CheckedBatch<Record<K, Tensor>> {
  const results = batch.results.map(
    (g) => Object.fromEntries(keys.map((k, j) => [k, g[j]!])) as Record<K, Tensor>,
  );
  return batch.finite ? { results, finite: batch.finite } : { results };
}

const ADAM_OUT = ['param', 'm', 'v'] as const;

/**
 * A method's fused kernel (SPD, FTP, DiGraP over Adam), driven by its declaration: each item passes
 * the slots `inputs` as roles of the same name; each result holds θ', m', v' and the slots `outputs`
 * by name, in the kernel's output order.
 */
export function fusedMethodStep<K extends string>(
  method: FusedMethod,
  items: readonly FusedAnchoredItem[],
  inputs: readonly string[],
  outputs: readonly K[],
  hp: AdamHyperparameters & GuardFlag,
  attrs: Readonly<Record<string, number | number[]>>,
): (FusedAdamResult & Record<K, Tensor>)[] {
  return fusedMethodBatch(method, items, inputs, outputs, { ...hp, check: false }, attrs).results;
}

/** `fusedMethodStep` with the kernel's own finite flag when `hp.check` asked for it. */
export function fusedMethodBatch<K extends string>(
  ...args: Parameters<typeof fusedMethodStep<K>>
): CheckedBatch<FusedAdamResult & Record<K, Tensor>> {
  const [method, items, inputs, outputs, hp, attrs] = args;
  const { finite, check, learningRate, beta1, beta2, epsilon } = hp;
  const all = { ...attrs, learningRate, beta1, beta2, epsilon };
  const batch = run(method, items, [...ADAM_ROLES, 'anchor', ...inputs], all, 3 + outputs.length, {
    finite,
    check,
  });
  return named(batch, [...ADAM_OUT, ...outputs]) as CheckedBatch<FusedAdamResult & Record<K, Tensor>>;
}

/** torch AdamW: θ ← θ(1 − η·wd) − η/bc₁ · m'/(√v'/√bc₂ + ε). */
export function fusedAdamWStep(
  items: readonly FusedAdamItem[],
  opts: AdamHyperparameters & { weightDecay: number } & GuardFlag,
): FusedAdamResult[] {
  return fusedAdamWBatch(items, { ...opts, check: false }).results;
}

/** `fusedAdamWStep` with the kernel's own finite flag when `opts.check` asked for it. */
export function fusedAdamWBatch(
  items: readonly FusedAdamItem[],
  opts: AdamHyperparameters & { weightDecay: number } & GuardFlag,
): CheckedBatch<FusedAdamResult> {
  const { finite, check, learningRate, beta1, beta2, epsilon, weightDecay } = opts;
  const attrs = { learningRate, beta1, beta2, epsilon, weightDecay };
  return named(run('adamw', items, ADAM_ROLES, attrs, 3, { finite, check }), ADAM_OUT);
}

/** Adam on the coupled L2-SP gradient g + α(θ − θ₀). */
export function fusedL2spStep(
  items: readonly FusedAnchoredItem[],
  opts: AdamHyperparameters & { alpha: number } & GuardFlag,
): FusedAdamResult[] {
  const { alpha, ...hp } = opts;
  return fusedMethodStep('l2sp', items, [], [], hp, { alpha });
}

/** SPD over Adam with strength λ (spec §5; a 0/0 ratio is taken as 0 instead of NaN). */
export function fusedSpdStep(
  items: readonly FusedAnchoredItem[],
  opts: AdamHyperparameters & { lambda: number } & GuardFlag,
): FusedSpdResult[] {
  const { lambda, ...hp } = opts;
  return fusedMethodStep('spd', items, [], ['condition', 'ratio'], hp, { lambda });
}

const FTP_ROLES = ['cPrev', 'rPrev', 'gamma', 'gammaM', 'gammaV'] as const;

/**
 * FTP over Adam (AdamP, spec §4) for projected tensors. `t` is FTP's global step (1-based), `k` the
 * annealing of positive hyper-gradients; `weightDecay` decays toward zero before the projection.
 */
export function fusedFtpStep(
  items: readonly FusedFtpItem[],
  opts: AdamHyperparameters & { weightDecay: number; k: number; t: number } & GuardFlag,
): FusedFtpResult[] {
  const { weightDecay, k, t, ...hp } = opts;
  const rowSpans = items.flatMap((it) => it.rowSpan);
  return fusedMethodStep('ftp', items, FTP_ROLES, FTP_ROLES, hp, { weightDecay, k, t, rowSpans });
}

const DIGRAP_INPUTS = ['pPrev', 'qPrev', ...DIGRAP_SCALAR_ROLES] as const;

/**
 * DiGraP with trainable strengths over Adam (spec §6); `t` is DiGraP's global step (1-based). With
 * λ = 0 nothing is projected (plain Adam).
 */
export function fusedDigrapStep(
  items: readonly FusedDigrapItem[],
  opts: AdamHyperparameters & { lambda: number; t: number } & GuardFlag,
): FusedDigrapResult[] {
  const { lambda, t, ...hp } = opts;
  const lrPrevs = items.map((it) => it.lrPrev);
  const outputs = ['pPrev', 'qPrev', 'dot', ...DIGRAP_SCALAR_ROLES] as const;
  return fusedMethodStep('digrap', items, DIGRAP_INPUTS, outputs, hp, { lambda, t, lrPrevs });
}
