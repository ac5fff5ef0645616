import { createRng } from '@robust-ft/core';
import { adamw } from '@robust-ft/optimizers';
import * as tf from '@tensorflow/tfjs';
import { type Dataset, head, loadUciDigits, stratifiedSplit, subset } from '../data/datasets';
import { assetPath } from '../data/paths';
import { layersModelOps } from '../evaluate';
import { buildCnn, HEAD_LAYER, loadPretrained } from '../model';
import { buildAttentionNet, PRETRAINED_ATTENTION_DIR } from '../model-attention';
import type { RunOptions } from '../tier';
import {
  buildTail,
  CUT,
  fashionDir,
  loadFashion,
  loadMobilenet,
  mobilenetInput,
  trunkFeatures,
} from '../tiers/mobilenetv2';
import { train as trainLoop } from '../train';
import type { CellModel } from './train-cell';

/** The backbones of the grid: the Guide compares architectures and pre-training, so we have three. */
export const GUIDE_BACKBONES = ['digits-cnn', 'mobilenetv2', 'digits-attention'] as const;
export type GuideBackboneName = (typeof GUIDE_BACKBONES)[number];

/** Sizes the loader needs. */
export interface BackboneSizes {
  trainSize: number;
  testSize?: number;
}

/** A backbone after loading: its pixel-space ID splits and how to make, train and evaluate its models. */
export interface LoadedBackbone {
  /** ID splits, 28×28×1 pixels in [0, 1]. */
  train: Dataset;
  val: Dataset;
  test: Dataset;
  /** Maps a pixel set to what `ops.outputs` reads (MobileNetV2: cached trunk activations). */
  toEval(ds: Dataset, label: string): Dataset;
  /** The model operations of the runner, on `toEval` data. */
  ops: ReturnType<typeof layersModelOps>;
  /** The pre-trained classifier every cell starts from (owned by the backbone: `dispose` frees it). */
  zeroShot: tf.LayersModel;
  /** A fresh model to fine-tune, with the pre-trained weights (every cell starts from the same one). */
  fresh(): tf.LayersModel;
  /** The model as the attacks and losses see it (pixels in). */
  cellModel(model: tf.LayersModel): CellModel;
  /** What "full FT" trains, for the report. */
  fullFt: string;
  data: Record<string, number | string>;
  dispose(): void;
}

export interface GuideBackbone {
  name: GuideBackboneName;
  /** The ID task, for the report. */
  task: string;
  load(o: RunOptions, sizes: BackboneSizes): Promise<LoadedBackbone>;
}

/** UCI digits with the digits tier's seeded split (seed 0 / 1): every backbone on digits sees the same images. */
function uciSplits(sizes: BackboneSizes, trainLimit: number) {
  const { train: trainVal, test: testSplit } = stratifiedSplit(loadUciDigits(), 0.7, 0);
  const { train, test: val } = stratifiedSplit(trainVal, 0.88, 1);
  return {
    train: head(train, Math.min(sizes.trainSize, trainLimit)),
    val,
    test: head(testSplit, sizes.testSize ?? testSplit.n),
  };
}

/** A digits backbone: a layers model pre-trained on MNIST, fine-tuned whole on UCI digits. */
function digitsBackbone(
  name: GuideBackboneName,
  weightsDir: string,
  build: (seed: number) => tf.LayersModel,
  describe: string,
): GuideBackbone {
  return {
    name,
    task: 'UCI handwritten digits',
    async load(o, sizes) {
      const pretrained = await loadPretrained(weightsDir);
      const w0 = pretrained.getWeights();
      return {
        ...uciSplits(sizes, o.trainLimit),
        toEval: (ds) => ds,
        ops: layersModelOps(() => build(0)),
        zeroShot: pretrained,
        fresh() {
          const m = build(0);
          m.setWeights(w0);
          return m;
        },
        cellModel: (model) => ({ model, trainingMode: true }),
        fullFt: 'all',
        data: { model: describe },
        dispose: () => pretrained.dispose(),
      };
    },
  };
}

export const digitsCnn = (o: Pick<RunOptions, 'modelDir'>): GuideBackbone =>
  digitsBackbone(
    'digits-cnn',
    o.modelDir ?? assetPath('pretrained-cnn'),
    buildCnn,
    'the 55 k-parameter MNIST CNN (assets/pretrained-cnn)',
  );

export const digitsAttention: GuideBackbone = digitsBackbone(
  'digits-attention',
  assetPath(PRETRAINED_ATTENTION_DIR),
  buildAttentionNet,
  'a 21 k-parameter vision transformer (7×7 patches, 2 blocks, 2 heads) pre-trained on MNIST by scripts/pretrain.ts --arch attention (assets/pretrained-attention)',
);

