import { createRng } from '@robust-ft/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { SEVERITY_PARAMETERS as P } from '../src/corruptions/families';
import {
  convolveChannels,
  coordinateGrid,
  diskKernel,
  fractalNoise,
  gaussianBlur,
  motionKernel,
  sampleBilinear,
} from '../src/corruptions/image-ops';
import { jpegCompress } from '../src/corruptions/jpeg';
import { CORRUPTION_FAMILIES, type CorruptionFamily, corrupt } from '../src/index';
import './setup-backend';

/*
 * Each family rebuilt from its documented recipe: the random stream createRng(seed).fork(family), its
 * draws in the documented order, the severity's parameters, spatial ones times min(H, W)/28, and the
 * building blocks of image-ops.ts (tested on their own in image-ops.test.ts). This pins what the
 * statistical tests cannot see: which parameter, which sign, which draw feeds which axis.
 */
const [N, H, W] = [2, 20, 24];
const SCALE = 20 / 28;
const X = tf.keep(
  tf.tensor4d(
    Array.from({ length: N * H * W * 3 }, (_, i) => {
      const k = i % 3;
      const c = Math.floor(i / 3) % W;
      const r = Math.floor(i / (3 * W)) % H;
      const b = Math.floor(i / (3 * W * H));
      return 0.5 + 0.4 * Math.sin(0.45 * r + 0.8 * Math.cos(0.3 * c) + k + b) * Math.cos(0.2 * c - 0.1 * r);
    }),
    [N, H, W, 3],
  ),
);

/** Large enough for the direction of short streaks (snow, motion blur) to show; spatial scale 2. */
const GREY = tf.keep(
  tf.tensor4d(
    Array.from(
      { length: 56 * 60 },
      (_, i) => 0.5 + 0.4 * Math.sin(0.21 * Math.floor(i / 60) + 0.13 * (i % 60) ** 1.3),
    ),
    [1, 56, 60, 1],
  ),
);

type Recipe = (x: tf.Tensor4D, s: number, r: ReturnType<typeof createRng>, scale: number) => tf.Tensor;
const at = (values: readonly number[], s: number) => values[s - 1] as number;

