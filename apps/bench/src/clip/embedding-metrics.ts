/**
 * The clip tier's embedding metrics on held-out image–caption pairs: uniformity and alignment (Wang &
 * Isola, as m²-mix reports them), the modality gap, and image↔text retrieval recall.
 */
import { alignment, retrievalRecall, uniformity } from '@robust-ft/eval';
import * as tf from '@tensorflow/tfjs';
import { NUM_CLASSES } from './zero-shot';

export interface EmbeddingMetrics {
  /** lunif(concat[img, txt]), t = 2: the multimodal form (m²-mix's code concatenates img with itself). Lower = more uniform. */
  uniformity: number;
  /** lalign(img, txt), α = 2: mean squared distance of paired unit embeddings. Lower = better aligned. */
  alignment: number;
  /** ‖mean(img) − mean(txt)‖₂ (Liang et al.'s modality gap). */
  modalityGap: number;
  /** Image→text and text→image recall (fractions in [0, 1]) within blocks of one image per digit. */
  recallAt1: number;
  recallAt5: number;
  imageToText: { r1: number; r5: number };
  textToImage: { r1: number; r5: number };
}

/**
 * Rows grouped into blocks of 10 with one row per digit, in a fixed order: block b takes the b-th row of
 * each class. A digit caption cannot tell two sevens apart, so retrieval is only well posed among
 * captions of distinct digits; each block is one such 10-way retrieval problem.
 */
export function retrievalBlocks(labels: Int32Array): number[][] {
  const byClass: number[][] = Array.from({ length: NUM_CLASSES }, () => []);
  labels.forEach((y, i) => {
    byClass[y]?.push(i);
  });
  const count = Math.min(...byClass.map((r) => r.length));
  return Array.from({ length: count }, (_, b) => byClass.map((rows) => rows[b] ?? 0));
}

/**
 * Metrics of paired embeddings `image[i] ↔ text[i]` (unit rows, N×D, row-major) with digit `labels`.
 * Recall is the mean over blocks of `retrievalRecall` (percent → fraction), as a 10-way problem.
 */
export async function embeddingMetrics(
  image: Float32Array,
  text: Float32Array,
  labels: Int32Array,
  dim: number,
): Promise<EmbeddingMetrics> {
  const n = labels.length;
  const img = tf.tensor2d(image, [n, dim]);
  const txt = tf.tensor2d(text, [n, dim]);
  const scalars = tf.tidy(() => [
    uniformity(tf.concat([img, txt]) as tf.Tensor2D),
    alignment(img, txt),
    tf.norm(tf.sub(tf.mean(img, 0), tf.mean(txt, 0))),
  ]);
  const [u = Number.NaN, a = Number.NaN, g = Number.NaN] = await Promise.all(
    scalars.map(async (s) => (await s.data())[0] ?? Number.NaN),
  );
  tf.dispose(scalars);
  const blocks = retrievalBlocks(labels);
  let i2t1 = 0;
  let i2t5 = 0;
  let t2i1 = 0;
  let t2i5 = 0;
  for (const rows of blocks) {
    const sim = tf.tidy(() => {
      const idx = tf.tensor1d(rows, 'int32');
      return tf.matMul(tf.gather(img, idx), tf.gather(txt, idx), false, true);
    });
    const simT = tf.transpose(sim);
    const it = await retrievalRecall(sim, [1, 5]);
    const ti = await retrievalRecall(simT, [1, 5]);
    tf.dispose([sim, simT]);
    i2t1 += (it.R1 ?? 0) / 100;
    i2t5 += (it.R5 ?? 0) / 100;
    t2i1 += (ti.R1 ?? 0) / 100;
    t2i5 += (ti.R5 ?? 0) / 100;
  }
  img.dispose();
  txt.dispose();
  const b = Math.max(1, blocks.length);
  const imageToText = { r1: i2t1 / b, r5: i2t5 / b };
  const textToImage = { r1: t2i1 / b, r5: t2i5 / b };
  return {
    uniformity: u,
    alignment: a,
    modalityGap: g,
    recallAt1: (imageToText.r1 + textToImage.r1) / 2,
    recallAt5: (imageToText.r5 + textToImage.r5) / 2,
    imageToText,
    textToImage,
  };
}
