/**
 * Plain typed-array training kernels shared by the cpu and wasm patches. They read and write flat
 * NHWC buffers; the backend adapters decide where those buffers live (a JS array for cpu, the wasm
 * heap for wasm), so the same loops serve both without copying through another backend.
 *
 * Loops are ordered so the innermost one runs over the contiguous channel axis of both operands:
 * that is what makes the filter gradient ~50× faster than tfjs-cpu's naive kernel, which walks the
 * batch and spatial axes innermost through `TensorBuffer.get`.
 */

/** The geometry of a 2-D convolution or pooling window, as computed by `backend_util`. */
export interface WindowGeometry {
  batchSize: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  outChannels: number;
  strideHeight: number;
  strideWidth: number;
  dilationHeight: number;
  dilationWidth: number;
  /** Effective (dilated) extent is not needed: taps are enumerated with the dilation. */
  filterHeight: number;
  filterWidth: number;
  padInfo: { top: number; left: number };
}

function allFinite(values: ArrayLike<number>): boolean {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return false;
  return true;
}

/** dW[kh,kw,ci,co] = Σ x[b, yr·s + kh·d − pad, …, ci] · dy[b, yr, yc, co]. `dw` must be zeroed. */
export function conv2dBackpropFilterNhwc(
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  dw: Float32Array,
  g: WindowGeometry,
): void {
  const { inChannels: CI, outChannels: CO } = g;
  // Skipping x = 0 (ReLU zeros) is exact only while dy is finite: 0 · ±∞ and 0 · NaN are NaN on tfjs-cpu.
  const skipZeros = allFinite(dy);
  forEachWindowTap(g, (dyBase, xBase, tap) => {
    const wBase = tap * CI * CO;
    for (let ci = 0; ci < CI; ci++) {
      const xv = x[xBase + ci]!;
      if (xv === 0 && skipZeros) continue;
      const row = wBase + ci * CO;
      for (let co = 0; co < CO; co++) dw[row + co]! += xv * dy[dyBase + co]!;
    }
  });
}

/**
 * Depthwise filter gradient: filter [kh,kw,ci,m], output channel ci·m + j.
 * `g.outChannels` must be ci·channelMultiplier. `dw` must be zeroed.
 */
export function depthwiseBackpropFilterNhwc(
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  dw: Float32Array,
  g: WindowGeometry,
): void {
  const CI = g.inChannels;
  const M = g.outChannels / CI;
  forEachWindowTap(g, (dyBase, xBase, tap) => {
    const wBase = tap * g.outChannels;
    if (M === 1) {
      for (let c = 0; c < CI; c++) dw[wBase + c]! += x[xBase + c]! * dy[dyBase + c]!;
    } else {
      for (let c = 0; c < CI; c++) {
        const xv = x[xBase + c]!;
        for (let m = 0; m < M; m++) dw[wBase + c * M + m]! += xv * dy[dyBase + c * M + m]!;
      }
    }
  });
}

/** Depthwise input gradient, scattered from each output position. `dx` must be zeroed. */
export function depthwiseBackpropInputNhwc(
  dy: ArrayLike<number>,
  filter: ArrayLike<number>,
  dx: Float32Array,
  g: WindowGeometry,
): void {
  const CI = g.inChannels;
  const M = g.outChannels / CI;
  forEachWindowTap(g, (dyBase, xBase, tap) => {
    const wBase = tap * g.outChannels;
    if (M === 1) {
      for (let c = 0; c < CI; c++) dx[xBase + c]! += filter[wBase + c]! * dy[dyBase + c]!;
    } else {
      for (let c = 0; c < CI; c++) {
        let acc = 0;
        for (let m = 0; m < M; m++) acc += filter[wBase + c * M + m]! * dy[dyBase + c * M + m]!;
        dx[xBase + c]! += acc;
      }
    }
  });
}

/**
 * Visits every in-bounds (output position, filter tap) pair of a window with the flat bases of its dy
 * and x rows and the tap index kh·KW + kw; the conv and depthwise gradients walk the same taps and
 * differ only in what they accumulate, so the walk lives here once. The channel loops stay in `visit`.
 */
