import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { SEVERITY_PARAMETERS } from '../src/corruptions/families';
import { CORRUPTION_FAMILIES, corrupt } from '../src/index';
import './setup-backend';

/**
 * Severity s uses the s-th parameter set (issue #20: an index off by one made severities 4 and 5
 * identical, and the monotone-distortion test still passed).
 */
// 28 pixels, the size the spatial parameters are given for (smaller images round some of them together).
const image = tf.tidy(() => {
  const ramp = Array.from({ length: 28 * 28 }, (_, i) => ((i % 28) + Math.floor(i / 28)) / 60);
  return tf.tensor4d(ramp, [1, 28, 28, 1]);
});
const meanAbsDiff = (a: tf.Tensor, b: tf.Tensor) =>
  tf.tidy(() => tf.mean(tf.abs(tf.sub(a, b))).dataSync()[0]!);

describe('corruption severities', () => {
  for (const family of CORRUPTION_FAMILIES) {
    it(`${family}: every severity differs from the next (same seed)`, () => {
      const outs = [1, 2, 3, 4, 5].map((s) => corrupt(image, family, s, 3));
      for (let s = 0; s < 4; s++)
        expect(meanAbsDiff(outs[s]!, outs[s + 1]!), `severity ${s + 1}`).toBeGreaterThan(1e-4);
      tf.dispose(outs);
    });
  }

  it('contrast at severity s scales deviations from the mean by factor[s − 1]', () => {
    const values = Array.from(image.dataSync());
    const mean = values.reduce((a, v) => a + v, 0) / values.length;
    for (let s = 1; s <= 5; s++) {
      const factor = SEVERITY_PARAMETERS.contrast.factor[s - 1]!;
      const out = corrupt(image, 'contrast', s);
      const got = Array.from(out.dataSync());
      got.forEach((v, i) => {
        expect(v).toBeCloseTo((values[i]! - mean) * factor + mean, 5);
      });
      out.dispose();
    }
  });

  it('brightness at severity s raises the HSV value by shift[s − 1] (clipped at 1)', () => {
    const values = Array.from(image.dataSync());
    for (let s = 1; s <= 5; s++) {
      const shift = SEVERITY_PARAMETERS.brightness.shift[s - 1]!;
      const out = corrupt(image, 'brightness', s);
      const got = Array.from(out.dataSync());
      // One channel: V is the pixel itself, so V' = min(V + shift, 1) (a black pixel becomes grey V').
      got.forEach((v, i) => {
        expect(v).toBeCloseTo(Math.min(values[i]! + shift, 1), 5);
      });
      out.dispose();
    }
  });
});
