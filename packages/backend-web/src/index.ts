// The selector and its types are core's, shared with @robust-ft/backend-node (re-exported, not copied).
export {
  type BackendCandidate,
  type BackendChoice,
  type BackendDescription,
  type BackendLogger,
  type SelectOptions,
  selectBackend,
} from '@robust-ft/core';
export {
  type CheckpointParts,
  checkpointModelUrl,
  deleteCheckpoint,
  type LoadCheckpointOptions,
  type LoadedCheckpoint,
  listCheckpoints,
  loadCheckpoint,
  type SavableModel,
  type StatefulOptimizer,
  saveCheckpoint,
  type VariableSource,
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
