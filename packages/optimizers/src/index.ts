export {
  ADAMW_DEFAULTS,
  type AdamMomentsOptions,
  type AdamWOptions,
  adamw,
  adamwTransformation,
} from './adamw';
export {
  DIGRAP_DEFAULTS,
  type DigrapGradientState,
  type DigrapOptions,
  type DigrapProjTerm,
  type DigrapState,
  type DigrapTensorDiagnostics,
  type DigrapTransformOptions,
  digrap,
  digrapDiagnostics,
  digrapGradient,
  digrapState,
  digrapTransformation,
} from './digrap';
export {
  FTP_DEFAULTS,
  type FtpDiagnostics,
  type FtpOptions,
  type FtpProjectionState,
  type FtpState,
  type FtpTransformOptions,
  ftp,
  ftpDiagnostics,
  ftpState,
  ftpTransformation,
} from './ftp';

import { registerFusedOptimizerKernels } from './fused';

export {
  type FusedMethod,
  fusedKernelsEnabled,
  fusedStepEngine,
  hasFusedKernel,
  setFusedKernelsEnabled,
} from './fused';
export type { InnerOption, InnerOptions } from './inner';
export { adamStepCounts, type StateSource } from './inspect';
export {
  addL2spGradient,
  L2SP_DEFAULTS,
  type L2spOptions,
  l2sp,
  l2spTransformation,
} from './l2sp';
export { type AxisMap, axisMap, DEFAULT_LAYOUT, type LayoutFunction, type LayoutOption } from './layout';
export type { CommonOptions } from './options';
export {
  SGD_DEFAULTS,
  type SgdMomentumOptions,
  type SgdOptions,
  sgd,
  sgdTransformation,
} from './sgd';
export {
  SPD_DEFAULTS,
  type SpdOptions,
  type SpdState,
  type SpdTensorDiagnostics,
  type SpdTransformOptions,
  spd,
  spdDiagnostics,
  spdState,
  spdTransformation,
} from './spd';
export {
  setTpgmValidationLoss,
  TPGM_DEFAULTS,
  type TpgmNormMode,
  type TpgmOptions,
  type TpgmState,
  type TpgmTransformOptions,
  tpgm,
  tpgmDiagnostics,
  tpgmState,
  tpgmTransformation,
  type ValidationLoss,
} from './tpgm';

// The package's fused kernels are registered when it is imported (beside its optimizer factories), so
// `hasFusedKernel` is a plain query.
registerFusedOptimizerKernels();
