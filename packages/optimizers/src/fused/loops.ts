/**
 * The per-tensor math of every fused step. The passes (one loop over an element range each) are
 * written twice with the same operation order: as plain JS loops here (the cpu backend, and the last
 * n mod 4 elements on wasm) and as f32x4 loops in `wasm/steps.wat` (the wasm backend, run in place
 * on its heap). The per-tensor drivers below (`adamwStep`, `ftpStep`, …) decide everything scalar —
 * bias corrections, FTP's γ, SPD's and DiGraP's conditions — and call the passes of a `StepEngine`.
 *
 * Each driver touches the minimum traffic of spec §7: one pass for AdamW/L2-SP/SPD-without-decay, a
 * second one only where the method needs a whole-tensor or per-row reduction first.
 *
 * Rounding: every stored element is float32 (the typed-array store rounds), intermediates in the JS
 * loops are doubles and in wasm float32. Neither is bit-identical to the composed ops (which round
 * after every op); the tests compare them with a stated tolerance (a few float32 ulps per step).
 */

import { DIGRAP_EPS, FTP_EPS, FTP_GAMMA0, HYPER } from '../hyper-adam';
import type { RowGeometry } from '../layout';

/**
 * Adam constants of one step of one tensor, hoisted out of the loops and rounded to float32 so both
 * engines multiply by the same numbers: m' = b1·m + c1·g, v' = b2·v + c2·g², θ' = dk·θ + sk·m'/(√v'·rs2 + e).
 */
export interface AdamConstants {
  b1: number;
  c1: number;
  b2: number;
  c2: number;
  /** 1/√(1 − β₂ˢ). */
  rs2: number;
  e: number;
  /** −η/(1 − β₁ˢ). */
  sk: number;
  /** 1 − η·wd (decoupled decay; 1 without). */
  dk: number;
}

export function adamConstants(
  learningRate: number,
  beta1: number,
  beta2: number,
  epsilon: number,
  count: number,
  weightDecay = 0,
): AdamConstants {
  const f = Math.fround;
  return {
    b1: f(beta1),
    c1: f(1 - beta1),
    b2: f(beta2),
    c2: f(1 - beta2),
    rs2: f(1 / Math.sqrt(1 - beta2 ** count)),
    e: f(epsilon),
    sk: f(-learningRate / (1 - beta1 ** count)),
    dk: f(1 - learningRate * weightDecay),
  };
}

type F32 = Float32Array;

/** A tensor seen as [outer, rows, inner] (see `spanGeometry` in layout.ts). */
export type Geometry = Pick<RowGeometry, 'outer' | 'rows' | 'inner'>;

/**
 * One pass each; [start, end) is an element range. Passes that reduce ADD their sums into `sums`
 * (a scratch Float64Array the driver zeroes), so a range can be split between engines.
 */
/** A pass's Adam inputs θ, g, m, v (its outputs θ', m', v' follow its other inputs). */
type AdamIn = [th: F32, g: F32, m: F32, v: F32];
/** The element range [s, e) of a pass. */
type Range = [s: number, e: number];

