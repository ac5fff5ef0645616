/**
 * DiGraP's slot names, in one place: the declaration (`DIGRAP_METHOD` in digrap.ts), the fused
 * kernels' input/output roles (ops.ts, kernels.ts, webgpu/kernels.ts) all read these lists.
 */

/** The six hyper-state scalars: the two strengths and their hyper-Adam moments (kernel role order). */
export const DIGRAP_SCALAR_ROLES = ['lossStrength', 'regStrength', 'lossM', 'lossV', 'regM', 'regV'] as const;
export type DigrapScalarRole = (typeof DIGRAP_SCALAR_ROLES)[number];

/** Every slot kept with trainable strengths. */
export const DIGRAP_SLOTS = ['digrapDot', ...DIGRAP_SCALAR_ROLES, 'pPrev', 'qPrev', 'lrPrev'] as const;

/** The slots kept with a fixed strength (P/Q are only the trainable mode's). */
export const DIGRAP_FIXED_SLOTS = DIGRAP_SLOTS.filter(
  (k): k is Exclude<(typeof DIGRAP_SLOTS)[number], 'pPrev' | 'qPrev'> => k !== 'pPrev' && k !== 'qPrev',
);
