import { createRng, type Rng } from '@robust-ft/core';
import { type CorruptionFamily, corrupt } from '@robust-ft/eval';
import { functionSpaceRegularizer } from '@robust-ft/losses';
import { adamw, digrap, ftp, l2sp, spd, tpgm, type ValidationLoss } from '@robust-ft/optimizers';
import * as tf from '@tensorflow/tfjs';
import type { Dataset } from './data/datasets';
import { cnnLogits, HEAD_LAYER } from './model';
import type { MethodSpec } from './tier';
import { batches, train } from './train';

/** Every method the digits tier knows, in report order. */
export const ALL_METHODS = [
  'zero-shot',
  'linear-probe',
  'adamw',
  'lp-ft',
  'l2sp',
  'ftp',
  'spd',
  'digrap',
  'tpgm',
  'fsr',
  'wise-ft',
  'vrf',
] as const;
export type MethodName = (typeof ALL_METHODS)[number];

export const METHOD_LABELS: Record<MethodName, string> = {
  'zero-shot': 'Zero-shot (pre-trained)',
  'linear-probe': 'Linear probe',
  adamw: 'AdamW full FT',
  'lp-ft': 'LP-FT',
  l2sp: 'L2-SP',
  ftp: 'FTP',
  spd: 'SPD',
  digrap: 'DiGraP',
  tpgm: 'TPGM',
  fsr: 'AdamW + FSR',
  'wise-ft': 'WiSE-FT (AdamW)',
  vrf: 'VRF (AdamW)',
};

/** The fine-tuning methods every image tier runs, in report order. */
export const SHARED_FINE_TUNING = ['linear-probe', 'adamw', 'lp-ft', 'l2sp', 'ftp', 'spd', 'digrap'] as const;

/** A tier's method entry for a `fineTune` run; LP-FT starts from the linear probe's model. */
export function trainedSpec<M>(name: TrainedMethod, label = METHOD_LABELS[name]): MethodSpec<M> {
  return { name, label, kind: 'train', ...(name === 'lp-ft' ? { init: 'linear-probe' } : {}) };
}

/** The methods `fineTune` trains (the others are the pre-trained model or post-hoc combinations). */
export type TrainedMethod = Exclude<MethodName, 'zero-shot' | 'wise-ft' | 'vrf'>;

export function isTrainedMethod(name: string): name is TrainedMethod {
  return (ALL_METHODS as readonly string[]).includes(name) && !['zero-shot', 'wise-ft', 'vrf'].includes(name);
}

/**
 * An optimizer's settings for the report, read from its own `getConfig()` (the factory and every
 * option with its default filled in); nested values (a schedule, an exclude pattern) as JSON.
 */
