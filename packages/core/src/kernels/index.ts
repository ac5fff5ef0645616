/**
 * Training kernels for tfjs backends that ship without them (wasm) or with slow ones (cpu). They are
 * registered by backend name through tfjs's kernel registry and only touch tfjs-core APIs, so the Node
 * and web backend packages share them; loading the backend packages themselves is their job.
 */
export { registerCpuTrainingKernels, unpatchCpuBackend } from './cpu';
export { patchedKernels } from './registry';
export {
  KERNEL_WORKER_SOURCE,
  type KernelWorker,
  type KernelWorkerFactory,
  setWasmKernelThreads,
  type TilePoolStats,
  type WasmKernelThreadOptions,
  wasmKernelHelpers,
} from './simd/tile-threads';
export {
  setWasmTrainingSimdEnabled,
  wasmKernelHelperStats,
  wasmTrainingSimdInUse,
} from './simd/training-simd';
export { resolveWasmThreads, WASM_MAX_THREADS } from './threads';
export { registerWasmTrainingKernels, unpatchWasmBackend } from './wasm';
