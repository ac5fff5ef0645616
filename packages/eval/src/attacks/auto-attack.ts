import { createRng, RobustFtError } from '@robust-ft/core';
import { assertInteger } from '@robust-ft/core/internal';
import * as tf from '@tensorflow/tfjs-core';
import type { Labels } from '../checks';
import { type ApgdObjective, randomStart, runApgd } from './apgd-core';
import {
  type ApgdNorm,
  assertKnownOptions,
  checkSteps,
  crossEntropyPerSample,
  type LogitsModel,
  numClasses,
  oneHotTargets,
  type ResolvedBudget,
  resolveBudget,
} from './attack-common';
import { dlrTargetedLossPerSample, rankedClass } from './dlr';

/** The attacks of the ensemble: APGD on the cross-entropy, and targeted APGD on the DLR loss (APGD-T). */
export type AutoAttackName = 'apgd-ce' | 'apgd-dlr-t';

/** Options of `autoAttack`. */
export interface AutoAttackOptions {
  /** `'linf'`, `'l2'` or `'l1'` (then both attacks run as APGD-L1). Required. */
  norm: ApgdNorm;
  /** Budget in pixel scale of the inputs. Required. */
  epsilon: number;
  /** Valid input range. Default [0, 1]. */
  range?: readonly [number, number];
  /** Attacks, run in this order, each only on samples every earlier one failed on. Default both. */
  attacks?: readonly AutoAttackName[];
  /** Iterations per attack run. Default 100 (AutoAttack standard). */
  steps?: number;
  /** APGD-T target classes (ranks 2…targets+1 of the clean logits), capped at K − 1. Default 9. */
  targets?: number;
  /** Random restarts of APGD-CE. Default 1. */
  restarts?: number;
  /** Samples per forward/backward batch. Default 256. */
  batchSize?: number;
  /** Seeds the random starts. Default 0. */
  seed?: number;
}

/** Defaults of `autoAttack`: the standard pair APGD-CE then targeted APGD-DLR, 100 steps. */
export const AUTO_ATTACK_DEFAULTS = {
  range: [0, 1] as readonly [number, number],
  attacks: ['apgd-ce', 'apgd-dlr-t'] as readonly AutoAttackName[],
  steps: 100,
  targets: 9,
  restarts: 1,
  batchSize: 256,
  seed: 0,
} as const;

/** What `autoAttack` measured: clean and robust accuracy, robustness per sample, and after each attack. */
export interface AutoAttackResult {
  samples: number;
  cleanAccuracy: number;
  /** Fraction of samples classified correctly and not fooled by any attack. */
  robustAccuracy: number;
  /** Per sample: 1 if robust (correct on x and on every iterate of every attack), else 0. */
  robust: Uint8Array;
  /** Robust accuracy after each attack, in order — non-increasing. */
  afterEach: Array<{ attack: AutoAttackName; robustAccuracy: number }>;
}

const KEYS = ['norm', 'epsilon', 'range', 'attacks', 'steps', 'targets', 'restarts', 'batchSize', 'seed'];

/**
 * AutoAttack-style robust accuracy (Croce & Hein 2020): a sample counts as robust only if it is classified
 * correctly and every attack of the ensemble fails on it — APGD-CE, then APGD-T (targeted DLR) over the
 * top `targets` wrong classes, each run only on the samples still robust. An attack succeeds on a sample
 * if any of its iterates (all inside the budget and the range) is misclassified.
 *
 * Seeded and batched: random starts are drawn per batch for all its rows and then restricted to the rows
 * still attacked, so a sample's result does not depend on which other samples earlier attacks removed —
 * the ensemble's robust set is exactly the intersection of its members' robust sets. Per-sample masks are
 * read with `await data()`, never synchronously; every tensor is disposed.
 */
