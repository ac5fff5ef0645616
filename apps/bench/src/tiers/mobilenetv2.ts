import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createRng } from '@robust-ft/core';
import * as tf from '@tensorflow/tfjs';
import { type Dataset, subset } from '../data/datasets';
import { readIdx } from '../data/idx';
import { benchRoot } from '../data/paths';
import { corruptedSets, type EvalSet, layersModelOps } from '../evaluate';
import { fineTune, isTrainedMethod, METHOD_LABELS, SHARED_FINE_TUNING, trainedSpec } from '../methods';
import { HEAD_LAYER } from '../model';
import { wiseFtSweep } from '../posthoc';
import { Progress } from '../progress';
import { defineTier } from '../runner';

/** Input size: 64 px keeps the frozen MobileNetV2 trunk at ~90 img/s on one wasm thread. */
const SIZE = 64;
/** The trunk ends at block_12_add (untouched ImageNet weights); block_13_expand is the tail we fine-tune. */
export const CUT = 'block_12_add';
export const FASHION_DIR = '/usr/share/datasets/fashion-mnist';
const CLASSES = 10;
const TRAIN_SIZE = 1000;
const VAL_SIZE = 200;
const TEST_SIZE = 500;
/** Evaluation batch (the 4×4×96 trunk activations are small). */
const EVAL = { batch: 256 } as const;

interface KerasLayer {
  class_name: string;
  config: { batch_input_shape?: (number | null)[]; pool_size?: number[]; strides?: number[] };
}

/**
 * Loads nsfwjs@4.4.0's MobileNetV2 (α = 1.0, a Keras layers model whose layers up to block_10 are the
 * Keras ImageNet weights and were frozen while nsfwjs tuned the top) at `size` px, from the package's
 * UMD modules, offline.
 */
export async function loadMobilenet(size: number): Promise<tf.LayersModel> {
  const dir = join(benchRoot(), 'node_modules', 'nsfwjs', 'dist', 'models', 'mobilenet_v2');
  if (!existsSync(dir)) throw new Error(`nsfwjs@4.4.0 is not installed (looked in ${dir})`);
  const require = createRequire(join(dir, 'x.js'));
  const model = require('./model.min.js') as {
    modelTopology: { model_config: { config: { layers: KerasLayer[] } } };
    weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[];
  };
  const weights = require('./group1-shard1of1.min.js') as string;
  const topology = structuredClone(model.modelTopology);
  const layers = topology.model_config.config.layers;
  const first = layers[0];
  if (first) first.config.batch_input_shape = [null, size, size, 3];
  // The head's global pooling is a fixed-size AveragePooling2D; resize it so the model still builds.
  for (const l of layers) {
    if (l.class_name === 'AveragePooling2D') {
      l.config.pool_size = [size / 32, size / 32];
      l.config.strides = [size / 32, size / 32];
    }
  }
  const buf = Buffer.from(weights, 'base64');
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: topology,
      weightSpecs: model.weightsManifest.flatMap((g) => g.weights),
      weightData: buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength),
    }),
  );
}

/**
 * The tail: block_13_expand (1×1 conv 96→576, BN, ReLU6) from the pre-trained model, GAP, a new
 * `classes`-way head.
 */