export interface StepEngine {
  /** Which implementation runs the passes (reported by `fusedStepEngine`). */
  readonly name: 'js' | 'wasm-simd' | 'wasm-simd-copy';
  /** The drivers' f64 scratch for this engine (kernels run one at a time). */
  readonly scratch: Scratch;
  /**
   * The 'guard' check, folded into the passes that read g (adam, l2sp, ftp1, ftpRows, spd1, digrap1):
   * `resetSeen` starts a batch, `seenFinite` says whether every gradient entry read since was finite.
   * A kernel asks instead of the adapter reading every gradient once more for a finite flag.
   */
  resetSeen(): void;
  seenFinite(): boolean;
  /** θ, g, m, v → θ', m', v' (AdamW). */
  adam(...a: [...AdamIn, tho: F32, mo: F32, vo: F32, k: AdamConstants, ...Range]): void;
  /** Adam on g + α(θ − θ₀), no decoupled decay. */
  l2sp(
    ...a: [...AdamIn, an: F32, tho: F32, mo: F32, vo: F32, k: AdamConstants, alpha: number, ...Range]
  ): void;
  /** AdamW, then c = θ' − θ₀ into `co`; sums[0] += Σ|c|, sums[1] += Σ g·cp. */
  ftp1(
    ...a: [
      ...AdamIn,
      an: F32,
      cp: F32,
      co: F32,
      mo: F32,
      vo: F32,
      k: AdamConstants,
      ...Range,
      sums: Float64Array,
    ]
  ): void;
  /**
   * FTP pass 1 over a tensor seen as [outer, rows, inner] (`spanGeometry`: the rows are output units):
   * ftp1 on every element, ro[r] = 1/n_r with n_r = Σ_row |c| + 1e-8; out[0] = max n_r,
   * out[1] = Σ_r rp[r]·Σ_row g·cp (0 when rp is null). `acc` is scratch of ≥ 2·rows floats on the same
   * memory as the tensors (an f64 accumulator per row, for strided rows).
   */
  ftpRows(
    ...a: [
      ...AdamIn,
      an: F32,
      cp: F32,
      rp: F32 | null,
      co: F32,
      mo: F32,
      vo: F32,
      ro: F32,
      acc: F32,
      geo: Geometry,
      k: AdamConstants,
      out: Float64Array,
    ]
  ): void;
  /** FTP pass 2: θ' = θ₀ + clamp(γ·ro[row], 0, 1)·c (`acc` as in `ftpRows`). */
  ftpProject(an: F32, co: F32, tho: F32, ro: F32, acc: F32, geo: Geometry, gamma: number): void;
  /** out = a·x + b·y (may alias x or y). */
  axpby(x: F32, y: F32, out: F32, a: number, b: number, s: number, e: number): void;
  /** Adam → q into `tho`; sums[0..2] += Σ g·(θ−θ₀), Σ (q−θ₀)², Σ (θ−θ₀)². */
  spd1(
    ...a: [...AdamIn, an: F32, tho: F32, mo: F32, vo: F32, k: AdamConstants, ...Range, sums: Float64Array]
  ): void;
  /** c = θ − θ₀, G = g + λc; sums[0..4] += Σ g·c, Σ g², Σ c², Σ G·pp, Σ G·qp. */
  digrap1(
    th: F32,
    g: F32,
    an: F32,
    pp: F32,
    qp: F32,
    lambda: number,
    s: number,
    e: number,
    sums: Float64Array,
  ): void;
  /** ĝ = gs·g + cs·c, Adam on ĝ → θ', m', v'; P = α·c, Q = β·g. */
  digrap2(
    ...a: [
      ...AdamIn,
      an: F32,
      tho: F32,
      mo: F32,
      vo: F32,
      po: F32,
      qo: F32,
      k: AdamConstants,
      gs: number,
      cs: number,
      alpha: number,
      beta: number,
      ...Range,
    ]
  ): void;
}

/*
 * The JS passes: monomorphic loops over Float32Arrays (no closures, no Math.pow, no per-element
 * Math.fround: the store rounds to float32). Typed by `StepEngine`, so each signature is written once.
 * Every Adam element goes through `adamAt` (small enough for V8 to inline; these loops run the last
 * n mod 4 elements of a SIMD range, or everything with the SIMD module off).
 */

/** m' and v' of element i into mo/vo; returns the Adam step sk·m'/(√v'·rs2 + e) for gradient gi. */
function adamAt(k: AdamConstants, gi: number, m: F32, v: F32, mo: F32, vo: F32, i: number): number {
  const mi = k.b1 * m[i]! + k.c1 * gi;
  const vi = k.b2 * v[i]! + k.c2 * (gi * gi);
  mo[i] = mi;
  vo[i] = vi;
  return (k.sk * mi) / (Math.sqrt(vi) * k.rs2 + k.e);
}

