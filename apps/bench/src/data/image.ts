/** Pixel-level helpers shared by the loaders and the data-generation scripts (plain typed arrays, no tfjs). */

export const SIDE = 28;
export const PIXELS = SIDE * SIDE;

/** Bilinear resize with pixel-centre alignment (the convention of `tf.image.resizeBilinear(halfPixelCenters)`). */
export function resizeBilinear(
  src: ArrayLike<number>,
  sw: number,
  sh: number,
  dw: number,
  dh: number,
): Float32Array {
  const out = new Float32Array(dw * dh);
  const sx = sw / dw;
  const sy = sh / dh;
  for (let y = 0; y < dh; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), sh - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, sh - 1);
    const wy = fy - y0;
    for (let x = 0; x < dw; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), sw - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, sw - 1);
      const wx = fx - x0;
      const a = src[y0 * sw + x0] ?? 0;
      const b = src[y0 * sw + x1] ?? 0;
      const c = src[y1 * sw + x0] ?? 0;
      const d = src[y1 * sw + x1] ?? 0;
      out[y * dw + x] = (a * (1 - wx) + b * wx) * (1 - wy) + (c * (1 - wx) + d * wx) * wy;
    }
  }
  return out;
}

/**
 * MNIST framing: crop the ink's bounding box, fit it into a `box`×`box` square keeping the aspect
 * ratio, and paste it into a 28×28 canvas so that its centre of mass lands on the centre, as LeCun et
 * al. did for MNIST. Input and output are intensities in [0, 1]; the output is rescaled to max 1.
 */
export function frameLikeMnist(
  gray: ArrayLike<number>,
  w: number,
  h: number,
  box = 20,
  threshold = 0.05,
): Float32Array {
  let x0 = w;
  let y0 = h;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if ((gray[y * w + x] ?? 0) > threshold) {
        x0 = Math.min(x0, x);
        y0 = Math.min(y0, y);
        x1 = Math.max(x1, x);
        y1 = Math.max(y1, y);
      }
    }
  }
  const out = new Float32Array(PIXELS);
  if (x1 < 0) return out;
  const cw = x1 - x0 + 1;
  const ch = y1 - y0 + 1;
  const crop = new Float32Array(cw * ch);
  for (let y = 0; y < ch; y++)
    for (let x = 0; x < cw; x++) crop[y * cw + x] = gray[(y + y0) * w + x + x0] ?? 0;
  const scale = box / Math.max(cw, ch);
  const nw = Math.max(1, Math.round(cw * scale));
  const nh = Math.max(1, Math.round(ch * scale));
  const small = resizeBilinear(crop, cw, ch, nw, nh);
  let mass = 0;
  let mx = 0;
  let my = 0;
  for (let y = 0; y < nh; y++) {
    for (let x = 0; x < nw; x++) {
      const v = small[y * nw + x] ?? 0;
      mass += v;
      mx += v * x;
      my += v * y;
    }
  }
  const ox = Math.round(SIDE / 2 - (mass > 0 ? mx / mass : nw / 2) - 0.5);
  const oy = Math.round(SIDE / 2 - (mass > 0 ? my / mass : nh / 2) - 0.5);
  let max = 0;
  for (let y = 0; y < nh; y++) {
    for (let x = 0; x < nw; x++) {
      const tx = x + ox;
      const ty = y + oy;
      if (tx < 0 || ty < 0 || tx >= SIDE || ty >= SIDE) continue;
      const v = small[y * nw + x] ?? 0;
      out[ty * SIDE + tx] = v;
      max = Math.max(max, v);
    }
  }
  if (max > 0) for (let i = 0; i < PIXELS; i++) out[i] = (out[i] ?? 0) / max;
  return out;
}
