/**
 * The per-tensor math of every fused step, as plain loops over Float32Arrays. The cpu and wasm kernels
 * share these: both hand in views of the backend's own memory, so no data is copied. Scalars and sums
 * are held in doubles (JS numbers); every element is rounded to float32 once, when stored.
 *
 * Each loop touches the minimum traffic of spec §7: one pass for AdamW/L2-SP/SPD-without-decay, a
 * second one only where the method needs a whole-tensor or per-row reduction first.
 */

/**
 * Adam constants of one step of one tensor, as the float32 scalars the composed ops multiply by
 * (tfjs turns each JS number operand into a float32 scalar tensor).
 */
export interface AdamCoefficients {
  B1: number;
  C1: number;
  B2: number;
  C2: number;
  /** √(1 − β₂ˢ). */
  S2: number;
  /** 1 − β₁ˢ. */
  BC1: number;
  E: number;
  /** −η. */
  NLR: number;
}

export function adamCoefficients(
  learningRate: number,
  beta1: number,
  beta2: number,
  epsilon: number,
  count: number,
): AdamCoefficients {
  const f = Math.fround;
  return {
    B1: f(beta1),
    C1: f(1 - beta1),
    B2: f(beta2),
    C2: f(1 - beta2),
    S2: f(Math.sqrt(1 - beta2 ** count)),
    BC1: f(1 - beta1 ** count),
    E: f(epsilon),
    NLR: f(-learningRate),
  };
}

/**
 * AdamW with the composed transformation's float32 rounding reproduced op by op (Adam moments, then
 * + wd·θ, then × −η, then + θ, each rounded to float32 as tfjs stores it), so on cpu the fused step
 * is bit-identical to `chain(scaleByAdam, addDecayedWeights, scaleByLearningRate)` — the oracle — at
 * a cost of a few Math.fround per element.
 */
export function adamwLoop(
  theta: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  thetaOut: Float32Array,
  mOut: Float32Array,
  vOut: Float32Array,
  learningRate: number,
  beta1: number,
  beta2: number,
  epsilon: number,
  count: number,
  weightDecay: number,
): void {
  const f = Math.fround;
  const B1 = f(beta1);
  const C1 = f(1 - beta1);
  const B2 = f(beta2);
  const C2 = f(1 - beta2);
  const S2 = f(Math.sqrt(1 - beta2 ** count));
  const BC1 = f(1 - beta1 ** count);
  const E = f(epsilon);
  const WD = f(weightDecay);
  const NLR = f(-learningRate);
  const decay = weightDecay !== 0;
  const n = theta.length;
  for (let i = 0; i < n; i++) {
    const gi = g[i]!;
    const ti = theta[i]!;
    const mi = f(f(m[i]! * B1) + f(gi * C1));
    const vi = f(f(v[i]! * B2) + f(f(gi * gi) * C2));
    mOut[i] = mi;
    vOut[i] = vi;
    let u = f(f(mi / f(f(f(Math.sqrt(vi)) / S2) + E)) / BC1);
    if (decay) u = f(u + f(ti * WD));
    thetaOut[i] = ti + f(u * NLR);
  }
}

/** Adam on the coupled L2-SP gradient ĝ = g + α(θ − θ₀). */
export function l2spLoop(
  theta: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  anchor: Float32Array,
  thetaOut: Float32Array,
  mOut: Float32Array,
  vOut: Float32Array,
  k: AdamCoefficients,
  alpha: number,
): void {
  const f = Math.fround;
  const A = f(alpha);
  const { B1, C1, B2, C2, S2, BC1, E, NLR } = k;
  const n = theta.length;
  for (let i = 0; i < n; i++) {
    const ti = theta[i]!;
    const gi = f(g[i]! + f(f(ti - anchor[i]!) * A));
    const mi = f(f(m[i]! * B1) + f(gi * C1));
    const vi = f(f(v[i]! * B2) + f(f(gi * gi) * C2));
    mOut[i] = mi;
    vOut[i] = vi;
    thetaOut[i] = ti + f(f(f(mi / f(f(f(Math.sqrt(vi)) / S2) + E)) / BC1) * NLR);
  }
}

