export { RobustFtError, invalidArgument, type RobustFtErrorCode, type RobustFtErrorOptions } from './errors';
export {
  assertFiniteNumber,
  assertInRange,
  assertInteger,
  assertNonNegative,
  assertOneOf,
  assertPositive,
  assertRank,
  assertShape,
  sameShape,
  shapeToString,
} from './validate';
export {
  type NamedTensor,
  type NamedTensorMap,
  type NamedTensorSource,
  cloneTensors,
  countParameters,
  disposeTensors,
  globalNorm,
  mapTensors,
  toNamedTensorMap,
  zipTensors,
} from './named-tensors';
export { type NameSelector, globToRegExp, matchesName, nameMatcher } from './selectors';
export {
  type LearningRate,
  type Schedule,
  type ScheduleSpec,
  constantSchedule,
  cosineDecaySchedule,
  isSchedule,
  learningRateAt,
  linearSchedule,
  scheduleFromSpec,
  warmupCosineSchedule,
} from './schedules';
export {
  type FlatLeaf,
  type StateLeaf,
  type StateTree,
  collectTensors,
  decodeNumber,
  disposeStateExcept,
  encodeNumber,
  flattenState,
  isTensor,
  mergeState,
  unflattenState,
} from './state-tree';
export {
  type AnyTransformation,
  type GradientTransformation,
  type TransformContext,
  type UpdateResult,
  carryOver,
  chain,
} from './transformation';
export { type ParameterGroup, identity, masked, multiTransform, setToZero } from './wrappers';
export { type AdamMomentsOptions, type AdamState, adamMomentStep, scaleByAdam, validateAdamMoments } from './transforms/adam';
export {
  type MomentumOptions,
  type MomentumState,
  addDecayedWeights,
  clipByGlobalNorm,
  scale,
  scaleByLearningRate,
  traceMomentum,
} from './transforms/basic';
export { type AnchorMode, type AnchorOption, Anchors, resolveAnchors } from './anchors';
export { type Rng, createRng } from './rng';
export { type JsonObject, type JsonValue, type OptimizerFactory, getOptimizerFactory, registerOptimizerFactory } from './optimizer-registry';
export { type NonFinitePolicy, RobustOptimizer, type RobustOptimizerOptions } from './robust-optimizer';
