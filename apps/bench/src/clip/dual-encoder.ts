/**
 * The clip tier's dual encoder: an image tower (a small CNN ending in an L2-normalised embedding) and a
 * text tower (word embeddings, a per-token encoder and attention pooling, L2-normalised), saved together
 * as one tfjs layers model with two inputs and two outputs, plus CLIP's learnable logit scale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { assetPath } from '../data/paths';
import { convPool, loadPretrained, saveModel } from '../model';
import { MAX_TOKENS } from './captions';

/** Embedding width of both towers. */
export const EMBED_DIM = 32;
export const IMAGE_INPUT = 'image';
export const TEXT_INPUT = 'tokens';
/** The image tower's L2-normalised output; also the classifier's feature layer (runModel reads it). */
export const IMAGE_EMBEDDING = 'features';
export const TEXT_EMBEDDING = 'text_embedding';
export const CLIP_DIR = 'pretrained-clip';

/** `x / max(‖x‖₂, 1e-12)` along the last axis, as a serialisable layer (tfjs layers has none). */
export class L2Normalize extends tf.layers.Layer {
  static className = 'RobustFtL2Normalize';
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? (inputs[0] as tf.Tensor) : inputs;
      const norm = tf.sqrt(tf.maximum(tf.sum(tf.square(x), -1, true), 1e-24));
      return tf.div(x, norm);
    });
  }
}
tf.serialization.registerClass(L2Normalize);

function glorot(seed: number, k: number) {
  return tf.initializers.glorotUniform({ seed: seed * 100 + k });
}

/** The image tower's layers on `input` (28×28×1 in [0, 1]): conv16-pool-conv32-pool-dense64-dense32-L2. */
export function imageTower(input: tf.SymbolicTensor, seed: number): tf.SymbolicTensor {
  let h = convPool(input, { filters: 16, conv: 'img_conv1', pool: 'img_pool1', init: glorot(seed, 1) });
  h = convPool(h, { filters: 32, conv: 'img_conv2', pool: 'img_pool2', init: glorot(seed, 2) });
  h = tf.layers.flatten({ name: 'img_flatten' }).apply(h) as tf.SymbolicTensor;
  h = tf.layers
    .dense({ units: 64, activation: 'relu', name: 'img_dense', kernelInitializer: glorot(seed, 3) })
    .apply(h) as tf.SymbolicTensor;
  h = tf.layers
    .dense({ units: EMBED_DIM, name: 'img_proj', kernelInitializer: glorot(seed, 4) })
    .apply(h) as tf.SymbolicTensor;
  return new L2Normalize({ name: IMAGE_EMBEDDING }).apply(h) as tf.SymbolicTensor;
}

/**
 * The text tower's layers on one-hot tokens `[MAX_TOKENS, V]`: a bias-free dense word embedding, a
 * per-token tanh encoder, attention pooling (a learned score per token, softmax over the positions,
 * the weighted sum of token states) and a projection, L2-normalised. Padding is an ordinary token whose
 * score the attention learns to push down, so no mask is needed.
 */
function textTower(input: tf.SymbolicTensor, seed: number): tf.SymbolicTensor {
  const emb = tf.layers
    .dense({ units: 32, useBias: false, name: 'txt_word_embedding', kernelInitializer: glorot(seed, 11) })
    .apply(input) as tf.SymbolicTensor;
  const h = tf.layers
    .dense({ units: 48, activation: 'tanh', name: 'txt_token', kernelInitializer: glorot(seed, 12) })
    .apply(emb) as tf.SymbolicTensor;
  const score = tf.layers
    .dense({ units: 1, name: 'txt_attention_score', kernelInitializer: glorot(seed, 13) })
    .apply(h) as tf.SymbolicTensor;
  // tfjs softmax only runs on the last axis: flatten the [B, L, 1] scores to [B, L] first.
  const flat = tf.layers.flatten({ name: 'txt_score_flatten' }).apply(score) as tf.SymbolicTensor;
  const weights = tf.layers.softmax({ name: 'txt_attention' }).apply(flat) as tf.SymbolicTensor;
  // [B, L] · [B, L, 48] contracted over L → [B, 48].
  let t = tf.layers.dot({ axes: [1, 1], name: 'txt_pool' }).apply([weights, h]) as tf.SymbolicTensor;
  t = tf.layers
    .dense({ units: EMBED_DIM, name: 'txt_proj', kernelInitializer: glorot(seed, 14) })
    .apply(t) as tf.SymbolicTensor;
  return new L2Normalize({ name: TEXT_EMBEDDING }).apply(t) as tf.SymbolicTensor;
}

