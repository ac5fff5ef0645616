/**
 * The live demo's training loop, shared by the page and the Node test: two copies of the benchmark's
 * pre-trained digits CNN are fine-tuned side by side on a subset of its ID data (UCI digits), one with
 * AdamW and one with a robust optimizer, and both are tested after every epoch on the ID test split and
 * on printed font digits (OOD), optionally also on the ID test split under a corruption.
 *
 * Every value read back from the device is read with `await data()`, never `dataSync()`: WebGPU in
 * headless Chromium returned zeros for synchronous reads, and asynchronous reads let the page repaint.
 */
import { createRng } from '@robust-ft/core';
import type * as TF from '@tensorflow/tfjs';
import { type Dataset, type DigitsData, head, sample } from './digits';

/**
 * The benchmark's documented hyper-parameters (`HYPERPARAMETERS` in `apps/bench/src/methods.ts`,
 * chosen there on ID validation accuracy only); the Node test checks that they still agree.
 */
export const BENCH_HYPERPARAMETERS = {
  learningRate: 1e-3,
  adamwWeightDecay: 0.01,
  ftpK: 1,
  spdLambda: 3,
  batchSize: 32,
} as const;

export interface DemoPoint {
  method: string;
  epoch: number;
  /** Accuracy on the ID test split (UCI digits). */
  id: number;
  /** Accuracy on the font digits (OOD). */
  ood: number;
  /** Accuracy on the corrupted ID test split, when a corruption was given. */
  corrupted?: number;
}

/** Corrupts a batch of images (N×28×28×1 in [0, 1]); e.g. `@robust-ft/eval`'s `corrupt`. */
export type CorruptFn = (images: TF.Tensor4D) => TF.Tensor4D;

export interface DemoOptions {
  epochs: number;
  /** Images of the ID train split to fine-tune on (the benchmark uses all 1,108). */
  trainImages: number;
  /** Font digits to test on (a stratified sample of the 2,360). */
  oodImages: number;
  /** ID test images to score on (a stratified sample of the 539). Default: all. */
  idTestImages?: number;
  /** Factories for the compared optimizers, keyed by the label shown in the chart. */
  optimizers: Record<string, () => TF.Optimizer>;
  /** Batch order seed (both methods see the same batches). */
  seed?: number;
  corrupt?: CorruptFn;
  onPoint?: (point: DemoPoint) => void;
  /** Called after every training step (of either method) so the page can repaint and report it. */
  onProgress?: (step: number, steps: number) => Promise<void> | void;
  /** Called before each scoring pass (one method, one set), which takes longest on a slow backend. */
  onScoring?: (pass: ScoringPass) => Promise<void> | void;
}

/** One scoring pass: `method`'s model after `epoch` epochs, on one test set of `images` images. */
export interface ScoringPass {
  method: string;
  epoch: number;
  set: 'ID' | 'OOD' | 'ID + noise';
  images: number;
}

export interface DemoResult {
  points: DemoPoint[];
  steps: number;
  trainImages: number;
  oodImages: number;
}

interface Tensors {
  x: TF.Tensor4D;
  y: TF.Tensor1D;
}

function toTensors(tf: typeof TF, ds: Dataset): Tensors {
  return { x: tf.tensor4d(ds.x, [ds.n, 28, 28, 1]), y: tf.tensor1d(ds.y, 'int32') };
}

async function accuracy(tf: typeof TF, model: TF.LayersModel, set: Tensors): Promise<number> {
  const correct = tf.tidy(() => {
    const predicted = tf.argMax(model.predict(set.x) as TF.Tensor2D, 1);
    return tf.sum(tf.cast(tf.equal(predicted, set.y), 'float32'));
  });
  const value = (await correct.data())[0] ?? 0;
  correct.dispose();
  return value / set.y.shape[0];
}

function loadModel(tf: typeof TF, data: DigitsData): Promise<TF.LayersModel> {
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: data.model.modelTopology,
      weightSpecs: data.model.weightSpecs,
      weightData: data.model.weightData,
    }),
  );
}

export async function runDemo(tf: typeof TF, data: DigitsData, options: DemoOptions): Promise<DemoResult> {
  const seed = options.seed ?? 0;
  const batchSize = BENCH_HYPERPARAMETERS.batchSize;
  const trainDs = head(data.idTrain, options.trainImages);
  const oodDs = sample(data.fonts, options.oodImages, seed);
  const train = toTensors(tf, trainDs);
  const idTest = toTensors(
    tf,
    options.idTestImages === undefined ? data.idTest : sample(data.idTest, options.idTestImages, seed),
  );
  const ood = toTensors(tf, oodDs);
  const corrupted = options.corrupt
    ? { x: tf.tidy(() => (options.corrupt as CorruptFn)(idTest.x)), y: idTest.y }
    : undefined;

  const runs = await Promise.all(
    Object.entries(options.optimizers).map(async ([method, make]) => {
      const model = await loadModel(tf, data);
      const variables = model.trainableWeights.map((w) => w.read() as TF.Variable);
      return { method, model, variables, optimizer: make() };
    }),
  );

  const points: DemoPoint[] = [];
  const record = async (run: (typeof runs)[number], epoch: number) => {
    const score = async (set: ScoringPass['set'], tensors: Tensors) => {
      await options.onScoring?.({ method: run.method, epoch, set, images: tensors.y.shape[0] });
      return accuracy(tf, run.model, tensors);
    };
    const point: DemoPoint = {
      method: run.method,
      epoch,
      id: await score('ID', idTest),
      ood: await score('OOD', ood),
    };
    if (corrupted) point.corrupted = await score('ID + noise', corrupted);
    points.push(point);
    options.onPoint?.(point);
  };

  const stepsPerEpoch = Math.floor(trainDs.n / batchSize);
  const steps = stepsPerEpoch * options.epochs * runs.length;
  let step = 0;
  try {
    for (const run of runs) await record(run, 0);
    const rng = createRng(seed).fork('batches');
    for (let epoch = 1; epoch <= options.epochs; epoch++) {
      const order = rng.shuffle(Array.from({ length: trainDs.n }, (_, i) => i));
      for (let b = 0; b + batchSize <= trainDs.n; b += batchSize) {
        const idx = tf.tensor1d(order.slice(b, b + batchSize), 'int32');
        // Both methods take the same step on the same batch before the next batch, so they advance
        // side by side and the page shows them racing.
        for (const run of runs) {
          tf.tidy(() => {
            const x = tf.gather(train.x, idx);
            const labels = tf.oneHot(tf.gather(train.y, idx), 10);
            const { grads } = tf.variableGrads(() => {
              const logits = run.model.apply(x, { training: true }) as TF.Tensor2D;
              return tf.losses.softmaxCrossEntropy(labels, logits) as TF.Scalar;
            }, run.variables);
            run.optimizer.applyGradients(grads);
          });
          step++;
          await options.onProgress?.(step, steps);
        }
        idx.dispose();
      }
      for (const run of runs) await record(run, epoch);
    }
  } finally {
    for (const t of [train.x, train.y, idTest.x, idTest.y, ood.x, ood.y, corrupted?.x]) t?.dispose();
    for (const run of runs) {
      run.optimizer.dispose();
      run.model.dispose();
    }
  }
  return { points, steps, trainImages: trainDs.n, oodImages: oodDs.n };
}
