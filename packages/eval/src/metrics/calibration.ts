import { assertInteger } from '@robust-ft/core/internal';
import * as tf from '@tensorflow/tfjs-core';
import { assertScores, type Labels, labelIds } from '../checks';
import { checkEvalOptions } from '../option-schemas';

/** One confidence bin of `expectedCalibrationError`. */
export interface CalibrationBin {
  /** Confidence interval (lower, upper]; the first bin also includes 0. */
  lower: number;
  upper: number;
  count: number;
  accuracy: number;
  confidence: number;
}

/** What `expectedCalibrationError` returns: ECE, MCE and the bins. */
export interface CalibrationReport {
  /** Σ_b |B_b|/N · |acc_b − conf_b| (Guo et al. 2017), in [0, 1]. */
  ece: number;
  /** max_b |acc_b − conf_b| over non-empty bins. */
  mce: number;
  bins: CalibrationBin[];
}

/** Options of `expectedCalibrationError`. */
export interface EceOptions {
  /** Equal-width confidence bins. Default 15 (Guo et al.). */
  bins?: number;
  /** Whether `scores` are logits (softmax applied here) or probabilities. Default `'logits'`. */
  input?: 'logits' | 'probabilities';
}

/** Binned expected calibration error of the max-softmax confidence. */
export async function expectedCalibrationError(
  scores: tf.Tensor,
  labels: Labels,
  options: EceOptions = {},
): Promise<CalibrationReport> {
  checkEvalOptions('expectedCalibrationError', 'expectedCalibrationError', options);
  const { bins = 15, input = 'logits' } = options;
  assertInteger('options.bins', bins, 1);
  const { n, k } = assertScores('scores', scores);
  const y = await labelIds('labels', labels, n, k);
  const probs = input === 'logits' ? await readSoftmax(scores) : await scores.data();
  const count = new Array<number>(bins).fill(0);
  const correct = new Array<number>(bins).fill(0);
  const confSum = new Array<number>(bins).fill(0);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if ((probs[i * k + j] as number) > (probs[i * k + best] as number)) best = j;
    const conf = probs[i * k + best] as number;
    // Bins are (lower, upper]: ceil puts a confidence exactly on an edge into the lower bin.
    const b = Math.min(bins - 1, Math.max(0, Math.ceil(conf * bins) - 1));
    count[b] = (count[b] as number) + 1;
    confSum[b] = (confSum[b] as number) + conf;
    if (best === y[i]) correct[b] = (correct[b] as number) + 1;
  }
  let ece = 0;
  let mce = 0;
  const out: CalibrationBin[] = [];
  for (let b = 0; b < bins; b++) {
    const c = count[b] as number;
    const acc = c === 0 ? 0 : (correct[b] as number) / c;
    const conf = c === 0 ? 0 : (confSum[b] as number) / c;
    if (c > 0) {
      ece += (c / n) * Math.abs(acc - conf);
      mce = Math.max(mce, Math.abs(acc - conf));
    }
    out.push({ lower: b / bins, upper: (b + 1) / bins, count: c, accuracy: acc, confidence: conf });
  }
  return { ece, mce, bins: out };
}

async function readSoftmax(logits: tf.Tensor): Promise<Float32Array> {
  const p = tf.softmax(logits);
  try {
    return (await p.data()) as Float32Array;
  } finally {
    p.dispose();
  }
}
