// The selector's types are core's, shared with @robust-ft/backend-web (re-exported, not copied).
export type { BackendDescription, BackendLogger } from '@robust-ft/core';
export {
  patchedKernels,
  registerCpuTrainingKernels,
  registerWasmTrainingKernels,
  unpatchCpuBackend,
  unpatchWasmBackend,
} from '@robust-ft/core/kernels';
export {
  type CheckpointLoadOptions,
  type CheckpointParts,
  type CheckpointVerifyOptions,
  checkpointModelUrl,
  deleteCheckpoint,
  fileSystemHandler,
  type LoadCheckpointOptions,
  type LoadedCheckpoint,
  listCheckpoints,
  loadCheckpoint,
  loadOptimizerState,
  type SavableModel,
  type StatefulOptimizer,
  saveCheckpoint,
  saveOptimizerState,
  type VariableSource,
} from './checkpoint';
export type { NodeGpuAdapter } from './node-webgpu';
export { patchCpuBackend, patchWasmBackend } from './patch-backends';
export {
  NODE_BACKENDS,
  type NodeBackendDescription,
  type NodeBackendName,
  type UseBestBackendOptions,
  useBestBackend,
} from './select-backend';
export { wasmThreadCount, wasmThreadsInUse, withWasmThreads } from './wasm-threads';
