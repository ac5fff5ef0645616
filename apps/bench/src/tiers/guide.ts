import { createRng } from '@robust-ft/core';
import type * as tf from '@tensorflow/tfjs';
import { head, loadUciDigits, stratifiedSplit, subset } from '../data/datasets';
import { layersModelOps } from '../evaluate';
import {
  type CellScores,
  cellsFromRows,
  type GuideSummary,
  parseRunName,
  rowScores,
  runName,
} from '../guide/cells';
import {
  GUIDE_CORRUPTIONS,
  GUIDE_LOSSES,
  GUIDE_OPTIMIZERS,
  GUIDE_PROTOCOLS,
  GUIDE_SEVERITY,
  type GuideLoss,
  type GuideOptimizer,
  type GuideProtocol,
  gridCells,
  LOSS_LABELS,
  OPTIMIZER_LABELS,
  PROTOCOL_LABELS,
  STRONG_FACTOR,
  scaledEpsilons,
} from '../guide/grid';
import { mixedCorruptions, type RobustEval, robustScores } from '../guide/measure';
import { guidePlots, guideTables } from '../guide/report';
import { type CellBudget, trainCell } from '../guide/train-cell';
import { buildCnn, cloneWithWeights, loadPretrained } from '../model';
import type { MethodResult } from '../results';
import { defineTier } from '../runner';
import type { BenchTier, MethodSpec } from '../tier';

export interface GuideConfig {
  /** Every cell is trained once per seed; the report's cells are the means. */
  seeds: readonly number[];
  losses: readonly GuideLoss[];
  protocols: readonly GuideProtocol[];
  optimizers: readonly GuideOptimizer[];
  /** ID train images (the first of the seeded UCI train split; `--train-limit` lowers it further). */
  trainSize: number;
  /** Cap on the ID test images (clean and corruptions); the default runs all 539. Smoke tests lower it. */
  testSize?: number;
  budget: CellBudget;
  robust: RobustEval;
}

/**
 * The default budget, sized for the 12-minute target on 2 idle cores (measured and extrapolated in the
 * README): 256 training images, batch 32; probe 2 epochs, short FT 1, long FT 3 (the Guide: 50, 5 and 50);
 * a 2-step APGD-CE training attack (the Guide: 10); AutoAttack-style evaluation with 10 steps and 1 APGD-T
 * target on a fixed, seeded subset of 16 test images (clean and corruptions use all 539).
 */
export const GUIDE_DEFAULTS: GuideConfig = {
  seeds: [0, 1, 2],
  losses: GUIDE_LOSSES,
  protocols: GUIDE_PROTOCOLS,
  optimizers: GUIDE_OPTIMIZERS,
  trainSize: 256,
  budget: {
    batchSize: 32,
    epochs: { lp: 2, 'fft-short': 1, 'fft-long': 3 },
    trainAttackSteps: 2,
    trainEpsilon: 4 / 255,
    tradesBeta: 1,
  },
  robust: { images: 16, steps: 10, targets: 1, seed: 0 },
};

const BACKBONE = 'digits-cnn';

function summary(rows: readonly MethodResult[]): GuideSummary {
  const zs = rows.find((m) => m.method === 'zero-shot');
  const zeroShot: CellScores | undefined = zs?.metrics ? rowScores(zs) : undefined;
  return {
    epsilons: { ...scaledEpsilons(784), strongFactor: STRONG_FACTOR },
    ...(zeroShot ? { zeroShot } : {}),
    cells: cellsFromRows(rows, BACKBONE),
  };
}

/**
 * The "Guide to Robust Generalization" grid as a tier: one training run per (cell, seed), each measured on
 * clean UCI test digits, the Guide's 11 corruptions (one per image, severity 3) and AutoAttack-style
 * L∞/L2/L1 at the scaled and the 4× budgets (the tier's `metrics` hook). `report.extra` folds the runs into
 * the `cells` array.
 */
