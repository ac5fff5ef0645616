import { createRng } from '@robust-ft/core';
import { assertInteger, invalidArgument } from '@robust-ft/core/internal';
import * as tf from '@tensorflow/tfjs-core';
import { assertImageBatch } from '../checks';
import { CORRUPTION_OPS, type CorruptionFamily, SEVERITY_PARAMETERS } from './families';

/** The 15 ImageNet-C families, in the benchmark's usual order (noise, blur, weather, digital). */
export const CORRUPTION_FAMILIES: readonly CorruptionFamily[] = Object.keys(
  SEVERITY_PARAMETERS,
) as CorruptionFamily[];

/** The Guide's 11-family portfolio (gaussian noise, glass blur, frost and fog are left out there). */
export const GUIDE_CORRUPTION_PORTFOLIO: readonly CorruptionFamily[] = [
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
];

/** True when `name` is one of `CORRUPTION_FAMILIES`. */
export function isCorruptionFamily(name: unknown): name is CorruptionFamily {
  // An own key: `in` would also accept inherited names such as 'toString' or 'constructor'.
  return typeof name === 'string' && Object.hasOwn(SEVERITY_PARAMETERS, name);
}

/**
 * Corrupts an image batch `[N, H, W, C]` with values in [0, 1] (C = 1 or 3) at severity 1–5. The same
 * seed gives the same result on every backend's random streams; the output is clipped to [0, 1].
 */
export function corrupt(x: tf.Tensor4D, family: CorruptionFamily, severity: number, seed = 0): tf.Tensor4D {
  assertImageBatch('x', x);
  if (!isCorruptionFamily(family))
    throw invalidArgument('family', `one of ${CORRUPTION_FAMILIES.join(', ')}`, family);
  if (!Number.isInteger(severity) || severity < 1 || severity > 5)
    throw invalidArgument('severity', 'an integer in [1, 5]', severity);
  assertInteger('seed', seed, 0);
  const channels = x.shape[3];
  if (channels !== 1 && channels !== 3)
    throw invalidArgument('x', 'images with 1 or 3 channels', `${channels} channels`);
  const rng = createRng(seed).fork(family);
  const scale = Math.min(x.shape[1], x.shape[2]) / 28;
  return tf.tidy(
    () =>
      tf.clipByValue(
        CORRUPTION_OPS[family](tf.cast(x, 'float32') as tf.Tensor4D, severity, rng, scale),
        0,
        1,
      ) as tf.Tensor4D,
  );
}
