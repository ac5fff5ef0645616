import { createRng } from '@robust-ft/core';
import type { ApgdNorm } from '@robust-ft/eval';
import * as tf from '@tensorflow/tfjs';
import { type Dataset, head, loadUciDigits, stratifiedSplit, subset } from '../data/datasets';
import { HYPERPARAMETERS, type Hyperparameters } from '../methods';
import { cloneWithWeights, loadPretrained } from '../model';
import { fmtTime, log } from '../progress';
import {
  cellName,
  GUIDE_CORRUPTIONS,
  GUIDE_LOSSES,
  GUIDE_OPTIMIZERS,
  GUIDE_PROTOCOLS,
  GUIDE_SEVERITY,
  type GuideCell,
  type GuideLoss,
  type GuideOptimizer,
  type GuideProtocol,
  gridCells,
  STRONG_FACTOR,
  scaledEpsilons,
} from './grid';
import { type CellScores, type EvalData, measureCell, mixedCorruptions, type RobustEval } from './measure';
import { type CellBudget, trainCell } from './train-cell';

export interface GuideOptions {
  seeds: number[];
  losses: readonly GuideLoss[];
  protocols: readonly GuideProtocol[];
  optimizers: readonly GuideOptimizer[];
  /** ID train images used (a seeded stratified subset of the UCI train split). */
  trainSize: number;
  budget: CellBudget;
  robust: RobustEval;
  quiet: boolean;
  backend: string;
  hyperparameters: Hyperparameters;
}

/**
 * The default budget, sized for about 12 minutes on 2 idle cores (measured and extrapolated in the README):
 * 256 training images, probe and long FT 3 epochs, short FT 1 epoch (the Guide: 50 and 5), a 3-step
 * training attack (the Guide: 10), and AutoAttack-style evaluation with 10 steps and 1 APGD-T target on a
 * fixed subset of 32 test images.
 */
export const GUIDE_DEFAULTS: Omit<GuideOptions, 'backend'> = {
  seeds: [0, 1, 2],
  losses: GUIDE_LOSSES,
  protocols: GUIDE_PROTOCOLS,
  optimizers: GUIDE_OPTIMIZERS,
  trainSize: 256,
  budget: {
    batchSize: 32,
    epochs: { lp: 3, 'fft-short': 1, 'fft-long': 3 },
    trainAttackSteps: 3,
    trainEpsilon: 4 / 255,
    tradesBeta: 1,
  },
  robust: { images: 32, steps: 10, targets: 1, seed: 0 },
  quiet: false,
  hyperparameters: HYPERPARAMETERS,
};

export interface CellResult extends GuideCell, CellScores {
  /** Mean over seeds (the score fields) and the per-seed values. */
  seeds: Array<CellScores & { seed: number; wallSeconds: number }>;
  wallSeconds: number;
  trainSeconds: number;
  evalSeconds: number;
  hyperparameters: Record<string, number | string>;
}

export interface GuideReport {
  tier: 'guide';
  backend: string;
  startedAt: string;
  totalSeconds: number;
  machine: { cpus: number; cpuModel: string; node: string; platform: string; loadAverage: number[] };
  epsilons: Record<ApgdNorm, number> & { strongFactor: number };
  data: Record<string, number | string>;
  options: Record<string, unknown>;
  /** Pre-trained model, no fine-tuning (one row, same measurements). */
  zeroShot: CellScores;
  cells: CellResult[];
}

const SCORE_KEYS: readonly (keyof CellScores)[] = [
  'clean',
  'linf',
  'l2',
  'l1',
  'corruptions',
  'linfStrong',
  'l2Strong',
  'l1Strong',
];

function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / Math.max(values.length, 1);
}

/** Splits and evaluation sets, fixed for the whole grid (seed 0), so every cell sees the same images. */
async function loadData(
  o: GuideOptions,
): Promise<{ train: Dataset; evalData: EvalData; info: Record<string, number | string> }> {
  const uci = loadUciDigits();
  const { train: trainVal, test } = stratifiedSplit(uci, 0.7, 0);
  const { train } = stratifiedSplit(trainVal, 0.88, 1);
  const trainSet = head(train, o.trainSize);
  const pick = createRng(o.robust.seed)
    .fork('robust-subset')
    .shuffle(Array.from({ length: test.n }, (_, i) => i));
  const robust = subset(
    test,
    pick.slice(0, Math.min(o.robust.images, test.n)).sort((a, b) => a - b),
    'robust-subset',
  );
  const corrupted = await mixedCorruptions(test, GUIDE_CORRUPTIONS, GUIDE_SEVERITY, 0);
  return {
    train: trainSet,
    evalData: { test, corrupted, robust },
    info: {
      train: `${trainSet.n} UCI digits (stratified, seed 1; split seed 0)`,
      test: `${test.n} UCI digits (clean and corruptions)`,
      corruptions: `${GUIDE_CORRUPTIONS.length} types at severity ${GUIDE_SEVERITY}, one per image, index blocks`,
      robustSubset: `${robust.n} test images (seeded, fixed) under AutoAttack-style APGD-CE + APGD-T`,
    },
  };
}

