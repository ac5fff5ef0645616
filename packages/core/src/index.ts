export { type AnchorMode, type AnchorOption, Anchors } from './anchors';
export {
  type BackendCandidate,
  type BackendChoice,
  type BackendDescription,
  type BackendLogger,
  type SelectOptions,
  selectBackend,
} from './backend-selection';
export type {
  CheckpointParts,
  CheckpointVerifyOptions,
  LoadCheckpointOptions,
  LoadedCheckpoint,
  SavableModel,
  StatefulOptimizer,
  VariableSource,
} from './checkpoint';
export { RobustFtError, type RobustFtErrorCode, type RobustFtErrorOptions } from './errors';
export {
  cloneTensors,
  countParameters,
  disposeTensors,
  globalNorm,
  mapTensors,
  type NamedTensor,
  type NamedTensorMap,
  type NamedTensorSource,
  toNamedTensorMap,
  zipTensors,
} from './named-tensors';
export {
  getOptimizerFactory,
  type JsonObject,
  type JsonValue,
  type OptimizerFactory,
  registerOptimizerFactory,
} from './optimizer-registry';
export { createRng, type Rng } from './rng';
export { type NonFinitePolicy, RobustOptimizer, type RobustOptimizerOptions } from './robust-optimizer';
export {
  constantSchedule,
  cosineDecaySchedule,
  isSchedule,
  type LearningRate,
  learningRateAt,
  linearSchedule,
  type Schedule,
  type ScheduleSpec,
  scheduleFromSpec,
  warmupCosineSchedule,
} from './schedules';
export { globToRegExp, matchesName, type NameSelector, nameMatcher } from './selectors';
export type { StateLeaf, StateTree } from './state-tree';
export {
  type AnyTransformation,
  chain,
  type GradientTransformation,
  type TransformContext,
  type UpdateResult,
} from './transformation';
export { type AdamMomentsOptions, type AdamState, scaleByAdam } from './transforms/adam';
export {
  addDecayedWeights,
  clipByGlobalNorm,
  type MomentumOptions,
  type MomentumState,
  type Stateless,
  scale,
  scaleByLearningRate,
  traceMomentum,
} from './transforms/basic';
export { identity, masked, multiTransform, type ParameterGroup, setToZero } from './wrappers';
