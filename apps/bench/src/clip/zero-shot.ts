/**
 * Zero-shot classification with the dual encoder, as CLIP does it: each class's prompts are embedded by
 * the text tower, normalised, averaged (the prompt ensemble) and re-normalised; an image's logits are
 * the logit scale times its cosine with each class embedding.
 */
import * as tf from '@tensorflow/tfjs';
import { classPrompts, encodeCaptions, MAX_TOKENS } from './captions';
import { copyImageTower, IMAGE_INPUT, imageTower } from './dual-encoder';

export const NUM_CLASSES = 10;
export const HEAD = 'head';

/** The prompt-ensemble class embeddings `[10, D]` (unit rows) from a text tower. */
export function classEmbeddings(text: tf.LayersModel, vocab: readonly string[]): tf.Tensor2D {
  return tf.tidy(() => {
    const rows: tf.Tensor[] = [];
    for (let c = 0; c < NUM_CLASSES; c++) {
      const prompts = classPrompts(c);
      const x = tf.tensor3d(encodeCaptions(prompts, vocab), [prompts.length, MAX_TOKENS, vocab.length]);
      const mean = tf.mean(text.predict(x) as tf.Tensor2D, 0);
      rows.push(tf.div(mean, tf.norm(mean)));
    }
    return tf.stack(rows) as tf.Tensor2D;
  });
}

/**
 * An image classifier `image → image tower → features (unit embedding) → head`, the head a bias-free
 * dense layer. Its tower layers are named like the dual encoder's, so weights move between the two by
 * layer name, and every classifier has the same weight names (WiSE-FT interpolates them).
 */
export function buildClassifier(): tf.LayersModel {
  const input = tf.input({ shape: [28, 28, 1], name: IMAGE_INPUT });
  const logits = tf.layers
    .dense({ units: NUM_CLASSES, useBias: false, name: HEAD })
    .apply(imageTower(input, 0)) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: logits, name: 'clip_classifier' });
}

/**
 * The zero-shot classifier of a dual encoder: its image tower and the head `scale · classEmbᵀ`
 * (WiSE-FT's zero-shot head, which then interpolates together with the encoder).
 */
export function zeroShotClassifier(
  dual: tf.LayersModel,
  text: tf.LayersModel,
  vocab: readonly string[],
  scale: number,
): tf.LayersModel {
  const model = buildClassifier();
  copyImageTower(dual, model);
  tf.tidy(() => {
    const emb = classEmbeddings(text, vocab);
    model.getLayer(HEAD).setWeights([tf.mul(scale, tf.transpose(emb))]);
  });
  return model;
}