const RECIPES: Record<CorruptionFamily, Recipe> = {
  gaussian_noise: (x, s, r) =>
    tf.add(x, tf.randomNormal(x.shape, 0, at(P.gaussian_noise.sigma, s), 'float32', r.tensorSeed())),
  shot_noise: (x, s, r) =>
    tf.add(
      x,
      tf.mul(
        tf.sqrt(tf.div(x, at(P.shot_noise.photons, s))),
        tf.randomNormal(x.shape, 0, 1, 'float32', r.tensorSeed()),
      ),
    ),
  impulse_noise: (x, s, r) => {
    const a = at(P.impulse_noise.amount, s);
    const u = tf.randomUniform(x.shape, 0, 1, 'float32', r.tensorSeed());
    return tf.where(
      tf.less(u, a / 2),
      tf.zerosLike(x),
      tf.where(tf.greater(u, 1 - a / 2), tf.onesLike(x), x),
    );
  },
  defocus_blur: (x, s, _r, scale) => convolveChannels(x, diskKernel(at(P.defocus_blur.radiusPx, s) * scale)),
  glass_blur: (x, s, r, scale) => {
    const [n, h, w] = x.shape;
    const sigma = at(P.glass_blur.sigmaPx, s) * scale;
    const d = at(P.glass_blur.shufflePx, s) * scale;
    const dy = tf.randomUniform([n, h, w], -d, d, 'float32', r.tensorSeed());
    const dx = tf.randomUniform([n, h, w], -d, d, 'float32', r.tensorSeed());
    const [rows, cols] = coordinateGrid(n, h, w);
    return gaussianBlur(sampleBilinear(gaussianBlur(x, sigma), tf.add(rows, dy), tf.add(cols, dx)), sigma);
  },
  motion_blur: (x, s, r, scale) =>
    convolveChannels(x, motionKernel(at(P.motion_blur.lengthPx, s) * scale, r.uniform() * Math.PI)),
  zoom_blur: (x, s) => {
    const [n, h, w] = x.shape;
    const views: tf.Tensor[] = [x];
    const step = at(P.zoom_blur.step, s);
    for (let k = 1; 1 + k * step < at(P.zoom_blur.maxZoom, s) - 1e-6; k++) {
      const half = 0.5 / (1 + k * step);
      const box = [0.5 - half, 0.5 - half, 0.5 + half, 0.5 + half];
      views.push(
        tf.image.cropAndResize(
          x,
          tf.tensor2d(Array.from({ length: n }, () => box)),
          tf.range(0, n, 1, 'int32') as tf.Tensor1D,
          [h, w],
        ),
      );
    }
    return tf.div(tf.addN(views), views.length);
  },
  snow: (x, s, r, scale) => {
    const [n, h, w] = x.shape;
    const keep = at(P.snow.keep, s);
    const u = tf.randomUniform([n, h, w, 1], 0, 1, 'float32', r.tensorSeed());
    const flakes = tf.cast(tf.greater(u, 1 - at(P.snow.flakeShare, s)), 'float32') as tf.Tensor4D;
    const kernel = motionKernel(at(P.snow.lengthPx, s) * scale, Math.PI / 2 + r.uniform() - 0.5);
    const streaks = tf.clipByValue(tf.mul(convolveChannels(flakes, kernel), 2), 0, 1);
    const bright = tf.maximum(x, tf.add(tf.mul(tf.mean(x, 3, true), 1.5), 0.5));
    return tf.add(tf.add(tf.mul(x, keep), tf.mul(bright, 1 - keep)), streaks);
  },
  frost: (x, s, r) => {
    const [n, h, w] = x.shape;
    const noise = fractalNoise(n, h, w, () => r.tensorSeed(), 1.6, 5);
    const ridges = tf.pow(tf.sub(1, tf.abs(tf.sub(tf.mul(noise, 2), 1))), 4);
    const grain = tf.randomUniform([n, h, w, 1], 0, 0.25, 'float32', r.tensorSeed());
    const texture = tf.clipByValue(tf.add(tf.mul(ridges, 1.1), grain), 0, 1);
    return tf.add(tf.mul(x, at(P.frost.image, s)), tf.mul(texture, at(P.frost.frost, s)));
  },
  fog: (x, s, r) => {
    const [n, h, w] = x.shape;
    const c = at(P.fog.strength, s);
    const fog = fractalNoise(n, h, w, () => r.tensorSeed(), at(P.fog.decay, s), 4);
    const max = tf.max(x, [1, 2, 3], true);
    return tf.div(tf.mul(tf.add(x, tf.mul(fog, c)), max), tf.add(max, c));
  },
  brightness: (x, s) => {
    const v = tf.max(x, 3, true);
    const target = tf.minimum(tf.add(v, at(P.brightness.shift, s)), 1);
    return tf.mul(x, tf.div(target, v));
  },
  contrast: (x, s) => {
    const mean = tf.mean(x, [1, 2, 3], true);
    return tf.add(mean, tf.mul(tf.sub(x, mean), at(P.contrast.factor, s)));
  },
  elastic_transform: (x, s, r, scale) => {
    const [n, h, w] = x.shape;
    const raw = tf.randomUniform([n, h, w, 2], -1, 1, 'float32', r.tensorSeed()) as tf.Tensor4D;
    const field = gaussianBlur(raw, at(P.elastic_transform.smoothingPx, s) * scale);
    const peak = tf.max(tf.abs(field), [1, 2, 3], true);
    const d = tf.mul(tf.div(field, peak), at(P.elastic_transform.displacementPx, s) * scale);
    const [dy, dx] = tf.split(d, 2, 3).map((t) => tf.squeeze(t, [3]));
    const [rows, cols] = coordinateGrid(n, h, w);
    return sampleBilinear(x, tf.add(rows, dy as tf.Tensor3D), tf.add(cols, dx as tf.Tensor3D));
  },
  pixelate: (x, s, _r, scale) => {
    const [n, h, w, c] = x.shape;
    // Blocks of round(blockPx · scale) pixels (at least 2), padded with zeros at the bottom/right.
    const b = Math.max(2, Math.round(at(P.pixelate.blockPx, s) * scale));
    const [ph, pw] = [(b - (h % b)) % b, (b - (w % b)) % b];
    const padded = tf.pad(x, [
      [0, 0],
      [0, ph],
      [0, pw],
      [0, 0],
    ]) as tf.Tensor4D;
    const means = tf.avgPool(padded, b, b, 'valid');
    return tf.slice(tf.image.resizeNearestNeighbor(means, [h + ph, w + pw]), 0, [n, h, w, c]);
  },
  jpeg_compression: (x, s) => jpegCompress(x, at(P.jpeg_compression.quality, s)),
};

describe('corruptions replayed from their recipes', () => {
  for (const family of CORRUPTION_FAMILIES) {
    it(`${family}: every severity equals its recipe (2 × 20 × 24 RGB and 1 × 56 × 60 grey)`, () => {
      for (const [x, scale] of [
        [X, SCALE],
        [GREY, 2],
      ] as const)
        for (let s = 1; s <= 5; s++) {
          const seed = 3 + s;
          const got = corrupt(x, family, s, seed);
          const want = tf.tidy(() =>
            tf.clipByValue(RECIPES[family](x, s, createRng(seed).fork(family), scale), 0, 1),
          );
          const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(got, want))).dataSync()[0] as number);
          // JPEG rounds to 8 bits: a float32 difference in the DCT may move a pixel one level.
          expect(diff, `severity ${s}`).toBeLessThan(family === 'jpeg_compression' ? 1 / 255 + 1e-6 : 2e-5);
          tf.dispose([got, want]);
        }
    });
  }
});