export function guideTier(config: GuideConfig = GUIDE_DEFAULTS): BenchTier {
  const epsilons = scaledEpsilons(784);
  const methods: MethodSpec<tf.LayersModel>[] = [
    { name: 'zero-shot', label: 'Pre-trained (no FT)', kind: 'zero-shot' },
    ...gridCells(BACKBONE, config.losses, config.protocols, config.optimizers).flatMap((cell) =>
      config.seeds.map(
        (seed): MethodSpec<tf.LayersModel> => ({
          name: runName(cell, seed),
          label: `${LOSS_LABELS[cell.loss]} · ${PROTOCOL_LABELS[cell.protocol]} · ${OPTIMIZER_LABELS[cell.optimizer]} · s${seed}`,
          kind: 'train',
        }),
      ),
    ),
  ];
  const ceLongAdamw = runName({ loss: 'ce', protocol: 'fft-long', optimizer: 'adamw' }, config.seeds[0] ?? 0);
  return defineTier<tf.LayersModel>({
    name: 'guide',
    help: `guide: the grid of "A Guide to Robust Generalization" on the digits CNN: {CE, Classic AT,
                      TRADES b=1} x {linear probe, short FT, long FT} x {AdamW, FTP, SPD}, ${config.seeds.length} seeds each
                      (method names loss/protocol/optimizer/s<seed>). Measures clean, Linf/L2/L1
                      AutoAttack-style (APGD-CE + APGD-T) at scaled and 4x budgets, and 11 corruptions
                      at severity 3, one per image. Report: report/guide (cells in report.json).`,
    defaults: {},
    methods,
    baseline: ['zero-shot', ...(methods.some((m) => m.name === ceLongAdamw) ? [ceLongAdamw] : [])],
    report: {
      idLabel: 'clean UCI digits',
      describe: (r) =>
        `ID: UCI handwritten digits (fine-tune ${r.data.idTrain}, test ${r.data.idTest}). "corruptions" = the test set with ` +
        `${r.data.corruptions}. Robust accuracy (metrics, %): ${r.data.robust}. ε rule: ${r.data.epsilons}.`,
      metricColumns: [
        { key: 'linf', label: 'L∞', format: (v) => (100 * v).toFixed(1) },
        { key: 'l2', label: 'L2', format: (v) => (100 * v).toFixed(1) },
        { key: 'l1', label: 'L1', format: (v) => (100 * v).toFixed(1) },
      ],
      extra: (r) => ({ ...summary(r.methods) }),
      sections: (r) => [`## Grid (means over seeds, ± = sample std)\n\n${guideTables(summary(r.methods))}`],
      files: (r) => guidePlots(summary(r.methods)),
    },
    async load(o, say) {
      const uci = loadUciDigits();
      // The digits tier's split (seed 0 / 1): every cell and seed sees the same images.
      const { train: trainVal, test: testSplit } = stratifiedSplit(uci, 0.7, 0);
      const test = head(testSplit, config.testSize ?? testSplit.n);
      const { train, test: val } = stratifiedSplit(trainVal, 0.88, 1);
      const idTrain = head(train, Math.min(config.trainSize, o.trainLimit));
      const order = createRng(config.robust.seed)
        .fork('robust-subset')
        .shuffle(Array.from({ length: test.n }, (_, i) => i));
      const attacked = subset(
        test,
        order.slice(0, Math.min(config.robust.images, test.n)).sort((a, b) => a - b),
        'robust-subset',
      );
      const corrupted = await mixedCorruptions(test, GUIDE_CORRUPTIONS, GUIDE_SEVERITY, 0);
      say(
        `guide tier: ${methods.length - 1} runs on ${idTrain.n} UCI digits; attacks on ${attacked.n} test images ` +
          `(${config.robust.steps} steps, ${config.robust.targets} APGD-T target)`,
      );
      const pretrained = await loadPretrained(o.modelDir);
      const w0 = pretrained.getWeights();
      return {
        train: idTrain,
        val,
        eval: [
          { key: 'id', kind: 'id', data: test },
          { key: 'corruptions', kind: 'domain', data: corrupted },
        ],
        zeroShot: { model: pretrained, hyperparameters: { weights: 'assets/pretrained-cnn (MNIST)' } },
        ...layersModelOps(() => buildCnn(0)),
        async fineTune(method, _init, seed) {
          const parsed = parseRunName(method);
          if (!parsed) throw new Error(`guide tier: ${method} is not a grid run`);
          const model = cloneWithWeights(w0);
          const tr = trainCell(
            model,
            { backbone: BACKBONE, ...parsed },
            idTrain,
            config.budget,
            o.hyperparameters,
            seed,
          );
          return { model, seconds: tr.seconds, hyperparameters: tr.hyperparameters };
        },
        async metrics(model) {
          if (!model) return {};
          const t = performance.now();
          const scores = await robustScores(model, attacked, epsilons, STRONG_FACTOR, config.robust);
          return { ...scores, attackSeconds: (performance.now() - t) / 1000 };
        },
        data: {
          idTrain: idTrain.n,
          idVal: val.n,
          idTest: test.n,
          corruptions: `${GUIDE_CORRUPTIONS.join(', ')} at severity ${GUIDE_SEVERITY}, one per image in index blocks`,
          robust: `${attacked.n} seeded test images, APGD-CE + APGD-T (${config.robust.targets} target), ${config.robust.steps} steps, seed ${config.robust.seed}`,
          epsilons: `L∞ 4/255; L2 2.0·√(784/150528) = ${epsilons.l2.toFixed(3)}; L1 75·784/150528 = ${epsilons.l1.toFixed(3)}; strong = ${STRONG_FACTOR}×`,
          seeds: config.seeds.join(', '),
        },
        dispose: () => pretrained.dispose(),
      };
    },
  });
}

export const guide = guideTier();
