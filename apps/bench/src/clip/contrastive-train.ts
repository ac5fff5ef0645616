/**
 * The contrastive training loop shared by pre-training and the FLYP / m²-mix fine-tuning methods: image
 * batches with a freshly drawn caption per image, both towers forward, a loss on the two unit-norm
 * embedding batches, gradients for the given variables.
 */
import type { Rng } from '@robust-ft/core';
import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/datasets';
import { Progress } from '../progress';
import { batches } from '../train';
import { encodeCaptions, MAX_TOKENS } from './captions';

export interface ContrastiveStepInput {
  image: tf.Tensor2D;
  text: tf.Tensor2D;
  step: number;
  epoch: number;
}

export interface ContrastiveTrainOptions {
  epochs: number;
  batchSize: number;
  rng: Rng;
  optimizer: tf.Optimizer;
  variables: tf.Variable[];
  vocab: readonly string[];
  /** A caption for an image of `label` that came from row `row` of the data. */
  caption: (label: number, row: number, rng: Rng) => string;
  /** The scalar to minimise from the unit embeddings. */
  loss: (input: ContrastiveStepInput) => tf.Scalar;
  augment?: (x: Float32Array, rng: Rng) => void;
  label: string;
  quiet?: boolean;
}

export interface ContrastiveTrainResult {
  steps: number;
  finalLoss: number;
  seconds: number;
}

/**
 * Trains `dual` (two inputs: images, one-hot captions; two outputs: unit embeddings). Rows of `data`
 * carry their index in `row` so a caption can depend on where an image came from (a font's traits).
 */
export function contrastiveTrain(
  dual: tf.LayersModel,
  data: Dataset,
  opts: ContrastiveTrainOptions,
): ContrastiveTrainResult {
  const indexed: Dataset = { ...data, y: Int32Array.from({ length: data.n }, (_, i) => i) };
  const total = Math.floor(data.n / opts.batchSize) * opts.epochs;
  const perEpoch = Math.max(1, Math.floor(data.n / opts.batchSize));
  const progress = new Progress(opts.label, total, opts.quiet);
  const start = performance.now();
  const v = opts.vocab.length;
  let step = 0;
  let lossValue = Number.NaN;
  let smoothed = Number.NaN;
  // `indexed` labels each row with its own index, so a batch tells us which rows (and true labels) it holds.
  for (const [xs, rows] of batches(indexed, opts.batchSize, opts.epochs, opts.rng)) {
    const captions = Array.from(rows, (r) => opts.caption(data.y[r] ?? 0, r, opts.rng));
    if (opts.augment) opts.augment(xs, opts.rng);
    const epoch = Math.floor(step / perEpoch);
    const loss = tf.tidy(() => {
      const x = tf.tensor4d(xs, [opts.batchSize, 28, 28, 1]);
      const t = tf.tensor3d(encodeCaptions(captions, opts.vocab), [opts.batchSize, MAX_TOKENS, v]);
      const { value, grads } = tf.variableGrads(() => {
        const [image, text] = dual.apply([x, t], { training: true }) as tf.Tensor2D[];
        return opts.loss({ image: image as tf.Tensor2D, text: text as tf.Tensor2D, step, epoch });
      }, opts.variables);
      opts.optimizer.applyGradients(grads);
      return value;
    });
    lossValue = loss.dataSync()[0] ?? Number.NaN;
    loss.dispose();
    if (!Number.isFinite(lossValue)) throw new Error(`${opts.label}: non-finite loss at step ${step}`);
    smoothed = Number.isNaN(smoothed) ? lossValue : 0.9 * smoothed + 0.1 * lossValue;
    step++;
    progress.update(step, smoothed);
  }
  const seconds = (performance.now() - start) / 1000;
  progress.done(`loss ${smoothed.toFixed(4)}`);
  return { steps: step, finalLoss: lossValue, seconds };
}
