/**
 * The clip tier's methods. Classification fine-tuning (LP, E2E-FT, LP-FT, FSR, FTP/SPD/DiGraP) trains
 * the image tower and a head initialised from the class prompts with cross-entropy; contrastive
 * fine-tuning (FLYP, m²-mix and its V/L/VL-Mix ablations) trains both towers on image–caption pairs and
 * classifies with the prompt head of the fine-tuned text tower. WiSE-FT, OSE and VRF combine the zero-shot
 * model with E2E-FT and train nothing.
 */
import { createRng, type Rng } from '@robust-ft/core';
import { type CorruptionFamily, corrupt } from '@robust-ft/eval';
import { consistencyLoss, klDivergence, type MixTerm, m2mixObjective, stopGradient } from '@robust-ft/losses';
import { adamw } from '@robust-ft/optimizers';
import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/datasets';
import {
  fineTune,
  HYPERPARAMETERS,
  type Hyperparameters,
  optimizerSettings,
  type TrainedRun,
} from '../methods';
import { train } from '../train';
import { sampleCaption } from './captions';
import { contrastiveTrain } from './contrastive-train';

/** Every method of the clip tier, in report order (the report ids). */
export const CLIP_METHODS = [
  'zero-shot',
  'lp',
  'e2e-ft',
  'lp-ft',
  'flyp',
  'm2mix',
  'v-mix',
  'l-mix',
  'vl-mix',
  'fsr',
  'wise-ft',
  'ose',
  'vrf',
  'ftp',
  'spd',
  'digrap',
] as const;
export type ClipMethod = (typeof CLIP_METHODS)[number];

export const CLIP_METHOD_LABELS: Record<ClipMethod, string> = {
  'zero-shot': 'Zero-shot (prompt ensemble)',
  lp: 'Linear probe (prompt-init head)',
  'e2e-ft': 'E2E-FT (AdamW, CE)',
  'lp-ft': 'LP-FT',
  flyp: 'FLYP (contrastive FT)',
  m2mix: 'm²-mix (FLYP + m²-mix)',
  'v-mix': 'V-Mix (FLYP + V-Mix)',
  'l-mix': 'L-Mix (FLYP + L-Mix)',
  'vl-mix': 'VL-Mix (FLYP + VL-Mix)',
  fsr: 'FSR + consistency',
  'wise-ft': 'WiSE-FT (ZS ↔ E2E-FT)',
  ose: 'OSE (ZS + E2E-FT)',
  vrf: 'VRF (ZS + E2E-FT)',
  ftp: 'E2E-FT with FTP',
  spd: 'E2E-FT with SPD',
  digrap: 'E2E-FT with DiGraP',
};

/** Contrastive methods and the mix term each adds to FLYP's CLIP loss. */
export const CONTRASTIVE: Partial<Record<ClipMethod, MixTerm | null>> = {
  flyp: null,
  m2mix: 'm2mix',
  'v-mix': 'vmix',
  'l-mix': 'lmix',
  'vl-mix': 'vlmix',
};

/**
 * The clip tier's own settings; everything else (learning rate, weight decay, FTP k, SPD λ, DiGraP λ,
 * the FSR weight and views) is the bench's shared `Hyperparameters`, so `--set` reaches both tiers.
 * The m²-mix family uses the weights of the reference scripts: m²-mix 0.01 with β = 0.5 and τ₂ = 0.07
 * (`scripts/m2mix.sh`), V-Mix and L-Mix 0.05 with β = 0.5, VL-Mix 0.1 with β = 0.5 (`scripts/m3mix.sh`,
 * the middle of its sweep), all under the 1/(epoch+1) schedule both scripts set. The base temperature
 * is the pre-trained model's own learned 1/scale, as the scripts' τ = 0.01 is CLIP's 1/100.
 */
