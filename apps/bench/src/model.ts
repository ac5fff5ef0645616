import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { assetPath } from './data/paths';

/** Layer names the methods rely on: the head is what linear probing trains and VRF/WiSE-FT ensemble. */
export const FEATURE_LAYER = 'features';
export const HEAD_LAYER = 'head';

/** A 3×3 same-padded ReLU convolution then a 2×2 max-pool: the stage both digit encoders stack twice. */
export function convPool(
  h: tf.SymbolicTensor,
  o: { filters: number; conv: string; pool: string; init: ReturnType<typeof tf.initializers.glorotUniform> },
): tf.SymbolicTensor {
  const c = tf.layers
    .conv2d({
      filters: o.filters,
      kernelSize: 3,
      padding: 'same',
      activation: 'relu',
      name: o.conv,
      kernelInitializer: o.init,
    })
    .apply(h) as tf.SymbolicTensor;
  return tf.layers.maxPooling2d({ poolSize: 2, name: o.pool }).apply(c) as tf.SymbolicTensor;
}

/**
 * The small digit CNN (55 k parameters): two conv+pool stages, a 32-d feature layer, a 10-way head.
 * Conv/pool/dense only: every gradient kernel it needs exists (or is patched) on wasm, so it trains at a
 * few hundred images per second on one core. Batch normalisation was left out on purpose: with batches
 * of 32–64 from a 1.2k-image target set its running statistics would dominate the shift story.
 */
export function buildCnn(seed: number): tf.LayersModel {
  const init = (s: number) => tf.initializers.glorotUniform({ seed: seed * 100 + s });
  const input = tf.input({ shape: [28, 28, 1], name: 'image' });
  let h = convPool(input, { filters: 16, conv: 'conv1', pool: 'pool1', init: init(1) });
  h = convPool(h, { filters: 32, conv: 'conv2', pool: 'pool2', init: init(2) });
  h = tf.layers.flatten({ name: 'flatten' }).apply(h) as tf.SymbolicTensor;
  return digitClassifier(input, h, init, 'digit_cnn');
}

/**
 * The end every digit model shares: the 32-d ReLU `features` layer and the 10-way `head` on top of `h`
 * (initialisers `init(3)` and `init(4)`), so linear probing, VRF and the guide grid treat them alike.
 */
export function digitClassifier(
  input: tf.SymbolicTensor,
  h: tf.SymbolicTensor,
  init: (s: number) => ReturnType<typeof tf.initializers.glorotUniform>,
  name: string,
): tf.LayersModel {
  const features = tf.layers
    .dense({ units: 32, activation: 'relu', name: FEATURE_LAYER, kernelInitializer: init(3) })
    .apply(h) as tf.SymbolicTensor;
  const logits = tf.layers
    .dense({ units: 10, name: HEAD_LAYER, kernelInitializer: init(4) })
    .apply(features) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: logits, name });
}

/**
 * The forward pass of `buildCnn` written with tfjs ops on weights given by layer-scoped name
 * (`conv1/kernel`, `head/bias`, ...). TPGM needs its validation loss as a differentiable function of
 * the projected weights, which `model.apply` (reading the variables themselves) cannot be; a test keeps
 * this in step with `buildCnn`.
 */
export function cnnLogits(weight: (name: string) => tf.Tensor, x: tf.Tensor4D): tf.Tensor2D {
  const conv = (h: tf.Tensor4D, layer: string) =>
    tf.relu(
      tf.add(tf.conv2d(h, weight(`${layer}/kernel`) as tf.Tensor4D, 1, 'same'), weight(`${layer}/bias`)),
    ) as tf.Tensor4D;
  const dense = (h: tf.Tensor2D, layer: string) =>
    tf.add(tf.matMul(h, weight(`${layer}/kernel`) as tf.Tensor2D), weight(`${layer}/bias`)) as tf.Tensor2D;
  let h = tf.maxPool(conv(x, 'conv1'), 2, 2, 'valid');
  h = tf.maxPool(conv(h, 'conv2'), 2, 2, 'valid');
  // Keras' flatten on NHWC is a row-major reshape.
  const flat = tf.reshape(h, [x.shape[0], -1]) as tf.Tensor2D;
  return dense(tf.relu(dense(flat, FEATURE_LAYER)), HEAD_LAYER);
}

/** A model split into its feature extractor and head, sharing the same layer objects. */
export interface SplitModel {
  model: tf.LayersModel;
  features: tf.LayersModel;
}

export function split(model: tf.LayersModel): SplitModel {
  return {
    model,
    features: tf.model({ inputs: model.inputs, outputs: model.getLayer(FEATURE_LAYER).output }),
  };
}

export const PRETRAINED_DIR = 'pretrained-cnn';

/**
 * Loads the committed pre-trained weights (tfjs layers format: `model.json` + `weights.bin`) from
 * `assets/pretrained-cnn/`. Read with fs and `tf.io.fromMemory` because only tfjs-node registers a
 * `file://` handler.
 */
export async function loadPretrained(dir = assetPath(PRETRAINED_DIR)): Promise<tf.LayersModel> {
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as {
    modelTopology: object;
    weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  };
  const specs = json.weightsManifest.flatMap((g) => g.weights);
  const buffers = json.weightsManifest.flatMap((g) => g.paths.map((p) => readFileSync(join(dir, p))));
  const bytes = Buffer.concat(buffers);
  const weightData = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  return tf.loadLayersModel(
    tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: specs, weightData }),
  );
}

/** Writes `model` in tfjs layers format (`model.json` + one `weights.bin`) into `dir`. */
export async function saveModel(
  model: tf.LayersModel,
  dir: string,
  generatedBy = 'robust-ft bench scripts/pretrain.ts',
): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const data = artifacts.weightData;
      if (data === undefined || Array.isArray(data)) throw new Error('expected one weight buffer');
      writeFileSync(join(dir, 'weights.bin'), Buffer.from(data));
      const manifest = [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }];
      writeFileSync(
        join(dir, 'model.json'),
        `${JSON.stringify({ format: 'layers-model', generatedBy, modelTopology: artifacts.modelTopology, weightsManifest: manifest })}\n`,
      );
      return { modelArtifactsInfo: { dateSaved: new Date(0), modelTopologyType: 'JSON' } };
    }),
  );
}

/** A fresh model with the same architecture and the given weights (in `model.getWeights()` order). */
export function cloneWithWeights(weights: tf.Tensor[]): tf.LayersModel {
  const m = buildCnn(0);
  m.setWeights(weights);
  return m;
}

/** Logits for `x` (N×784 in [0,1]) in batches, as a Float32Array N×K. */
export function predictLogits(model: tf.LayersModel, x: Float32Array, batch = 500): Float32Array {
  const n = x.length / 784;
  let out = new Float32Array(0);
  for (let i = 0; i < n; i += batch) {
    const m = Math.min(batch, n - i);
    const logits = tf.tidy(() => {
      const xb = tf.tensor4d(x.subarray(i * 784, (i + m) * 784), [m, 28, 28, 1]);
      return model.predict(xb) as tf.Tensor;
    });
    const classes = logits.shape[1] ?? 0;
    if (out.length === 0) out = new Float32Array(n * classes);
    out.set(logits.dataSync(), i * classes);
    logits.dispose();
  }
  return out;
}
