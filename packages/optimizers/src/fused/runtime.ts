import * as tf from '@tensorflow/tfjs-core';
import type { StepEngine } from './loops';

/**
 * The fused kernels' switches, held per tfjs engine (`tf.engine()`) in one explicit registry instead
 * of module-level `let`s: a second tfjs engine (e.g. a second copy of tfjs-core) has its own.
 */
export interface FusedRuntime {
  /** Whether the optimizers dispatch to the fused kernels (off: the composed path, the oracle). */
  enabled: boolean;
  /** Whether the cpu/wasm kernels run our SIMD module (off: the JS passes on the same views). */
  simd: boolean;
  /** The cpu backend's copying SIMD engine (its private memory), built at first use; null without SIMD. */
  copyEngine?: StepEngine | null;
}

const RUNTIMES = new WeakMap<object, FusedRuntime>();

/** The runtime of the active tfjs engine, created with everything on at first use. */
export function fusedRuntime(): FusedRuntime {
  const engine = tf.engine();
  let runtime = RUNTIMES.get(engine);
  if (!runtime) {
    runtime = { enabled: true, simd: true };
    RUNTIMES.set(engine, runtime);
  }
  return runtime;
}