export interface ClipSettings {
  mixWeights: Record<MixTerm, number>;
  mixBeta: Record<MixTerm, number>;
  mixTemperature: number;
  /** Weight of FSR's consistency term (its function-space term uses the shared `fsrWeight`). */
  consistencyWeight: number;
}

export const CLIP_SETTINGS: Readonly<ClipSettings> = {
  mixWeights: { m2mix: 0.01, vmix: 0.05, lmix: 0.05, vlmix: 0.1 },
  mixBeta: { m2mix: 0.5, vmix: 0.5, lmix: 0.5, vlmix: 0.5 },
  mixTemperature: 0.07,
  consistencyWeight: 1,
};

export interface ClipBudget {
  epochs: number;
  batchSize: number;
  quiet: boolean;
}

/** Maps the clip tier's CE methods onto the digits tier's `fineTune` (same optimizers, same loop). */
const CE_METHOD = {
  lp: 'linear-probe',
  'e2e-ft': 'adamw',
  'lp-ft': 'lp-ft',
  ftp: 'ftp',
  spd: 'spd',
  digrap: 'digrap',
} as const;
export type CeMethod = keyof typeof CE_METHOD;

export function isCeMethod(m: ClipMethod): m is CeMethod {
  return m in CE_METHOD;
}

/**
 * Cross-entropy fine-tuning of a classifier in place (its head starts from the class prompts, so the
 * anchor-based optimizers anchor the head too: it is pre-trained, not new).
 */
export function fineTuneCe(
  method: CeMethod,
  model: tf.LayersModel,
  zeroShot: tf.LayersModel,
  data: Dataset,
  budget: ClipBudget,
  seed: number,
  H: Readonly<Hyperparameters> = HYPERPARAMETERS,
): TrainedRun {
  return fineTune(CE_METHOD[method], model, zeroShot, data, budget, seed, H);
}

/** Reads the optimizer's settings, frees it, and returns the run with them and the method's notes. */
function finishRun(
  optimizer: tf.Optimizer,
  res: { seconds: number; steps: number; finalLoss: number },
  budget: ClipBudget,
  notes: Record<string, number | string>,
): TrainedRun {
  const settings = optimizerSettings(optimizer);
  optimizer.dispose();
  return {
    seconds: res.seconds,
    steps: res.steps,
    finalLoss: res.finalLoss,
    hyperparameters: {
      ...settings,
      ...notes,
      epochs: budget.epochs,
      batchSize: budget.batchSize,
      steps: res.steps,
    },
  };
}

/** A random simulated-OOD view: one of `families` at a random severity, seeded by `rng`. */
function corruptionView(families: readonly CorruptionFamily[]) {
  return (x: tf.Tensor, r: Rng) =>
    corrupt(
      x as tf.Tensor4D,
      families[r.int(families.length)] ?? 'shot_noise',
      1 + r.int(5),
      r.int(1_000_000),
    );
}

/**
 * FSR (our reading of "Feed Two Birds with One Scone"; its code and formulas are not public): AdamW
 * cross-entropy plus `fsrWeight`·KL(p_zs ‖ p_ft) on a simulated-OOD view of the batch (function-space
 * distance to the zero-shot model) plus `consistencyWeight`·JS between the fine-tuned model's predictions
 * on the clean batch and on that view (consistency regularisation).
 */
