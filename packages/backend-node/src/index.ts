export { fileSystemHandler, loadOptimizerState, saveOptimizerState } from './checkpoint';
export { patchCpuBackend, registerCpuTrainingKernels, unpatchCpuBackend } from './kernels/cpu';
export { patchedKernels } from './kernels/registry';
export { patchWasmBackend, registerWasmTrainingKernels, unpatchWasmBackend } from './kernels/wasm';
export {
  type BackendDescription,
  type BackendLogger,
  NODE_BACKENDS,
  type NodeBackendName,
  type UseBestBackendOptions,
  useBestBackend,
} from './select-backend';
