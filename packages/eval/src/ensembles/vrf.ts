import { RobustFtError } from '@robust-ft/core';
import {
  assertFiniteNumber,
  assertInteger,
  assertOneOf,
  assertPositive,
  assertRank,
  invalidArgument,
} from '@robust-ft/core/internal';
import * as tf from '@tensorflow/tfjs-core';
import { assertScores, type Labels, labelIds } from '../checks';
import { pairwiseSquaredDistances } from '../metrics/representation';
import { predictions } from '../metrics/top-k';
import { checkEvalOptions } from '../option-schemas';
import { searchTemperature, type TemperatureSearchOptions } from './temperature';

/**
 * VRF (Variance Reduction Fine-tuning, Zhu et al.): mix zero-shot and fine-tuned predictions per sample,
 * trusting the fine-tuned model more when the sample lies close (in fine-tuned feature space) to training
 * samples the zero-shot model got wrong and the fine-tuned model got right (the ZSF set).
 */

/**
 * `'squared-l2'` is what the released code computes (faiss `IndexFlatL2`), range [0, 4] on unit vectors,
 * and what its defaults a = 1.5, b = 0.6 were tuned for. `'l2'` is the paper's Eq. 4, range [0, 2].
 */
export type VrfDistance = 'squared-l2' | 'l2';

/** Python's `round`: halves go to the even neighbour (the code's K and 5 % threshold index use it). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * The neighbour count k. `'code'`: K = round(1000 · |ZSF| / N_train) (the released pipeline); `'paper'`:
 * k = floor(0.001 · |ZSF|), which is 0 below 1000 ZSF samples. The two agree only for N_train = 10⁶, so
 * small data sets should pass k explicitly.
 */
export function vrfNeighbourCount(zsfSize: number, trainSize: number, rule: 'code' | 'paper'): number {
  assertInteger('zsfSize', zsfSize, 0);
  assertInteger('trainSize', trainSize, 1);
  return rule === 'code' ? roundHalfEven((zsfSize / trainSize) * 1000) : Math.floor(0.001 * zsfSize);
}

/** Row-wise L2 normalisation (features are compared as unit vectors). */
export function l2Normalize(x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.div(x, tf.norm(x, 'euclidean', 1, true)) as tf.Tensor2D);
}

/**
 * The training samples the fine-tuned model gets right and the zero-shot model wrong (`zeroShotFailureSet`).
 */
export interface ZeroShotFailureSet {
  /** Training rows where the fine-tuned model is right and the zero-shot model wrong. */
  mask: Uint8Array;
  /** Their fine-tuned features, L2-normalised, `[|ZSF|, D]`. Caller disposes. */
  features: tf.Tensor2D;
  /** |ZSF| / N_train. */
  ratio: number;
}

/** Step 1: the zero-shot-failure set, by argmax predictions on the training set. */
export async function zeroShotFailureSet(
  features: tf.Tensor2D,
  zeroShotLogits: tf.Tensor,
  fineTunedLogits: tf.Tensor,
  labels: Labels,
): Promise<ZeroShotFailureSet> {
  assertRank('features', features, 2);
  const { n, k } = assertScores('zeroShotLogits', zeroShotLogits);
  assertScores('fineTunedLogits', fineTunedLogits);
  if (features.shape[0] !== n || fineTunedLogits.shape[0] !== n || fineTunedLogits.shape[1] !== k) {
    throw new RobustFtError(
      'SHAPE_MISMATCH',
      'features, zeroShotLogits and fineTunedLogits must have the same rows and classes',
      {
        argument: 'features',
      },
    );
  }
  const y = await labelIds('labels', labels, n, k);
  const zs = await predictions(zeroShotLogits);
  const ft = await predictions(fineTunedLogits);
  const mask = new Uint8Array(n);
  const rows: number[] = [];
  for (let i = 0; i < n; i++) {
    if (ft[i] === y[i] && zs[i] !== y[i]) {
      mask[i] = 1;
      rows.push(i);
    }
  }
  const selected = tf.tidy(() => l2Normalize(tf.gather(features, tf.tensor1d(rows, 'int32')) as tf.Tensor2D));
  return { mask, features: selected, ratio: rows.length / n };
}

/**
 * Step 2: distance from each (normalised) query to its k-th nearest neighbour in `index` (already
 * normalised, e.g. `zeroShotFailureSet().features`), exact search. Returns `[M]`.
 */
