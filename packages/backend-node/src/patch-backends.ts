import { RobustFtError } from '@robust-ft/core';
import { registerCpuTrainingKernels, registerWasmTrainingKernels } from '@robust-ft/core/kernels';

/** Loads tfjs-backend-wasm (registering the 'wasm' backend) and adds robust-ft's training kernels. */
export async function patchWasmBackend(): Promise<string[]> {
  try {
    await import('@tensorflow/tfjs-backend-wasm');
  } catch (cause) {
    throw new RobustFtError(
      'BACKEND_UNAVAILABLE',
      `cannot load @tensorflow/tfjs-backend-wasm: ${String(cause)}`,
      { cause },
    );
  }
  return registerWasmTrainingKernels();
}

/** Loads tfjs-backend-cpu and replaces its slow conv filter gradient. */
export async function patchCpuBackend(): Promise<string[]> {
  await import('@tensorflow/tfjs-backend-cpu');
  return registerCpuTrainingKernels();
}