/** MobileNetV2 input size in the grid: 32 px makes its trunk's input gradients 4× cheaper than 64 px (measured). */
export const GUIDE_MOBILENET_SIZE = 32;
/** Fashion-MNIST images the MobileNetV2 head is probed on before the grid (the grid's train set is their first part). */
export const GUIDE_MOBILENET_PROBE = { images: 1000, epochs: 20, batchSize: 50, learningRate: 1e-2 } as const;

/**
 * nsfwjs@4.4.0's ImageNet MobileNetV2 on Fashion-MNIST, as in the mobilenetv2 tier but at
 * `GUIDE_MOBILENET_SIZE` px: the trunk to block_12 is frozen (inference mode), the tail (block_13_expand +
 * BN + head) is what full FT trains. Its new 10-way head would need far more steps than the grid's budget,
 * so the "pre-trained model" every cell starts from is the ImageNet trunk and tail with a head probed once
 * (CE, AdamW, on cached trunk activations of `GUIDE_MOBILENET_PROBE.images` training images). The attacks
 * perturb the 28×28 grey image and differentiate through the frozen trunk; clean and corruption evaluation
 * reuse cached trunk activations (the same numbers without a trunk pass per cell).
 */
export const mobilenetV2: GuideBackbone = {
  name: 'mobilenetv2',
  task: 'Fashion-MNIST',
  async load(o, sizes) {
    const size = GUIDE_MOBILENET_SIZE;
    const probe = GUIDE_MOBILENET_PROBE;
    const dir = fashionDir(o.dataDir);
    const trainAll = loadFashion(dir, 'train');
    const order = createRng(0)
      .fork('guide-fashion')
      .shuffle(Array.from({ length: trainAll.n }, (_, i) => i));
    const nProbe = Math.min(probe.images, o.trainLimit);
    const nTrain = Math.min(sizes.trainSize, nProbe);
    const valSize = 100;
    const probed = subset(trainAll, order.slice(0, nProbe), 'fashion-probe');
    const train = head(probed, nTrain);
    const val = subset(trainAll, order.slice(nProbe, nProbe + valSize), 'fashion-val');
    const test = head(loadFashion(dir, 't10k'), sizes.testSize ?? 500);
    const full = await loadMobilenet(size);
    const trunk = tf.model({ inputs: full.inputs, outputs: full.getLayer(CUT).output as tf.SymbolicTensor });
    const shape = (trunk.outputs[0]?.shape.slice(1) ?? []) as [number, number, number];
    const front = (x: tf.Tensor) => trunk.apply(mobilenetInput(x, size), { training: false }) as tf.Tensor;
    const toEval = (ds: Dataset, label: string) =>
      trunkFeatures(trunk, ds, `features:${label}`, o.quiet, size);
    const start = createRng(0)
      .fork('head')
      .int(2 ** 31 - 1);
    const pretrained = buildTail(full, shape, start);
    const optimizer = adamw({ learningRate: probe.learningRate, weightDecay: 0 });
    trainLoop(pretrained, toEval(probed, 'probe'), {
      epochs: probe.epochs,
      batchSize: Math.min(probe.batchSize, nProbe),
      optimizer,
      variables: pretrained.getLayer(HEAD_LAYER).trainableWeights.map((w) => w.read() as tf.Variable),
      rng: createRng(0).fork('guide-probe'),
      label: 'mobilenetv2 head probe',
      quiet: o.quiet,
      inputShape: shape,
      trainingMode: false,
    });
    optimizer.dispose();
    const w0 = pretrained.getWeights();
    const build = () => buildTail(full, shape, 0);
    return {
      train,
      val,
      test,
      toEval,
      ops: layersModelOps(build, { batch: 256, shape }),
      zeroShot: pretrained,
      fresh() {
        const m = build();
        m.setWeights(w0);
        return m;
      },
      cellModel: (model) => ({ model, front, trainingMode: false }),
      fullFt: 'tail (block_13_expand + BN + head; trunk frozen)',
      data: {
        model:
          `nsfwjs@4.4.0 MobileNetV2 (ImageNet trunk to ${CUT}, frozen) at ${size} px; its new 10-way head probed on ` +
          `${nProbe} Fashion-MNIST training images (${probe.epochs} epochs, AdamW ${probe.learningRate}) before the grid`,
      },
      dispose: () => {
        pretrained.dispose();
        full.dispose();
      },
    };
  },
};
