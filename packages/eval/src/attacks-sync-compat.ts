/**
 * TEMPORARY: the synchronous label and accuracy reads that src/attacks/** still imports. Engineer
 * "attacks" owns those modules and moves them to the asynchronous `labelIds` / `accuracy`; the lead
 * deletes this file (and its entry on the sync-read allow-list) when that branch is merged. Nothing
 * outside src/attacks/** may import it, and the package index does not export it.
 */
import type { Tensor } from '@tensorflow/tfjs-core';
import { checkLabelIds, type Labels } from './checks';
import { topKFromValues } from './metrics/top-k';

/** Synchronous `labelIds`: wrong on WebGPU (zeros). Only for src/attacks/** until they are async. */
export function readLabels(argument: string, labels: Labels, count: number, numClasses: number): Int32Array {
  const values: ArrayLike<number> =
    labels instanceof Int32Array || Array.isArray(labels)
      ? (labels as ArrayLike<number>)
      : (labels as Tensor).dataSync();
  return checkLabelIds(argument, values, count, numClasses);
}

/** Synchronous top-1 accuracy: wrong on WebGPU (zeros). Only for src/attacks/robust-accuracy.ts. */
export function accuracySync(scores: Tensor, labels: Labels): number {
  const [n, k] = scores.shape as [number, number];
  return topKFromValues(scores.dataSync(), readLabels('labels', labels, n, k), n, k, 1);
}
