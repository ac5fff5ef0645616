import { assertInteger, assertRank, invalidArgument } from '@robust-ft/core/internal';
import type { Tensor } from '@tensorflow/tfjs-core';
import { assertNonEmpty } from '../checks';

/**
 * Retrieval recall R@K in percent for a square similarity matrix whose diagonal holds the positives
 * (row i = query i), as m²-mix's `compute_metrics_pytorch`: for each row, every position in the sorted
 * row whose score equals the positive's counts as a match. A tie with the positive therefore adds an
 * extra match and the denominator is the number of matches, not the number of rows. Use the transpose for
 * the other direction (text → image).
 */
export async function retrievalRecall(
  similarity: Tensor,
  ks: readonly number[] = [1, 5, 10],
): Promise<Record<string, number>> {
  assertRank('similarity', similarity, 2);
  assertNonEmpty('similarity', similarity);
  const [n, m] = similarity.shape as [number, number];
  if (n !== m) throw invalidArgument('similarity', 'a square [N, N] matrix', `shape [${n},${m}]`);
  ks.forEach((k, i) => {
    assertInteger(`ks[${i}]`, k, 1);
  });
  const s = await similarity.data();
  const matches: number[] = [];
  for (let i = 0; i < n; i++) {
    const row = Array.from(s.subarray(i * n, (i + 1) * n), (v) => -v).sort((a, b) => a - b);
    const pos = -(s[i * n + i] as number);
    row.forEach((v, j) => {
      if (v - pos === 0) matches.push(j);
    });
  }
  const out: Record<string, number> = {};
  for (const k of ks)
    out[`R${k}`] = matches.length === 0 ? 0 : (matches.filter((j) => j < k).length * 100) / matches.length;
  return out;
}
