import * as tf from '@tensorflow/tfjs-core';

/**
 * JPEG-like compression without a codec: 8×8 block DCT-II, quantisation with the standard IJG tables
 * scaled for `quality`, and the inverse DCT, all as matmuls. RGB goes through YCbCr (JPEG's full-range
 * BT.601). Differences from a real encoder: no chroma subsampling and no entropy coding (which is lossless
 * anyway); blocks past the edge are filled by reflection.
 */

const LUMA = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22,
  29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103,
  121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];
const CHROMA = Array.from({ length: 64 }, (_, i) => {
  const r = Math.floor(i / 8);
  const c = i % 8;
  const top = [
    [17, 18, 24, 47],
    [18, 21, 26, 66],
    [24, 26, 56, 99],
    [47, 66, 99, 99],
  ];
  return r < 4 && c < 4 ? (top[r]?.[c] as number) : 99;
});

/** The IJG scaling of a base table for quality 1–100. */
export function quantizationTable(base: readonly number[], quality: number): number[] {
  const q = Math.min(100, Math.max(1, quality));
  const scale = q < 50 ? 5000 / q : 200 - 2 * q;
  return base.map((v) => Math.min(255, Math.max(1, Math.floor((v * scale + 50) / 100))));
}

/** Orthonormal DCT-II matrix M (8×8): coefficients = M · block · Mᵀ. */
function dctMatrix(): number[][] {
  return Array.from({ length: 8 }, (_, k) =>
    Array.from(
      { length: 8 },
      (_, n) => (k === 0 ? Math.sqrt(1 / 8) : Math.sqrt(2 / 8)) * Math.cos(((2 * n + 1) * k * Math.PI) / 16),
    ),
  );
}

/** A · B · Aᵀ for every 8×8 block of `blocks` `[B, 8, 8]`, as two 2-D matmuls. */
function sandwich(blocks: tf.Tensor3D, aT: tf.Tensor2D): tf.Tensor3D {
  const b = blocks.shape[0];
  const right = tf.reshape(tf.matMul(tf.reshape(blocks, [b * 8, 8]), aT), [b, 8, 8]);
  const left = tf.matMul(tf.reshape(tf.transpose(right, [0, 2, 1]), [b * 8, 8]), aT);
  return tf.transpose(tf.reshape(left, [b, 8, 8]), [0, 2, 1]) as tf.Tensor3D;
}

export function jpegCompress(x: tf.Tensor4D, quality: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    const m = tf.tensor2d(dctMatrix());
    const mT = tf.transpose(m) as tf.Tensor2D;
    let v: tf.Tensor4D = tf.mul(tf.clipByValue(x, 0, 1), 255);
    if (c === 3) {
      const toYcc = tf.tensor2d([
        [0.299, -0.168736, 0.5],
        [0.587, -0.331264, -0.418688],
        [0.114, 0.5, -0.081312],
      ]);
      v = tf.add(
        tf.reshape(tf.matMul(tf.reshape(v, [-1, 3]), toYcc), [n, h, w, 3]),
        tf.tensor1d([0, 128, 128]),
      );
    }
    const ph = (8 - (h % 8)) % 8;
    const pw = (8 - (w % 8)) % 8;
    const canReflect = ph < h && pw < w;
    const padded = canReflect
      ? tf.mirrorPad(
          v,
          [
            [0, 0],
            [0, ph],
            [0, pw],
            [0, 0],
          ],
          'reflect',
        )
      : tf.pad(v, [
          [0, 0],
          [0, ph],
          [0, pw],
          [0, 0],
        ]);
    const hb = (h + ph) / 8;
    const wb = (w + pw) / 8;
    const blocks = tf.reshape(
      tf.transpose(tf.reshape(tf.sub(padded, 128), [n, hb, 8, wb, 8, c]), [0, 1, 3, 5, 2, 4]),
      [-1, 8, 8],
    ) as tf.Tensor3D;
    const coeffs = tf.reshape(sandwich(blocks, mT), [n, hb, wb, c, 8, 8]);
    const tables = Array.from({ length: c }, (_, i) =>
      quantizationTable(c === 3 && i > 0 ? CHROMA : LUMA, quality),
    );
    const q = tf.reshape(tf.tensor1d(tables.flat()), [c, 8, 8]);
    const quantized = tf.reshape(tf.mul(tf.round(tf.div(coeffs, q)), q), [-1, 8, 8]) as tf.Tensor3D;
    const restoredBlocks = tf.reshape(sandwich(quantized, m), [n, hb, wb, c, 8, 8]);
    let out: tf.Tensor4D = tf.slice(
      tf.reshape(tf.transpose(restoredBlocks, [0, 1, 4, 2, 5, 3]), [n, hb * 8, wb * 8, c]),
      [0, 0, 0, 0],
      [n, h, w, c],
    ) as tf.Tensor4D;
    out = tf.add(out, 128);
    if (c === 3) {
      const toRgb = tf.tensor2d([
        [1, 1, 1],
        [0, -0.344136, 1.772],
        [1.402, -0.714136, 0],
      ]);
      out = tf.reshape(tf.matMul(tf.reshape(tf.sub(out, tf.tensor1d([0, 128, 128])), [-1, 3]), toRgb), [
        n,
        h,
        w,
        3,
      ]);
    }
    // Decoders round to 8-bit pixels.
    return tf.div(tf.round(tf.clipByValue(out, 0, 255)), 255) as tf.Tensor4D;
  });
}
