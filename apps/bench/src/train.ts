import type { Rng } from '@robust-ft/core';
import * as tf from '@tensorflow/tfjs';
import type { Dataset } from './data/datasets';
import { Progress } from './progress';

export interface TrainOptions {
  epochs: number;
  batchSize: number;
  optimizer: tf.Optimizer;
  /** The variables to train (e.g. only the head for a linear probe). */
  variables: tf.Variable[];
  rng: Rng;
  /** Optional in-place augmentation of a batch (N×784 in [0,1]) before it becomes a tensor. */
  augment?: (x: Float32Array, rng: Rng) => void;
  /** Extra loss terms added to the cross-entropy (e.g. a function-space regulariser). */
  extraLoss?: (x: tf.Tensor4D, logits: tf.Tensor, step: number) => tf.Scalar;
  /** Called after each optimizer step (e.g. a TPGM projection). */
  afterStep?: (step: number) => void;
  label: string;
  quiet?: boolean;
  /** Per-sample shape (default 28×28×1). */
  inputShape?: [number, number, number];
  /** `training` flag of the forward pass (false keeps batch-norm on its moving statistics). */
  trainingMode?: boolean;
}

export interface TrainResult {
  steps: number;
  finalLoss: number;
  seconds: number;
}

/** Mini-batches of `ds` in a seeded order; the last partial batch is dropped so every step is equal. */
export function* batches(
  ds: Dataset,
  batchSize: number,
  epochs: number,
  rng: Rng,
): Generator<[Float32Array, Int32Array]> {
  const size = ds.x.length / ds.n;
  for (let e = 0; e < epochs; e++) {
    const order = rng.shuffle(Array.from({ length: ds.n }, (_, i) => i));
    for (let b = 0; b + batchSize <= ds.n; b += batchSize) {
      const x = new Float32Array(batchSize * size);
      const y = new Int32Array(batchSize);
      for (let i = 0; i < batchSize; i++) {
        const j = order[b + i] ?? 0;
        x.set(ds.x.subarray(j * size, (j + 1) * size), i * size);
        y[i] = ds.y[j] ?? 0;
      }
      yield [x, y];
    }
  }
}

export function stepsPerRun(n: number, batchSize: number, epochs: number): number {
  return Math.floor(n / batchSize) * epochs;
}

/**
 * A plain training loop over `model.apply(training)`, mean softmax cross-entropy plus optional terms,
 * gradients only for `variables`, and `optimizer.applyGradients` with the variables' names, which is
 * how every robust-ft optimizer keys its state and anchors.
 */
export function train(model: tf.LayersModel, ds: Dataset, opts: TrainOptions): TrainResult {
  const total = stepsPerRun(ds.n, opts.batchSize, opts.epochs);
  const progress = new Progress(opts.label, total, opts.quiet);
  const start = performance.now();
  let step = 0;
  let lossValue = Number.NaN;
  let smoothed = Number.NaN;
  for (const [xs, ys] of batches(ds, opts.batchSize, opts.epochs, opts.rng)) {
    const loss = tf.tidy(() => {
      if (opts.augment) opts.augment(xs, opts.rng);
      const [h, w, c] = opts.inputShape ?? [28, 28, 1];
      const x = tf.tensor4d(xs, [opts.batchSize, h, w, c]);
      const { value, grads } = tf.variableGrads(() => {
        const logits = model.apply(x, { training: opts.trainingMode ?? true }) as tf.Tensor;
        const labels = tf.oneHot(tf.tensor1d(ys, 'int32'), logits.shape[1] ?? 0);
        let l = tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
        if (opts.extraLoss) l = tf.add(l, opts.extraLoss(x, logits, step));
        return l;
      }, opts.variables);
      opts.optimizer.applyGradients(grads);
      return value;
    });
    lossValue = loss.dataSync()[0] ?? Number.NaN;
    loss.dispose();
    smoothed = Number.isNaN(smoothed) ? lossValue : 0.9 * smoothed + 0.1 * lossValue;
    opts.afterStep?.(step);
    step++;
    progress.update(step, smoothed);
  }
  const seconds = (performance.now() - start) / 1000;
  progress.done(`loss ${smoothed.toFixed(4)}`);
  return { steps: step, finalLoss: lossValue, seconds };
}
