import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { SEVERITY_PARAMETERS } from '../src/corruptions/families';
import { corrupt } from '../src/index';
import './setup-backend';

/**
 * What each corruption does, checked against independent formulas or statistics (issue #20: the
 * shape/range/monotone tests let most arithmetic in the families change unnoticed).
 */
const read = (t: tf.Tensor) => Array.from(t.dataSync());
const mean = (xs: number[]) => xs.reduce((a, v) => a + v, 0) / xs.length;

/** The same smooth picture (a soft ring on a ramp) rendered at `size` pixels. */
function picture(size: number): tf.Tensor4D {
  const values: number[] = [];
  for (let r = 0; r < size; r++) {
    for (let c = 0; c < size; c++) {
      const u = (c + 0.5) / size;
      const v = (r + 0.5) / size;
      const d = Math.hypot(u - 0.5, v - 0.5);
      values.push(0.15 + 0.3 * u + 0.5 * Math.exp(-(((d - 0.28) / 0.06) ** 2)));
    }
  }
  return tf.tensor4d(values, [1, size, size, 1]);
}

describe('spatial parameters scale with the image (given in pixels of a 28-pixel image)', () => {
  const small = picture(28);
  const large = picture(56);
  for (const family of [
    'defocus_blur',
    'glass_blur',
    'motion_blur',
    'snow',
    'elastic_transform',
    'pixelate',
  ] as const) {
    it(`${family}: the same picture at 28 and 56 pixels is distorted about equally`, () => {
      const d = (x: tf.Tensor4D) => {
        const out = corrupt(x, family, 4, 2);
        const v = tf.tidy(() => tf.mean(tf.abs(tf.sub(out, x))).dataSync()[0]!);
        out.dispose();
        return v;
      };
      const ratio = d(large) / d(small);
      expect(ratio).toBeGreaterThan(0.4);
      expect(ratio).toBeLessThan(2.5);
    });
  }

  it('pixelate at 56 pixels, severity 1, fills 4×4 blocks with their means', () => {
    const x = picture(56);
    const out = read(corrupt(x, 'pixelate', 1));
    const src = read(x);
    for (const [br, bc] of [
      [0, 0],
      [3, 5],
      [13, 13],
    ] as const) {
      let sum = 0;
      for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) sum += src[(br * 4 + r) * 56 + bc * 4 + c]!;
      for (let r = 0; r < 4; r++)
        for (let c = 0; c < 4; c++) expect(out[(br * 4 + r) * 56 + bc * 4 + c]).toBeCloseTo(sum / 16, 5);
    }
  });
});

describe('impulse noise', () => {
  it('sets about amount/2 of the pixels to 0 and amount/2 to 1', () => {
    const x = tf.fill([1, 100, 100, 1], 0.5) as tf.Tensor4D;
    for (const s of [1, 5]) {
      const amount = SEVERITY_PARAMETERS.impulse_noise.amount[s - 1]!;
      const out = read(corrupt(x, 'impulse_noise', s, 4));
      const zeros = out.filter((v) => v === 0).length / out.length;
      const ones = out.filter((v) => v === 1).length / out.length;
      expect(Math.abs(zeros - amount / 2)).toBeLessThan(0.01);
      expect(Math.abs(ones - amount / 2)).toBeLessThan(0.01);
      expect(out.every((v) => v === 0 || v === 1 || v === 0.5)).toBe(true);
    }
  });
});

describe('zoom blur', () => {
  it('maps a linear ramp to a ramp whose slope is the mean of 1/z over the zooms 1, 1+step, … < max', () => {
    const w = 32;
    const slope = 0.02;
    const ramp = Array.from({ length: w * w }, (_, i) => 0.2 + slope * (i % w));
    const x = tf.tensor4d(ramp, [1, w, w, 1]);
    for (let s = 1; s <= 5; s++) {
      const { maxZoom, step } = SEVERITY_PARAMETERS.zoom_blur;
      const zooms = [1];
      for (let k = 1; 1 + k * step[s - 1]! < maxZoom[s - 1]! - 1e-6; k++) zooms.push(1 + k * step[s - 1]!);
      const factor = mean(zooms.map((z) => 1 / z));
      const out = read(corrupt(x, 'zoom_blur', s));
      const c = (w - 1) / 2;
      for (const col of [0, 7, 16, 31]) {
        const want = 0.2 + slope * c + slope * (col - c) * factor;
        expect(out[5 * w + col]).toBeCloseTo(want, 4);
      }
    }
  });
});

describe('brightness on colour images', () => {
  it('raises the HSV value max(r, g, b) by the shift and keeps the channel ratios (hue, saturation)', () => {
    const rgb = [0.2, 0.4, 0.1, 0.5, 0.25, 0.3, 0.9, 0.6, 0.3, 0.05, 0.1, 0.02];
    const x = tf.tensor4d(rgb, [1, 2, 2, 3]);
    const shift = SEVERITY_PARAMETERS.brightness.shift[2]!;
    const out = read(corrupt(x, 'brightness', 3));
    for (let p = 0; p < 4; p++) {
      const px = rgb.slice(3 * p, 3 * p + 3);
      const v = Math.max(...px);
      const target = Math.min(v + shift, 1);
      px.forEach((ch, k) => {
        expect(out[3 * p + k]).toBeCloseTo((ch * target) / v, 5);
      });
    }
  });
});

describe('fog', () => {
  it('brightens dark pixels and never exceeds the image maximum', () => {
    const values = Array.from({ length: 28 * 28 }, (_, i) => (i % 28 < 14 ? 0 : 0.8));
    const x = tf.tensor4d(values, [1, 28, 28, 1]);
    const out = read(corrupt(x, 'fog', 3, 1));
    const dark = out.filter((_, i) => values[i] === 0);
    expect(mean(dark)).toBeGreaterThan(0.1);
    expect(Math.max(...out)).toBeLessThanOrEqual(0.8 + 1e-6);
  });
});

describe('snow', () => {
  it('adds bright flakes on top of the whitened image', () => {
    const x = tf.fill([1, 56, 56, 1], 0.1) as tf.Tensor4D;
    for (const s of [1, 5]) {
      const keep = SEVERITY_PARAMETERS.snow.keep[s - 1]!;
      const whitened = 0.1 * keep + 0.65 * (1 - keep);
      const out = read(corrupt(x, 'snow', s, 3));
      const lifted = out.filter((v) => v > whitened + 0.05).length / out.length;
      expect(Math.min(...out)).toBeCloseTo(whitened, 5);
      const share = SEVERITY_PARAMETERS.snow.flakeShare[s - 1]!;
      expect(lifted).toBeGreaterThan(share);
      expect(lifted).toBeLessThan(12 * share);
    }
  });
});