export async function autoAttack(
  model: LogitsModel,
  x: tf.Tensor,
  y: Labels,
  options: AutoAttackOptions,
): Promise<AutoAttackResult> {
  assertKnownOptions('options', options, KEYS);
  const budget = resolveBudget(options, ['linf', 'l2', 'l1']);
  const o = { ...AUTO_ATTACK_DEFAULTS, ...options };
  checkSteps('options.steps', o.steps);
  assertInteger('options.targets', o.targets, 1);
  assertInteger('options.restarts', o.restarts, 1);
  assertInteger('options.batchSize', o.batchSize, 1);
  assertInteger('options.seed', o.seed, 0);
  if (!Array.isArray(o.attacks) || o.attacks.length === 0 || o.attacks.some((a) => !KNOWN.includes(a)))
    throw new RobustFtError(
      'INVALID_ARGUMENT',
      `options.attacks must be a non-empty list of ${KNOWN.join(', ')}`,
      {
        argument: 'options.attacks',
        expected: `a non-empty list of ${KNOWN.join(', ')}`,
      },
    );
  const k = numClasses(model, x);
  if (o.attacks.includes('apgd-dlr-t') && k < 4)
    throw new RobustFtError(
      'INVALID_ARGUMENT',
      `options.attacks: apgd-dlr-t needs K ≥ 4 classes, the model has ${k}`,
      {
        argument: 'options.attacks',
        expected: "['apgd-ce'] for models with fewer than 4 classes",
      },
    );
  const targets = oneHotTargets(model, x, y);
  const n = x.shape[0] as number;
  const robust = new Uint8Array(n);
  const fooledBy = o.attacks.map(() => 0);
  let clean = 0;
  try {
    for (let b0 = 0; b0 < n; b0 += o.batchSize) {
      const size = Math.min(o.batchSize, n - b0);
      const xb = tf.slice(x, b0, size);
      const tb = tf.slice(targets, b0, size);
      try {
        const correct = tf.tidy(() => tf.equal(tf.argMax(model(xb), 1), tf.argMax(tb, 1)));
        const mask = await correct.data();
        correct.dispose();
        for (let i = 0; i < size; i++) robust[b0 + i] = mask[i] ? 1 : 0;
        for (let i = 0; i < size; i++) clean += robust[b0 + i] as number;
        const rng = createRng(o.seed).fork(`batch ${b0}`);
        for (const [a, attack] of o.attacks.entries()) {
          const runs = attack === 'apgd-ce' ? o.restarts : Math.min(o.targets, k - 1);
          for (let r = 0; r < runs; r++) {
            const seed = rng.fork(`${attack} ${r}`).nextUint32();
            fooledBy[a] =
              (fooledBy[a] as number) +
              (await attackRobustRows(model, xb, tb, robust, b0, {
                budget,
                steps: o.steps,
                seed,
                targetRank: attack === 'apgd-ce' ? undefined : r + 2,
              }));
          }
        }
      } finally {
        tf.dispose([xb, tb]);
      }
    }
  } finally {
    targets.dispose();
  }
  let left = 0;
  for (let i = 0; i < n; i++) left += robust[i] as number;
  const afterEach: AutoAttackResult['afterEach'] = [];
  let remaining = clean;
  for (const [a, attack] of o.attacks.entries()) {
    remaining -= fooledBy[a] as number;
    afterEach.push({ attack, robustAccuracy: remaining / n });
  }
  return { samples: n, cleanAccuracy: clean / n, robustAccuracy: left / n, robust, afterEach };
}

const KNOWN: readonly AutoAttackName[] = ['apgd-ce', 'apgd-dlr-t'];

/**
 * Runs one APGD pass on the rows of the batch still marked robust, clears the rows it fooled, and returns
 * how many it fooled.
 */
async function attackRobustRows(
  model: LogitsModel,
  xb: tf.Tensor,
  tb: tf.Tensor,
  robust: Uint8Array,
  offset: number,
  run: { budget: ResolvedBudget<ApgdNorm>; steps: number; seed: number; targetRank: number | undefined },
): Promise<number> {
  const rows: number[] = [];
  for (let i = 0; i < (xb.shape[0] as number); i++) if (robust[offset + i]) rows.push(i);
  if (rows.length === 0) return 0;
  const index = tf.tensor1d(rows, 'int32');
  // Drawn for the whole batch, then restricted: a row's start does not depend on which rows remain.
  const fullStart = randomStart(xb, run.budget, run.seed);
  const xs = tf.gather(xb, index);
  const ts = tf.gather(tb, index);
  const start = tf.gather(fullStart, index);
  const labels = tf.tidy(() => tf.cast(tf.argMax(ts, 1), 'int32') as tf.Tensor1D);
  const targetClasses =
    run.targetRank === undefined
      ? undefined
      : tf.tidy(() => rankedClass(model(xs), run.targetRank as number));
  const objective: ApgdObjective = targetClasses
    ? (logits) => dlrTargetedLossPerSample(logits, ts, targetClasses)
    : (logits) => crossEntropyPerSample(logits, ts);
  try {
    const { best, fooled } = runApgd({
      model,
      x: xs,
      labels,
      objective,
      budget: run.budget,
      steps: run.steps,
      start,
    });
    best.dispose();
    const flags = await fooled.data();
    fooled.dispose();
    let count = 0;
    rows.forEach((row, j) => {
      if (flags[j]) {
        robust[offset + row] = 0;
        count++;
      }
    });
    return count;
  } finally {
    tf.dispose([index, fullStart, xs, ts, start, labels, ...(targetClasses ? [targetClasses] : [])]);
  }
}
