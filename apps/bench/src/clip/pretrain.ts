/**
 * Pre-training of the clip tier's dual encoder (`scripts/pretrain-clip.ts` runs it with the defaults and
 * saves the result). CLIP's recipe at toy scale: the symmetric contrastive loss of @robust-ft/losses with
 * a learnable temperature, on image–caption pairs from MNIST training images (handwritten) and the
 * pre-training font families (printed; the evaluation families are held out), with a caption drawn fresh
 * from the grammar each time an image is used. It never reads the UCI digits.
 * Seeded: the same config and backend give the same weights.
 */
import { createRng } from '@robust-ft/core';
import { clipContrastiveLoss } from '@robust-ft/losses';
import * as tf from '@tensorflow/tfjs';
import { mildAugment } from '../augment';
import { type Dataset, loadMnist } from '../data/datasets';
import { PIXELS } from '../data/image';
import { type FontTrait, sampleCaption, vocabulary } from './captions';
import { contrastiveTrain } from './contrastive-train';
import { buildDualEncoder } from './dual-encoder';
import { type FontSplit, splitFonts } from './fonts';

export interface PretrainConfig {
  seed: number;
  /** The first N MNIST training images. */
  mnistImages: number;
  /** Passes over the pre-training font digits per epoch (each pass sees new jitter and captions). */
  fontRepeat: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  quiet?: boolean;
}

/** The recipe of the shipped weights (assets/pretrained-clip). */
export const PRETRAIN_DEFAULTS: Readonly<PretrainConfig> = {
  seed: 2024,
  mnistImages: 30000,
  fontRepeat: 4,
  epochs: 3,
  batchSize: 128,
  learningRate: 2e-3,
};

/** CLIP's initial temperature 0.07 (logit scale ≈ 14.3), learned from there. */
export const INIT_LOG_SCALE = Math.log(1 / 0.07);
/** CLIP clamps the learned logit scale at 100. */
export const MAX_LOGIT_SCALE = 100;

/** MNIST rows first, then the font digits `repeat` times. */
function concat(mnist: Dataset, fonts: Dataset, repeat: number): Dataset {
  const n = mnist.n + fonts.n * repeat;
  const x = new Float32Array(n * PIXELS);
  const y = new Int32Array(n);
  x.set(mnist.x);
  y.set(mnist.y);
  for (let r = 0; r < repeat; r++) {
    const o = mnist.n + r * fonts.n;
    x.set(fonts.x, o * PIXELS);
    y.set(fonts.y, o);
  }
  return { name: 'clip-pretrain', x, y, n };
}

export interface PretrainResult {
  dual: tf.LayersModel;
  vocabulary: string[];
  logLogitScale: number;
  /** exp(logLogitScale) clamped at MAX_LOGIT_SCALE: the scale the loss used. */
  logitScale: number;
  fonts: FontSplit;
  steps: number;
  seconds: number;
}

let runs = 0;

export async function pretrainDualEncoder(config: PretrainConfig): Promise<PretrainResult> {
  const rng = createRng(config.seed);
  const mnist = loadMnist('train', config.mnistImages);
  const fonts = splitFonts();
  const data = concat(mnist, fonts.pretrain, config.fontRepeat);
  const traitsOf = (row: number): readonly FontTrait[] =>
    fonts.pretrainTraits[(row - mnist.n) % fonts.pretrain.n] ?? [];
  const vocab = vocabulary();
  const dual = buildDualEncoder(config.seed, vocab.length);
  // Variable names must be unique per process; a counter keeps repeated runs (tests) apart.
  const logScale = tf.variable(tf.scalar(INIT_LOG_SCALE), true, `logit_scale_${++runs}`);
  const variables = [...dual.trainableWeights.map((w) => w.read() as tf.Variable), logScale];
  const optimizer = tf.train.adam(config.learningRate);
  const result = contrastiveTrain(dual, data, {
    epochs: config.epochs,
    batchSize: config.batchSize,
    rng: rng.fork('batches'),
    optimizer,
    variables,
    vocab,
    caption: (label, row, r) =>
      row < mnist.n
        ? sampleCaption(label, r, { domain: 'handwritten' })
        : sampleCaption(label, r, { domain: 'printed', traits: traitsOf(row) }),
    loss: ({ image, text }) =>
      clipContrastiveLoss(image, text, { logitScale: logScale, maxScale: MAX_LOGIT_SCALE, validate: false }),
    augment: mildAugment,
    label: 'pretrain-clip',
    quiet: config.quiet ?? false,
  });
  const logLogitScale = (await logScale.data())[0] ?? INIT_LOG_SCALE;
  optimizer.dispose();
  logScale.dispose();
  return {
    dual,
    vocabulary: vocab,
    logLogitScale,
    logitScale: Math.min(Math.exp(logLogitScale), MAX_LOGIT_SCALE),
    fonts,
    steps: result.steps,
    seconds: result.seconds,
  };
}