/** The two-input, two-output dual encoder (randomly initialised, seeded). */
export function buildDualEncoder(seed: number, vocabSize: number): tf.LayersModel {
  const image = tf.input({ shape: [28, 28, 1], name: IMAGE_INPUT });
  const tokens = tf.input({ shape: [MAX_TOKENS, vocabSize], name: TEXT_INPUT });
  return tf.model({
    inputs: [image, tokens],
    outputs: [imageTower(image, seed), textTower(tokens, seed)],
    name: 'digit_clip',
  });
}

/** The two towers as models sharing the dual encoder's layers (and so its variables). */
export interface Towers {
  dual: tf.LayersModel;
  image: tf.LayersModel;
  text: tf.LayersModel;
}

export function towers(dual: tf.LayersModel): Towers {
  return {
    dual,
    image: tf.model({
      inputs: dual.inputs[0] as tf.SymbolicTensor,
      outputs: dual.outputs[0] as tf.SymbolicTensor,
    }),
    text: tf.model({
      inputs: dual.inputs[1] as tf.SymbolicTensor,
      outputs: dual.outputs[1] as tf.SymbolicTensor,
    }),
  };
}

/** What `pretrain-clip.ts` records beside the weights; the tier reads the vocabulary and the scale. */
export interface ClipSummary {
  seed: number;
  vocabulary: string[];
  /** log of the learned logit scale (CLIP's `logit_scale`), and its exp. */
  logLogitScale: number;
  logitScale: number;
  [key: string]: unknown;
}

/** Layers of the image tower carry this prefix (plus the `features` normalisation, which has no weights). */
export const IMAGE_PREFIX = 'img_';

/** Copies the image-tower weights of `from` into the same-named layers of `to` (either model kind). */
export function copyImageTower(from: tf.LayersModel, to: tf.LayersModel): void {
  for (const layer of from.layers) {
    if (layer.name.startsWith(IMAGE_PREFIX) && layer.weights.length > 0) {
      to.getLayer(layer.name).setWeights(layer.getWeights());
    }
  }
}

export async function saveDualEncoder(
  model: tf.LayersModel,
  summary: ClipSummary,
  dir: string,
): Promise<void> {
  await saveModel(model, dir, 'robust-ft bench scripts/pretrain-clip.ts');
  writeFileSync(join(dir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
}

export async function loadDualEncoder(
  dir = assetPath(CLIP_DIR),
): Promise<{ model: tf.LayersModel; summary: ClipSummary }> {
  const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as ClipSummary;
  return { model: await loadPretrained(dir), summary };
}

/** Embeds batches of `x` (N×784 or N×L·V) with `tower`, returning N×EMBED_DIM. */
export function embed(tower: tf.LayersModel, x: Float32Array, shape: number[], batch = 512): Float32Array {
  const per = shape.reduce((a, b) => a * b, 1);
  const n = x.length / per;
  const out = new Float32Array(n * EMBED_DIM);
  for (let i = 0; i < n; i += batch) {
    const m = Math.min(batch, n - i);
    const e = tf.tidy(
      () => tower.predict(tf.tensor(x.subarray(i * per, (i + m) * per), [m, ...shape])) as tf.Tensor,
    );
    out.set(e.dataSync(), i * EMBED_DIM);
    e.dispose();
  }
  return out;
}
