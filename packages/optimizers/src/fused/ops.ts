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
  /** Last step's deviation c (absent at the first step). */
  cPrev?: Tensor | null;
  /** Last step's 1/n, one value per row (absent at the first step). */
  rPrev?: Tensor | null;
  /** [γ, m_γ, v_γ] (absent at the first step). */
  hyper?: Tensor | null;
}

export interface FusedFtpResult extends FusedAdamResult {
  c: Tensor;
  r: Tensor;
  hyper: Tensor;
}

export interface FusedDigrapItem extends FusedAnchoredItem {
  pPrev?: Tensor | null;
  qPrev?: Tensor | null;
  /** [ω_loss, ω_reg, m_loss, v_loss, m_reg, v_reg] (absent at the first step). */
  hyper?: Tensor | null;
}

export interface FusedDigrapResult extends FusedAdamResult {
  p: Tensor;
  q: Tensor;
  hyper: Tensor;
}

/** True when every tensor is float32 and the fused kernel of `method` runs on the active backend. */
export function canFuse(method: FusedMethod, tensors: Iterable<Tensor | null | undefined>): boolean {
  if (!hasFusedKernel(method)) return false;
  for (const t of tensors) if (t && t.dtype !== 'float32') return false;
  return true;
}

function run(
  method: FusedMethod,
  items: readonly FusedAdamItem[],
  roles: readonly string[],
  attrs: NamedAttrMap,
  outputsPerItem: number,
): Tensor[] {
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
  const out = tf
    .engine()
    .runKernel(FUSED_KERNELS[method], inputs as unknown as tf.NamedTensorMap, {
      ...attrs,
      n: items.length,
      counts: items.map((it) => it.count),
    }) as Tensor[];
  if (out.length !== items.length * outputsPerItem) throw new Error(`fused ${method}: unexpected outputs`);
  return out;
}

const ADAM_ROLES = ['param', 'grad', 'm', 'v'] as const;

function triples(out: Tensor[], stride: number): FusedAdamResult[] {
  const res: FusedAdamResult[] = [];
  for (let i = 0; i < out.length; i += stride) res.push({ param: out[i]!, m: out[i + 1]!, v: out[i + 2]! });
  return res;
}

/** torch AdamW: θ ← θ(1 − η·wd) − η/bc₁ · m'/(√v'/√bc₂ + ε). */
export function fusedAdamWStep(
  items: readonly FusedAdamItem[],
  opts: AdamHyperparameters & { weightDecay: number },
): FusedAdamResult[] {
  const { learningRate, beta1, beta2, epsilon, weightDecay } = opts;
  return triples(run('adamw', items, ADAM_ROLES, { learningRate, beta1, beta2, epsilon, weightDecay }, 3), 3);
}

/** Adam on the coupled L2-SP gradient g + α(θ − θ₀). */
export function fusedL2spStep(
  items: readonly FusedAnchoredItem[],
  opts: AdamHyperparameters & { alpha: number },
): FusedAdamResult[] {
  const { learningRate, beta1, beta2, epsilon, alpha } = opts;
  return triples(
    run('l2sp', items, [...ADAM_ROLES, 'anchor'], { learningRate, beta1, beta2, epsilon, alpha }, 3),
    3,
  );
}

/** SPD over Adam with strength λ (spec §5; a 0/0 ratio is taken as 0 instead of NaN). */
export function fusedSpdStep(
  items: readonly FusedAnchoredItem[],
  opts: AdamHyperparameters & { lambda: number },
): FusedAdamResult[] {
  const { learningRate, beta1, beta2, epsilon, lambda } = opts;
  return triples(
    run('spd', items, [...ADAM_ROLES, 'anchor'], { learningRate, beta1, beta2, epsilon, lambda }, 3),
    3,
  );
}

/**
 * FTP over Adam (AdamP, spec §4) for projected tensors. `t` is FTP's global step (1-based), `k` the
 * annealing of positive hyper-gradients; `weightDecay` decays toward zero before the projection.
 */
export function fusedFtpStep(
  items: readonly FusedFtpItem[],
  opts: AdamHyperparameters & { weightDecay: number; k: number; t: number },
): FusedFtpResult[] {
  const { learningRate, beta1, beta2, epsilon, weightDecay, k, t } = opts;
  const out = run(
    'ftp',
    items,
    [...ADAM_ROLES, 'anchor', 'cPrev', 'rPrev', 'hyper'],
    { learningRate, beta1, beta2, epsilon, weightDecay, k, t },
    6,
  );
  const res: FusedFtpResult[] = [];
  for (let i = 0; i < out.length; i += 6) {
    res.push({
      param: out[i]!,
      m: out[i + 1]!,
      v: out[i + 2]!,
      c: out[i + 3]!,
      r: out[i + 4]!,
      hyper: out[i + 5]!,
    });
  }
  return res;
}

/**
 * DiGraP with trainable strengths over Adam (spec §6). `lrPrev` is last step's learning rate and `t`
 * DiGraP's global step (1-based).
 */
export function fusedDigrapStep(
  items: readonly FusedDigrapItem[],
  opts: AdamHyperparameters & { lambda: number; lrPrev: number; t: number },
): FusedDigrapResult[] {
  const { learningRate, beta1, beta2, epsilon, lambda, lrPrev, t } = opts;
  const out = run(
    'digrap',
    items,
    [...ADAM_ROLES, 'anchor', 'pPrev', 'qPrev', 'hyper'],
    { learningRate, beta1, beta2, epsilon, lambda, lrPrev, t },
    6,
  );
  const res: FusedDigrapResult[] = [];
  for (let i = 0; i < out.length; i += 6) {
    res.push({
      param: out[i]!,
      m: out[i + 1]!,
      v: out[i + 2]!,
      p: out[i + 3]!,
      q: out[i + 4]!,
      hyper: out[i + 5]!,
    });
  }
  return res;
}
