import { assertInteger, invalidArgument } from '@robust-ft/core/internal';
import type { Tensor } from '@tensorflow/tfjs-core';
import { assertScores, type Labels, labelIds } from '../checks';

// Every function here reads scores with `await data()`: synchronous reads return zeros on WebGPU.

/** Ranks (how many classes beat the true one) from scores `[n, k]` already on the host. */
export function ranksFromValues(s: ArrayLike<number>, y: Int32Array, n: number, k: number): Int32Array {
  const ranks = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const label = y[i] as number;
    const own = s[i * k + label] as number;
    let rank = 0;
    for (let j = 0; j < k; j++) {
      const v = s[i * k + j] as number;
      if (v > own || (v === own && j < label) || Number.isNaN(own)) rank++;
    }
    ranks[i] = rank;
  }
  return ranks;
}

/** Top-`topK` accuracy from scores `[n, k]` already on the host. */
export function topKFromValues(
  s: ArrayLike<number>,
  y: Int32Array,
  n: number,
  k: number,
  topK: number,
): number {
  let hits = 0;
  for (const r of ranksFromValues(s, y, n, k)) if (r < topK) hits++;
  return hits / n;
}

/**
 * Rank of the true class in each row: how many classes beat it. Ties are broken by class index, like
 * `argmax` (first maximum wins), so top-1 agrees with `argmax(logits) === label`.
 */
export async function trueClassRanks(scores: Tensor, labels: Labels): Promise<Int32Array> {
  const { n, k } = assertScores('scores', scores);
  const y = await labelIds('labels', labels, n, k);
  return ranksFromValues(await scores.data(), y, n, k);
}

/** Fraction of rows whose true class is among the `k` highest scores (logits or probabilities). */
export async function topKAccuracy(scores: Tensor, labels: Labels, k = 1): Promise<number> {
  assertInteger('k', k, 1);
  if (scores.rank === 2 && k > (scores.shape[1] as number)) {
    throw invalidArgument('k', `an integer in [1, ${scores.shape[1]}]`, k);
  }
  const { n, k: classes } = assertScores('scores', scores);
  const y = await labelIds('labels', labels, n, classes);
  return topKFromValues(await scores.data(), y, n, classes, k);
}

/** Top-1 accuracy. */
export function accuracy(scores: Tensor, labels: Labels): Promise<number> {
  return topKAccuracy(scores, labels, 1);
}

/** Per-row argmax (first maximum wins), read back to JS. */
export async function predictions(scores: Tensor): Promise<Int32Array> {
  const { n, k } = assertScores('scores', scores);
  const s = await scores.data();
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if ((s[i * k + j] as number) > (s[i * k + best] as number)) best = j;
    out[i] = best;
  }
  return out;
}
