import { RobustFtError } from '@robust-ft/core';
import { assertInteger } from '@robust-ft/core/internal';
import * as tf from '@tensorflow/tfjs-core';
import type { Labels } from '../checks';
import { randomStart, runApgd } from './apgd-core';
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

/** Options every APGD attack takes: the budget, the input range, steps and the random start. */
export interface ApgdCommonOptions {
  /** Perturbation budget in pixel scale of the inputs (e.g. 4/255 for L∞, 0.5 for L2 on [0, 1] images). */
  epsilon: number;
  /** Valid input range; adversarial inputs never leave it. Default [0, 1]. */
  range?: readonly [number, number];
  /** Iterations. */
  steps?: number;
  /** Start from AutoAttack's random point in the ball instead of x. */
  randomStart?: boolean;
  /** Seeds the random start. Default 0. */
  seed?: number;
}

/** Options of `apgdCe`. */
export interface ApgdOptions extends ApgdCommonOptions {
  /** `'linf'` (default), `'l2'` or `'l1'` (APGD-L1). */
  norm?: ApgdNorm;
  /** Default 10 (the Guide's training attack). */
  steps?: number;
  /** Default false (the Guide's training attack has none). */
  randomStart?: boolean;
}

/** Options of `apgdDlrTargeted`. */
export interface ApgdDlrTargetedOptions extends ApgdCommonOptions {
  /** Default `'linf'`. */
  norm?: ApgdNorm;
  /** Default 100 (AutoAttack). */
  steps?: number;
  /** Default true (AutoAttack). */
  randomStart?: boolean;
  /**
   * Which class to push towards: the one ranked `targetRank` by the clean logits (2 = the strongest other
   * class for a correctly classified sample). Default 2; AutoAttack loops ranks 2…10.
   */
  targetRank?: number;
}

/** Options of `apgdL1`. */
export interface ApgdL1Options extends ApgdCommonOptions {
  /** Default 100 (AutoAttack). */
  steps?: number;
  /** Default true (AutoAttack). */
  randomStart?: boolean;
}

const COMMON_KEYS = ['epsilon', 'range', 'steps', 'randomStart', 'seed'] as const;
/** Defaults of `apgdCe`: 10 steps from the clean input, L∞ (the Guide's training attack). */
export const APGD_DEFAULTS = { steps: 10, randomStart: false, seed: 0, norm: 'linf' } as const;
/** Defaults of `apgdDlrTargeted`: AutoAttack's settings. */
export const APGD_DLR_TARGETED_DEFAULTS = {
  steps: 100,
  randomStart: true,
  seed: 0,
  norm: 'linf',
  targetRank: 2,
} as const;
/** Defaults of `apgdL1`: 100 steps from a random start (AutoAttack). */
export const APGD_L1_DEFAULTS = { steps: 100, randomStart: true, seed: 0 } as const;

interface Prepared {
  budget: ResolvedBudget<ApgdNorm>;
  steps: number;
  start: tf.Tensor;
  targets: tf.Tensor2D;
  labels: tf.Tensor1D;
}

function prepare(
  model: LogitsModel,
  x: tf.Tensor,
  y: Labels,
  options: ApgdCommonOptions & { norm?: ApgdNorm },
  defaults: { steps: number; randomStart: boolean; seed: number; norm: ApgdNorm },
): Prepared {
  const budget = resolveBudget({ ...options, norm: options.norm ?? defaults.norm }, ['linf', 'l2', 'l1']);
  const { steps = defaults.steps, randomStart: rs = defaults.randomStart, seed = defaults.seed } = options;
  checkSteps('options.steps', steps);
  assertInteger('options.seed', seed, 0);
  const targets = oneHotTargets(model, x, y);
  const labels = tf.tidy(() => tf.cast(tf.argMax(targets, 1), 'int32') as tf.Tensor1D);
  const start = rs ? randomStart(x, budget, seed) : tf.clone(x);
  return { budget, steps, start, targets, labels };
}

