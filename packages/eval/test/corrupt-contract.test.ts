import { RobustFtError } from '@robust-ft/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { CORRUPTION_FAMILIES, corrupt, GUIDE_CORRUPTION_PORTFOLIO, isCorruptionFamily } from '../src/index';
import './setup-backend';

const ALL = [
  'gaussian_noise',
  'shot_noise',
  'impulse_noise',
  'defocus_blur',
  'glass_blur',
  'motion_blur',
  'zoom_blur',
  'snow',
  'frost',
  'fog',
  'brightness',
  'contrast',
  'elastic_transform',
  'pixelate',
  'jpeg_compression',
];
const x8 = tf.keep(
  tf.tensor4d(
    Array.from({ length: 64 }, (_, i) => (i % 9) / 8),
    [1, 8, 8, 1],
  ),
);
const read = (t: tf.Tensor) => {
  const v = Array.from(t.dataSync());
  t.dispose();
  return v;
};

function caught(fn: () => unknown): RobustFtError {
  try {
    fn();
  } catch (e) {
    expect(RobustFtError.isInstance(e)).toBe(true);
    return e as RobustFtError;
  }
  throw new Error('no error thrown');
}

describe('corruption families', () => {
  it('lists the 15 ImageNet-C families in the benchmark order and the Guide portfolio of 11', () => {
    expect(CORRUPTION_FAMILIES).toEqual(ALL);
    expect(GUIDE_CORRUPTION_PORTFOLIO).toEqual([
      'shot_noise',
      'impulse_noise',
      'defocus_blur',
      'motion_blur',
      'zoom_blur',
      'snow',
      'brightness',
      'contrast',
      'elastic_transform',
      'pixelate',
      'jpeg_compression',
    ]);
  });

  it('isCorruptionFamily accepts exactly the family names (not inherited object keys)', () => {
    for (const f of ALL) expect(isCorruptionFamily(f)).toBe(true);
    for (const name of [
      'toString',
      'constructor',
      '__proto__',
      'hasOwnProperty',
      'rain',
      '',
      42,
      ['fog'], // its String() is a family name
      { toString: () => 'fog' },
      null,
      undefined,
      {},
    ])
      expect(isCorruptionFamily(name), String(name)).toBe(false);
  });
});

describe('corrupt arguments', () => {
  it('names the family argument and lists the families', () => {
    for (const family of ['rain', 'toString', 'constructor']) {
      const e = caught(() => corrupt(x8, family as never, 1));
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.argument).toBe('family');
      expect(e.expected).toBe(`one of ${ALL.join(', ')}`);
      expect(e.message).toBe(`family must be one of ${ALL.join(', ')} (received ${JSON.stringify(family)})`);
    }
  });

  it('takes severities 1 to 5, integers only', () => {
    for (const severity of [0, 6, 2.5, -1, Number.NaN]) {
      const e = caught(() => corrupt(x8, 'contrast', severity));
      expect(e.argument).toBe('severity');
      expect(e.expected).toBe('an integer in [1, 5]');
      expect(e.message).toBe(`severity must be an integer in [1, 5] (received ${severity})`);
    }
    for (const severity of [1, 5]) read(corrupt(x8, 'contrast', severity));
  });

  it('takes a non-negative integer seed, 0 by default', () => {
    for (const seed of [-1, 1.5]) {
      const e = caught(() => corrupt(x8, 'gaussian_noise', 1, seed));
      expect(e.argument).toBe('seed');
      expect(e.expected).toBe('an integer >= 0');
    }
    const byDefault = read(corrupt(x8, 'gaussian_noise', 1));
    expect(byDefault).toEqual(read(corrupt(x8, 'gaussian_noise', 1, 0)));
    expect(byDefault).not.toEqual(read(corrupt(x8, 'gaussian_noise', 1, 1)));
  });

  it('takes [N, H, W, C] images with 1 or 3 channels', () => {
    for (const c of [2, 4]) {
      const e = caught(() => corrupt(tf.zeros([1, 4, 4, c]) as tf.Tensor4D, 'contrast', 1));
      expect(e.argument).toBe('x');
      expect(e.expected).toBe('images with 1 or 3 channels');
      expect(e.message).toBe(`x must be images with 1 or 3 channels (received "${c} channels")`);
    }
    expect(caught(() => corrupt(tf.zeros([4, 4, 1]) as never, 'contrast', 1)).argument).toBe('x');
    expect(caught(() => corrupt(tf.zeros([0, 4, 4, 1]) as tf.Tensor4D, 'contrast', 1)).argument).toBe('x');
    expect(read(corrupt(tf.zeros([1, 4, 4, 3]) as tf.Tensor4D, 'contrast', 1))).toHaveLength(48);
  });
});

describe('corrupt computation', () => {
  it('scales spatial parameters by min(H, W)/28: a 28 × 56 image pixelates in 2-pixel blocks at severity 1', () => {
    const values = Array.from({ length: 28 * 56 }, (_, i) => ((i * 13) % 29) / 28);
    const out = read(corrupt(tf.tensor4d(values, [1, 28, 56, 1]), 'pixelate', 1));
    for (const [r, c] of [
      [0, 0],
      [10, 30],
      [26, 54],
    ] as const) {
      const mean =
        (values[r * 56 + c]! +
          values[r * 56 + c + 1]! +
          values[(r + 1) * 56 + c]! +
          values[(r + 1) * 56 + c + 1]!) /
        4;
      expect(out[r * 56 + c]).toBeCloseTo(mean, 5);
      expect(out[(r + 1) * 56 + c + 1]).toBeCloseTo(mean, 5);
    }
  });

  it('casts integer images to float32 and clips the result to [0, 1]', () => {
    const ints = tf.tensor4d([0, 1, 1, 0], [1, 2, 2, 1], 'int32');
    const out = corrupt(ints, 'contrast', 1);
    expect(out.dtype).toBe('float32');
    // mean 0.5, factor 0.4: 0.5 ± 0.2.
    const got = read(out);
    [0.3, 0.7, 0.7, 0.3].forEach((v, i) => {
      expect(got[i]).toBeCloseTo(v, 6);
    });
    // Strong noise on mid-grey: clipped exactly at 0 and 1 somewhere, never beyond.
    const noisy = read(corrupt(tf.fill([1, 16, 16, 1], 0.5) as tf.Tensor4D, 'gaussian_noise', 5, 2));
    expect(Math.min(...noisy)).toBe(0);
    expect(Math.max(...noisy)).toBe(1);
  });
});
