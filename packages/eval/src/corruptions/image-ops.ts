import * as tf from '@tensorflow/tfjs-core';

/**
 * Building blocks for corruptions on `[N, H, W, C]` batches. Everything is a forward tfjs op available on
 * cpu, wasm and webgl/webgpu; kernels are built on the host because they are tiny.
 */

/** Applies a 2-D kernel `[kh, kw]` to every channel with reflect padding (edges are not darkened). */
export function convolveChannels(x: tf.Tensor4D, kernel: number[][]): tf.Tensor4D {
  return tf.tidy(() => {
    const kh = kernel.length;
    const kw = (kernel[0] as number[]).length;
    const c = x.shape[3];
    const flat = kernel.flat();
    const k = tf.tile(tf.reshape(tf.tensor1d(flat), [kh, kw, 1, 1]), [1, 1, c, 1]) as tf.Tensor4D;
    const ph = Math.floor((kh - 1) / 2);
    const pw = Math.floor((kw - 1) / 2);
    const [h, w] = [x.shape[1], x.shape[2]];
    // Reflect padding needs pad < size; fall back to edge-free zero padding on tiny images.
    const canReflect = ph < h && kh - 1 - ph < h && pw < w && kw - 1 - pw < w;
    const padded = canReflect
      ? tf.mirrorPad(
          x,
          [
            [0, 0],
            [ph, kh - 1 - ph],
            [pw, kw - 1 - pw],
            [0, 0],
          ],
          'reflect',
        )
      : tf.pad(x, [
          [0, 0],
          [ph, kh - 1 - ph],
          [pw, kw - 1 - pw],
          [0, 0],
        ]);
    return tf.depthwiseConv2d(padded, k, 1, 'valid');
  });
}

export function normalizeKernel(kernel: number[][]): number[][] {
  const total = kernel.flat().reduce((a, b) => a + b, 0);
  return kernel.map((row) => row.map((v) => v / total));
}

export function gaussianKernel1d(sigma: number): number[] {
  const radius = Math.max(1, Math.ceil(3 * sigma));
  const k = Array.from({ length: 2 * radius + 1 }, (_, i) =>
    Math.exp(-((i - radius) ** 2) / (2 * sigma * sigma)),
  );
  const total = k.reduce((a, b) => a + b, 0);
  return k.map((v) => v / total);
}

/** Separable Gaussian blur. */
export function gaussianBlur(x: tf.Tensor4D, sigma: number): tf.Tensor4D {
  if (sigma <= 0) return tf.clone(x);
  const k = gaussianKernel1d(sigma);
  return tf.tidy(() =>
    convolveChannels(
      convolveChannels(x, [k]),
      k.map((v) => [v]),
    ),
  );
}

/** Anti-aliased disk of radius r (pixel coverage approximated by 1 − distance to the rim). */
export function diskKernel(radius: number): number[][] {
  const size = 2 * Math.ceil(radius) + 1;
  const c = (size - 1) / 2;
  const k = Array.from({ length: size }, (_, i) =>
    Array.from({ length: size }, (_, j) => Math.min(1, Math.max(0, radius + 0.5 - Math.hypot(i - c, j - c)))),
  );
  return normalizeKernel(k);
}

/** A line of the given length through the kernel centre at `angle` radians, supersampled. */
export function motionKernel(length: number, angle: number): number[][] {
  const size = 2 * Math.ceil(length / 2) + 1;
  const c = (size - 1) / 2;
  const k = Array.from({ length: size }, () => new Array<number>(size).fill(0));
  const samples = 16 * size;
  for (let s = 0; s <= samples; s++) {
    const t = (s / samples - 0.5) * length;
    const x = c + t * Math.cos(angle);
    const y = c + t * Math.sin(angle);
    const i = Math.round(y);
    const j = Math.round(x);
    const row = k[i];
    if (row !== undefined && j >= 0 && j < size) row[j] = (row[j] as number) + 1;
  }
  return normalizeKernel(k);
}

/**
 * Bilinear resampling of each image at source coordinates (rows `sy`, cols `sx`, both `[N, H, W]`), with
 * coordinates clamped to the image (edge extension).
 */
export function sampleBilinear(x: tf.Tensor4D, sy: tf.Tensor3D, sx: tf.Tensor3D): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    const y = tf.clipByValue(sy, 0, h - 1);
    const xx = tf.clipByValue(sx, 0, w - 1);
    const y0 = tf.floor(y);
    const x0 = tf.floor(xx);
    const wy = tf.expandDims(tf.sub(y, y0), 3);
    const wx = tf.expandDims(tf.sub(xx, x0), 3);
    const y1 = tf.minimum(tf.add(y0, 1), h - 1);
    const x1 = tf.minimum(tf.add(x0, 1), w - 1);
    const flatImages = tf.reshape(x, [n * h * w, c]);
    const base = tf.reshape(tf.mul(tf.range(0, n, 1, 'int32'), tf.scalar(h * w, 'int32')), [n, 1, 1]);
    const at = (yy: tf.Tensor, xq: tf.Tensor) => {
      const idx = tf.add(
        base,
        tf.add(tf.mul(tf.cast(yy, 'int32'), tf.scalar(w, 'int32')), tf.cast(xq, 'int32')),
      );
      return tf.reshape(tf.gather(flatImages, tf.reshape(idx, [-1])), [n, h, w, c]);
    };
    const top = tf.add(tf.mul(at(y0, x0), tf.sub(1, wx)), tf.mul(at(y0, x1), wx));
    const bottom = tf.add(tf.mul(at(y1, x0), tf.sub(1, wx)), tf.mul(at(y1, x1), wx));
    return tf.add(tf.mul(top, tf.sub(1, wy)), tf.mul(bottom, wy)) as tf.Tensor4D;
  });
}

/** Pixel coordinate grids `[N, H, W]` (rows, cols). */
export function coordinateGrid(n: number, h: number, w: number): [tf.Tensor3D, tf.Tensor3D] {
  return tf.tidy(() => {
    const rows = tf.tile(tf.reshape(tf.range(0, h), [1, h, 1]), [n, 1, w]) as tf.Tensor3D;
    const cols = tf.tile(tf.reshape(tf.range(0, w), [1, 1, w]), [n, h, 1]) as tf.Tensor3D;
    return [rows, cols];
  });
}

/**
 * Multi-octave value noise `[N, H, W, 1]` in roughly [0, 1]: uniform noise on coarse grids, bilinearly
 * upsampled and summed with amplitude `decay^-octave`. Stands in for ImageNet-C's plasma fractal (fog) and
 * frost photographs.
 */
export function fractalNoise(
  n: number,
  h: number,
  w: number,
  seed: () => number,
  decay: number,
  octaves = 4,
): tf.Tensor4D {
  return tf.tidy(() => {
    let total: tf.Tensor4D = tf.zeros([n, h, w, 1]);
    let amplitude = 1;
    let norm = 0;
    for (let o = 0; o < octaves; o++) {
      const gh = Math.max(2, Math.ceil(h / 2 ** (octaves - o)));
      const gw = Math.max(2, Math.ceil(w / 2 ** (octaves - o)));
      const coarse = tf.randomUniform([n, gh, gw, 1], 0, 1, 'float32', seed()) as tf.Tensor4D;
      total = tf.add(total, tf.mul(tf.image.resizeBilinear(coarse, [h, w], true), amplitude));
      norm += amplitude;
      amplitude /= decay;
    }
    return tf.div(total, norm);
  });
}

/** Channel-mean grey level of each image `[N, H, W, 1]`. */
export function grey(x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.mean(x, 3, true));
}