function finish(p: Prepared, best: tf.Tensor, fooled: tf.Tensor): tf.Tensor {
  tf.dispose([p.start, p.targets, p.labels, fooled]);
  return best;
}

/**
 * APGD on the cross-entropy (Croce & Hein 2020). With the defaults it is the Guide's training attack
 * (`corruptions/apgd.py`): L∞, no random start, 10 iterations, initial step 2ε, momentum 0.75 after the
 * first step, step halving at checkpoints for samples whose loss oscillated or stalled, restarting them from
 * their best point. `norm: 'l1'` runs APGD-L1 (see {@link apgdL1}). Returns the highest-loss point found per
 * sample — not the first misclassified one. Reads no tensor values.
 */
export function apgdCe(model: LogitsModel, x: tf.Tensor, y: Labels, options: ApgdOptions): tf.Tensor {
  assertKnownOptions('options', options, [...COMMON_KEYS, 'norm']);
  const p = prepare(model, x, y, options, APGD_DEFAULTS);
  const { best, fooled } = runApgd({
    model,
    x,
    labels: p.labels,
    objective: (logits) => crossEntropyPerSample(logits, p.targets),
    budget: p.budget,
    steps: p.steps,
    start: p.start,
  });
  return finish(p, best, fooled);
}

/**
 * Targeted APGD on the DLR loss (APGD-T, Croce & Hein 2020): pushes each sample towards the class ranked
 * `targetRank` by its clean logits, maximising `−(z_y − z_t)/(z_π1 − (z_π3 + z_π4)/2)`. Needs K ≥ 4 classes.
 * Returns the highest-objective point per sample. Reads no tensor values.
 */
export function apgdDlrTargeted(
  model: LogitsModel,
  x: tf.Tensor,
  y: Labels,
  options: ApgdDlrTargetedOptions,
): tf.Tensor {
  assertKnownOptions('options', options, [...COMMON_KEYS, 'norm', 'targetRank']);
  const { targetRank = APGD_DLR_TARGETED_DEFAULTS.targetRank } = options;
  const k = numClasses(model, x);
  assertInteger('options.targetRank', targetRank, 2);
  if (k < 4 || targetRank > k) throw invalidTarget(targetRank, k);
  const p = prepare(model, x, y, options, APGD_DLR_TARGETED_DEFAULTS);
  const targetClasses = tf.tidy(() => rankedClass(model(x), targetRank));
  const { best, fooled } = runApgd({
    model,
    x,
    labels: p.labels,
    objective: (logits) => dlrTargetedLossPerSample(logits, p.targets, targetClasses),
    budget: p.budget,
    steps: p.steps,
    start: p.start,
  });
  targetClasses.dispose();
  return finish(p, best, fooled);
}

/**
 * APGD-L1 ("Mind the box", Croce & Hein 2021) on the cross-entropy: sparse steps along the sign of the
 * largest gradient coordinates with an adaptive sparsity level, projected onto the L1 ball ∩ the valid range.
 * Returns the highest-loss point per sample. Reads no tensor values.
 */
export function apgdL1(model: LogitsModel, x: tf.Tensor, y: Labels, options: ApgdL1Options): tf.Tensor {
  assertKnownOptions('options', options, COMMON_KEYS);
  return apgdCe(model, x, y, {
    ...options,
    norm: 'l1',
    steps: options.steps ?? APGD_L1_DEFAULTS.steps,
    randomStart: options.randomStart ?? APGD_L1_DEFAULTS.randomStart,
  });
}

function invalidTarget(targetRank: number, k: number) {
  return new RobustFtError(
    'INVALID_ARGUMENT',
    `options.targetRank must be in [2, K] for a model with K ≥ 4 classes; got ${targetRank} with K = ${k}`,
    { argument: 'options.targetRank', expected: 'an integer in [2, K], K ≥ 4' },
  );
}
