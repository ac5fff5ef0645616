import type { Rng } from '@robust-ft/core';

/**
 * Mild MNIST augmentation for pre-training: a random shift of up to ±2 px, and with probability 0.3 a
 * thicker stroke (3×3 max filter). Kept mild on purpose: the pre-trained model should be a decent,
 * not a shift-proof, starting point, as a web-scale backbone is.
 */
export function mildAugment(x: Float32Array, rng: Rng): void {
  const n = x.length / 784;
  const tmp = new Float32Array(784);
  for (let i = 0; i < n; i++) {
    const img = x.subarray(i * 784, (i + 1) * 784);
    const dx = rng.int(5) - 2;
    const dy = rng.int(5) - 2;
    const thick = rng.uniform() < 0.3;
    for (let r = 0; r < 28; r++) {
      for (let c = 0; c < 28; c++) {
        let v = 0;
        if (thick) {
          for (let a = -1; a <= 1; a++)
            for (let b = -1; b <= 1; b++) v = Math.max(v, at(img, r - dy + a, c - dx + b));
        } else {
          v = at(img, r - dy, c - dx);
        }
        tmp[r * 28 + c] = v;
      }
    }
    img.set(tmp);
  }
}

function at(img: Float32Array, r: number, c: number): number {
  return r < 0 || c < 0 || r >= 28 || c >= 28 ? 0 : (img[r * 28 + c] ?? 0);
}