/**
 * The Guide's grid on the digits CNN: every (loss, protocol, optimizer) cell fine-tuned from the pre-trained
 * model for each seed, then measured (clean, corruptions, L∞/L2/L1 at the scaled and the 4× budgets).
 */
export async function runGuide(o: GuideOptions): Promise<GuideReport> {
  const t0 = performance.now();
  const startedAt = new Date().toISOString();
  const say = (m: string) => {
    if (!o.quiet) log(m);
  };
  const epsilons = scaledEpsilons(784);
  const pretrained = await loadPretrained();
  const { train, evalData, info } = await loadData(o);
  const cells = gridCells('digits-cnn', o.losses, o.protocols, o.optimizers);
  try {
    const zeroShot = await measureCell(pretrained, evalData, epsilons, STRONG_FACTOR, o.robust);
    say(`zero-shot: clean ${(100 * zeroShot.clean).toFixed(1)}  Linf ${(100 * zeroShot.linf).toFixed(1)}`);
    const results: CellResult[] = [];
    const total = cells.length * o.seeds.length;
    let done = 0;
    for (const cell of cells) {
      const perSeed: CellResult['seeds'] = [];
      let trainSeconds = 0;
      let evalSeconds = 0;
      let hyperparameters: Record<string, number | string> = {};
      for (const seed of o.seeds) {
        const model = cloneWithWeights(pretrained.getWeights());
        try {
          const runSeed = createRng(seed)
            .fork(cellName(cell))
            .int(2 ** 31 - 1);
          const trained = trainCell(model, cell, train, o.budget, o.hyperparameters, runSeed);
          const e0 = performance.now();
          const scores = await measureCell(model, evalData, epsilons, STRONG_FACTOR, o.robust);
          const evalTime = (performance.now() - e0) / 1000;
          trainSeconds += trained.seconds;
          evalSeconds += evalTime;
          hyperparameters = trained.hyperparameters;
          perSeed.push({ ...scores, seed, wallSeconds: trained.seconds + evalTime });
          done++;
          say(
            `[${done}/${total}] ${cellName(cell)} seed ${seed}: clean ${(100 * scores.clean).toFixed(1)}  ` +
              `Linf ${(100 * scores.linf).toFixed(1)}  L2 ${(100 * scores.l2).toFixed(1)}  L1 ${(100 * scores.l1).toFixed(1)}  ` +
              `corr ${(100 * scores.corruptions).toFixed(1)}  (${fmtTime(trained.seconds)} + ${fmtTime(evalTime)})`,
          );
        } finally {
          model.dispose();
        }
      }
      const avg = Object.fromEntries(
        SCORE_KEYS.map((k) => [k, mean(perSeed.map((s) => s[k]))]),
      ) as unknown as CellScores;
      results.push({
        ...cell,
        ...avg,
        seeds: perSeed,
        wallSeconds: (trainSeconds + evalSeconds) / o.seeds.length,
        trainSeconds: trainSeconds / o.seeds.length,
        evalSeconds: evalSeconds / o.seeds.length,
        hyperparameters,
      });
    }
    const os = await import('node:os');
    return {
      tier: 'guide',
      backend: o.backend,
      startedAt,
      totalSeconds: (performance.now() - t0) / 1000,
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? 'unknown',
        node: process.version,
        platform: `${os.platform()} ${os.arch()}`,
        loadAverage: os.loadavg().map((v) => Number(v.toFixed(2))),
      },
      epsilons: { ...epsilons, strongFactor: STRONG_FACTOR },
      data: info,
      options: {
        seeds: o.seeds,
        trainSize: o.trainSize,
        budget: o.budget,
        robust: o.robust,
        hyperparameters: o.hyperparameters,
      },
      zeroShot,
      cells: results,
    };
  } finally {
    pretrained.dispose();
  }
}
