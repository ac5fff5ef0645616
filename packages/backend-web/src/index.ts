// Core's backend selector and the types of the selection and checkpoint APIs, the same in
// @robust-ft/backend-node and @robust-ft/backend-web (re-exported, not copied).
export {
  type BackendCandidate,
  type BackendChoice,
  type BackendDescription,
  type BackendLogger,
  type CheckpointParts,
  type CheckpointVerifyOptions,
  type LoadCheckpointOptions,
  type LoadedCheckpoint,
  type SavableModel,
  type SelectOptions,
  type StatefulOptimizer,
  selectBackend,
  type VariableSource,
} from '@robust-ft/core';
export {
  checkpointModelUrl,
  deleteCheckpoint,
  listCheckpoints,
  loadCheckpoint,
  saveCheckpoint,
} from './checkpoint';
export {
  assertBackendAlive,
  backendLoss,
  type DeviceLoss,
  explainBackendError,
  reinitialiseBackend,
  watchDeviceLoss,
} from './device-loss';
export { WEB_BACKENDS, type WebBackendName } from './select-backend';
export { type UseBestBackendOptions, useBestBackend } from './use-best-backend';
export { type WasmFileMap, type WebCandidateOptions, webCandidates } from './web-candidates';