export function optimizerSettings(optimizer: tf.Optimizer): Record<string, number | string> {
  const config = optimizer.getConfig();
  const options = (typeof config.options === 'string' ? JSON.parse(config.options) : {}) as Record<
    string,
    unknown
  >;
  const out: Record<string, number | string> = {
    optimizer: String(config.factory).replace(/^robust-ft\//, ''),
  };
  for (const [key, value] of Object.entries(options)) {
    if (value === null || value === undefined) continue;
    out[key] = typeof value === 'number' || typeof value === 'string' ? value : JSON.stringify(value);
  }
  return out;
}

export interface TrainBudget {
  epochs: number;
  batchSize: number;
  quiet: boolean;
  inputShape?: [number, number, number];
  trainingMode?: boolean;
  /** Variables the anchor-based optimizers leave on plain Adam (a new, randomly initialised head). */
  exclude?: RegExp;
  /** TPGM's objective for its radii, on held-out ID data (see `tpgmValidationLoss`); required by 'tpgm'. */
  validationLoss?: ValidationLoss;
}

/**
 * The documented hyper-parameters. One shared learning rate (1e-3, Adam's default) and the same number
 * of steps for every fine-tuning method. FTP has no strength to tune (k = 1, the reference default);
 * L2-SP α, SPD λ, DiGraP λ and the FSR weight were each picked by ID validation accuracy alone in the
 * small sweep of `scripts/sweep.sh` (results in the README), never by a test or OOD number.
 * TPGM runs over Adam at the shared learning rate (the reference uses SGD at 1e-2; Adam keeps the
 * comparison about the projection, not the inner optimizer) with the reference's defaults: per-row L1
 * ('mars') radii, γ trained by Adam at `tpgmProjLr` = 1e-2, one γ step per outer step on one batch of
 * the ID validation split.
 */
export interface Hyperparameters {
  learningRate: number;
  linearProbeLearningRate: number;
  adamwWeightDecay: number;
  l2spAlpha: number;
  ftpK: number;
  spdLambda: number;
  digrapLambda: number;
  tpgmProjLr: number;
  fsrWeight: number;
  fsrViews: CorruptionFamily[];
}

export const HYPERPARAMETERS: Readonly<Hyperparameters> = {
  learningRate: 1e-3,
  linearProbeLearningRate: 1e-2,
  adamwWeightDecay: 0.01,
  l2spAlpha: 0.01,
  ftpK: 1,
  spdLambda: 3,
  digrapLambda: 0.01,
  tpgmProjLr: 1e-2,
  fsrWeight: 1,
  fsrViews: ['shot_noise', 'glass_blur', 'zoom_blur'],
};

/** Applies `key=value` overrides (numeric keys only) from the CLI's --set. */
export function withOverrides(base: Readonly<Hyperparameters>, pairs: readonly string[]): Hyperparameters {
  const out: Hyperparameters = { ...base, fsrViews: [...base.fsrViews] };
  for (const pair of pairs) {
    const [key, raw] = pair.split('=');
    if (key === undefined || raw === undefined || !(key in out) || key === 'fsrViews') {
      throw new Error(
        `--set ${pair}: expected key=number with key one of ${Object.keys(base)
          .filter((k) => k !== 'fsrViews')
          .join(', ')}`,
      );
    }
    const v = Number(raw);
    if (!Number.isFinite(v) || v < 0) throw new Error(`--set ${pair}: not a non-negative number`);
    (out as unknown as Record<string, number>)[key] = v;
  }
  return out;
}

/**
 * TPGM's validation loss for the digit CNN `model`: mean cross-entropy of the projected weights on the
 * next batch of `val` (seeded order, reshuffled each pass), as the reference draws one validation batch
 * per projection. Weights arrive keyed by variable name and are matched to layers by their scoped names.
 */
export function tpgmValidationLoss(
  model: tf.LayersModel,
  val: Dataset,
  batchSize: number,
  seed: number,
): ValidationLoss {
  const layerName = new Map(model.weights.map((w) => [(w.read() as tf.Variable).name, w.originalName]));
  const byLayer = new Map(model.weights.map((w) => [w.originalName, w.read()]));
  const size = Math.min(batchSize, val.n);
  const next = batches(val, size, Number.POSITIVE_INFINITY, createRng(seed).fork('tpgm-val'));
  return (params) => {
    const batch = next.next();
    if (batch.done) throw new Error('TPGM validation batches ran out');
    const [xs, ys] = batch.value;
    const projected = new Map<string, tf.Tensor>();
    for (const [name, t] of Object.entries(params)) {
      const layer = layerName.get(name);
      if (layer !== undefined) projected.set(layer, t);
    }
    // A weight the step did not carry (none in this bench) falls back to the model's current value.
    const weight = (layer: string) => {
      const t = projected.get(layer) ?? byLayer.get(layer);
      if (!t) throw new Error(`TPGM validation loss: no weight ${layer}`);
      return t;
    };
    const x = tf.tensor4d(xs, [size, 28, 28, 1]);
    const logits = cnnLogits(weight, x);
    const labels = tf.oneHot(tf.tensor1d(ys, 'int32'), logits.shape[1]);
    return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
  };
}

function variablesOf(model: tf.LayersModel, onlyHead = false): tf.Variable[] {
  const weights = onlyHead ? model.getLayer(HEAD_LAYER).trainableWeights : model.trainableWeights;
  return weights.map((w) => w.read() as tf.Variable);
}

export interface TrainedRun {
  seconds: number;
  steps: number;
  finalLoss: number;
  hyperparameters: Record<string, number | string>;
}

/**
 * Fine-tunes `model` in place with one method. `pretrained` is the frozen zero-shot model (FSR's
 * teacher); it is never updated.
 */
export function fineTune(
  method: TrainedMethod,
  model: tf.LayersModel,
  pretrained: tf.LayersModel,
  data: Dataset,
  budget: TrainBudget,
  seed: number,
  H: Readonly<Hyperparameters> = HYPERPARAMETERS,
): TrainedRun {
  const lr = H.learningRate;
  const rng = createRng(seed).fork('batches');
  const common = {
    epochs: budget.epochs,
    batchSize: budget.batchSize,
    rng,
    quiet: budget.quiet,
    label: method,
    ...(budget.inputShape ? { inputShape: budget.inputShape } : {}),
    ...(budget.trainingMode === undefined ? {} : { trainingMode: budget.trainingMode }),
  };
  const ex = budget.exclude ? { exclude: budget.exclude } : {};
  let optimizer: tf.Optimizer;
  // What the optimizer's config cannot say (what is trained, extra loss terms); its own settings come
  // from `getConfig()` below, so the report cannot drift from what ran.
  let notes: Record<string, number | string> = {};
  let extraLoss: ((x: tf.Tensor4D, logits: tf.Tensor, step: number) => tf.Scalar) | undefined;
  let onlyHead = false;
  switch (method) {
    case 'linear-probe':
      optimizer = adamw({ learningRate: H.linearProbeLearningRate, weightDecay: 0 });
      notes = { trained: 'head' };
      onlyHead = true;
      break;
    case 'adamw':
    case 'lp-ft':
      optimizer = adamw({ learningRate: lr, weightDecay: H.adamwWeightDecay });
      if (method === 'lp-ft') notes = { init: 'linear-probe head' };
      break;
    case 'l2sp':
      optimizer = l2sp({ learningRate: lr, alpha: H.l2spAlpha, ...ex });
      break;
    case 'ftp':
      optimizer = ftp({ learningRate: lr, k: H.ftpK, ...ex });
      break;
    case 'spd':
      optimizer = spd({ learningRate: lr, weightDecay: H.spdLambda, ...ex });
      break;
    case 'digrap':
      optimizer = digrap({ learningRate: lr, weightDecay: H.digrapLambda, trainableStrength: true, ...ex });
      break;
    case 'tpgm':
      if (!budget.validationLoss)
        throw new Error('tpgm needs budget.validationLoss (its radii are learned on it)');
      optimizer = tpgm({
        inner: 'adam',
        learningRate: lr,
        normMode: 'mars',
        projLr: H.tpgmProjLr,
        maxIters: 1,
        projFreq: 1,
        validationLoss: budget.validationLoss,
        ...ex,
      });
      notes = { validation: `one ID validation batch of ${budget.batchSize} per projection` };
      break;
    case 'fsr': {
      optimizer = adamw({ learningRate: lr, weightDecay: H.adamwWeightDecay });
      notes = {
        regularizer: 'KL(p_pre || p_ft) on corrupted views',
        weight: H.fsrWeight,
        views: H.fsrViews.join('+'),
      };
      // Simulated-OOD views use corruption families that the evaluation does NOT contain, so the
      // regulariser cannot be tuned to the test shifts.
      // One view per step, its family drawn at random, keeps the cost at about two forward passes.
      const families = H.fsrViews;
      const view = (x: tf.Tensor, r: Rng) =>
        corrupt(
          x as tf.Tensor4D,
          families[r.int(families.length)] ?? 'shot_noise',
          1 + r.int(5),
          r.int(1_000_000),
        );
      const fsr = functionSpaceRegularizer({ views: view, weight: H.fsrWeight });
      const viewRng = createRng(seed).fork('fsr-views');
      extraLoss = (x) =>
        fsr(
          (v) => model.apply(v, { training: true }) as tf.Tensor2D,
          (v) => pretrained.apply(v) as tf.Tensor2D,
          x,
          viewRng,
        );
      break;
    }
  }
  const hyperparameters = { ...optimizerSettings(optimizer), ...notes };
  const res = train(model, data, {
    ...common,
    optimizer,
    variables: variablesOf(model, onlyHead),
    ...(extraLoss ? { extraLoss } : {}),
  });
  optimizer.dispose();
  return {
    seconds: res.seconds,
    steps: res.steps,
    finalLoss: res.finalLoss,
    hyperparameters: {
      ...hyperparameters,
      epochs: budget.epochs,
      batchSize: budget.batchSize,
      steps: res.steps,
    },
  };
}