function forEachWindowTap(
  g: WindowGeometry,
  visit: (dyBase: number, xBase: number, tap: number) => void,
): void {
  const { inHeight: H, inWidth: W, inChannels: CI, outHeight: HO, outWidth: WO, outChannels: CO } = g;
  for (let b = 0; b < g.batchSize; b++) {
    for (let yr = 0; yr < HO; yr++) {
      for (let yc = 0; yc < WO; yc++) {
        const dyBase = ((b * HO + yr) * WO + yc) * CO;
        for (let kh = 0; kh < g.filterHeight; kh++) {
          const xr = yr * g.strideHeight - g.padInfo.top + kh * g.dilationHeight;
          if (xr < 0 || xr >= H) continue;
          for (let kw = 0; kw < g.filterWidth; kw++) {
            const xc = yc * g.strideWidth - g.padInfo.left + kw * g.dilationWidth;
            if (xc < 0 || xc >= W) continue;
            visit(dyBase, ((b * H + xr) * W + xc) * CI, kh * g.filterWidth + kw);
          }
        }
      }
    }
  }
}

/**
 * Max-pool gradient: each window's gradient goes to its first maximum among the in-bounds inputs
 * (padding never wins, however negative the window is — the case wasm's kernel gets wrong).
 * The channel axis is innermost (contiguous in x) with a running best per channel, which is what
 * makes this several times faster than one window walk per channel.
 * `g.inChannels === g.outChannels`. `dx` must be zeroed.
 */
export function maxPoolGradNhwc(
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  dx: Float32Array,
  g: WindowGeometry,
): void {
  const { inHeight: H, inWidth: W, inChannels: C, outHeight: HO, outWidth: WO } = g;
  const best = new Float32Array(C);
  const bestIndex = new Int32Array(C);
  let dyBase = 0;
  for (let b = 0; b < g.batchSize; b++) {
    for (let yr = 0; yr < HO; yr++) {
      for (let yc = 0; yc < WO; yc++, dyBase += C) {
        let first = true;
        for (let kh = 0; kh < g.filterHeight; kh++) {
          const xr = yr * g.strideHeight - g.padInfo.top + kh * g.dilationHeight;
          if (xr < 0 || xr >= H) continue;
          for (let kw = 0; kw < g.filterWidth; kw++) {
            const xc = yc * g.strideWidth - g.padInfo.left + kw * g.dilationWidth;
            if (xc < 0 || xc >= W) continue;
            const base = ((b * H + xr) * W + xc) * C;
            if (first) {
              // The first in-bounds tap owns the window until a strictly larger value comes, so
              // all-negative, -Infinity and NaN windows still route their gradient somewhere.
              first = false;
              for (let c = 0; c < C; c++) {
                best[c] = x[base + c]!;
                bestIndex[c] = base + c;
              }
              continue;
            }
            for (let c = 0; c < C; c++) {
              const v = x[base + c]!;
              if (v > best[c]!) {
                best[c] = v;
                bestIndex[c] = base + c;
              }
            }
          }
        }
        if (first) continue; // a window entirely in the padding has no input to route to
        for (let c = 0; c < C; c++) dx[bestIndex[c]!]! += dy[dyBase + c]!;
      }
    }
  }
}

/** out[segmentIds[i], j] += x[i, j] with `inner` values per id; ids outside [0, numSegments) are dropped. */
export function unsortedSegmentSumFlat(
  x: ArrayLike<number>,
  segmentIds: ArrayLike<number>,
  out: Float32Array | Int32Array,
  inner: number,
  numSegments: number,
): void {
  for (let i = 0; i < segmentIds.length; i++) {
    const s = segmentIds[i]!;
    if (s < 0 || s >= numSegments) continue;
    const src = i * inner;
    const dst = s * inner;
    for (let j = 0; j < inner; j++) out[dst + j]! += x[src + j]!;
  }
}

/**
 * The filter of the transposed convolution that computes a conv's input gradient: `out[kh,kw,co,ci]
 * = w[KH−1−kh, KW−1−kw, ci, co]` (spatially flipped, in/out channels swapped).
 */
export function flipFilterSwapChannels(
  w: ArrayLike<number>,
  out: Float32Array,
  kh: number,
  kw: number,
  ci: number,
  co: number,
): void {
  for (let r = 0; r < kh; r++) {
    for (let c = 0; c < kw; c++) {
      const src = ((kh - 1 - r) * kw + (kw - 1 - c)) * ci * co;
      const dst = (r * kw + c) * co * ci;
      for (let i = 0; i < ci; i++) {
        for (let o = 0; o < co; o++) out[dst + o * ci + i] = w[src + i * co + o]!;
      }
    }
  }
}