/**
 * What the JS passes saw of g since the last `resetSeen`: Σ g in f64, which float32 entries cannot
 * overflow, so it is finite iff every entry was (NaN and ±Inf propagate; Inf − Inf is NaN). A pass
 * sums into a local and adds it once.
 */
const jsSeen = { sum: 0 };

const jsAdam: StepEngine['adam'] = (th, g, m, v, tho, mo, vo, k, s, e) => {
  let seen = 0;
  for (let i = s; i < e; i++) {
    const gi = g[i]!;
    seen += gi;
    tho[i] = k.dk * th[i]! + adamAt(k, gi, m, v, mo, vo, i);
  }
  jsSeen.sum += seen;
};

const jsL2sp: StepEngine['l2sp'] = (th, g, m, v, an, tho, mo, vo, k, alpha, s, e) => {
  let seen = 0;
  for (let i = s; i < e; i++) {
    const ti = th[i]!;
    const gi = g[i]!;
    seen += gi;
    tho[i] = ti + adamAt(k, gi + alpha * (ti - an[i]!), m, v, mo, vo, i);
  }
  jsSeen.sum += seen;
};

const jsFtp1: StepEngine['ftp1'] = (th, g, m, v, an, cp, co, mo, vo, k, s, e, sums) => {
  let l1 = 0;
  let h = 0;
  let seen = 0;
  for (let i = s; i < e; i++) {
    const gi = g[i]!;
    seen += gi;
    // c is stored (next step's C_prev) and summed as the stored float32, like the wasm pass.
    co[i] = k.dk * th[i]! + adamAt(k, gi, m, v, mo, vo, i) - an[i]!;
    l1 += Math.abs(co[i]!);
    h += gi * cp[i]!;
  }
  sums[0] = sums[0]! + l1;
  sums[1] = sums[1]! + h;
  jsSeen.sum += seen;
};

const jsAxpby: StepEngine['axpby'] = (x, y, out, a, b, s, e) => {
  for (let i = s; i < e; i++) out[i] = a * x[i]! + b * y[i]!;
};

const jsSpd1: StepEngine['spd1'] = (th, g, m, v, an, tho, mo, vo, k, s, e, sums) => {
  let dot = 0;
  let qq = 0;
  let tt = 0;
  let seen = 0;
  for (let i = s; i < e; i++) {
    const gi = g[i]!;
    seen += gi;
    const ti = th[i]!;
    const ai = an[i]!;
    tho[i] = ti + adamAt(k, gi, m, v, mo, vo, i);
    const dt = ti - ai;
    const dq = tho[i]! - ai;
    dot += gi * dt;
    qq += dq * dq;
    tt += dt * dt;
  }
  sums[0] = sums[0]! + dot;
  sums[1] = sums[1]! + qq;
  sums[2] = sums[2]! + tt;
  jsSeen.sum += seen;
};

const jsDigrap1: StepEngine['digrap1'] = (th, g, an, pp, qp, lambda, s, e, sums) => {
  let dot = 0;
  let gg = 0;
  let cc = 0;
  let hl = 0;
  let hr = 0;
  let seen = 0;
  for (let i = s; i < e; i++) {
    const gi = g[i]!;
    seen += gi;
    // θ − θ₀ rounded to float32, as the composed path (and pass 2) sees it.
    const ci = Math.fround(th[i]! - an[i]!);
    const G = gi + lambda * ci;
    dot += gi * ci;
    gg += gi * gi;
    cc += ci * ci;
    hl += G * pp[i]!;
    hr += G * qp[i]!;
  }
  const add = [dot, gg, cc, hl, hr];
  for (let j = 0; j < 5; j++) sums[j] = sums[j]! + add[j]!;
  jsSeen.sum += seen;
};

