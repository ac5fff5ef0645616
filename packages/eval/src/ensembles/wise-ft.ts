import {
  type NamedTensorMap,
  type NamedTensorSource,
  RobustFtError,
  toNamedTensorMap,
} from '@robust-ft/core';
import { assertInRange, assertNonNegative, sameShape } from '@robust-ft/core/internal';
import * as tf from '@tensorflow/tfjs-core';
import { checkEvalOptions } from '../option-schemas';

/** Options of `wiseFt`. */
export interface WiseFtOptions {
  /**
   * Fisher information per weight for θ0 and θ1 (Matena & Raffel's Fisher merging). A name must be in both
   * maps or in neither; a name in neither gets a Fisher of 1 (plain interpolation for that tensor).
   */
  fishers?: readonly [NamedTensorSource, NamedTensorSource];
  /** Lower bound on each Fisher value, so a zero Fisher cannot zero a denominator. Default 1e-8. */
  fisherFloor?: number;
}

/**
 * WiSE-FT weight-space ensemble (wise-ft `_merge`): θ = (1 − α)·θ0 + α·θ1 for every name, where θ0 is the
 * zero-shot / pre-trained model and θ1 the fine-tuned one. With `fishers`: c0 = (1 − α)·max(F0, floor),
 * c1 = α·max(F1, floor), θ = (c0·θ0 + c1·θ1)/(c0 + c1); α = 0 and α = 1 still return θ0 and θ1 exactly.
 * Integer tensors (counters) are not interpolated: θ1's value is kept. Returns new tensors; inputs are not
 * disposed. `toNamedTensorMap` accepts a layers model, so `wiseFt(zeroShot, fineTuned, 0.5)` works on models.
 */
export function wiseFt(
  theta0: NamedTensorSource,
  theta1: NamedTensorSource,
  alpha: number,
  options: WiseFtOptions = {},
): NamedTensorMap {
  checkEvalOptions('wiseFt', 'wiseFt', options);
  assertInRange('alpha', alpha, 0, 1);
  const { fishers, fisherFloor = 1e-8 } = options;
  assertNonNegative('options.fisherFloor', fisherFloor);
  const a = toNamedTensorMap(theta0);
  const b = toNamedTensorMap(theta1);
  const names = Object.keys(a);
  if (names.length === 0) {
    throw new RobustFtError('INVALID_ARGUMENT', 'theta0 has no weights', {
      argument: 'theta0',
      expected: 'a non-empty weight map',
    });
  }
  for (const name of Object.keys(b)) {
    if (!(name in a)) {
      throw new RobustFtError('STATE_MISMATCH', `theta1 has weight "${name}" that theta0 lacks`, {
        argument: `theta1["${name}"]`,
        expected: 'the same weight names as theta0',
      });
    }
  }
  const f0 = fishers ? toNamedTensorMap(fishers[0]) : undefined;
  const f1 = fishers ? toNamedTensorMap(fishers[1]) : undefined;
  for (const name of names) {
    const x = a[name] as tf.Tensor;
    const y = b[name];
    if (y === undefined) {
      throw new RobustFtError('STATE_MISMATCH', `theta1 lacks weight "${name}"`, {
        argument: `theta1["${name}"]`,
        expected: 'the same weight names as theta0',
      });
    }
    if (!sameShape(x.shape, y.shape)) {
      throw new RobustFtError(
        'SHAPE_MISMATCH',
        `theta1["${name}"] has shape [${y.shape}], theta0 has [${x.shape}]`,
        {
          argument: `theta1["${name}"]`,
          expected: `shape [${x.shape}]`,
        },
      );
    }
    if (f0 && f1 && name in f0 !== name in f1) {
      throw new RobustFtError('STATE_MISMATCH', `weight "${name}" has a Fisher in one map only`, {
        argument: `options.fishers[${name in f0 ? 1 : 0}]["${name}"]`,
        expected: 'a Fisher for both models or for neither',
      });
    }
  }
  const out: NamedTensorMap = {};
  for (const name of names) {
    const x = a[name] as tf.Tensor;
    const y = b[name] as tf.Tensor;
    out[name] = tf.tidy(() => {
      if (x.dtype !== 'float32' || y.dtype !== 'float32') return tf.clone(y);
      const fa = f0?.[name];
      const fb = f1?.[name];
      if (!fa || !fb) return tf.add(tf.mul(1 - alpha, x), tf.mul(alpha, y));
      const c0 = tf.mul(1 - alpha, tf.maximum(fa, fisherFloor));
      const c1 = tf.mul(alpha, tf.maximum(fb, fisherFloor));
      return tf.div(tf.add(tf.mul(c0, x), tf.mul(c1, y)), tf.add(c0, c1));
    });
  }
  return out;
}
