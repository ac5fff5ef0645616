export {
  patchedKernels,
  registerCpuTrainingKernels,
  registerWasmTrainingKernels,
  unpatchCpuBackend,
  unpatchWasmBackend,
} from '@robust-ft/core/kernels';
export { fileSystemHandler, loadOptimizerState, saveOptimizerState } from './checkpoint';
export {
  type DawnModule,
  installNodeWebGpu,
  type NodeGpuAdapter,
  type NodeWebGpuOptions,
  type NodeWebGpuProbe,
  probeNodeWebGpu,
  SWIFTSHADER_VULKAN_ICD,
  uninstallNodeWebGpu,
} from './node-webgpu';
export { patchCpuBackend, patchWasmBackend } from './patch-backends';
export {
  type BackendDescription,
  type BackendLogger,
  NODE_BACKENDS,
  type NodeBackendName,
  type UseBestBackendOptions,
  useBestBackend,
} from './select-backend';