const jsDigrap2: StepEngine['digrap2'] = (
  th,
  g,
  m,
  v,
  an,
  tho,
  mo,
  vo,
  po,
  qo,
  k,
  gs,
  cs,
  alpha,
  beta,
  s,
  e,
) => {
  for (let i = s; i < e; i++) {
    const gi = g[i]!;
    const ti = th[i]!;
    const ci = Math.fround(ti - an[i]!);
    tho[i] = ti + adamAt(k, gs * gi + cs * ci, m, v, mo, vo, i);
    po[i] = alpha * ci;
    qo[i] = beta * gi;
  }
};

/**
 * A step engine's f64 scratch: the passes' sums (a driver zeroes what it reads), one row's sums in
 * `ftpRowsByPasses`, and per-row accumulators of the JS column passes (grown on demand).
 */
export class Scratch {
  readonly sums = new Float64Array(5);
  readonly rowSums = new Float64Array(2);
  private perRow = new Float64Array(0);

  /** `rows` zeroed f64s. */
  rows(rows: number): Float64Array {
    if (this.perRow.length < rows) this.perRow = new Float64Array(rows);
    this.perRow.fill(0, 0, rows);
    return this.perRow;
  }
}

/** ro[r] = 1/(acc[r] + 1e-8); returns max n_r. */
function finishRows(acc: ArrayLike<number>, ro: F32, rows: number): number {
  let maxN = 0;
  for (let r = 0; r < rows; r++) {
    const n = acc[r]! + FTP_EPS;
    ro[r] = 1 / n;
    if (n > maxN) maxN = n;
  }
  return maxN;
}

/**
 * `ftpRows` by segments: one `ftp1` call per run of `inner` contiguous elements of a row (torch
 * layout, outer = 1: one call per row). Any engine; slow only where runs are short (strided rows: `jsFtp1Columns`).
 */
export function ftpRowsByPasses(E: StepEngine, ...a: Parameters<StepEngine['ftpRows']>): void {
  const [th, g, m, v, an, cp, rp, co, mo, vo, ro, , geo, k, out] = a;
  const { outer, rows, inner } = geo;
  const l1 = E.scratch.rows(rows);
  const rowSums = E.scratch.rowSums;
  let h = 0;
  for (let o = 0; o < outer; o++) {
    for (let r = 0; r < rows; r++) {
      const start = (o * rows + r) * inner;
      rowSums[0] = 0;
      rowSums[1] = 0;
      E.ftp1(th, g, m, v, an, cp, co, mo, vo, k, start, start + inner, rowSums);
      l1[r] = l1[r]! + rowSums[0];
      if (rp) h += rowSums[1] * rp[r]!;
    }
  }
  out[0] = finishRows(l1, ro, rows);
  out[1] = h;
}

/**
 * FTP pass 1 on columns (inner = 1, every tfjs default: row = e mod rows) over elements [s, e), s a
 * multiple of rows: adds |c| into acc[row] and returns Σ g·cp·rp[row] (0 without rp).
 */
function jsFtp1Columns(...a: Parameters<StepEngine['ftpRows']>): number {
  const [th, g, m, v, an, cp, rp, co, mo, vo, , , geo, k] = a;
  const acc = JS_ENGINE.scratch.rows(geo.rows);
  let h = 0;
  let r = 0;
  let seen = 0;
  for (let i = 0; i < th.length; i++) {
    const gi = g[i]!;
    seen += gi;
    co[i] = k.dk * th[i]! + adamAt(k, gi, m, v, mo, vo, i) - an[i]!;
    acc[r] = acc[r]! + Math.abs(co[i]!);
    if (rp) h += gi * cp[i]! * rp[r]!;
    if (++r === geo.rows) r = 0;
  }
  a[14][0] = finishRows(acc, a[10], geo.rows);
  jsSeen.sum += seen;
  return h;
}