/**
 * Zero-dilates an NHWC tensor by the stride: `out[b, r·sh, c·sw, :] = x[b, r, c, :]`, the rest
 * zero. `out` is `[B, (H−1)·sh+1, (W−1)·sw+1, C]` and must be zeroed. A strided conv's input
 * gradient is a stride-1 conv over this.
 */
export function zeroDilateNhwc(
  x: Float32Array,
  out: Float32Array,
  batch: number,
  height: number,
  width: number,
  channels: number,
  sh: number,
  sw: number,
): void {
  const outH = (height - 1) * sh + 1;
  const outW = (width - 1) * sw + 1;
  for (let b = 0; b < batch; b++) {
    for (let r = 0; r < height; r++) {
      for (let c = 0; c < width; c++) {
        const src = ((b * height + r) * width + c) * channels;
        const dst = ((b * outH + r * sh) * outW + c * sw) * channels;
        out.set(x.subarray(src, src + channels), dst);
      }
    }
  }
}

/**
 * Transposed im2col of an NHWC input for the filter gradient: row `(kh·KW + kw)·CI + ci`, column
 * `(b·HO + yr)·WO + yc` holds the input value that filter tap (kh, kw, ci) met at output (b, yr, yc),
 * or 0 in the padding. Then `dW[kh,kw,ci,:] = rows · dy[N, CO]` is one plain matmul. `out` is
 * `[KH·KW·CI, B·HO·WO]` and must be zeroed. One output row of the image at a time, so the input
 * row it reads stays in L1 while every filter tap is written.
 */
export function im2colTransposedNhwc(x: Float32Array, out: Float32Array, g: WindowGeometry): void {
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: CI, outHeight: HO, outWidth: WO } = g;
  const n = B * HO * WO;
  const KW = g.filterWidth;
  const sw = g.strideWidth;
  for (let b = 0; b < B; b++) {
    for (let yr = 0; yr < HO; yr++) {
      const col0 = (b * HO + yr) * WO;
      for (let kh = 0; kh < g.filterHeight; kh++) {
        const xr = yr * g.strideHeight - g.padInfo.top + kh * g.dilationHeight;
        if (xr < 0 || xr >= H) continue;
        const xRow = (b * H + xr) * W * CI;
        for (let kw = 0; kw < KW; kw++) {
          // Output columns whose tap (kh, kw) lands inside the input: yc in [c0, c1).
          const offC = kw * g.dilationWidth - g.padInfo.left;
          const c0 = Math.max(0, Math.ceil(-offC / sw));
          const c1 = Math.min(WO, Math.floor((W - 1 - offC) / sw) + 1);
          let dst = (kh * KW + kw) * CI * n + col0;
          for (let ci = 0; ci < CI; ci++, dst += n) {
            const src = xRow + offC * CI + ci;
            for (let yc = c0; yc < c1; yc++) out[dst + yc] = x[src + yc * sw * CI]!;
          }
        }
      }
    }
  }
}

/**
 * `out = dy · mask(x)`, mask = 1 where 0 < x ≤ hi, NaN where x is NaN, else 0: tfjs-core's ReLU
 * (`hi` = ∞) and ReLU6 (`hi` = 6) gradients in one pass. The product by exactly 1, 0 or NaN rounds to
 * the same float32 as tfjs' Multiply, so the values are the composed gradient's bit for bit.
 */
export function reluGradLoop(dy: Float32Array, x: Float32Array, out: Float32Array, hi: number): void {
  for (let i = 0; i < out.length; i++) {
    const v = x[i]!;
    out[i] = dy[i]! * (v > 0 && v <= hi ? 1 : Number.isNaN(v) ? Number.NaN : 0);
  }
}

/**
 * `out = lo ≤ x ≤ hi ? dy : 0` (NaN x: 0): tfjs-core's ClipByValue gradient in one pass. `lo` and `hi`
 * must be the float32 bounds (Math.fround), as tfjs compares float32 tensors.
 */
export function clipGradLoop(
  dy: Float32Array,
  x: Float32Array,
  out: Float32Array,
  lo: number,
  hi: number,
): void {
  for (let i = 0; i < out.length; i++) {
    const v = x[i]!;
    out[i] = v >= lo && v <= hi ? dy[i]! : 0;
  }
}
