import { RobustFtError } from '@robust-ft/core';
import { expectNoTensorLeaks } from '@robust-ft/core/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { quantizationTable } from '../src/corruptions/jpeg';
import { CORRUPTION_FAMILIES, corrupt, corruptionPreviewSvg } from '../src/index';
import './setup-backend';

// Two 28×28 test images: a ring (digit-like strokes) and a smooth gradient with a bright square.
const ring = Array.from({ length: 784 }, (_, i) => {
  const d = Math.hypot((i % 28) - 13.5, Math.floor(i / 28) - 13.5);
  return Math.max(0, 1 - Math.abs(d - 8) / 2.5);
});
const ramp = Array.from({ length: 784 }, (_, i) => {
  const [r, c] = [Math.floor(i / 28), i % 28];
  return r > 8 && r < 18 && c > 8 && c < 18 ? 0.9 : 0.2 + (0.4 * c) / 27;
});
const X = tf.keep(tf.tensor4d([...ring, ...ramp], [2, 28, 28, 1]));
const RGB = tf.keep(tf.tile(tf.mul(X, tf.tensor1d([1, 0.7, 0.4])), [1, 1, 1, 1]) as tf.Tensor4D);
const distortion = (a: tf.Tensor, b: tf.Tensor) =>
  tf.tidy(() => tf.mean(tf.abs(tf.sub(a, b))).dataSync()[0] as number);

describe('corruptions', () => {
  it('has the 15 ImageNet-C families', () => {
    expect(CORRUPTION_FAMILIES).toHaveLength(15);
  });

  for (const family of CORRUPTION_FAMILIES) {
    it(`${family}: shape, range, seeding, monotone severity, no leaks`, async () => {
      const distortions: number[] = [];
      for (let s = 1; s <= 5; s++) {
        const out = corrupt(X, family, s, 11);
        expect(out.shape).toEqual(X.shape);
        const [lo, hi] = tf.tidy(() => [
          tf.min(out).dataSync()[0] as number,
          tf.max(out).dataSync()[0] as number,
        ]);
        expect(lo).toBeGreaterThanOrEqual(0);
        expect(hi).toBeLessThanOrEqual(1);
        distortions.push(distortion(out, X));
        out.dispose();
      }
      // Severity is monotone in mean absolute distortion (same seed → same random pattern, scaled up).
      for (let s = 1; s < 5; s++)
        expect(distortions[s] as number).toBeGreaterThanOrEqual((distortions[s - 1] as number) * 0.98);
      expect(distortions[4] as number).toBeGreaterThan(distortions[0] as number);
      expect(distortions[0] as number).toBeGreaterThan(0);
      const a = corrupt(RGB, family, 3, 5);
      const b = corrupt(RGB, family, 3, 5);
      expect(distortion(a, b)).toBe(0);
      tf.dispose([a, b]);
      await expectNoTensorLeaks(() => corrupt(RGB, family, 2, 1), { repeats: 1, label: family });
    });
  }

  it('different seeds give different noise', () => {
    const a = corrupt(X, 'gaussian_noise', 3, 1);
    const b = corrupt(X, 'gaussian_noise', 3, 2);
    expect(distortion(a, b)).toBeGreaterThan(0);
    tf.dispose([a, b]);
  });

  it('JPEG quality scaling follows the IJG formula', () => {
    expect(quantizationTable([16, 11], 50)).toEqual([16, 11]);
    expect(quantizationTable([16, 11], 25)).toEqual([32, 22]);
    expect(quantizationTable([16], 100)).toEqual([1]);
  });

  it('rejects bad input with typed errors naming the argument', () => {
    const cases: Array<[() => unknown, string]> = [
      [() => corrupt(tf.zeros([0, 28, 28, 1]) as tf.Tensor4D, 'fog', 1), 'x'],
      [() => corrupt(X, 'fog', 6), 'severity'],
      [() => corrupt(X, 'rain' as never, 1), 'family'],
      [() => corrupt(tf.zeros([1, 8, 8, 2]) as tf.Tensor4D, 'fog', 1), 'x'],
    ];
    for (const [fn, argument] of cases) {
      try {
        fn();
        throw new Error('no error');
      } catch (e) {
        expect(RobustFtError.isInstance(e)).toBe(true);
        expect((e as RobustFtError).argument).toBe(argument);
      }
    }
  });

  it('preview sheet embeds one PNG per family × (clean + 5 severities)', async () => {
    const svg = await corruptionPreviewSvg(tf.slice(X, 0, 1), { families: ['fog', 'contrast'] });
    expect(svg.match(/<image /g)).toHaveLength(12);
    expect(svg).toContain('data:image/png;base64,iVBORw0KGgo');
  });
});
