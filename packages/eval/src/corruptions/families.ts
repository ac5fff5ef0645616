import * as tf from '@tensorflow/tfjs-core';
import {
  convolveChannels,
  coordinateGrid,
  diskKernel,
  fractalNoise,
  gaussianBlur,
  grey,
  motionKernel,
  sampleBilinear,
} from './image-ops';
import { jpegCompress } from './jpeg';

/** Random source handed to a corruption: tensor seeds and host uniforms from one seeded stream. */
export interface CorruptionRandom {
  tensorSeed(): number;
  uniform(): number;
}

/**
 * Severity parameters, index 0 = severity 1. Spatial ones are in pixels for a 28-pixel image and scale
 * with min(H, W)/28; the rest (noise levels, zoom factors, blends, JPEG quality) follow ImageNet-C
 * (Hendrycks & Dietterich 2019) and are resolution independent.
 */
export const SEVERITY_PARAMETERS = {
  gaussian_noise: { sigma: [0.08, 0.12, 0.18, 0.26, 0.38] },
  shot_noise: { photons: [60, 25, 12, 5, 3] },
  impulse_noise: { amount: [0.03, 0.06, 0.09, 0.17, 0.27] },
  defocus_blur: { radiusPx: [0.6, 0.9, 1.2, 1.6, 2.0] },
  glass_blur: { sigmaPx: [0.4, 0.45, 0.5, 0.55, 0.6], shufflePx: [0.7, 1, 1.4, 1.8, 2.3] },
  motion_blur: { lengthPx: [2, 3, 4, 5, 6.5] },
  zoom_blur: { maxZoom: [1.16, 1.24, 1.32, 1.4, 1.5], step: [0.02, 0.02, 0.03, 0.03, 0.04] },
  snow: {
    flakeShare: [0.02, 0.035, 0.05, 0.07, 0.09],
    lengthPx: [1.5, 2, 2.5, 3, 3.5],
    keep: [0.85, 0.75, 0.7, 0.65, 0.55],
  },
  frost: { image: [1, 0.8, 0.7, 0.65, 0.6], frost: [0.4, 0.6, 0.7, 0.7, 0.75] },
  fog: { strength: [1.5, 2, 2.5, 2.5, 3], decay: [2, 2, 1.7, 1.5, 1.4] },
  brightness: { shift: [0.1, 0.2, 0.3, 0.4, 0.5] },
  contrast: { factor: [0.4, 0.3, 0.2, 0.1, 0.05] },
  elastic_transform: { displacementPx: [1, 1.5, 2, 2.75, 3.5], smoothingPx: [3, 3, 2.5, 2.5, 2] },
  pixelate: { blockPx: [2, 3, 4, 5, 6] },
  jpeg_compression: { quality: [25, 18, 15, 10, 7] },
} as const;

/** The name of a corruption family (`'gaussian_noise'`, `'contrast'`, …); see `CORRUPTION_FAMILIES`. */
export type CorruptionFamily = keyof typeof SEVERITY_PARAMETERS;

type Op = (x: tf.Tensor4D, s: number, random: CorruptionRandom, scale: number) => tf.Tensor4D;

const p = <F extends CorruptionFamily, K extends keyof (typeof SEVERITY_PARAMETERS)[F]>(
  family: F,
  key: K,
  s: number,
): number => (SEVERITY_PARAMETERS[family][key] as readonly number[])[s - 1] as number;

