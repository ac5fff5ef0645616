import { createRng } from '@robust-ft/core';
import type { CorruptionFamily } from '@robust-ft/eval';
import * as tf from '@tensorflow/tfjs';
import { argmaxAccuracy, type EvalSet, type Outputs } from './evaluate';
import { HYPERPARAMETERS } from './methods';
import { fmtTime, log } from './progress';
import {
  applyEffectiveRobustness,
  type BenchReport,
  logitsOf,
  type MethodResult,
  machineInfo,
  summarise,
  type WisePoint,
} from './results';
import type { BenchTier, FinishedRun, MethodSpec, RunOptions, Tier } from './tier';

export const DEFAULT_FAMILIES: CorruptionFamily[] = [
  'gaussian_noise',
  'impulse_noise',
  'defocus_blur',
  'motion_blur',
  'contrast',
  'elastic_transform',
  'pixelate',
  'jpeg_compression',
];

/** The shared defaults; a tier's `defaults` override them, CLI flags override both. */
export const DEFAULTS: Omit<RunOptions, 'backend' | 'methods'> = {
  seed: 0,
  epochs: 5,
  batchSize: 32,
  mnistLimit: 5000,
  trainLimit: Number.POSITIVE_INFINITY,
  families: DEFAULT_FAMILIES,
  severities: [1, 3, 5],
  wiseAlphas: [0.2, 0.4, 0.5, 0.6, 0.8],
  quiet: false,
  hyperparameters: HYPERPARAMETERS,
};

/** `--tier-option key=value` pairs → `RunOptions.tierOptions`; a pair without `=` or key is an error. */
export function parseTierOptions(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at < 1) throw new Error(`--tier-option ${pair}: expected key=value`);
    out[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return out;
}

/** The runs a method needs finished before it (its init weights, or a derived method's inputs). */
function dependencies<M>(spec: MethodSpec<M>): readonly string[] {
  if (spec.kind === 'train') return spec.init === undefined ? [] : [spec.init];
  if (spec.kind === 'derived') return spec.needs;
  return [];
}

/**
 * The runs for the requested methods in the tier's order: the requested ones, every run they need
 * (LP-FT its probe, WiSE-FT and VRF their endpoints) and the zero-shot model, which is always run.
 * `report` holds the requested names (the report lists those plus zero-shot).
 */
export function resolveMethods<M>(
  specs: readonly MethodSpec<M>[],
  requested: readonly string[],
): { run: MethodSpec<M>[]; report: Set<string> } {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const run = new Set<string>();
  const add = (name: string) => {
    const spec = byName.get(name);
    if (!spec)
      throw new Error(`unknown method "${name}"; this tier runs ${specs.map((s) => s.name).join(', ')}`);
    if (run.has(name)) return;
    run.add(name);
    for (const dep of dependencies(spec)) add(dep);
  };
  for (const name of requested) add(name);
  for (const s of specs) if (s.kind === 'zero-shot') run.add(s.name);
  return { run: specs.filter((s) => run.has(s.name)), report: new Set(requested) };
}

/**
 * Checks a tier's declaration once, when it is defined: unique method names, and every dependency
 * declared earlier in the list (the runner runs the list in order).
 */
export function defineTier<M>(tier: Tier<M>): BenchTier {
  const seen = new Set<string>();
  for (const spec of tier.methods) {
    if (seen.has(spec.name)) throw new Error(`tier ${tier.name}: method "${spec.name}" is listed twice`);
    for (const dep of dependencies(spec))
      if (!seen.has(dep))
        throw new Error(`tier ${tier.name}: "${spec.name}" needs "${dep}", which must be listed before it`);
    seen.add(spec.name);
  }
  for (const b of tier.baseline)
    if (!seen.has(b)) throw new Error(`tier ${tier.name}: baseline method "${b}" is not in its list`);
  return {
    name: tier.name,
    help: tier.help,
    defaults: tier.defaults,
    methodNames: tier.methods.map((m) => m.name),
    reportDir: tier.reportDir ?? tier.name,
    report: tier.report,
    run: (options) => runTier(tier, options),
  };
}

/** Accuracy of `model` on the tier's ID validation split. */
async function validationAccuracy<M>(
  tier: { val: EvalSet['data']; outputs(m: M, s: readonly EvalSet[]): Promise<Outputs> },
  model: M,
): Promise<number> {
  const out = await tier.outputs(model, [{ key: 'id', kind: 'id', data: tier.val }]);
  return argmaxAccuracy(out.get('id')?.logits ?? new Float32Array(), tier.val.y);
}

/**
 * The one runner: loads the tier, runs its methods in order under one budget (training, evaluation on
 * every set, post-hoc sweeps), prints a line per method, fits effective robustness and assembles the
 * report. Every tensor it or the tier creates is released when it returns.
 */