/** θ' = θ₀ + clamp(γ·ro[row], 0, 1)·c on columns (inner = 1) over [s, e), s a multiple of rows. */
export function jsFtp2Columns(
  an: F32,
  co: F32,
  tho: F32,
  scale: ArrayLike<number>,
  rows: number,
  s: number,
  e: number,
): void {
  let r = 0;
  for (let i = s; i < e; i++) {
    tho[i] = an[i]! + scale[r]! * co[i]!;
    if (++r === rows) r = 0;
  }
}

/** The projection scale per row, clamp(γ·ro[r], 0, 1). */
export function ftpScales(ro: F32, rows: number, gamma: number, into: { [i: number]: number }): void {
  for (let r = 0; r < rows; r++) into[r] = Math.min(Math.max(gamma * ro[r]!, 0), 1);
}

/**
 * Rows of one element per line (inner = 1: every tfjs default layout), reduced as columns. Runs of one
 * element would cost a pass call each.
 */
export function stridedRows(geo: Geometry): boolean {
  return geo.inner === 1 && geo.rows > 1;
}

/** `ftpRows` in JS: a column loop for strided rows (FTP pass 1 on columns, row = e mod rows), else by segments. */
function jsFtpRows(...a: Parameters<StepEngine['ftpRows']>): void {
  if (stridedRows(a[12])) a[14][1] = jsFtp1Columns(...a);
  else ftpRowsByPasses(JS_ENGINE, ...a);
}

/** `ftpProject` by segments (one `axpby` per contiguous run of a row), or as a column loop. */
export function ftpProjectByPasses(
  E: StepEngine,
  an: F32,
  co: F32,
  tho: F32,
  ro: F32,
  geo: Geometry,
  gamma: number,
): void {
  const { outer, rows, inner } = geo;
  if (stridedRows(geo)) {
    const scale = E.scratch.rows(rows);
    ftpScales(ro, rows, gamma, scale);
    jsFtp2Columns(an, co, tho, scale, rows, 0, tho.length);
    return;
  }
  for (let o = 0; o < outer; o++) {
    for (let r = 0; r < rows; r++) {
      const start = (o * rows + r) * inner;
      E.axpby(an, co, tho, 1, Math.min(Math.max(gamma * ro[r]!, 0), 1), start, start + inner);
    }
  }
}

export const JS_ENGINE: StepEngine = {
  name: 'js',
  scratch: new Scratch(),
  resetSeen() {
    jsSeen.sum = 0;
  },
  seenFinite: () => Number.isFinite(jsSeen.sum),
  adam: jsAdam,
  l2sp: jsL2sp,
  ftp1: jsFtp1,
  ftpRows: jsFtpRows,
  ftpProject(an, co, tho, ro, _acc, geo, gamma) {
    ftpProjectByPasses(JS_ENGINE, an, co, tho, ro, geo, gamma);
  },
  axpby: jsAxpby,
  spd1: jsSpd1,
  digrap1: jsDigrap1,
  digrap2: jsDigrap2,
};

/** One hyper-Adam step on a scalar (FTP's γ, DiGraP's strengths), with the constants of `HYPER`. */
export function hyperAdamStep(
  value: number,
  m: number,
  v: number,
  h: number,
  t: number,
): { value: number; m: number; v: number } {
  const { lr, beta1, beta2, epsilon } = HYPER;
  const m2 = beta1 * m + (1 - beta1) * h;
  const v2 = beta2 * v + (1 - beta2) * h * h;
  const mHat = m2 / (1 - beta1 ** t);
  const vHat = v2 / (1 - beta2 ** t);
  return { value: value - (lr * mHat) / (Math.sqrt(vHat) + epsilon), m: m2, v: v2 };
}

export interface FtpScalars {
  gamma: number;
  mGamma: number;
  vGamma: number;
}

/**
 * One tensor of a fused kernel's batch as its driver sees it, by name: the Adam inputs θ, g, m, v and
 * the anchor θ₀, the outputs θ', m', v', and its Adam constants.
 */