/** One hyper-Adam step on a scalar (FTP's γ, DiGraP's strengths): μ = 1e-2, betas 0.9/0.999, eps 1e-8. */
export function hyperAdamStep(
  value: number,
  m: number,
  v: number,
  h: number,
  t: number,
): { value: number; m: number; v: number } {
  const m2 = 0.9 * m + 0.1 * h;
  const v2 = 0.999 * v + 0.001 * h * h;
  const mHat = m2 / (1 - 0.9 ** t);
  const vHat = v2 / (1 - 0.999 ** t);
  return { value: value - (1e-2 * mHat) / (Math.sqrt(vHat) + 1e-8), m: m2, v: v2 };
}

export interface FtpScalars {
  gamma: number;
  mGamma: number;
  vGamma: number;
}

/**
 * FTP over Adam (AdamP) for one projected tensor. Pass 1 updates the moments, writes the deviation
 * c = θ − d − θ₀ (it is next step's C_prev, so it is stored anyway) and sums the row-L1 norms and the
 * hyper-gradient; the scalar γ step follows; pass 2 projects from the stored c. `rows` is shape[0] for
 * rank ≥ 2 and 1 otherwise (torch reduces a rank-1 tensor as a whole).
 */
export function ftpLoop(
  theta: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  anchor: Float32Array,
  cPrev: Float32Array | null,
  rPrev: Float32Array | null,
  thetaOut: Float32Array,
  mOut: Float32Array,
  vOut: Float32Array,
  cOut: Float32Array,
  rOut: Float32Array,
  rows: number,
  k: AdamCoefficients,
  weightDecay: number,
  scalars: FtpScalars,
  t: number,
  annealK: number,
): FtpScalars {
  const f = Math.fround;
  const { B1, C1, B2, C2, S2, BC1, E, NLR } = k;
  const WD = f(weightDecay);
  const decay = weightDecay !== 0;
  const rowLen = rows === 0 ? 0 : theta.length / rows;
  const usePrev = t > 1 && cPrev !== null && rPrev !== null;
  // A missing C_prev/R_prev (t > 1) reads as zeros: h = 0, the hyper step still runs.
  let h = 0;
  let maxN = 0;
  for (let r = 0; r < rows; r++) {
    const start = r * rowLen;
    const end = start + rowLen;
    let l1 = 0;
    let hRow = 0;
    for (let i = start; i < end; i++) {
      const gi = g[i]!;
      const ti = theta[i]!;
      const mi = f(f(m[i]! * B1) + f(gi * C1));
      const vi = f(f(v[i]! * B2) + f(f(gi * gi) * C2));
      mOut[i] = mi;
      vOut[i] = vi;
      let u = f(f(mi / f(f(f(Math.sqrt(vi)) / S2) + E)) / BC1);
      if (decay) u = f(u + f(ti * WD));
      const c = f(f(ti + f(u * NLR)) - anchor[i]!);
      cOut[i] = c;
      l1 += Math.abs(c);
      if (usePrev) hRow += gi * cPrev[i]!;
    }
    const n = l1 + 1e-8;
    rOut[r] = 1 / n;
    if (n > maxN) maxN = n;
    if (usePrev) h += hRow * rPrev[r]!;
  }
  let next: FtpScalars;
  if (t <= 1) next = { gamma: 1e-8, mGamma: 0, vGamma: 0 };
  else {
    const hk = h > 0 ? annealK * h : h;
    const s = hyperAdamStep(scalars.gamma, scalars.mGamma, scalars.vGamma, hk, t);
    next = { gamma: Math.min(Math.max(s.value, 1e-8), maxN), mGamma: s.m, vGamma: s.v };
  }
  const gamma = next.gamma;
  for (let r = 0; r < rows; r++) {
    const start = r * rowLen;
    const end = start + rowLen;
    const ratio = Math.min(Math.max(gamma * rOut[r]!, 0), 1);
    for (let i = start; i < end; i++) thetaOut[i] = anchor[i]! + ratio * cOut[i]!;
  }
  return next;
}

/**
 * SPD over Adam for one tensor: q = θ − u is written straight into θ'; the whole-tensor sums decide the
 * condition; only a decayed tensor takes the second pass (in place over θ', 2R + 1W).
 * Returns κ = −⟨g, θ − a⟩ and the clamped growth ratio r (0 where ‖q − a‖ = 0: the reference's 0/0
 * would give NaN parameters; a step that does not leave the anchor has nothing to decay).
 */
