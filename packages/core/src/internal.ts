/**
 * `@robust-ft/core/internal`: the plumbing the robust-ft packages share (argument checks, state-tree
 * flattening, chunked sums). Not part of the public API: no semver promise, and it may change in any
 * release. Users import from `@robust-ft/core`.
 */
export { addMany } from './add-many';
export { anchorOptionProblem, resolveAnchors } from './anchors';
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
  checkCheckpointParts,
  checkLoadCheckpointOptions,
  type RestoreSteps,
  restoreCheckpoint,
} from './checkpoint';
export {
  type CheckpointRecord,
  packCheckpoint,
  prepareAssignVariables,
  type UnpackedCheckpoint,
  unpackCheckpoint,
  variableEntries,
} from './checkpoint-format';
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
export { type EmbeddedWasm, embeddedWasm, isSharedMemory } from './embedded-wasm';
export { invalidArgument } from './errors';
export { FINITE_FLAG_KERNEL, finiteFlag } from './finite-flag';
export {
  collectTensors,
  decodeNumber,
  disposeStateExcept,
  encodeNumber,
  type FlatLeaf,
  flattenState,
  isTensor,
  mergeState,
  unflattenState,
} from './state-tree';
export { carryOver } from './transformation';
export { adamMomentStep, validateAdamMoments } from './transforms/adam';
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
