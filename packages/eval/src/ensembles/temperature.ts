import { RobustFtError } from '@robust-ft/core';
import { assertInRange, assertInteger, assertPositive } from '@robust-ft/core/internal';
import type { Tensor } from '@tensorflow/tfjs-core';
import { assertScores } from '../checks';
import { checkEvalOptions } from '../option-schemas';

/** Options of `searchTemperature`. */
export interface TemperatureSearchOptions {
  /** Stop when |confidence − accuracy| ≤ threshold. Default 0.001 (VRF). */
  threshold?: number;
  /** Initial bracket. Defaults 0.1 and 10 (VRF). */
  tMin?: number;
  tMax?: number;
  /** The reference recursion has no limit and diverges when accuracy < 1/K; ours stops here. Default 1000. */
  maxIterations?: number;
}

/** What `searchTemperature` found. */
export interface TemperatureFit {
  temperature: number;
  /** Mean max-softmax confidence at `temperature`. */
  confidence: number;
  iterations: number;
}

/**
 * Finds T such that mean_i max softmax(z_i / T) matches `accuracy` (VRF's `Calibrater.search_T`): an
 * interpolation search that widens the bracket by ×1.1 / ÷1.1 when the target lies outside it. Runs in
 * float64 on the host, so results follow the reference's branch decisions exactly.
 */
export async function searchTemperature(
  logits: Tensor,
  accuracy: number,
  options: TemperatureSearchOptions = {},
): Promise<TemperatureFit> {
  checkEvalOptions('searchTemperature', 'searchTemperature', options);
  const { threshold = 0.001, maxIterations = 1000 } = options;
  let { tMin = 0.1, tMax = 10 } = options;
  const { n, k } = assertScores('logits', logits);
  assertInRange('accuracy', accuracy, 0, 1);
  assertPositive('options.threshold', threshold);
  assertPositive('options.tMin', tMin);
  assertPositive('options.tMax', tMax);
  assertInteger('options.maxIterations', maxIterations, 1);
  const z = Float64Array.from(await logits.data());
  const confidence = (t: number): number => {
    let sum = 0;
    for (let i = 0; i < n; i++) {
      let max = Number.NEGATIVE_INFINITY;
      for (let j = 0; j < k; j++) max = Math.max(max, (z[i * k + j] as number) / t);
      let denom = 0;
      for (let j = 0; j < k; j++) denom += Math.exp((z[i * k + j] as number) / t - max);
      sum += 1 / denom;
    }
    return sum / n;
  };
  for (let iteration = 1; iteration <= maxIterations; iteration++) {
    const confMin = confidence(tMin);
    const gapMin = Math.abs(confMin - accuracy);
    const confMax = confidence(tMax);
    const gapMax = Math.abs(confMax - accuracy);
    const a = gapMin / (gapMin + gapMax);
    const tMid = tMin * (1 - a) + tMax * a;
    const confMid = confidence(tMid);
    if (Math.abs(confMid - accuracy) <= threshold)
      return { temperature: tMid, confidence: confMid, iterations: iteration };
    if (confMax > accuracy) tMax *= 1.1;
    else if (confMin < accuracy) tMin /= 1.1;
    else if (gapMin < gapMax) tMax = tMid;
    else tMin = tMid;
  }
  throw new RobustFtError(
    'NON_FINITE',
    `temperature search did not reach |confidence − accuracy| ≤ ${threshold} in ${maxIterations} iterations (accuracy ${accuracy} may be below 1/K = ${1 / k})`,
    { argument: 'accuracy', expected: `a target confidence reachable by softmax, >= 1/${k}` },
  );
}
