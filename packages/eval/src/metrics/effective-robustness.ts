import { invalidArgument } from '@robust-ft/core/internal';

/** A model's accuracy in distribution (ID) and under a shift (OOD), both in [0, 1]. */
export interface AccuracyPoint {
  id: number;
  ood: number;
  label?: string;
}

/**
 * Axis scaling of the baseline fit. `'logit'` (default) fits ood' = slope·id' + intercept on
 * logit(accuracy) = ln(a / (1 − a)), the transform Taori et al. (2020) use, under which ID-vs-OOD
 * accuracies of standard models lie close to a line. `'linear'` fits raw accuracies.
 */
export type FitSpace = 'logit' | 'linear';

/** A linear fit of OOD on ID accuracy over baseline models (in logit or linear space), from `fitBaseline`. */
export interface BaselineFit {
  space: FitSpace;
  slope: number;
  intercept: number;
}

// Accuracies of exactly 0 or 1 have infinite logits; clipping keeps the fit finite.
const CLIP = 1e-4;
const toSpace = (a: number, space: FitSpace) => {
  if (space === 'linear') return a;
  const c = Math.min(1 - CLIP, Math.max(CLIP, a));
  return Math.log(c / (1 - c));
};
const fromSpace = (v: number, space: FitSpace) => (space === 'linear' ? v : 1 / (1 + Math.exp(-v)));

function checkPoint(argument: string, p: AccuracyPoint): void {
  for (const key of ['id', 'ood'] as const) {
    const v = p[key];
    if (typeof v !== 'number' || !(v >= 0 && v <= 1))
      throw invalidArgument(`${argument}.${key}`, 'a number in [0, 1]', v);
  }
}

/** Least-squares line through baseline models' (ID, OOD) accuracies in the chosen space. */
export function fitBaseline(points: readonly AccuracyPoint[], space: FitSpace = 'logit'): BaselineFit {
  if (points.length < 2) throw invalidArgument('points', 'at least 2 baseline models', points.length);
  points.forEach((p, i) => {
    checkPoint(`points[${i}]`, p);
  });
  const xs = points.map((p) => toSpace(p.id, space));
  const ys = points.map((p) => toSpace(p.ood, space));
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let sxx = 0;
  let sxy = 0;
  xs.forEach((x, i) => {
    sxx += (x - mx) ** 2;
    sxy += (x - mx) * ((ys[i] as number) - my);
  });
  if (sxx === 0) throw invalidArgument('points', 'baseline models with at least two distinct ID accuracies');
  const slope = sxy / sxx;
  return { space, slope, intercept: my - slope * mx };
}

/** The OOD accuracy the baseline line predicts at ID accuracy `id` (mapped back to [0, 1]). */
export function predictedOod(fit: BaselineFit, id: number): number {
  return fromSpace(fit.slope * toSpace(id, fit.space) + fit.intercept, fit.space);
}

/** Effective robustness: OOD accuracy minus the baseline's prediction, in accuracy points (not logits). */
export function effectiveRobustness(point: AccuracyPoint, fit: BaselineFit): number {
  checkPoint('point', point);
  return point.ood - predictedOod(fit, point.id);
}
