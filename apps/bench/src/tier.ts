import type { CorruptionFamily } from '@robust-ft/eval';
import type * as tf from '@tensorflow/tfjs';
import type { Dataset } from './data/datasets';
import type { EvalSet, Outputs } from './evaluate';
import type { Hyperparameters } from './methods';
import type { BenchReport, MethodResult, WisePoint } from './results';

/**
 * A tier is one declaration: its data, model, shifts, method list, budget and report hooks. The one
 * runner (`runner.ts`) does everything else — training every method under the same budget, evaluation,
 * the WiSE-FT/VRF sweeps, progress, effective robustness, report and plots — so two tiers differ only in
 * what they declare. See `tiers/README.md` for how to add one.
 */

/** The options a run gets: CLI flags over the tier's `defaults` over the shared `DEFAULTS`. */
export interface RunOptions {
  seed: number;
  /** Requested method names (from the tier's list); the runner adds the runs they need. */
  methods: readonly string[];
  epochs: number;
  batchSize: number;
  /** Cap on the ID train split (smoke tests); Infinity = the tier's size. */
  trainLimit: number;
  /** MNIST test images evaluated by the digits tier (the first N of the 10k). */
  mnistLimit: number;
  /** Corruption families and severities applied to the ID test set. */
  families: CorruptionFamily[];
  severities: number[];
  /** Interior WiSE-FT mixing coefficients swept (α = 0 and 1 are the endpoint runs themselves). */
  wiseAlphas: number[];
  quiet: boolean;
  /** The backend that runs (only recorded in the report). */
  backend: string;
  hyperparameters: Hyperparameters;
  /** A tier's pre-trained model folder, when it has a file-based one. */
  modelDir?: string;
  /** A tier's data folder, when its data is not shipped in the repo. */
  dataDir?: string;
  /**
   * Settings only one tier reads (`--tier-option key=value`, repeatable), so a new tier needs no new
   * shared field or flag; the tier validates its own keys.
   */
  tierOptions?: Readonly<Record<string, string>>;
}

/** What a trained run hands back to the runner. */
export interface TrainedModel<M> {
  model: M;
  seconds: number;
  /** The run's settings for the report (the optimizer's own `getConfig()` plus what the tier adds). */
  hyperparameters: Record<string, number | string>;
}

/** The part of a method's row computed from its scores; the runner adds names, times and settings. */
export interface ScoredRun<M> {
  /** Scores (N × classes) per evaluation-set key. */
  scores: Map<string, Float32Array>;
  input: 'logits' | 'probabilities';
  /** Accuracy on the ID validation split, when the method has one. */
  idVal?: number;
  hyperparameters: Record<string, number | string>;
  /** Training time the method reuses (e.g. the fine-tuned run of a WiSE-FT mix). */
  trainSeconds: number;
  /** A sweep to draw as the report's curve (WiSE-FT). */
  curve?: WisePoint[];
  /** The report field `curve` goes to; default `wiseCurve` (an output-space ensemble's sweep sets its own). */
  curveField?: string;
  /** The model behind the scores, when one exists, for the tier's `metrics` hook; the runner disposes it. */
  model?: M;
}

/** Everything a derived (post-hoc) method can read: the finished runs it declared in `needs`. */
export interface DerivedContext<M> {
  tier: LoadedTier<M>;
  options: RunOptions;
  /** Finished runs by method name: the model (absent for derived runs), its outputs and its row. */
  runs: ReadonlyMap<string, FinishedRun<M>>;
  say(message: string): void;
}

export interface FinishedRun<M> {
  model?: M;
  /** Outputs on every evaluation set (with features when a derived method asked for them). */
  outputs?: Outputs;
  result: MethodResult;
}

/** One entry of a tier's method list, in report order. */
export type MethodSpec<M> =
  /** The pre-trained model as a classifier (`LoadedTier.zeroShot`); always run when listed. */
  | { name: string; label: string; kind: 'zero-shot' }
  /** A fine-tuning run through `LoadedTier.fineTune`, starting from `init`'s weights when given. */
  | { name: string; label: string; kind: 'train'; init?: string }
  /**
   * A post-hoc method computed from finished runs (WiSE-FT, VRF, output ensembles): `needs` are run
   * first (and evaluated with features when listed in `features`).
   */
  | {
      name: string;
      label: string;
      kind: 'derived';
      needs: readonly string[];
      features?: readonly string[];
      run(ctx: DerivedContext<M>): Promise<ScoredRun<M>>;
    };