export function spdLoop(
  theta: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  anchor: Float32Array,
  thetaOut: Float32Array,
  mOut: Float32Array,
  vOut: Float32Array,
  k: AdamCoefficients,
  lambda: number,
): { condition: number; ratio: number } {
  const f = Math.fround;
  const { B1, C1, B2, C2, S2, BC1, E, NLR } = k;
  const n = theta.length;
  let dot = 0;
  let qq = 0;
  let tt = 0;
  for (let i = 0; i < n; i++) {
    const gi = g[i]!;
    const ti = theta[i]!;
    const ai = anchor[i]!;
    const mi = f(f(m[i]! * B1) + f(gi * C1));
    const vi = f(f(v[i]! * B2) + f(f(gi * gi) * C2));
    mOut[i] = mi;
    vOut[i] = vi;
    const q = f(ti + f(f(f(mi / f(f(f(Math.sqrt(vi)) / S2) + E)) / BC1) * NLR));
    thetaOut[i] = q;
    const dt = ti - ai;
    const dq = q - ai;
    dot += gi * dt;
    qq += dq * dq;
    tt += dt * dt;
  }
  const condition = -dot;
  const nq = Math.sqrt(qq);
  const ratio = nq > 0 ? Math.min(Math.max((nq - Math.sqrt(tt)) / nq, 0), 1) : 0;
  // κ < 0 fires; κ = −0 (a zero dot, e.g. at the anchor) does not.
  const s = condition < 0 ? lambda * ratio : 0;
  if (s !== 0) {
    for (let i = 0; i < n; i++) {
      const q = thetaOut[i]!;
      thetaOut[i] = q - s * (q - anchor[i]!);
    }
  }
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
export function digrapLoop(
  theta: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  anchor: Float32Array,
  pPrev: Float32Array | null,
  qPrev: Float32Array | null,
  thetaOut: Float32Array,
  mOut: Float32Array,
  vOut: Float32Array,
  pOut: Float32Array,
  qOut: Float32Array,
  k: AdamCoefficients,
  lambda: number,
  lrPrev: number,
  scalars: DigrapScalars,
  t: number,
): DigrapScalars & { dot: number } {
  const n = theta.length;
  const usePrev = t > 1 && pPrev !== null && qPrev !== null;
  let dot = 0;
  let gg = 0;
  let cc = 0;
  let hl = 0;
  let hr = 0;
  for (let i = 0; i < n; i++) {
    const gi = g[i]!;
    const ci = Math.fround(theta[i]! - anchor[i]!);
    dot += gi * ci;
    gg += gi * gi;
    cc += ci * ci;
    if (usePrev) {
      const G = gi + lambda * ci;
      hl += G * pPrev[i]!;
      hr += G * qPrev[i]!;
    }
  }
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
  const alpha = dot / (cc + 1e-8);
  const beta = dot / (gg + 1e-8);
  // With λ = 0 there is no regulariser to conflict with: plain Adam on g.
  const conflict = dot < 0 && lambda !== 0;
  // ĝ = (g − ω_l·αc) + λ(c − ω_r·βg) on conflict, else g + λc: one affine form in g and c.
  const gScale = conflict ? 1 - lambda * next.omegaReg * beta : 1;
  const cScale = conflict ? lambda - next.omegaLoss * alpha : lambda;
  const f = Math.fround;
  const { B1, C1, B2, C2, S2, BC1, E, NLR } = k;
  for (let i = 0; i < n; i++) {
    const gi = g[i]!;
    const ti = theta[i]!;
    const ci = f(ti - anchor[i]!);
    // λ = 0: gScale = 1 and cScale = 0, so ĝ = g exactly and the step is bit-identical to AdamW's.
    const gh = f(gScale * gi + cScale * ci);
    const mi = f(f(m[i]! * B1) + f(gh * C1));
    const vi = f(f(v[i]! * B2) + f(f(gh * gh) * C2));
    mOut[i] = mi;
    vOut[i] = vi;
    thetaOut[i] = ti + f(f(f(mi / f(f(f(Math.sqrt(vi)) / S2) + E)) / BC1) * NLR);
    pOut[i] = alpha * ci;
    qOut[i] = beta * gi;
  }
  return { ...next, dot };
}
