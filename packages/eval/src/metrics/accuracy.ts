import { invalidArgument } from '@robust-ft/core';
import { assertInteger } from '@robust-ft/core/internal';
import type { Tensor } from '@tensorflow/tfjs-core';
import { assertScores, type Labels, readLabels } from '../checks';

/**
 * Rank of the true class in each row: how many classes beat it. Ties are broken by class index, like
 * `argmax` (first maximum wins), so top-1 agrees with `argmax(logits) === label`.
 */
export function trueClassRanks(scores: Tensor, labels: Labels): Int32Array {
  const { n, k } = assertScores('scores', scores);
  const y = readLabels('labels', labels, n, k);
  const s = scores.dataSync();
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

/** Fraction of rows whose true class is among the `k` highest scores (logits or probabilities). */
export function topKAccuracy(scores: Tensor, labels: Labels, k = 1): number {
  assertInteger('k', k, 1);
  if (scores.rank === 2 && k > (scores.shape[1] as number)) {
    throw invalidArgument('k', `an integer in [1, ${scores.shape[1]}]`, k);
  }
  const ranks = trueClassRanks(scores, labels);
  let hits = 0;
  for (const r of ranks) if (r < k) hits++;
  return hits / ranks.length;
}

/** Top-1 accuracy. */
export function accuracy(scores: Tensor, labels: Labels): number {
  return topKAccuracy(scores, labels, 1);
}

/** Per-row argmax (first maximum wins), read back to JS. */
export function predictions(scores: Tensor): Int32Array {
  const { n, k } = assertScores('scores', scores);
  const s = scores.dataSync();
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if ((s[i * k + j] as number) > (s[i * k + best] as number)) best = j;
    out[i] = best;
  }
  return out;
}
