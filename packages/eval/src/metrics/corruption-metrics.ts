import { invalidArgument } from '@robust-ft/core/internal';

/** Accuracy per corruption family, one entry per severity (index 0 = severity 1). */
export type CorruptionAccuracies = Readonly<Record<string, readonly number[]>>;

/** Mean corruption accuracy (mCA): the unweighted mean over every family × severity cell. */
export function meanCorruptionAccuracy(accuracies: CorruptionAccuracies): number {
  const values = Object.values(accuracies).flat();
  if (values.length === 0) throw invalidArgument('accuracies', 'at least one family with one severity');
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/**
 * Relative robustness = mCA / clean accuracy: the share of clean accuracy that survives the corruptions
 * (1 = no loss). `gap` is clean − mCA in accuracy points. Unlike Hendrycks' mCE this needs no baseline model.
 */
export function relativeRobustness(
  cleanAccuracy: number,
  accuracies: CorruptionAccuracies,
): { meanCorruptionAccuracy: number; relative: number; gap: number } {
  if (!(cleanAccuracy > 0 && cleanAccuracy <= 1))
    throw invalidArgument('cleanAccuracy', 'a number in (0, 1]', cleanAccuracy);
  const mca = meanCorruptionAccuracy(accuracies);
  return { meanCorruptionAccuracy: mca, relative: mca / cleanAccuracy, gap: cleanAccuracy - mca };
}
