/**
 * The per-tensor math of every fused step, as plain loops over Float32Arrays. The cpu and wasm kernels
 * share these: both hand in views of the backend's own memory, so no data is copied. Scalars and sums
 * are held in doubles (JS numbers); every element is rounded to float32 once, when stored.
 *
 * Each loop touches the minimum traffic of spec §7: one pass for AdamW/L2-SP/SPD-without-decay, a
 * second one only where the method needs a whole-tensor or per-row reduction first.
 */

/** Adam settings of one step of one tensor, with the bias corrections already folded in. */
export interface AdamCoefficients {
  beta1: number;
  beta2: number;
  epsilon: number;
  /** η / (1 − β₁ˢ). */
  stepSize: number;
  /** 1 / √(1 − β₂ˢ). */
  invSqrtBc2: number;
}

export function adamCoefficients(
  learningRate: number,
  beta1: number,
  beta2: number,
  epsilon: number,
  count: number,
): AdamCoefficients {
  return {
    beta1,
    beta2,
    epsilon,
    stepSize: learningRate / (1 - beta1 ** count),
    invSqrtBc2: 1 / Math.sqrt(1 - beta2 ** count),
  };
}

/** AdamW (torch): θ' = θ(1 − η·wd) − η/bc₁ · m'/(√v'/√bc₂ + ε). `decay` = η·wd. */
export function adamwLoop(
  theta: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  thetaOut: Float32Array,
  mOut: Float32Array,
  vOut: Float32Array,
  k: AdamCoefficients,
  decay: number,
): void {
  const { beta1, beta2, epsilon, stepSize, invSqrtBc2 } = k;
  const c1 = 1 - beta1;
  const c2 = 1 - beta2;
  const keep = 1 - decay;
  const n = theta.length;
  for (let i = 0; i < n; i++) {
    const gi = g[i]!;
    const mi = beta1 * m[i]! + c1 * gi;
    const vi = beta2 * v[i]! + c2 * gi * gi;
    mOut[i] = mi;
    vOut[i] = vi;
    thetaOut[i] = theta[i]! * keep - (stepSize * mi) / (Math.sqrt(vi) * invSqrtBc2 + epsilon);
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
  const { beta1, beta2, epsilon, stepSize, invSqrtBc2 } = k;
  const c1 = 1 - beta1;
  const c2 = 1 - beta2;
  const n = theta.length;
  for (let i = 0; i < n; i++) {
    const ti = theta[i]!;
    const gi = g[i]! + alpha * (ti - anchor[i]!);
    const mi = beta1 * m[i]! + c1 * gi;
    const vi = beta2 * v[i]! + c2 * gi * gi;
    mOut[i] = mi;
    vOut[i] = vi;
    thetaOut[i] = ti - (stepSize * mi) / (Math.sqrt(vi) * invSqrtBc2 + epsilon);
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
  decay: number,
  scalars: FtpScalars,
  t: number,
  annealK: number,
): FtpScalars {
  const { beta1, beta2, epsilon, stepSize, invSqrtBc2 } = k;
  const c1 = 1 - beta1;
  const c2 = 1 - beta2;
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
      const mi = beta1 * m[i]! + c1 * gi;
      const vi = beta2 * v[i]! + c2 * gi * gi;
      mOut[i] = mi;
      vOut[i] = vi;
      const d = (stepSize * mi) / (Math.sqrt(vi) * invSqrtBc2 + epsilon) + decay * ti;
      const c = Math.fround(ti - d - anchor[i]!);
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
  const { beta1, beta2, epsilon, stepSize, invSqrtBc2 } = k;
  const c1 = 1 - beta1;
  const c2 = 1 - beta2;
  const n = theta.length;
  let dot = 0;
  let qq = 0;
  let tt = 0;
  for (let i = 0; i < n; i++) {
    const gi = g[i]!;
    const ti = theta[i]!;
    const ai = anchor[i]!;
    const mi = beta1 * m[i]! + c1 * gi;
    const vi = beta2 * v[i]! + c2 * gi * gi;
    mOut[i] = mi;
    vOut[i] = vi;
    const q = Math.fround(ti - (stepSize * mi) / (Math.sqrt(vi) * invSqrtBc2 + epsilon));
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
  const { beta1, beta2, epsilon, stepSize, invSqrtBc2 } = k;
  const c1 = 1 - beta1;
  const c2 = 1 - beta2;
  for (let i = 0; i < n; i++) {
    const gi = g[i]!;
    const ti = theta[i]!;
    const ci = Math.fround(ti - anchor[i]!);
    const gh = gScale * gi + cScale * ci;
    const mi = beta1 * m[i]! + c1 * gh;
    const vi = beta2 * v[i]! + c2 * gh * gh;
    mOut[i] = mi;
    vOut[i] = vi;
    thetaOut[i] = ti - (stepSize * mi) / (Math.sqrt(vi) * invSqrtBc2 + epsilon);
    pOut[i] = alpha * ci;
    qOut[i] = beta * gi;
  }
  return { ...next, dot };
}
