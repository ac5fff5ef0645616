import { type ApgdNorm, autoAttack, type CorruptionFamily, corrupt } from '@robust-ft/eval';
import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/datasets';

export interface RobustEval {
  /** Samples attacked (a fixed, seeded subset of the ID test set). */
  images: number;
  steps: number;
  targets: number;
  seed: number;
}

/** The attacked measurements of one model: AutoAttack-style robust accuracy per norm, both budgets. */
export interface RobustScores {
  linf: number;
  l2: number;
  l1: number;
  linfStrong: number;
  l2Strong: number;
  l1Strong: number;
}

/**
 * The Guide's corruption measurement: every test image gets one corruption type at one severity, types
 * assigned in contiguous index blocks (as the Guide's loader does), each block with its own seed.
 */
export async function mixedCorruptions(
  test: Dataset,
  families: readonly CorruptionFamily[],
  severity: number,
  seed: number,
): Promise<Dataset> {
  const x = new Float32Array(test.x.length);
  const block = Math.ceil(test.n / families.length);
  for (const [f, family] of families.entries()) {
    const lo = f * block;
    const hi = Math.min(test.n, lo + block);
    if (hi <= lo) continue;
    const out = tf.tidy(() =>
      corrupt(
        tf.tensor4d(test.x.subarray(lo * 784, hi * 784), [hi - lo, 28, 28, 1]),
        family,
        severity,
        seed * 100 + f,
      ),
    );
    x.set(await out.data(), lo * 784);
    out.dispose();
  }
  return { name: `${test.name}-corrupted`, x, y: test.y, n: test.n };
}

/**
 * AutoAttack-style robust accuracy of the classifier `logits` (28×28×1 pixels → logits, in inference mode)
 * on the fixed subset `data` (APGD-CE, then APGD-T, each on the samples still standing), for every norm at
 * its scaled budget and at `strongFactor` times it.
 */
export async function robustScores(
  logits: (x: tf.Tensor) => tf.Tensor2D,
  data: Dataset,
  epsilons: Record<ApgdNorm, number>,
  strongFactor: number,
  r: RobustEval,
): Promise<RobustScores> {
  const x = tf.tensor4d(data.x, [data.n, 28, 28, 1]);
  const y = Array.from(data.y);
  const robust = async (norm: ApgdNorm, epsilon: number) =>
    (
      await autoAttack(logits, x, y, {
        norm,
        epsilon,
        steps: r.steps,
        targets: r.targets,
        batchSize: r.images,
        seed: r.seed,
      })
    ).robustAccuracy;
  try {
    return {
      linf: await robust('linf', epsilons.linf),
      l2: await robust('l2', epsilons.l2),
      l1: await robust('l1', epsilons.l1),
      linfStrong: await robust('linf', epsilons.linf * strongFactor),
      l2Strong: await robust('l2', epsilons.l2 * strongFactor),
      l1Strong: await robust('l1', epsilons.l1 * strongFactor),
    };
  } finally {
    x.dispose();
  }
}
