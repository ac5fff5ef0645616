export {
  ADAMW_DEFAULTS,
  ADAMW_FACTORY,
  type AdamMomentOptions,
  type AdamWOptions,
  adamw,
  adamwTransformation,
} from './adamw';
export {
  DIGRAP_DEFAULTS,
  DIGRAP_FACTORY,
  type DigrapOptions,
  type DigrapProjTerm,
  type DigrapState,
  type DigrapTensorDiagnostics,
  type DigrapTensorInput,
  type DigrapTensorOutput,
  type DigrapTransformOptions,
  digrap,
  digrapState,
  digrapTensorStep,
  digrapTransformation,
} from './digrap';
export {
  FTP_DEFAULTS,
  FTP_FACTORY,
  type FtpDiagnostics,
  type FtpOptions,
  type FtpProjectionState,
  type FtpState,
  type FtpTensorInput,
  type FtpTensorOutput,
  type FtpTransformOptions,
  ftp,
  ftpState,
  ftpTensorStep,
  ftpTransformation,
} from './ftp';
export {
  FUSED_KERNELS,
  type FusedMethod,
  fusedKernelsEnabled,
  fusedStepEngine,
  hasFusedKernel,
  setFusedKernelsEnabled,
} from './fused';
export { HYPER, hyperAdamStep } from './hyper-adam';
export { adamStepCounts, findNodes, type StateSource } from './inspect';
export {
  addL2spGradient,
  L2SP_DEFAULTS,
  L2SP_FACTORY,
  type L2spOptions,
  l2sp,
  l2spTensorGradient,
  l2spTransformation,
} from './l2sp';
export {
  type AxisMap,
  axisMap,
  DEFAULT_LAYOUT,
  type LayoutFunction,
  type LayoutOption,
  lastAxisSum,
  rowL1,
  rowShape,
} from './layout';
export type { CommonOptions } from './options';
export {
  SGD_DEFAULTS,
  SGD_FACTORY,
  type SgdMomentumOptions,
  type SgdOptions,
  sgd,
  sgdTransformation,
} from './sgd';
export {
  SPD_DEFAULTS,
  SPD_FACTORY,
  type SpdOptions,
  type SpdState,
  type SpdTensorDiagnostics,
  type SpdTensorInput,
  type SpdTensorOutput,
  type SpdTransformOptions,
  spd,
  spdState,
  spdTensorStep,
  spdTransformation,
} from './spd';
export {
  setTpgmValidationLoss,
  TPGM_DEFAULTS,
  TPGM_FACTORY,
  type TpgmNormMode,
  type TpgmOptions,
  type TpgmState,
  type TpgmTensorProjection,
  type TpgmTransformOptions,
  tpgm,
  tpgmState,
  tpgmTensorProject,
  tpgmTransformation,
  type ValidationLoss,
} from './tpgm';