export async function runTier<M>(tier: Tier<M>, o: RunOptions): Promise<BenchReport> {
  const t0 = performance.now();
  const startedAt = new Date().toISOString();
  const say = (m: string) => {
    if (!o.quiet) log(m);
  };
  const { run, report } = resolveMethods(tier.methods, o.methods);
  tf.engine().startScope();
  const loaded = await tier.load(o, say);
  const runs = new Map<string, FinishedRun<M>>();
  /** Models the runner disposes (fine-tuned ones; the zero-shot model belongs to the tier). */
  const owned: M[] = [];
  const wiseCurve: WisePoint[] = [];
  try {
    const features = new Set(run.flatMap((s) => (s.kind === 'derived' ? (s.features ?? []) : [])));
    const record = async (
      spec: MethodSpec<M>,
      scores: ReadonlyMap<string, Float32Array>,
      input: 'logits' | 'probabilities',
      r: Pick<MethodResult, 'trainSeconds' | 'evalSeconds' | 'hyperparameters' | 'idVal'>,
      model: M | undefined,
      outputs: Outputs | undefined,
    ): Promise<MethodResult> => {
      const s = await summarise(loaded.eval, scores, input);
      const metrics = loaded.metrics ? await loaded.metrics(model, outputs) : undefined;
      const result: MethodResult = {
        method: spec.name,
        label: spec.label,
        id: s.id,
        ...(r.idVal === undefined ? {} : { idVal: r.idVal }),
        ood: s.ood,
        oodAvg: s.oodAvg,
        effectiveRobustness: 0,
        ece: s.ece,
        wallSeconds: r.trainSeconds + r.evalSeconds,
        trainSeconds: r.trainSeconds,
        evalSeconds: r.evalSeconds,
        corruptions: s.corruptions,
        hyperparameters: r.hyperparameters,
        ...(metrics === undefined ? {} : { metrics }),
      };
      say(
        `${spec.label.padEnd(24)} ID ${(100 * s.id).toFixed(1)}  OOD avg ${(100 * s.oodAvg).toFixed(1)}  ` +
          `(${Object.entries(s.ood)
            .map(([k, v]) => `${k} ${(100 * v).toFixed(1)}`)
            .join(', ')})  ${fmtTime(result.wallSeconds)}`,
      );
      return result;
    };
    const evaluate = async (name: string, model: M) => {
      const s = performance.now();
      const outputs = await loaded.outputs(model, loaded.eval, features.has(name));
      return { outputs, seconds: (performance.now() - s) / 1000 };
    };

    /** Evaluates a model run (zero-shot or fine-tuned) on every set and the validation split. */
    const measure = async (
      spec: MethodSpec<M>,
      model: M,
      trainSeconds: number,
      hyperparameters: Record<string, number | string>,
    ) => {
      const ev = await evaluate(spec.name, model);
      const idVal = await validationAccuracy(loaded, model);
      const result = await record(
        spec,
        logitsOf(ev.outputs),
        'logits',
        { trainSeconds, evalSeconds: ev.seconds, idVal, hyperparameters },
        model,
        ev.outputs,
      );
      runs.set(spec.name, { model, outputs: ev.outputs, result });
    };

    for (const spec of run) {
      if (spec.kind === 'zero-shot') {
        const zs = loaded.zeroShot;
        if (!zs) throw new Error(`tier ${tier.name} lists "${spec.name}" but loads no zero-shot model`);
        await measure(spec, zs.model, 0, zs.hyperparameters);
      } else if (spec.kind === 'train') {
        const init = spec.init === undefined ? undefined : runs.get(spec.init)?.model;
        if (spec.init !== undefined && init === undefined)
          throw new Error(`${spec.name} needs the model of ${spec.init}`);
        const seed = createRng(o.seed)
          .fork(spec.name)
          .int(2 ** 31 - 1);
        const tr = await loaded.fineTune(spec.name, init, seed);
        owned.push(tr.model);
        await measure(spec, tr.model, tr.seconds, tr.hyperparameters);
      } else {
        const s = performance.now();
        const d = await spec.run({ tier: loaded, options: o, runs, say });
        if (d.model !== undefined) owned.push(d.model);
        const result = await record(
          spec,
          d.scores,
          d.input,
          {
            trainSeconds: d.trainSeconds,
            evalSeconds: (performance.now() - s) / 1000,
            hyperparameters: d.hyperparameters,
            ...(d.idVal === undefined ? {} : { idVal: d.idVal }),
          },
          d.model,
          undefined,
        );
        if (d.curve) wiseCurve.push(...d.curve);
        runs.set(spec.name, { result });
      }
    }

    const results = [...runs.values()].map((r) => r.result);
    // Effective robustness against the line through the tier's standard (non-robust) procedures.
    const baseline = applyEffectiveRobustness(results, tier.baseline);
    const base: BenchReport = {
      tier: tier.name,
      seed: o.seed,
      backend: o.backend,
      startedAt,
      totalSeconds: 0,
      machine: await machineInfo(),
      data: loaded.data,
      shifts: Object.keys(results[0]?.ood ?? {}),
      baseline,
      options: { epochs: o.epochs, batchSize: o.batchSize, hyperparameters: o.hyperparameters },
      methods: tier.methods
        .filter((s) => report.has(s.name) || s.kind === 'zero-shot')
        .flatMap((s) => {
          const r = runs.get(s.name)?.result;
          return r ? [r] : [];
        }),
      wiseCurve,
      notes: loaded.notes ?? [],
    };
    const out = { ...base, ...tier.report.extra?.(base) };
    out.totalSeconds = (performance.now() - t0) / 1000;
    return out;
  } finally {
    for (const m of owned) loaded.disposeModel(m);
    loaded.dispose();
    tf.engine().endScope();
  }
}
