// Core's backend selector and the types of the selection and checkpoint APIs, the same in
// @robust-ft/backend-node and @robust-ft/backend-web (re-exported, not copied).
export {
  type BackendCandidate,
  type BackendChoice,
  type BackendDescription,
  type BackendLogger,
  type SelectOptions,
  selectBackend,
} from '@robust-ft/core';
export {
  patchedKernels,
  registerCpuTrainingKernels,
  registerWasmTrainingKernels,
  unpatchCpuBackend,
  unpatchWasmBackend,
} from '@robust-ft/core/kernels';
export {
  type CheckpointLoadOptions,
  checkpointModelUrl,
  deleteCheckpoint,
  fileSystemHandler,
  listCheckpoints,
  loadCheckpoint,
  loadOptimizerState,
  saveCheckpoint,
  saveOptimizerState,
} from './checkpoint';
export type { NodeGpuAdapter } from './node-webgpu';
export { patchCpuBackend, patchWasmBackend } from './patch-backends';
export {
  NODE_BACKENDS,
  type NodeBackendDescription,
  type NodeBackendName,
  type NodeCandidateOptions,
  nodeCandidates,
  type UseBestBackendOptions,
  useBestBackend,
} from './select-backend';
export { nodeKernelWorker, wasmThreadCount, wasmThreadsInUse, withWasmThreads } from './wasm-threads';
