export {
  patchedKernels,
  registerCpuTrainingKernels,
  registerWasmTrainingKernels,
  unpatchCpuBackend,
  unpatchWasmBackend,
} from '@robust-ft/core/kernels';
export {
  type CheckpointLoadOptions,
  fileSystemHandler,
  loadOptimizerState,
  saveOptimizerState,
} from './checkpoint';
export { type DawnModule, installNodeWebGpu, SWIFTSHADER_VULKAN_ICD } from './node-webgpu';
export { patchCpuBackend, patchWasmBackend } from './patch-backends';
export {
  type BackendDescription,
  type BackendLogger,
  NODE_BACKENDS,
  type NodeBackendName,
  type UseBestBackendOptions,
  useBestBackend,
} from './select-backend';
