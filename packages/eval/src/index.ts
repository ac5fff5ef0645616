export * from './attacks/apgd';
export type { ApgdNorm, AttackBudget, AttackNorm, LogitsModel } from './attacks/attack-common';
export * from './attacks/auto-attack';
export { dlrLossPerSample, dlrTargetedLossPerSample } from './attacks/dlr';
export * from './attacks/fgsm';
export { projectL1Box } from './attacks/l1-projection';
export * from './attacks/pgd';
export * from './attacks/robust-accuracy';
export type { Labels } from './checks';
export * from './corruptions/corrupt';
export { type CorruptionFamily, SEVERITY_PARAMETERS } from './corruptions/families';
export * from './ensembles/output-ensemble';
export * from './ensembles/temperature';
export {
  disposeVrf,
  fitVrf,
  knnFalsePositiveRate,
  kthNeighbourDistance,
  l2Normalize,
  type VrfCalibrationData,
  type VrfDistance,
  type VrfFit,
  type VrfOptions,
  type VrfPrediction,
  type VrfTrainingData,
  vrfNeighbourCount,
  vrfPredict,
  vrfWeight,
  type ZeroShotFailureSet,
  zeroShotFailureSet,
} from './ensembles/vrf';
export * from './ensembles/wise-ft';
export {
  type EvaluationData,
  type EvaluationProgress,
  type EvaluationReport,
  type EvaluationSuites,
  evaluate,
} from './evaluate';
export * from './metrics/calibration';
export * from './metrics/corruption-metrics';
export * from './metrics/effective-robustness';
export {
  alignment,
  type RelativeAlignmentOptions,
  relativeAlignment,
  uniformity,
} from './metrics/representation';
export * from './metrics/retrieval';
export { accuracy, predictions, topKAccuracy } from './metrics/top-k';
export * from './report/corruption-heatmap';
export * from './report/corruption-preview';
export * from './report/id-ood-scatter';
export * from './report/render';
