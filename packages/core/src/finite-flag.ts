import type { NamedTensorMap, Tensor } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { addMany } from './add-many';

/**
 * The kernel name under which a package may register a one-call finiteness check for a backend:
 * inputs `x0 … x(n-1)` (float32, any shapes), output a 0-d float32, 1 when every entry is finite and
 * 0 when one is NaN or ±Inf. `@robust-ft/optimizers` registers it for webgpu, where one tfjs
 * reduction per gradient tensor costs more than the fused step it guards (dispatches, not bytes).
 */
export const FINITE_FLAG_KERNEL = 'RobustFtFiniteFlag';

/**
 * A boolean scalar on the device: every entry of every tensor is finite. With a registered
 * FINITE_FLAG_KERNEL for the active backend that kernel runs once for all float32 tensors;
 * otherwise one reduction pass per tensor: a sum is NaN/±Inf whenever an entry is, and a sum that
 * overflows float32 (|Σ| > 3.4e38, a step that would be ruinous anyway) also counts as non-finite.
 */
export function finiteFlag(map: NamedTensorMap): Tensor {
  // Only float tensors can hold NaN/±Inf; an int32 entry (or none at all) adds nothing to check.
  const tensors = Object.values(map).filter((t) => t.dtype === 'float32');
  return tf.tidy(() => {
    if (tensors.length === 0) return tf.scalar(true);
    if (tf.getKernel(FINITE_FLAG_KERNEL, tf.getBackend()) !== undefined) {
      const inputs: NamedTensorMap = {};
      tensors.forEach((t, i) => {
        inputs[`x${i}`] = t;
      });
      const flag = tf.engine().runKernel(FINITE_FLAG_KERNEL, inputs, { n: tensors.length }) as Tensor;
      return tf.greater(flag, 0);
    }
    return tf.isFinite(addMany(tensors.map((g) => tf.sum(g))));
  });
}
