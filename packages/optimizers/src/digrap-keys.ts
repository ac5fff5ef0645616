import type { Tensor } from '@tensorflow/tfjs-core';

/**
 * DiGraP's per-tensor state maps (one list for the composed step and the fused dispatch); the scalar
 * ones first, then the parameter-sized pPrev and qPrev.
 */
export const DIGRAP_TENSOR_KEYS = [
  'digrapDot',
  'lossStrength',
  'regStrength',
  'lossM',
  'lossV',
  'regM',
  'regV',
  'pPrev',
  'qPrev',
] as const;
export type DigrapKey = (typeof DIGRAP_TENSOR_KEYS)[number];
export const DIGRAP_SCALAR_KEYS = DIGRAP_TENSOR_KEYS.slice(0, 7) as readonly Exclude<
  DigrapKey,
  'pPrev' | 'qPrev'
>[];
export type DigrapTensors = Record<DigrapKey, Record<string, Tensor>>;
