export { withFusedMethod, withFusedMethodOverAdam } from './dispatch';
export {
  FUSED_KERNELS,
  type FusedKernelName,
  type FusedMethod,
  fusedKernelsEnabled,
  fusedStepEngine,
  hasFusedKernel,
  registerFusedOptimizerKernels,
  setFusedKernelsEnabled,
  unregisterFusedOptimizerKernels,
} from './kernels';
export {
  type AdamHyperparameters,
  canFuse,
  type FusedAdamItem,
  type FusedAdamResult,
  type FusedAnchoredItem,
  type FusedDigrapItem,
  type FusedDigrapResult,
  type FusedFtpItem,
  type FusedFtpResult,
  type FusedSpdResult,
  fusedAdamWStep,
  fusedDigrapStep,
  fusedFtpStep,
  fusedL2spStep,
  fusedMethodStep,
  fusedSpdStep,
} from './ops';
export { setWasmSimdEnabled, wasmSimdEnabled } from './storage';
export { wasmStepsAvailable } from './wasm/engine';
