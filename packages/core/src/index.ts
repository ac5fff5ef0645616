export { addMany } from './add-many';
export { type AnchorMode, type AnchorOption, Anchors, anchorOptionProblem, resolveAnchors } from './anchors';
export {
  type CheckOptionsExtras,
  checkOptions,
  closestKey,
  levenshtein,
  type OptionSchema,
  type OptionSpec,
  selectorSpec,
} from './check-options';
export {
  concatBytes,
  entryByteLengths,
  INTEGRITY_KEY,
  type IntegrityEntry,
  type IntegrityRecord,
  parseDocument,
  type Sealed,
  sealDocument,
  sha256Hex,
  unverifiedCheckpoint,
  verifyData,
  verifyDocument,
} from './checkpoint-integrity';
export { invalidArgument, RobustFtError, type RobustFtErrorCode, type RobustFtErrorOptions } from './errors';
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
export {
  collectTensors,
  decodeNumber,
  disposeStateExcept,
  encodeNumber,
  type FlatLeaf,
  flattenState,
  isTensor,
  mergeState,
  type StateLeaf,
  type StateTree,
  unflattenState,
} from './state-tree';
export {
  type AnyTransformation,
  carryOver,
  chain,
  type GradientTransformation,
  type TransformContext,
  type UpdateResult,
} from './transformation';
export {
  type AdamMomentsOptions,
  type AdamState,
  adamMomentStep,
  scaleByAdam,
  validateAdamMoments,
} from './transforms/adam';
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
export { identity, masked, multiTransform, type ParameterGroup, setToZero } from './wrappers';
