import { createRng } from '@robust-ft/core';
import type * as tf from '@tensorflow/tfjs';
import { subset } from '../data/datasets';
import {
  digitsAttention,
  digitsCnn,
  GUIDE_BACKBONES,
  GUIDE_MOBILENET_SIZE,
  type GuideBackbone,
  type GuideBackboneName,
  mobilenetV2,
} from '../guide/backbones';
import {
  type CellScores,
  cellsFromRows,
  DEFAULT_BACKBONE,
  type GuideSummary,
  parseRunName,
  rowScores,
  runName,
  zeroShotBackbone,
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
import { planShards, runShards, shardable } from '../guide/shards';
import { type CellBudget, pixelLogits, trainCell } from '../guide/train-cell';
import type { BenchReport, MethodResult } from '../results';
import { defineTier } from '../runner';
import type { BenchTier, MethodSpec, RunOptions, TierReport } from '../tier';

/** One backbone's share of the grid: seeds, data sizes, training budget and attacked subset. */
export interface GuideBackboneConfig {
  /** Every cell is trained once per seed; the report's cells are the means. */
  seeds: readonly number[];
  /** ID train images (the first of the seeded split; `--train-limit` lowers it further). */
  trainSize: number;
  /** Cap on the ID test images (clean and corruptions). */
  testSize?: number;
  budget: CellBudget;
  robust: RobustEval;
}

export interface GuideConfig {
  losses: readonly GuideLoss[];
  protocols: readonly GuideProtocol[];
  optimizers: readonly GuideOptimizer[];
  /** The backbones that run, in report order, each with its own sizes. */
  backbones: Partial<Record<GuideBackboneName, GuideBackboneConfig>>;
}

const TRAINING: CellBudget = {
  batchSize: 32,
  epochs: { lp: 2, 'fft-short': 1, 'fft-long': 3 },
  trainAttackSteps: 2,
  trainEpsilon: 4 / 255,
  tradesBeta: 1,
};

/**
 * The default budget, sized for the 12-minute target on 2 idle cores (measured and extrapolated in the
 * README). Digits CNN: 3 seeds, 256 training images, batch 32; probe 2 epochs, short FT 1, long FT 3 (the
 * Guide: 50, 5 and 50); a 2-step APGD-CE training attack (the Guide: 10); AutoAttack-style evaluation
 * with 10 steps and 1 APGD-T target on a fixed, seeded subset of 16 test images (clean and corruptions
 * use all 539). MobileNetV2 and the attention model: one seed each; MobileNetV2 trains on 64 images and
 * attacks 8 with 5 steps, because every attack step differentiates through its frozen trunk.
 */
export const GUIDE_DEFAULTS: GuideConfig = {
  losses: GUIDE_LOSSES,
  protocols: GUIDE_PROTOCOLS,
  optimizers: GUIDE_OPTIMIZERS,
  backbones: {
    'digits-cnn': {
      seeds: [0, 1, 2],
      trainSize: 256,
      budget: TRAINING,
      robust: { images: 16, steps: 10, targets: 1, seed: 0 },
    },
    mobilenetv2: {
      seeds: [0],
      trainSize: 64,
      testSize: 500,
      budget: TRAINING,
      robust: { images: 8, steps: 5, targets: 1, seed: 0 },
    },
    'digits-attention': {
      seeds: [0],
      trainSize: 256,
      budget: TRAINING,
      robust: { images: 16, steps: 10, targets: 1, seed: 0 },
    },
  },
};

/**
 * CPU seconds of one seed of each backbone's full default grid, measured on the shared machine (see the
 * README); only the relative sizes matter: they balance the shards of a `jobs` > 1 run.
 */
const SHARD_CPU_SECONDS: Record<GuideBackboneName, number> = {
  'digits-cnn': 85,
  mobilenetv2: 264,
  'digits-attention': 320,
};

function gridSize(config: GuideConfig): number {
  return config.losses.length * config.protocols.length * config.optimizers.length;
}

/** `--tier-option jobs=N` (default 2: the target machine's cores); the tier's only option. */
function jobsOf(o: RunOptions): number {
  for (const key of Object.keys(o.tierOptions ?? {}))
    if (key !== 'jobs') throw new Error(`guide tier: unknown --tier-option ${key} (only jobs=N)`);
  const raw = o.tierOptions?.jobs ?? '1';
  const jobs = Number(raw);
  if (!Number.isInteger(jobs) || jobs < 1)
    throw new Error(`guide tier: --tier-option jobs=${raw}: expected an integer ≥ 1`);
  return jobs;
}

/** User + system CPU seconds of this process since `since`. */
function cpuSeconds(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1e6;
}

/** Every backbone's attacks perturb the 28×28×1 image its data comes in, so one ε rule (d = 784) holds. */
const EPSILONS = scaledEpsilons(784);

function backboneOf(name: GuideBackboneName, o: Pick<RunOptions, 'modelDir'>): GuideBackbone {
  if (name === 'digits-cnn') return digitsCnn(o);
  return name === 'mobilenetv2' ? mobilenetV2 : digitsAttention;
}

/** The grid for one backbone as a runner tier: one training run per (cell, seed). */
function backboneTier(name: GuideBackboneName, c: GuideBackboneConfig, config: GuideConfig): BenchTier {
  const prefix = name === DEFAULT_BACKBONE ? '' : `${name}:`;
  const methods: MethodSpec<tf.LayersModel>[] = [
    { name: `${prefix}zero-shot`, label: `${name} · pre-trained (no FT)`, kind: 'zero-shot' },
    ...gridCells(name, config.losses, config.protocols, config.optimizers).flatMap((cell) =>
      c.seeds.map(
        (seed): MethodSpec<tf.LayersModel> => ({
          name: runName(cell, seed),
          label: `${prefix}${LOSS_LABELS[cell.loss]} · ${PROTOCOL_LABELS[cell.protocol]} · ${OPTIMIZER_LABELS[cell.optimizer]} · s${seed}`,
          kind: 'train',
        }),
      ),
    ),
  ];
  const s0 = c.seeds[0] ?? 0;
  const baseline = [
    `${prefix}zero-shot`,
    runName({ backbone: name, loss: 'ce', protocol: 'fft-long', optimizer: 'adamw' }, s0),
  ].filter((m) => methods.some((x) => x.name === m));
  return defineTier<tf.LayersModel>({
    name: `guide-${name}`,
    help: '',
    defaults: {},
    methods,
    baseline,
    report: GUIDE_REPORT,
    async load(o, say) {
      const backbone = backboneOf(name, o);
      const b = await backbone.load(o, c);
      const order = createRng(c.robust.seed)
        .fork('robust-subset')
        .shuffle(Array.from({ length: b.test.n }, (_, i) => i));
      const attacked = subset(
        b.test,
        order.slice(0, Math.min(c.robust.images, b.test.n)).sort((x, y) => x - y),
        'robust-subset',
      );
      const corrupted = await mixedCorruptions(b.test, GUIDE_CORRUPTIONS, GUIDE_SEVERITY, 0);
      say(
        `guide tier, ${name}: ${methods.length - 1} runs on ${b.train.n} ${backbone.task} images; ` +
          `attacks on ${attacked.n} test images (${c.robust.steps} steps, ${c.robust.targets} APGD-T target)`,
      );
      const p = `${name}.`;
      // CPU seconds per run (wasm runs on one thread): on a shared machine they, not wall time, estimate
      // what an idle core would take.
      const trainCpu = new WeakMap<tf.LayersModel, number>();
      return {
        train: b.train,
        val: b.toEval(b.val, 'val'),
        eval: [
          { key: 'id', kind: 'id', data: b.toEval(b.test, 'test') },
          { key: 'corruptions', kind: 'domain', data: b.toEval(corrupted, 'corruptions') },
        ],
        zeroShot: { model: b.zeroShot, hyperparameters: { weights: String(b.data.model) } },
        ...b.ops,
        async fineTune(method, _init, seed) {
          const parsed = parseRunName(method);
          if (!parsed) throw new Error(`guide tier: ${method} is not a grid run`);
          const model = b.fresh();
          const cpu = process.cpuUsage();
          const tr = trainCell(b.cellModel(model), parsed, b.train, c.budget, o.hyperparameters, seed);
          trainCpu.set(model, cpuSeconds(cpu));
          return {
            model,
            seconds: tr.seconds,
            hyperparameters: { ...tr.hyperparameters, trained: parsed.protocol === 'lp' ? 'head' : b.fullFt },
          };
        },
        async metrics(model) {
          if (!model) return {};
          const t = performance.now();
          const cpu = process.cpuUsage();
          const logits = pixelLogits(b.cellModel(model), false);
          const scores = await robustScores(logits, attacked, EPSILONS, STRONG_FACTOR, c.robust);
          return {
            ...scores,
            attackSeconds: (performance.now() - t) / 1000,
            attackCpuSeconds: cpuSeconds(cpu),
            trainCpuSeconds: trainCpu.get(model) ?? 0,
          };
        },
        data: {
          [`${p}model`]: b.data.model ?? name,
          [`${p}task`]: backbone.task,
          [`${p}idTrain`]: b.train.n,
          [`${p}idVal`]: b.val.n,
          [`${p}idTest`]: b.test.n,
          [`${p}robust`]: `${attacked.n} seeded test images, APGD-CE + APGD-T (${c.robust.targets} target), ${c.robust.steps} steps, seed ${c.robust.seed}`,
          [`${p}seeds`]: c.seeds.join(', '),
          [`${p}training`]: `batch ${c.budget.batchSize}; epochs LP ${c.budget.epochs.lp}, short ${c.budget.epochs['fft-short']}, long ${c.budget.epochs['fft-long']}; APGD-CE ${c.budget.trainAttackSteps} steps`,
        },
        dispose: () => b.dispose(),
      };
    },
  });
}

function summary(rows: readonly MethodResult[]): GuideSummary {
  const zeroShot: Record<string, CellScores> = {};
  for (const row of rows) {
    const b = zeroShotBackbone(row.method);
    if (b !== undefined && row.metrics) zeroShot[b] = rowScores(row);
  }
  return {
    epsilons: { ...EPSILONS, strongFactor: STRONG_FACTOR },
    zeroShot,
    cells: cellsFromRows(rows),
  };
}

const GUIDE_REPORT: TierReport = {
  idLabel: 'clean ID accuracy',
  describe: (r) => {
    const backbones = [
      ...new Set(Object.keys(r.data).flatMap((k) => (k.includes('.') ? [k.slice(0, k.indexOf('.'))] : []))),
    ];
    const d = (b: string, k: string) => r.data[`${b}.${k}`];
    return (
      backbones
        .map(
          (b) =>
            `**${b}**: ${d(b, 'model')}. ID: ${d(b, 'task')} (fine-tune ${d(b, 'idTrain')}, test ${d(b, 'idTest')}; ${d(b, 'training')}); ` +
            `seeds ${d(b, 'seeds')}; robust accuracy on ${d(b, 'robust')}.`,
        )
        .join('\n\n') +
      `\n\n"corruptions" = the test set with ${r.data.corruptions}. ε rule: ${r.data.epsilons}.`
    );
  },
  metricColumns: [
    { key: 'linf', label: 'L∞', format: (v) => (100 * v).toFixed(1) },
    { key: 'l2', label: 'L2', format: (v) => (100 * v).toFixed(1) },
    { key: 'l1', label: 'L1', format: (v) => (100 * v).toFixed(1) },
  ],
  extra: (r) => ({ ...summary(r.methods) }),
  sections: (r) => [`## Grid (means over seeds, ± = sample std)\n\n${guideTables(summary(r.methods))}`],
  files: (r) => guidePlots(summary(r.methods)),
};

/** One report from the backbones' reports: rows, data and seconds side by side, then the grid's cells. */
function mergeReports(parts: readonly BenchReport[]): BenchReport {
  const first = parts[0];
  if (!first) throw new Error('guide tier: no backbone ran (no method of any backbone was requested)');
  const merged: BenchReport = {
    ...first,
    tier: 'guide',
    totalSeconds: parts.reduce((a, p) => a + p.totalSeconds, 0),
    data: {
      ...Object.assign({}, ...parts.map((p) => p.data)),
      corruptions: `${GUIDE_CORRUPTIONS.join(', ')} at severity ${GUIDE_SEVERITY}, one per image in index blocks`,
      epsilons:
        `every backbone is attacked on its 28×28×1 input (MobileNetV2 upsamples to ${GUIDE_MOBILENET_SIZE}×${GUIDE_MOBILENET_SIZE}×3 inside the model), so d = 784: ` +
        `L∞ 4/255; L2 2.0·√(784/150528) = ${EPSILONS.l2.toFixed(3)}; L1 75·784/150528 = ${EPSILONS.l1.toFixed(3)}; strong = ${STRONG_FACTOR}×`,
    },
    shifts: [...new Set(parts.flatMap((p) => p.shifts))],
    // Shards of one backbone each run its zero-shot model; keep the first row of every name.
    methods: parts
      .flatMap((p) => p.methods)
      .filter((m, i, all) => all.findIndex((x) => x.method === m.method) === i),
    notes: parts.flatMap((p) => p.notes),
  };
  return { ...merged, ...GUIDE_REPORT.extra?.(merged) };
}

/**
 * The "Guide to Robust Generalization" grid as a tier: for each backbone, one training run per (cell,
 * seed), each measured on clean ID test images, the Guide's 11 corruptions (one per image, severity 3)
 * and AutoAttack-style L∞/L2/L1 at the scaled and the 4× budgets (the `metrics` hook). The backbones run
 * one after the other through the one runner; their reports merge into one whose `cells` array holds
 * every (backbone, loss, protocol, optimizer).
 */
export function guideTier(config: GuideConfig = GUIDE_DEFAULTS): BenchTier {
  const names = GUIDE_BACKBONES.filter((b) => config.backbones[b] !== undefined);
  const parts = names.map((b) => backboneTier(b, config.backbones[b] as GuideBackboneConfig, config));
  return {
    name: 'guide',
    help: `guide: the grid of "A Guide to Robust Generalization": {CE, Classic AT, TRADES b=1} x
                      {linear probe, short FT, long FT} x {AdamW, FTP, SPD} on ${names.join(', ')}
                      (method names [backbone:]loss/protocol/optimizer/s<seed>; the digits CNN has no
                      prefix). Measures clean, Linf/L2/L1 AutoAttack-style (APGD-CE + APGD-T) at scaled
                      and 4x budgets, and 11 corruptions at severity 3, one per image. MobileNetV2 needs
                      Fashion-MNIST (apt-get install dataset-fashion-mnist). Report: report/guide.`,
    defaults: { tierOptions: { jobs: '2' } },
    methodNames: parts.flatMap((p) => p.methodNames),
    reportDir: 'guide',
    report: GUIDE_REPORT,
    async run(o) {
      const t0 = performance.now();
      const cpu = process.cpuUsage();
      const jobs = jobsOf(o);
      const requested = (part: BenchTier) => {
        const methods = o.methods.filter((m) => part.methodNames.includes(m));
        // A backbone none of whose runs was asked for is skipped (its zero-shot alone is not a request).
        return methods.some((m) => zeroShotBackbone(m) === undefined) ? methods : [];
      };
      let reports: BenchReport[];
      let childCpu = 0;
      if (jobs > 1 && config === GUIDE_DEFAULTS && shardable(o)) {
        // One group per (backbone, seed, loss), each with its backbone's zero-shot run, spread over `jobs` processes.
        const groups = parts.flatMap((part, i) => {
          const name = names[i] as GuideBackboneName;
          const methods = requested(part);
          const zs = methods.filter((m) => zeroShotBackbone(m) !== undefined);
          const byGroup = new Map<string, string[]>();
          for (const m of methods) {
            const run = parseRunName(m);
            if (run)
              byGroup.set(`${run.seed}/${run.loss}`, [...(byGroup.get(`${run.seed}/${run.loss}`) ?? []), m]);
          }
          return [...byGroup.values()].map((runs) => ({
            methods: [...zs, ...runs],
            cost: (SHARD_CPU_SECONDS[name] * runs.length) / (gridSize(config) || 1),
          }));
        });
        reports = await runShards(planShards(groups, jobs), o);
        childCpu = reports.reduce((a, r) => a + Number(r.data.cpuSeconds ?? 0), 0);
      } else {
        reports = [];
        for (const part of parts) {
          const methods = requested(part);
          if (methods.length > 0) reports.push(await part.run({ ...o, methods }));
        }
      }
      const merged = mergeReports(reports);
      return {
        ...merged,
        totalSeconds: (performance.now() - t0) / 1000,
        data: {
          ...merged.data,
          processes: jobs > 1 && reports.length > 1 ? reports.length : 1,
          cpuSeconds: Math.round(cpuSeconds(cpu) + childCpu),
        },
      };
    },
  };
}

export const guide = guideTier();
