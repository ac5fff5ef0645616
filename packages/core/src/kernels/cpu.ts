import * as tf from '@tensorflow/tfjs-core';
import { RobustFtError } from '../errors';
import { cpuHost } from './host';
import { overrideKernel, patchedKernels, restoreKernels, stockKernel } from './registry';
import { conv2dBackpropFilterConfig } from './training-kernels';

const CPU = 'cpu';

/**
 * Replaces tfjs-backend-cpu's Conv2DBackpropFilter (a naive loop that takes ~95% of a CNN training
 * step) with a channel-innermost typed-array loop; NCHW falls back to the stock kernel. cpu's stock
 * MaxPoolGrad is correct (first maximum, padding excluded; checked by the conformance suite), so it
 * is kept. Idempotent; returns the patched names.
 */
export function registerCpuTrainingKernels(): string[] {
  const stockFilter = stockKernel(tf.Conv2DBackpropFilter, CPU);
  if (stockFilter === undefined) {
    throw new RobustFtError(
      'BACKEND_UNAVAILABLE',
      "the cpu backend's kernels are not registered: import '@tensorflow/tfjs-backend-cpu' first",
    );
  }
  overrideKernel(conv2dBackpropFilterConfig(CPU, cpuHost, stockFilter));
  return patchedKernels(CPU);
}

/** Puts back cpu's stock kernels (the conformance oracle and the benchmark baseline use them). */
export function unpatchCpuBackend(): void {
  restoreKernels(CPU);
}