export function fineTuneFsr(
  model: tf.LayersModel,
  zeroShot: tf.LayersModel,
  data: Dataset,
  budget: ClipBudget,
  seed: number,
  H: Readonly<Hyperparameters> = HYPERPARAMETERS,
  C: Readonly<ClipSettings> = CLIP_SETTINGS,
): TrainedRun {
  const view = corruptionView(H.fsrViews);
  const viewRng = createRng(seed).fork('fsr-views');
  // One simulated-OOD view per step serves both terms: the fine-tuned model's output on it is pulled
  // toward the zero-shot model's (function space) and toward its own output on the clean batch
  // (consistency), so a step costs one corruption and two extra forward passes.
  const regularizer = (x: tf.Tensor4D, clean: tf.Tensor): tf.Scalar =>
    tf.tidy(() => {
      const v = view(x, viewRng);
      const student = model.apply(v, { training: true }) as tf.Tensor2D;
      const teacher = stopGradient(zeroShot.apply(v) as tf.Tensor2D);
      const fsr = klDivergence(teacher, student, { validate: false });
      const consistency = consistencyLoss(clean as tf.Tensor2D, student, { validate: false });
      return tf.add(tf.mul(H.fsrWeight, fsr), tf.mul(C.consistencyWeight, consistency)) as tf.Scalar;
    });
  const optimizer = adamw({ learningRate: H.learningRate, weightDecay: H.adamwWeightDecay });
  const res = train(model, data, {
    epochs: budget.epochs,
    batchSize: budget.batchSize,
    rng: createRng(seed).fork('batches'),
    quiet: budget.quiet,
    label: 'fsr',
    optimizer,
    variables: model.trainableWeights.map((w) => w.read() as tf.Variable),
    extraLoss: (x, logits) => regularizer(x, logits),
  });
  return finishRun(optimizer, res, budget, {
    functionSpace: 'KL(p_zs(view) || p_ft(view))',
    fsrWeight: H.fsrWeight,
    consistency: 'JS(p_ft(clean), p_ft(view))',
    view: 'one corruption per step, random family and severity 1-5',
    consistencyWeight: C.consistencyWeight,
    views: H.fsrViews.join('+'),
  });
}

/**
 * Contrastive fine-tuning of a dual encoder in place: FLYP (the CLIP loss on image–caption pairs, both
 * towers, at the pre-trained temperature) plus, for the m²-mix family, one mix term. Captions of the ID
 * images come from the training phrasings with handwritten styles.
 */
export function fineTuneContrastive(
  method: ClipMethod,
  dual: tf.LayersModel,
  data: Dataset,
  vocab: readonly string[],
  logitScale: number,
  budget: ClipBudget,
  seed: number,
  H: Readonly<Hyperparameters> = HYPERPARAMETERS,
  C: Readonly<ClipSettings> = CLIP_SETTINGS,
): TrainedRun {
  const term = CONTRASTIVE[method];
  if (term === undefined) throw new Error(`${method} is not a contrastive method`);
  const weights: Partial<Record<MixTerm, number>> = { m2mix: 0 };
  if (term) weights[term] = C.mixWeights[term];
  const objective = m2mixObjective({
    temperature: 1 / logitScale,
    mixTemperature: C.mixTemperature,
    weights,
    beta: C.mixBeta,
    epochSchedule: true,
  });
  const rng = createRng(seed);
  const lambdaRng = rng.fork('lambda');
  const optimizer = adamw({ learningRate: H.learningRate, weightDecay: H.adamwWeightDecay });
  const res = contrastiveTrain(dual, data, {
    epochs: budget.epochs,
    batchSize: budget.batchSize,
    rng: rng.fork('batches'),
    optimizer,
    variables: dual.trainableWeights.map((w) => w.read() as tf.Variable),
    vocab,
    caption: (label, _row, r) => sampleCaption(label, r, { domain: 'handwritten' }),
    loss: ({ image, text, epoch }) => {
      const out = objective(image, text, { rng: lambdaRng, epoch });
      tf.dispose(Object.values(out.terms));
      return out.loss;
    },
    label: method,
    quiet: budget.quiet,
  });
  return finishRun(optimizer, res, budget, {
    trained: 'both towers',
    loss: term ? `clip + ${C.mixWeights[term]}·${term} (β=${C.mixBeta[term]})` : 'clip',
    temperature: Number((1 / logitScale).toFixed(4)),
    ...(term === 'm2mix' ? { mixTemperature: C.mixTemperature } : {}),
    schedule: '1/(epoch+1) on the mix term',
  });
}
