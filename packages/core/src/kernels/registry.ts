import * as tf from '@tensorflow/tfjs-core';

/**
 * Kernel overrides with bookkeeping: the stock kernel is remembered once (so a wrapper such as the
 * transposed-matmul rewrite always wraps the original, never itself) and can be restored, which the
 * tests and the benchmark use to compare patched and stock backends in one process.
 */
const stock = new Map<string, tf.KernelConfig | null>();

function key(kernelName: string, backendName: string): string {
  return `${backendName}_${kernelName}`;
}

/** The kernel tfjs shipped for this backend (before any robust-ft override), or undefined. */
export function stockKernel(kernelName: string, backendName: string): tf.KernelConfig | undefined {
  const k = key(kernelName, backendName);
  if (stock.has(k)) return stock.get(k) ?? undefined;
  return tf.getKernel(kernelName, backendName);
}

export function overrideKernel(config: tf.KernelConfig): void {
  const k = key(config.kernelName, config.backendName);
  const current = tf.getKernel(config.kernelName, config.backendName);
  if (!stock.has(k)) stock.set(k, current ?? null);
  // registerKernel warns and overwrites when a kernel exists; unregister first to keep logs clean.
  if (current !== undefined) tf.unregisterKernel(config.kernelName, config.backendName);
  tf.registerKernel(config);
}

/** Restores every stock kernel of `backendName` that was overridden (removing added ones). */
export function restoreKernels(backendName: string): void {
  const prefix = `${backendName}_`;
  for (const [k, original] of stock) {
    if (!k.startsWith(prefix)) continue;
    const kernelName = k.slice(prefix.length);
    if (tf.getKernel(kernelName, backendName) !== undefined) tf.unregisterKernel(kernelName, backendName);
    if (original !== null) tf.registerKernel(original);
    stock.delete(k);
  }
}

/** Names of the kernels robust-ft currently overrides or adds for `backendName`. */
export function patchedKernels(backendName: string): string[] {
  const prefix = `${backendName}_`;
  return [...stock.keys()].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length));
}
