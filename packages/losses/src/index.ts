export {
  type ClipContrastiveOptions,
  clipContrastive,
  clipContrastiveLoss,
  type LogitScale,
  resolveLogitScale,
  symmetricContrastiveLoss,
} from './clip-contrastive';
export { labelCrossEntropy, type Reduction, softCrossEntropy, softCrossEntropyPerRow } from './cross-entropy';
export { flipBatch, type GeodesicMixupOptions, geodesicAngle, geodesicMixup } from './geodesic-mixup';
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