export function buildTail(
  full: tf.LayersModel,
  inShape: number[],
  seed: number,
  classes = CLASSES,
): tf.LayersModel {
  const input = tf.input({ shape: inShape });
  const conv = tf.layers.conv2d({ filters: 576, kernelSize: 1, useBias: false, name: 'block_13_expand' });
  const bn = tf.layers.batchNormalization({ name: 'block_13_expand_BN', epsilon: 1e-3 });
  let h = conv.apply(input) as tf.SymbolicTensor;
  h = bn.apply(h) as tf.SymbolicTensor;
  h = tf.layers.reLU({ maxValue: 6 }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(h) as tf.SymbolicTensor;
  const out = tf.layers
    .dense({ units: classes, name: HEAD_LAYER, kernelInitializer: tf.initializers.glorotUniform({ seed }) })
    .apply(h) as tf.SymbolicTensor;
  const tail = tf.model({ inputs: input, outputs: out });
  conv.setWeights(full.getLayer('block_13_expand').getWeights());
  bn.setWeights(full.getLayer('block_13_expand_BN').getWeights());
  return tail;
}

/** The Fashion-MNIST folder (`--data`, else Debian's), or an error that says how to get it. */
export function fashionDir(dataDir: string | undefined): string {
  const dir = dataDir ?? FASHION_DIR;
  if (!existsSync(join(dir, 'train-images-idx3-ubyte.gz'))) {
    throw new Error(
      `Fashion-MNIST not found in ${dir}: apt-get install dataset-fashion-mnist, or pass --data <dir with the 4 IDX .gz files>`,
    );
  }
  return dir;
}

export function loadFashion(dir: string, split: 'train' | 't10k'): Dataset {
  const img = readIdx(join(dir, `${split}-images-idx3-ubyte.gz`));
  const lab = readIdx(join(dir, `${split}-labels-idx1-ubyte.gz`));
  const n = img.shape[0] ?? 0;
  const x = new Float32Array(n * 784);
  for (let i = 0; i < x.length; i++) x[i] = (img.data[i] ?? 0) / 255;
  return { name: `fashion-${split}`, x, y: Int32Array.from(lab.data), n };
}

/** 28×28 grey images as the MobileNetV2 input: bilinear resize to `size`, grey copied to RGB, [0,1] as nsfwjs. */
export function mobilenetInput(x: tf.Tensor, size: number): tf.Tensor4D {
  return tf.tidy(() => tf.tile(tf.image.resizeBilinear(x as tf.Tensor4D, [size, size]), [1, 1, 1, 3]));
}

/** Trunk activations at the trunk's output for 28×28 grey images fed through `mobilenetInput`. */
export function trunkFeatures(
  trunk: tf.LayersModel,
  ds: Dataset,
  label: string,
  quiet: boolean,
  size = SIZE,
): Dataset {
  const batch = 50;
  const dims = (trunk.outputs[0]?.shape.slice(1) ?? []) as number[];
  const d = dims.reduce((a, b) => a * b, 1);
  const x = new Float32Array(ds.n * d);
  const progress = new Progress(label, ds.n, quiet);
  for (let i = 0; i < ds.n; i += batch) {
    const m = Math.min(batch, ds.n - i);
    const f = tf.tidy(() => {
      const t = tf.tensor4d(ds.x.subarray(i * 784, (i + m) * 784), [m, 28, 28, 1]);
      return trunk.predict(mobilenetInput(t, size)) as tf.Tensor;
    });
    x.set(f.dataSync(), i * d);
    f.dispose();
    progress.update(i + m);
  }
  progress.done();
  return { name: ds.name, x, y: ds.y, n: ds.n };
}

/**
 * Tier "mobilenetv2": an ImageNet MobileNetV2 (from nsfwjs@4.4.0) on Fashion-MNIST. The trunk up to
 * block_12 stays frozen (its activations are computed once); every method fine-tunes the same tail
 * (block_13_expand + BN, 55 k weights) and a new 10-way head on those activations. OOD = the ID test set
 * under corruptions. Fashion-MNIST has no natural second domain, so there is no domain-shift column.
 */
export const mobilenetv2 = defineTier<tf.LayersModel>({
  name: 'mobilenetv2',
  help: `mobilenetv2: the ImageNet MobileNetV2 shipped in nsfwjs@4.4.0 (MIT; trunk to block_12
                      frozen, block_13_expand + new head fine-tuned) on Fashion-MNIST (1,000 train / 500
                      test), OOD = 4 corruptions × severities 2, 4. Needs Fashion-MNIST: apt-get install
                      dataset-fashion-mnist, or --data <dir>. No zero-shot head. 10 epochs.`,
  defaults: {
    epochs: 10,
    families: ['gaussian_noise', 'defocus_blur', 'contrast', 'pixelate'],
    severities: [2, 4],
  },
  methods: [
    ...SHARED_FINE_TUNING.map((m) =>
      trainedSpec<tf.LayersModel>(m, m === 'adamw' ? 'AdamW (tail + head)' : METHOD_LABELS[m]),
    ),
    wiseFtSweep({ name: 'wise-ft', label: 'WiSE-FT (LP ↔ LP-FT)', from: 'linear-probe', to: 'lp-ft' }),
  ],
  baseline: ['linear-probe', 'adamw'],
  report: {
    idLabel: 'Fashion-MNIST',
    describe: (r) =>
      `Model: ${r.data.model}. ID: Fashion-MNIST (fine-tune ${r.data.idTrain}, validation ${r.data.idVal}, test ${r.data.idTest}). ` +
      `OOD: the ID test set under ${r.data.corruptions}. ${r.notes.join(' ')}`,
  },
  async load(o, say) {
    const dir = fashionDir(o.dataDir);
    const rng = createRng(o.seed).fork('mobilenet-split');
    const trainAll = loadFashion(dir, 'train');
    const order = rng.shuffle(Array.from({ length: trainAll.n }, (_, i) => i));
    const nTrain = Math.min(TRAIN_SIZE, o.trainLimit);
    const train28 = subset(trainAll, order.slice(0, nTrain), 'fashion-train');
    const val28 = subset(trainAll, order.slice(nTrain, nTrain + VAL_SIZE), 'fashion-val');
    const testAll = loadFashion(dir, 't10k');
    const test28 = subset(
      testAll,
      Array.from({ length: TEST_SIZE }, (_, i) => i),
      'fashion-test',
    );
    say(
      `mobilenetv2 tier: nsfwjs@4.4.0 MobileNetV2 (ImageNet trunk to ${CUT}) at ${SIZE} px; Fashion-MNIST train ${train28.n}, val ${val28.n}, test ${test28.n}`,
    );
    const full = await loadMobilenet(SIZE);
    const trunk = tf.model({ inputs: full.inputs, outputs: full.getLayer(CUT).output as tf.SymbolicTensor });
    const shape = (trunk.outputs[0]?.shape.slice(1) ?? []) as [number, number, number];
    const features = (ds: Dataset, name: string) => trunkFeatures(trunk, ds, `features:${name}`, o.quiet);
    const sets: EvalSet[] = [
      { key: 'id', kind: 'id', data: features(test28, 'test') },
      // Corrupted in pixel space (28×28), then through the frozen trunk like every other set.
      ...corruptedSets(test28, o.families, o.severities, o.seed).map((s) => ({
        ...s,
        data: features(s.data, s.key),
      })),
    ];
    const idTrain = features(train28, 'train');
    const idVal = features(val28, 'val');
    // Every method starts from the same tail and head initialisation.
    const headSeed = createRng(o.seed)
      .fork('head')
      .int(2 ** 31 - 1);
    const budget = {
      epochs: o.epochs,
      batchSize: o.batchSize,
      quiet: o.quiet,
      inputShape: shape,
      trainingMode: false,
      exclude: /^head\//,
    };
    return {
      train: idTrain,
      val: idVal,
      eval: sets,
      ...layersModelOps(() => buildTail(full, shape, 0), { ...EVAL, shape }),
      async fineTune(method, init, seed) {
        if (!isTrainedMethod(method)) throw new Error(`mobilenetv2 tier: ${method} is not a training method`);
        const model = buildTail(full, shape, headSeed);
        if (init) model.setWeights(init.getWeights());
        const tr = fineTune(method, model, model, idTrain, budget, seed, o.hyperparameters);
        return {
          model,
          seconds: tr.seconds,
          hyperparameters: {
            ...tr.hyperparameters,
            trained: method === 'linear-probe' ? 'head' : 'block_13_expand + BN (γ, β) + head',
          },
        };
      },
      data: {
        idTrain: idTrain.n,
        idVal: idVal.n,
        idTest: test28.n,
        model: `nsfwjs@4.4.0 MobileNetV2 at ${SIZE} px, frozen to ${CUT}`,
        corruptions: `${o.families.join(', ')} at severities ${o.severities.join(', ')}`,
      },
      notes: [
        'No zero-shot head exists for Fashion-MNIST, so zero-shot, VRF and FSR are not run; WiSE-FT interpolates the linear probe and LP-FT.',
      ],
      dispose: () => full.dispose(),
    };
  },
});
