import { RobustFtError } from '@robust-ft/core';
import {
  addMany,
  assertInRange,
  assertNonNegative,
  invalidArgument,
  sameShape,
} from '@robust-ft/core/internal';
import * as tf from '@tensorflow/tfjs-core';
import { assertScores } from '../checks';

/** One model of `weightedEnsemble`: its logits `[N, K]`, weight and softmax temperature. */
export interface EnsembleMember {
  logits: tf.Tensor;
  /** Non-negative; weights are normalised to sum to 1. Default 1. */
  weight?: number;
  /** Softmax temperature applied before mixing probabilities. Default 1. */
  temperature?: number;
}

/**
 * Weighted average of several models' outputs, from their logits `[N, K]`. `'probabilities'` (default)
 * returns Σ w_m softmax(z_m / T_m); `'logits'` returns Σ w_m z_m / T_m (the VRF paper's logit-space
 * variant). Weights are normalised to sum to 1. Returns a new tensor; the inputs are not disposed.
 *
 * @example
 * ```ts
 * const p = weightedEnsemble([{ logits: zA }, { logits: zB, weight: 2, temperature: 1.5 }]);
 * ```
 */
export function weightedEnsemble(
  members: readonly EnsembleMember[],
  space: 'probabilities' | 'logits' = 'probabilities',
): tf.Tensor2D {
  if (members.length === 0) throw invalidArgument('members', 'at least one ensemble member', 0);
  const first = members[0] as EnsembleMember;
  assertScores('members[0].logits', first.logits);
  let total = 0;
  members.forEach((m, i) => {
    assertScores(`members[${i}].logits`, m.logits);
    if (!sameShape(m.logits.shape, first.logits.shape)) {
      throw new RobustFtError(
        'SHAPE_MISMATCH',
        `members[${i}].logits has shape [${m.logits.shape}], expected [${first.logits.shape}]`,
        {
          argument: `members[${i}].logits`,
        },
      );
    }
    assertNonNegative(`members[${i}].weight`, m.weight ?? 1);
    if (!((m.temperature ?? 1) > 0))
      throw invalidArgument(`members[${i}].temperature`, 'a number > 0', m.temperature);
    total += m.weight ?? 1;
  });
  if (!(total > 0)) throw invalidArgument('members', 'weights with a positive sum', total);
  return tf.tidy(() => {
    const parts = members.map((m) => {
      const z = tf.div(m.logits, m.temperature ?? 1);
      return tf.mul(space === 'logits' ? z : tf.softmax(z), (m.weight ?? 1) / total);
    });
    return addMany(parts) as tf.Tensor2D;
  });
}

/**
 * Interpolates a zero-shot and a fine-tuned model's class probabilities with one fixed weight α ∈ [0, 1]:
 * p = (1 − α)·softmax(z_zs) + α·softmax(z_ft), without temperature scaling — the output-space ensemble
 * (OSE) baseline of VRF's `baselines.py`. α = 0 is the zero-shot model, α = 1 the fine-tuned one. For a
 * per-sample weight, use `fitVrf`/`vrfPredict`; to interpolate weights instead of outputs, `wiseFt`.
 */
export function interpolateProbabilities(
  zeroShotLogits: tf.Tensor,
  fineTunedLogits: tf.Tensor,
  alpha: number,
): tf.Tensor2D {
  assertInRange('alpha', alpha, 0, 1);
  return weightedEnsemble([
    { logits: zeroShotLogits, weight: 1 - alpha },
    { logits: fineTunedLogits, weight: alpha },
  ]);
}

/** @deprecated Renamed `weightedEnsemble` (same arguments, same result); this alias goes in 1.0. */
export const outputEnsemble: typeof weightedEnsemble = weightedEnsemble;

/** @deprecated Renamed `interpolateProbabilities` (same arguments, same result); this alias goes in 1.0. */
export const outputSpaceEnsemble: typeof interpolateProbabilities = interpolateProbabilities;