export function kthNeighbourDistance(
  queries: tf.Tensor2D,
  index: tf.Tensor2D,
  k: number,
  distance: VrfDistance = 'squared-l2',
): tf.Tensor1D {
  assertRank('queries', queries, 2);
  assertRank('index', index, 2);
  assertOneOf('distance', distance, ['squared-l2', 'l2']);
  const size = index.shape[0];
  if (!Number.isInteger(k) || k < 1 || k > size) {
    throw invalidArgument('k', `an integer in [1, ${size}] (the ZSF set size)`, k);
  }
  if (queries.shape[1] !== index.shape[1]) {
    throw new RobustFtError(
      'SHAPE_MISMATCH',
      `queries have ${queries.shape[1]} features, index has ${index.shape[1]}`,
      {
        argument: 'queries',
      },
    );
  }
  return tf.tidy(() => {
    const d = pairwiseSquaredDistances(l2Normalize(queries), index);
    const nearest = tf.neg(tf.topk(tf.neg(d), k).values);
    const kth = tf.squeeze(tf.slice(nearest, [0, k - 1], [-1, 1]), [1]);
    return (distance === 'l2' ? tf.sqrt(kth) : kth) as tf.Tensor1D;
  });
}

/** Step 4: the fine-tuned model's weight w = σ(−(d − a)/b) = 1/(1 + exp((d − a)/b)). */
export function vrfWeight(d: tf.Tensor, a = 1.5, b = 0.6): tf.Tensor {
  assertFiniteNumber('a', a);
  assertPositive('b', b);
  return tf.tidy(() => tf.sigmoid(tf.div(tf.sub(a, d), b)));
}

/** The fine-tuning set as both models see it: fine-tuned features, both models' logits, labels. */
export interface VrfTrainingData {
  /** Fine-tuned encoder features (before the head), `[N, D]`. */
  features: tf.Tensor2D;
  zeroShotLogits: tf.Tensor;
  fineTunedLogits: tf.Tensor;
  labels: Labels;
}

/** Labelled ID validation outputs of both models, on which `fitVrf` fits the temperatures. */
export interface VrfCalibrationData {
  zeroShotLogits: tf.Tensor;
  fineTunedLogits: tf.Tensor;
  labels: Labels;
}

/** Options of `fitVrf`. */
export interface VrfOptions {
  /** Neighbour count: a number, or the `'code'` (default, as released) or `'paper'` rule. */
  k?: number | 'code' | 'paper';
  /** Default `'squared-l2'`, the code's convention that a = 1.5, b = 0.6 belong to. */
  distance?: VrfDistance;
  a?: number;
  b?: number;
  /** Fixed temperatures; without them they are fitted on `calibration` (the code fits them on the ID eval set). */
  temperatures?: { zeroShot: number; fineTuned: number };
  temperatureSearch?: TemperatureSearchOptions;
}

/**
 * A fitted VRF (`fitVrf`): the failure-set index, k, a, b and the temperatures. Holds a tensor: `disposeVrf`.
 */
export interface VrfFit {
  /** Normalised ZSF features, `[|ZSF|, D]`. Dispose with `disposeVrf`. */
  index: tf.Tensor2D;
  zsfSize: number;
  ratio: number;
  k: number;
  distance: VrfDistance;
  a: number;
  b: number;
  temperatures: { zeroShot: number; fineTuned: number };
}

