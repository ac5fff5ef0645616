export {
  type AdversarialLossOptions,
  type Attack,
  adversarialTrainingLoss,
  type TradesOptions,
  tradesLoss,
  tradesLossFromLogits,
} from './adversarial';
export {
  type ClipContrastiveOptions,
  clipContrastive,
  clipContrastiveLoss,
  symmetricContrastiveLoss,
} from './clip-contrastive';
export {
  type ConsistencyOptions,
  type ConsistencyRegularizerConfig,
  consistencyLoss,
  consistencyRegularizer,
} from './consistency';
export { labelCrossEntropy, type Reduction, softCrossEntropy, softCrossEntropyPerRow } from './cross-entropy';
export {
  cosineDistance,
  type DivergenceOptions,
  jsDivergence,
  klDivergence,
  klFromLogProbs,
  logitMse,
  OUTPUT_DISTANCES,
  type OutputDistance,
  outputDistance,
  symmetricKlDivergence,
} from './divergences';
export {
  type BatchModel,
  type FunctionSpaceRegularizer,
  type FunctionSpaceRegularizerConfig,
  functionSpaceRegularizer,
  type ViewFn,
} from './function-space';
export { type GeodesicMixupOptions, geodesicAngle, geodesicMixup } from './geodesic-mixup';
export { type M2mixLogits, type M2mixOptions, m2mixLogits, m2mixLoss } from './m2mix';
export {
  type M2mixObjective,
  type M2mixObjectiveConfig,
  type M2mixStepInput,
  type M2mixStepResult,
  type MixTerm,
  m2mixObjective,
} from './m2mix-objective';
export { stopGradient } from './stop-gradient';
export { lmixLoss, type MixupLossOptions, vlmixLoss, vmixLoss } from './unimodal-mixup';