export const CORRUPTION_OPS: Readonly<Record<CorruptionFamily, Op>> = {
  gaussian_noise: (x, s, r) =>
    tf.add(x, tf.randomNormal(x.shape, 0, p('gaussian_noise', 'sigma', s), 'float32', r.tensorSeed())),

  // Poisson(λx)/λ via its normal approximation N(x, x/λ): tfjs has no Poisson sampler.
  shot_noise: (x, s, r) => {
    const lambda = p('shot_noise', 'photons', s);
    return tf.add(
      x,
      tf.mul(tf.sqrt(tf.div(tf.relu(x), lambda)), tf.randomNormal(x.shape, 0, 1, 'float32', r.tensorSeed())),
    );
  },

  // Salt and pepper per element, as skimage's `s&p` used by ImageNet-C.
  impulse_noise: (x, s, r) => {
    const amount = p('impulse_noise', 'amount', s);
    const u = tf.randomUniform(x.shape, 0, 1, 'float32', r.tensorSeed());
    const pepper = tf.step(tf.sub(amount / 2, u));
    const salt = tf.step(tf.sub(u, 1 - amount / 2));
    return tf.add(tf.mul(x, tf.sub(1, tf.add(pepper, salt))), salt);
  },

  defocus_blur: (x, s, _r, scale) =>
    convolveChannels(x, diskKernel(p('defocus_blur', 'radiusPx', s) * scale)),

  // Blur, then move every pixel by a random (sub-pixel, bilinear) offset of up to ±δ pixels (ImageNet-C
  // swaps neighbours in a loop; random local displacement is the vectorised equivalent), then blur again.
  glass_blur: (x, s, r, scale) => {
    const sigma = p('glass_blur', 'sigmaPx', s) * scale;
    const delta = p('glass_blur', 'shufflePx', s) * scale;
    const [n, h, w] = x.shape;
    const [rows, cols] = coordinateGrid(n, h, w);
    const dy = tf.randomUniform([n, h, w], -delta, delta, 'float32', r.tensorSeed());
    const dx = tf.randomUniform([n, h, w], -delta, delta, 'float32', r.tensorSeed());
    const shuffled = sampleBilinear(
      gaussianBlur(x, sigma),
      tf.add(rows, dy) as tf.Tensor3D,
      tf.add(cols, dx) as tf.Tensor3D,
    );
    return gaussianBlur(shuffled, sigma);
  },

  // One random direction per call (ImageNet-C draws one per image).
  motion_blur: (x, s, r, scale) =>
    convolveChannels(x, motionKernel(p('motion_blur', 'lengthPx', s) * scale, r.uniform() * Math.PI)),

  zoom_blur: (x, s) => {
    const [n, h, w] = x.shape;
    const max = p('zoom_blur', 'maxZoom', s);
    const step = p('zoom_blur', 'step', s);
    let sum: tf.Tensor4D = x;
    let count = 1;
    for (let z = 1 + step; z < max - 1e-9; z += step) {
      const half = 0.5 / z;
      const boxes = tf.tensor2d(
        Array.from({ length: n }, () => [0.5 - half, 0.5 - half, 0.5 + half, 0.5 + half]),
      );
      const zoomed = tf.image.cropAndResize(x, boxes, tf.range(0, n, 1, 'int32') as tf.Tensor1D, [h, w]);
      sum = tf.add(sum, zoomed);
      count++;
    }
    return tf.div(sum, count);
  },

  // Sparse white flakes streaked by a short motion blur, over a whitened image (ImageNet-C's blend of the
  // image with max(image, 1.5·grey + 0.5)).
  snow: (x, s, r, scale) => {
    const [n, h, w] = x.shape;
    const share = p('snow', 'flakeShare', s);
    const keep = p('snow', 'keep', s);
    const flakes = tf.step(
      tf.sub(tf.randomUniform([n, h, w, 1], 0, 1, 'float32', r.tensorSeed()), 1 - share),
    );
    const streaks = tf.clipByValue(
      tf.mul(
        convolveChannels(
          flakes as tf.Tensor4D,
          motionKernel(p('snow', 'lengthPx', s) * scale, Math.PI / 2 + (r.uniform() - 0.5)),
        ),
        2,
      ),
      0,
      1,
    );
    const whitened = tf.add(
      tf.mul(x, keep),
      tf.mul(tf.maximum(x, tf.add(tf.mul(grey(x), 1.5), 0.5)), 1 - keep),
    );
    return tf.add(whitened, streaks);
  },

  // Procedural frost (ImageNet-C overlays crops of six frost photographs, which we do not ship): ridged
  // fractal noise gives thin bright crystal lines, plus fine grain.
  frost: (x, s, r) => {
    const [n, h, w] = x.shape;
    const noise = fractalNoise(n, h, w, () => r.tensorSeed(), 1.6, 5);
    const ridges = tf.pow(tf.sub(1, tf.abs(tf.sub(tf.mul(noise, 2), 1))), 4);
    const grain = tf.randomUniform([n, h, w, 1], 0, 0.25, 'float32', r.tensorSeed());
    const texture = tf.clipByValue(tf.add(tf.mul(ridges, 1.1), grain), 0, 1);
    return tf.add(tf.mul(x, p('frost', 'image', s)), tf.mul(texture, p('frost', 'frost', s)));
  },

  // Fractal value noise instead of the diamond-square plasma; same blend and renormalisation as ImageNet-C.
  fog: (x, s, r) => {
    const [n, h, w] = x.shape;
    const strength = p('fog', 'strength', s);
    const fog = fractalNoise(n, h, w, () => r.tensorSeed(), p('fog', 'decay', s), 4);
    const max = tf.max(x, [1, 2, 3], true);
    return tf.div(tf.mul(tf.add(x, tf.mul(fog, strength)), max), tf.add(max, strength));
  },

  // Exact HSV value shift: scaling all channels by V'/V keeps hue and saturation; black pixels become grey V'.
  brightness: (x, s) => {
    const v = tf.max(x, 3, true);
    const target = tf.minimum(tf.add(v, p('brightness', 'shift', s)), 1);
    const ratio = tf.div(target, tf.maximum(v, 1e-6));
    return tf.add(tf.mul(x, ratio), tf.relu(tf.sub(target, tf.mul(v, ratio))));
  },

  contrast: (x, s) => {
    const mean = tf.mean(x, [1, 2, 3], true);
    return tf.add(tf.mul(tf.sub(x, mean), p('contrast', 'factor', s)), mean);
  },

  // Smoothed random displacement field (Simard et al.), scaled so its largest shift is `displacementPx`.
  elastic_transform: (x, s, r, scale) => {
    const [n, h, w] = x.shape;
    const field = gaussianBlur(
      tf.randomUniform([n, h, w, 2], -1, 1, 'float32', r.tensorSeed()) as tf.Tensor4D,
      p('elastic_transform', 'smoothingPx', s) * scale,
    );
    const peak = tf.maximum(tf.max(tf.abs(field), [1, 2, 3], true), 1e-6);
    const d = tf.mul(tf.div(field, peak), p('elastic_transform', 'displacementPx', s) * scale);
    const [rows, cols] = coordinateGrid(n, h, w);
    const dy = tf.squeeze(tf.slice(d, [0, 0, 0, 0], [-1, -1, -1, 1]), [3]);
    const dx = tf.squeeze(tf.slice(d, [0, 0, 0, 1], [-1, -1, -1, 1]), [3]);
    return sampleBilinear(x, tf.add(rows, dy) as tf.Tensor3D, tf.add(cols, dx) as tf.Tensor3D);
  },

  // Mean over b×b blocks, each block then filled with its mean (exact for integer block sizes; ImageNet-C
  // uses PIL box resizes with fractional factors, which blur rather than block on 28-pixel images).
  pixelate: (x, s, _r, scale) => {
    const [, h, w] = x.shape;
    const b = Math.max(2, Math.round(p('pixelate', 'blockPx', s) * scale));
    const [n, , , c] = x.shape;
    const ph = (b - (h % b)) % b;
    const pw = (b - (w % b)) % b;
    const padded = tf.pad(x, [
      [0, 0],
      [0, ph],
      [0, pw],
      [0, 0],
    ]);
    const hb = (h + ph) / b;
    const wb = (w + pw) / b;
    // Ops of rank ≤ 4 only: a rank-6 mean/tile (the obvious reshape) lost the WebGPU device on
    // SwiftShader in Chromium. Block means by a b×b average pool, then each mean repeated b times
    // along the columns, then each row of blocks b times down.
    const means = tf.avgPool(padded as tf.Tensor4D, b, b, 'valid');
    const cols = tf.reshape(tf.tile(tf.reshape(means, [n * hb * wb, 1, c]), [1, b, 1]), [n, hb, wb * b, c]);
    const up = tf.reshape(tf.tile(tf.reshape(cols, [n * hb, 1, wb * b * c]), [1, b, 1]), [
      n,
      hb * b,
      wb * b,
      c,
    ]);
    return tf.slice(up, [0, 0, 0, 0], [-1, h, w, -1]) as tf.Tensor4D;
  },

  jpeg_compression: (x, s) => jpegCompress(x, p('jpeg_compression', 'quality', s)),
};