/** A tier after `load`: its data and the operations the runner needs on its model type `M`. */
export interface LoadedTier<M> {
  train: Dataset;
  val: Dataset;
  /** Evaluation sets; the one keyed `id` is the ID test set, `domain` sets and corruptions are OOD. */
  eval: EvalSet[];
  /** The zero-shot classifier, when the tier has one (owned by the tier: `dispose` frees it). */
  zeroShot?: { model: M; hyperparameters: Record<string, number | string> };
  /** Fine-tunes a fresh model with `method`, from `init`'s weights when given (else the tier's start). */
  fineTune(method: string, init: M | undefined, seed: number): Promise<TrainedModel<M>>;
  /** Scores per set (and penultimate features when asked). */
  outputs(model: M, sets: readonly EvalSet[], features?: boolean): Promise<Outputs>;
  /** Named weights (views, not copies), identical names across copies of the architecture. */
  weights(model: M): Record<string, tf.Tensor>;
  /** A model of the tier's architecture holding `weights` (reuses `into` when given). */
  withWeights(weights: Record<string, tf.Tensor>, into?: M): M;
  disposeModel(model: M): void;
  /** Extra per-method metric fields for the row (e.g. retrieval R@K, uniformity); default none. */
  metrics?(model: M | undefined, outputs: Outputs | undefined): Promise<Record<string, number>>;
  /**
   * Extra report.json fields the run itself produced, read once every method has run (e.g. embeddings
   * of a few models for a tier's projection plot); the report hooks then see them like any field.
   */
  reportFields?(): Record<string, unknown>;
  /** The report's `data` field: sizes and descriptions of the splits and shifts. */
  data: Record<string, number | string>;
  notes?: string[];
  /** Frees what `load` created (pre-trained model, frozen trunk). */
  dispose(): void;
}

/** Hooks that shape a tier's report beyond the shared table, plots and sections. */
export interface TierReport {
  /** The report.md paragraph that describes the data and shifts (before the shared column legend). */
  describe(r: BenchReport): string;
  /** The ID axis label of the ID-vs-OOD plot. */
  idLabel: string;
  /** Extra columns of the method table, read from each row's `metrics`. */
  metricColumns?: readonly { key: string; label: string; format?: (v: number) => string }[];
  /** Extra top-level report.json fields (e.g. a grid's `cells`), computed from the finished report. */
  extra?(r: BenchReport): Record<string, unknown>;
  /** Extra Markdown sections appended to report.md. */
  sections?(r: BenchReport): string[];
  /** Extra files written beside report.json (file name → text), e.g. a tier's own plots. */
  files?(r: BenchReport): Record<string, string>;
}

/** The declaration a tier file exports (through `defineTier`). */
export interface Tier<M> {
  /** `--tier` name and the report's `tier` field. */
  name: string;
  /** The --help paragraph. */
  help: string;
  /** Options this tier sets differently from the shared defaults (its budget, its shifts). */
  defaults: Partial<RunOptions>;
  /** Methods in report order. */
  methods: readonly MethodSpec<M>[];
  /** The non-robust methods whose logit-space line effective robustness is measured against. */
  baseline: readonly string[];
  /** Report folder under apps/bench/report (default: the tier's name; '.' = report/ itself). */
  reportDir?: string;
  report: TierReport;
  load(options: RunOptions, say: (message: string) => void): Promise<LoadedTier<M>>;
}

/** A tier with its model type erased: what the CLI, the registry and the report writer hold. */
export interface BenchTier {
  name: string;
  help: string;
  defaults: Partial<RunOptions>;
  methodNames: readonly string[];
  reportDir: string;
  report: TierReport;
  run(options: RunOptions): Promise<BenchReport>;
}
