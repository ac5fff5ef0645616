/**
 * The live demo's training loop, shared by the page and the tests: pre-train a small MLP on the broad
 * source task, then fine-tune two copies of it on the ID data side by side — AdamW and FTP — and report
 * ID and OOD test accuracy after every epoch.
 */
import type * as TF from '@tensorflow/tfjs';
import { CLASSES, FEATURES, makeSplit } from './synthetic-task';

export interface DemoPoint {
  method: string;
  epoch: number;
  id: number;
  ood: number;
}

export interface DemoOptions {
  epochs: number;
  /** Factories for the compared optimizers, keyed by the label shown in the chart. */
  optimizers: Record<string, () => TF.Optimizer>;
  onPoint?: (point: DemoPoint) => void;
  /** Yields to the page between epochs so the chart can repaint. */
  yieldEvery?: () => Promise<void>;
}

export interface DemoResult {
  pretrainAccuracy: number;
  points: DemoPoint[];
}

function buildMlp(tf: typeof TF): TF.Sequential {
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  return tf.sequential({
    layers: [
      tf.layers.dense({
        units: 32,
        inputShape: [FEATURES],
        activation: 'relu',
        name: 'body',
        kernelInitializer: init(1),
      }),
      tf.layers.dense({ units: CLASSES, name: 'head', kernelInitializer: init(2) }),
    ],
  });
}

function accuracy(tf: typeof TF, model: TF.Sequential, x: TF.Tensor2D, y: TF.Tensor1D): number {
  return tf.tidy(() => {
    const predicted = tf.argMax(model.predict(x) as TF.Tensor2D, 1);
    return tf.mean(tf.cast(tf.equal(predicted, y), 'float32')).dataSync()[0] ?? 0;
  });
}

const ce = (tf: typeof TF) => (yTrue: TF.Tensor, yPred: TF.Tensor) =>
  tf.losses.softmaxCrossEntropy(yTrue, yPred) as TF.Scalar;

export async function runDemo(tf: typeof TF, options: DemoOptions): Promise<DemoResult> {
  const pre = makeSplit(tf, 'pretrain', 600);
  const train = makeSplit(tf, 'id-train', 150);
  const idTest = makeSplit(tf, 'id-test', 300);
  const oodTest = makeSplit(tf, 'ood-test', 300);
  const oneHot = (y: TF.Tensor1D) => tf.oneHot(y, CLASSES);

  const pretrained = buildMlp(tf);
  pretrained.compile({ optimizer: tf.train.adam(0.02), loss: ce(tf) });
  const preY = oneHot(pre.y);
  await pretrained.fit(pre.x, preY, { epochs: 60, batchSize: 200, shuffle: false, verbose: 0 });
  const pretrainAccuracy = accuracy(tf, pretrained, pre.x, pre.y);
  const weights = pretrained.getWeights();

  const points: DemoPoint[] = [];
  const runs = Object.entries(options.optimizers).map(([method, make]) => {
    const model = buildMlp(tf);
    model.setWeights(weights);
    model.compile({ optimizer: make(), loss: ce(tf) });
    return { method, model };
  });
  const record = (method: string, epoch: number, model: TF.Sequential) => {
    const point = {
      method,
      epoch,
      id: accuracy(tf, model, idTest.x, idTest.y),
      ood: accuracy(tf, model, oodTest.x, oodTest.y),
    };
    points.push(point);
    options.onPoint?.(point);
  };
  for (const run of runs) record(run.method, 0, run.model);
  const trainY = oneHot(train.y);
  for (let epoch = 1; epoch <= options.epochs; epoch++) {
    // Both methods advance one epoch before either is evaluated, so the chart grows side by side.
    for (const run of runs) {
      await run.model.fit(train.x, trainY, { epochs: 1, batchSize: 30, shuffle: false, verbose: 0 });
      record(run.method, epoch, run.model);
    }
    await options.yieldEvery?.();
  }
  for (const t of [pre.x, pre.y, preY, train.x, train.y, trainY, idTest.x, idTest.y, oodTest.x, oodTest.y])
    t.dispose();
  pretrained.dispose();
  for (const run of runs) run.model.dispose();
  return { pretrainAccuracy, points };
}
