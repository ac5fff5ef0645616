/**
 * `@robust-ft/optimizers/internal`: what the package's own tests, benches and the backend packages'
 * browser tests need beyond the public API — per-tensor steps (the fused kernels' oracles), kernel
 * names, factory keys, hyper-Adam constants, state-tree helpers. No semver promise; users import from
 * `@robust-ft/optimizers`.
 */
export { ADAMW_FACTORY } from './adamw';
export {
  DIGRAP_FACTORY,
  type DigrapTensorInput,
  type DigrapTensorOutput,
  digrapTensorStep,
} from './digrap';
export { FTP_FACTORY, type FtpTensorInput, type FtpTensorOutput, ftpTensorStep } from './ftp';
export { FUSED_KERNELS } from './fused';
export { HYPER, hyperAdamStep } from './hyper-adam';
export { findNodes } from './inspect';
export { L2SP_FACTORY, l2spTensorGradient } from './l2sp';
export { lastAxisSum, rowL1, rowShape } from './layout';
export { SGD_FACTORY } from './sgd';
export { SPD_FACTORY, type SpdTensorInput, type SpdTensorOutput, spdTensorStep } from './spd';
export { TPGM_FACTORY, type TpgmTensorProjection, tpgmTensorProject } from './tpgm';