/** Steps 1–3: builds the ZSF index, chooses k and fits (or takes) the two softmax temperatures. */
export async function fitVrf(
  train: VrfTrainingData,
  calibration: VrfCalibrationData | undefined,
  options: VrfOptions = {},
): Promise<VrfFit> {
  checkEvalOptions('fitVrf', 'fitVrf', options);
  checkEvalOptions('fitVrf temperatureSearch', 'searchTemperature', options.temperatureSearch);
  const { k: kOption = 'code', distance = 'squared-l2', a = 1.5, b = 0.6 } = options;
  assertFiniteNumber('options.a', a);
  assertPositive('options.b', b);
  let temperatures = options.temperatures;
  if (temperatures === undefined) {
    if (calibration === undefined) {
      throw invalidArgument('calibration', 'labelled logits to fit temperatures, or options.temperatures');
    }
    const { n, k: classes } = assertScores('calibration.zeroShotLogits', calibration.zeroShotLogits);
    const y = await labelIds('calibration.labels', calibration.labels, n, classes);
    const acc = async (z: tf.Tensor) => {
      const p = await predictions(z);
      return p.reduce((s, v, i) => s + (v === y[i] ? 1 : 0), 0) / n;
    };
    const search = options.temperatureSearch;
    temperatures = {
      zeroShot: (
        await searchTemperature(calibration.zeroShotLogits, await acc(calibration.zeroShotLogits), search)
      ).temperature,
      fineTuned: (
        await searchTemperature(calibration.fineTunedLogits, await acc(calibration.fineTunedLogits), search)
      ).temperature,
    };
  } else {
    assertPositive('options.temperatures.zeroShot', temperatures.zeroShot);
    assertPositive('options.temperatures.fineTuned', temperatures.fineTuned);
  }
  const zsf = await zeroShotFailureSet(
    train.features,
    train.zeroShotLogits,
    train.fineTunedLogits,
    train.labels,
  );
  const zsfSize = zsf.features.shape[0];
  const k =
    typeof kOption === 'number' ? kOption : vrfNeighbourCount(zsfSize, train.features.shape[0], kOption);
  if (zsfSize === 0 || !Number.isInteger(k) || k < 1 || k > zsfSize) {
    zsf.features.dispose();
    throw invalidArgument(
      'options.k',
      `an integer in [1, |ZSF| = ${zsfSize}]${zsfSize === 0 ? ' (the ZSF set is empty: fall back to an output ensemble)' : ''}`,
      kOption === k ? k : `${k} from rule "${String(kOption)}"`,
    );
  }
  return { index: zsf.features, zsfSize, ratio: zsf.ratio, k, distance, a, b, temperatures };
}

/** What `vrfPredict` returns; the caller disposes its tensors. */
export interface VrfPrediction {
  /** p = (1 − w)·softmax(z_zs/T_zs) + w·softmax(z_ft/T_ft), `[M, K]`. */
  probabilities: tf.Tensor2D;
  /** The fine-tuned model's weight per sample, `[M]`. */
  weights: tf.Tensor1D;
  /** k-th neighbour distance per sample in `fit.distance`, `[M]`. */
  distances: tf.Tensor1D;
}

/** Steps 4–5 on new data. Returned tensors belong to the caller. */
export function vrfPredict(
  fit: VrfFit,
  data: { features: tf.Tensor2D; zeroShotLogits: tf.Tensor; fineTunedLogits: tf.Tensor },
): VrfPrediction {
  const { n } = assertScores('data.zeroShotLogits', data.zeroShotLogits);
  assertScores('data.fineTunedLogits', data.fineTunedLogits);
  if (data.features.shape[0] !== n || data.fineTunedLogits.shape[0] !== n) {
    throw new RobustFtError(
      'SHAPE_MISMATCH',
      'data.features and both logits must have the same number of rows',
      {
        argument: 'data.features',
      },
    );
  }
  const distances = kthNeighbourDistance(data.features, fit.index, fit.k, fit.distance);
  return tf.tidy(() => {
    const weights = vrfWeight(distances, fit.a, fit.b) as tf.Tensor1D;
    const w = tf.expandDims(weights, 1);
    const pz = tf.softmax(tf.div(data.zeroShotLogits, fit.temperatures.zeroShot));
    const pf = tf.softmax(tf.div(data.fineTunedLogits, fit.temperatures.fineTuned));
    const probabilities = tf.add(tf.mul(tf.sub(1, w), pz), tf.mul(w, pf)) as tf.Tensor2D;
    return { probabilities, weights: tf.keep(weights), distances };
  });
}

/** Disposes the tensor a `VrfFit` holds. */
export function disposeVrf(fit: VrfFit): void {
  fit.index.dispose();
}

/**
 * The code's OOD-detection diagnostic (it does not affect predictions): scores are −d, the threshold is
 * the ID score at sorted position round(0.05·n), and FPR is the fraction of OOD scores above it.
 */
export function knnFalsePositiveRate(
  idDistances: ArrayLike<number>,
  oodDistances: ArrayLike<number>,
  quantile = 0.05,
): { threshold: number; fpr: number } {
  if (idDistances.length === 0) throw invalidArgument('idDistances', 'a non-empty list');
  if (oodDistances.length === 0) throw invalidArgument('oodDistances', 'a non-empty list');
  const scores = Array.from(idDistances, (d) => -d).sort((x, y) => x - y);
  const index = Math.min(scores.length - 1, roundHalfEven(quantile * scores.length));
  const threshold = scores[index] as number;
  const above = Array.from(oodDistances, (d) => -d).filter((s) => s > threshold).length;
  return { threshold, fpr: above / oodDistances.length };
}