export interface AdamTensorViews {
  param: F32;
  grad: F32;
  m: F32;
  v: F32;
  anchor: F32;
  paramOut: F32;
  mOut: F32;
  vOut: F32;
  adam: AdamConstants;
}

/** FTP's tensor: its previous c and 1/n (null at the first step), their outputs, geometry and scalars. */
export interface FtpTensorViews extends AdamTensorViews {
  cPrev: F32 | null;
  rPrev: F32 | null;
  cOut: F32;
  rOut: F32;
  /** Scratch of ≥ 2·rows floats on the tensors' memory (see `StepEngine.ftpRows`). */
  acc: F32;
  geometry: Geometry;
  scalars: FtpScalars;
  /** FTP's global step (1-based) and the annealing of positive hyper-gradients. */
  t: number;
  k: number;
}

export interface SpdTensorViews extends AdamTensorViews {
  lambda: number;
}

/** DiGraP's tensor: the previous P/Q (null at the first step), their outputs, λ, lr_prev and scalars. */
export interface DigrapTensorViews extends AdamTensorViews {
  pPrev: F32 | null;
  qPrev: F32 | null;
  pOut: F32;
  qOut: F32;
  lambda: number;
  lrPrev: number;
  scalars: DigrapScalars;
  /** DiGraP's global step (1-based). */
  t: number;
}

/**
 * FTP over Adam (AdamP) for one projected tensor. Pass 1 updates the moments, writes the deviation
 * c = θ − d − θ₀ (next step's C_prev, so it is stored anyway) and sums the per-row L1 norms and the
 * hyper-gradient; the scalar γ step follows; pass 2 projects from the stored c. `geometry` says which
 * elements form a row (an output unit, by the layout rule; the whole tensor for rank ≤ 1). A missing
 * C_prev/R_prev (t > 1) reads as zeros: h = 0, the hyper step still runs.
 */
export function ftpStep(E: StepEngine, x: FtpTensorViews): FtpScalars {
  const { grad: g, anchor: an, cOut: co, rOut: ro, acc, geometry: geo, t } = x;
  const usePrev = t > 1 && x.cPrev !== null && x.rPrev !== null;
  // Without C_prev the pass reads g in its place; its second sum is then ignored.
  const cp = usePrev ? x.cPrev! : g;
  const sums = E.scratch.sums;
  sums[0] = 0;
  sums[1] = 0;
  E.ftpRows(
    x.param,
    g,
    x.m,
    x.v,
    an,
    cp,
    usePrev ? x.rPrev : null,
    co,
    x.mOut,
    x.vOut,
    ro,
    acc,
    geo,
    x.adam,
    sums,
  );
  const maxN = sums[0];
  const h = sums[1];
  let next: FtpScalars;
  if (t <= 1) next = { gamma: FTP_GAMMA0, mGamma: 0, vGamma: 0 };
  else {
    const hk = h > 0 ? x.k * h : h;
    const s = hyperAdamStep(x.scalars.gamma, x.scalars.mGamma, x.scalars.vGamma, hk, t);
    next = { gamma: Math.min(Math.max(s.value, FTP_GAMMA0), maxN), mGamma: s.m, vGamma: s.v };
  }
  E.ftpProject(an, co, x.paramOut, ro, acc, geo, next.gamma);
  return next;
}

/**
 * SPD over Adam for one tensor: q = θ − u is written straight into θ'; the whole-tensor sums decide the
 * condition; only a decayed tensor takes the second pass (in place over θ', 2R + 1W).
 * Returns κ = −⟨g, θ − a⟩ and the clamped growth ratio r (0 where ‖q − a‖ = 0: the reference's 0/0
 * would give NaN parameters; a step that does not leave the anchor has nothing to decay).
 */
