export {
  ADAMW_DEFAULTS,
  ADAMW_FACTORY,
  type AdamMomentOptions,
  type AdamWOptions,
  adamw,
  adamwTransformation,
} from './adamw';
export { adamStepCounts, findNodes, type StateSource } from './inspect';
export type { CommonOptions } from './options';
export {
  SGD_DEFAULTS,
  SGD_FACTORY,
  type SgdMomentumOptions,
  type SgdOptions,
  sgd,
  sgdTransformation,
} from './sgd';
