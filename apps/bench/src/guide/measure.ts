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

export interface CellScores {
  clean: number;
  linf: number;
  l2: number;
  l1: number;
  corruptions: number;
  linfStrong: number;
  l2Strong: number;
  l1Strong: number;
}

export interface EvalData {
  /** The ID test set (clean accuracy). */
  test: Dataset;
  /** The test set with one corruption per image (see `mixedCorruptions`). */
  corrupted: Dataset;
  /** The attacked subset. */
  robust: Dataset;
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

async function accuracy(model: tf.LayersModel, ds: Dataset, batch = 512): Promise<number> {
  let ok = 0;
  for (let i = 0; i < ds.n; i += batch) {
    const m = Math.min(batch, ds.n - i);
    const pred = tf.tidy(() =>
      tf.argMax(
        model.predict(tf.tensor4d(ds.x.subarray(i * 784, (i + m) * 784), [m, 28, 28, 1])) as tf.Tensor,
        1,
      ),
    );
    const p = await pred.data();
    pred.dispose();
    for (let j = 0; j < m; j++) if (p[j] === ds.y[i + j]) ok++;
  }
  return ok / ds.n;
}

/** Clean, corruption and AutoAttack-style robust accuracy (both budgets of every norm) of one model. */
export async function measureCell(
  model: tf.LayersModel,
  data: EvalData,
  epsilons: Record<ApgdNorm, number>,
  strongFactor: number,
  r: RobustEval,
): Promise<CellScores> {
  const logits = (v: tf.Tensor) => model.predict(v) as tf.Tensor2D;
  const x = tf.tensor4d(data.robust.x, [data.robust.n, 28, 28, 1]);
  const y = Array.from(data.robust.y);
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
      clean: await accuracy(model, data.test),
      corruptions: await accuracy(model, data.corrupted),
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