export function spdStep(E: StepEngine, x: SpdTensorViews): { condition: number; ratio: number } {
  const { paramOut: tho, anchor: an } = x;
  const n = x.param.length;
  const sums = E.scratch.sums;
  sums.fill(0);
  E.spd1(x.param, x.grad, x.m, x.v, an, tho, x.mOut, x.vOut, x.adam, 0, n, sums);
  const condition = -sums[0]!;
  const nq = Math.sqrt(sums[1]!);
  const ratio = nq > 0 ? Math.min(Math.max((nq - Math.sqrt(sums[2]!)) / nq, 0), 1) : 0;
  // κ < 0 fires; κ = −0 (a zero dot, e.g. at the anchor) does not.
  const s = condition < 0 ? x.lambda * ratio : 0;
  if (s !== 0) E.axpby(tho, an, tho, 1 - s, s, 0, n);
  return { condition, ratio };
}

export interface DigrapScalars {
  omegaLoss: number;
  omegaReg: number;
  mLoss: number;
  vLoss: number;
  mReg: number;
  vReg: number;
}

/**
 * DiGraP (trainable strengths) over Adam for one tensor. Pass 1 sums ⟨g,c⟩, ‖g‖², ‖c‖² and the two
 * hyper-gradients against the stored P/Q; the strengths step; pass 2 forms ĝ, runs Adam, and writes the
 * new P = αc and Q = βg (10R + 5W in all).
 */
export function digrapStep(E: StepEngine, x: DigrapTensorViews): DigrapScalars & { dot: number } {
  const { param: th, grad: g, anchor: an, lambda, lrPrev, scalars, t } = x;
  const n = th.length;
  const usePrev = t > 1 && x.pPrev !== null && x.qPrev !== null;
  const sums = E.scratch.sums;
  sums.fill(0);
  // Without P/Q the pass reads g in their place; those two sums are then ignored.
  E.digrap1(th, g, an, usePrev ? x.pPrev! : g, usePrev ? x.qPrev! : g, lambda, 0, n, sums);
  const dot = sums[0]!;
  const gg = sums[1]!;
  const cc = sums[2]!;
  const hl = usePrev ? sums[3]! : 0;
  const hr = usePrev ? sums[4]! : 0;
  let next: DigrapScalars;
  if (t <= 1) next = { omegaLoss: 0, omegaReg: 0, mLoss: 0, vLoss: 0, mReg: 0, vReg: 0 };
  else {
    const sl = hyperAdamStep(scalars.omegaLoss, scalars.mLoss, scalars.vLoss, lrPrev * hl, t);
    const sr = hyperAdamStep(scalars.omegaReg, scalars.mReg, scalars.vReg, lambda * lrPrev * hr, t);
    next = {
      omegaLoss: Math.min(Math.max(sl.value, 0), 1),
      omegaReg: Math.min(Math.max(sr.value, 0), 1),
      mLoss: sl.m,
      vLoss: sl.v,
      mReg: sr.m,
      vReg: sr.v,
    };
  }
  const alpha = dot / (cc + DIGRAP_EPS);
  const beta = dot / (gg + DIGRAP_EPS);
  // With λ = 0 there is no regulariser to conflict with: plain Adam on g.
  const conflict = dot < 0 && lambda !== 0;
  // ĝ = (g − ω_l·αc) + λ(c − ω_r·βg) on conflict, else g + λc: one affine form in g and c.
  // λ = 0: gs = 1 and cs = 0, so ĝ = g exactly and the step is AdamW's.
  const gs = conflict ? 1 - lambda * next.omegaReg * beta : 1;
  const cs = conflict ? lambda - next.omegaLoss * alpha : lambda;
  E.digrap2(
    th,
    g,
    x.m,
    x.v,
    an,
    x.paramOut,
    x.mOut,
    x.vOut,
    x.pOut,
    x.qOut,
    x.adam,
    gs,
    cs,
    alpha,
    beta,
    0,
    n,
  );
  return { ...next, dot };
}
