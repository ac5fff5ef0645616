import { type BaselineFit, effectiveRobustness, fitBaseline } from '@robust-ft/eval';
import { argmaxAccuracy, type EvalSet, ece, type Outputs } from './evaluate';

/** One row of the report (**contract** fields: id, ood per shift, oodAvg, wallSeconds). */
export interface MethodResult {
  method: string;
  label: string;
  id: number;
  ood: Record<string, number>;
  oodAvg: number;
  effectiveRobustness: number;
  ece: number;
  wallSeconds: number;
  /** Accuracy on the ID validation split (hyper-parameter selection uses this, never the test sets). */
  idVal?: number;
  trainSeconds: number;
  evalSeconds: number;
  corruptions: Record<string, Record<string, number>>;
  hyperparameters: Record<string, number | string>;
  /** A tier's own per-method metrics (its `metrics` hook), shown as its `metricColumns`. */
  metrics?: Record<string, number>;
}

export interface WisePoint {
  alpha: number;
  id: number;
  oodAvg: number;
  ood: Record<string, number>;
}

export interface BenchReport {
  tier: string;
  seed: number;
  backend: string;
  startedAt: string;
  totalSeconds: number;
  machine: { cpus: number; cpuModel: string; node: string; platform: string };
  data: Record<string, number | string>;
  shifts: string[];
  baseline: { points: string[]; space: string };
  options: Record<string, unknown>;
  methods: MethodResult[];
  wiseCurve: WisePoint[];
  notes: string[];
  /** A tier's extra top-level fields (`TierReport.extra`), e.g. a grid's `cells`. */
  [field: string]: unknown;
}

/**
 * The logit-space line through the named (non-robust) methods that effective robustness is measured
 * against; undefined unless at least two of them have distinct ID accuracies. The runner fits it to set
 * each row's effective robustness, and the report refits it from report.json to draw it.
 */
export function baselineFitOf(
  methods: readonly Pick<MethodResult, 'method' | 'id' | 'oodAvg'>[],
  names: readonly string[],
): BaselineFit | undefined {
  const points = names.flatMap((name) => {
    const m = methods.find((x) => x.method === name);
    return m ? [{ id: m.id, ood: m.oodAvg }] : [];
  });
  return new Set(points.map((p) => p.id)).size >= 2 ? fitBaseline(points, 'logit') : undefined;
}

/** Sets every result's effective robustness against `baselineFitOf`; returns the report's baseline field. */
export function applyEffectiveRobustness(
  results: readonly MethodResult[],
  baselineNames: readonly string[],
): BenchReport['baseline'] {
  const names = baselineNames.filter((m) => results.some((r) => r.method === m));
  const fit = baselineFitOf(results, names);
  if (fit)
    for (const r of results) r.effectiveRobustness = effectiveRobustness({ id: r.id, ood: r.oodAvg }, fit);
  return { points: fit ? names : [], space: 'logit' };
}

/** The machine a report was measured on. */
export async function machineInfo(): Promise<BenchReport['machine']> {
  const os = await import('node:os');
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
  };
}

export type Summary = Pick<MethodResult, 'id' | 'ood' | 'oodAvg' | 'corruptions' | 'ece'>;

/** Scores (logits or probabilities) per set → the report's accuracy fields. */
export async function summarise(
  sets: readonly EvalSet[],
  scores: ReadonlyMap<string, Float32Array>,
  input: 'logits' | 'probabilities',
): Promise<Summary> {
  const acc = (key: string) => {
    const set = sets.find((s) => s.key === key);
    const sc = scores.get(key);
    if (!set || !sc) throw new Error(`missing scores for ${key}`);
    return argmaxAccuracy(sc, set.data.y);
  };
  const corruptions: Record<string, Record<string, number>> = {};
  let cSum = 0;
  let cCount = 0;
  for (const s of sets) {
    if (s.kind !== 'corruption' || !s.family) continue;
    const a = acc(s.key);
    corruptions[s.family] ??= {};
    (corruptions[s.family] as Record<string, number>)[String(s.severity)] = a;
    cSum += a;
    cCount++;
  }
  const ood: Record<string, number> = {};
  for (const s of sets) if (s.kind === 'domain') ood[s.key] = acc(s.key);
  if (cCount > 0) ood.corruptions = cSum / cCount;
  const vals = Object.values(ood);
  const idSet = sets.find((s) => s.key === 'id');
  const idScores = scores.get('id');
  if (!idSet || !idScores) throw new Error('missing ID scores');
  return {
    id: acc('id'),
    ood,
    oodAvg: vals.reduce((a, b) => a + b, 0) / vals.length,
    corruptions,
    ece: await ece(idScores, idSet.data.y, input),
  };
}

export function logitsOf(out: Outputs): Map<string, Float32Array> {
  return new Map([...out].map(([k, v]) => [k, v.logits]));
}
