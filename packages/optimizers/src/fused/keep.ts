import { DIGRAP_SCALAR_ROLES } from '../digrap-keys';
import type { FusedMethod } from './kernels';

const KEEP_ADAM = ['param', 'm', 'v'] as const;

/**
 * Per output of each method's fused kernel (kernel order, the same on every backend), the input role
 * whose value a kept step ('guard': a given flag of 0, or the kernel's own check saw a NaN/±Inf)
 * writes through, or null for a diagnostic with no previous value (computed as usual). An absent
 * optional input (first step) is computed as usual too.
 */
export const KEPT_INPUTS: Record<FusedMethod, readonly (string | null)[]> = {
  adamw: KEEP_ADAM,
  l2sp: KEEP_ADAM,
  spd: [...KEEP_ADAM, null, null],
  ftp: [...KEEP_ADAM, 'cPrev', 'rPrev', 'gamma', 'gammaM', 'gammaV'],
  digrap: [...KEEP_ADAM, 'pPrev', 'qPrev', null, ...DIGRAP_SCALAR_ROLES],
};
