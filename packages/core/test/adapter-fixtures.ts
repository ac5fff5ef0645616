import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import {
  chain,
  type NamedTensor,
  RobustFtError,
  RobustOptimizer,
  type RobustOptimizerOptions,
  scaleByAdam,
  scaleByLearningRate,
} from '../src/index';
import { FINITE_FLAG_KERNEL } from '../src/internal';
import { liveTensors, optimizerSnapshot, sameSnapshot, tensorBytes } from '../src/testing/index';

/** Shared by the adapter's tests (test/adapter, test/adapter-refusals, test/adapter-restore, test/finite-flag). */

let counter = 0;
/** A variable name no other test uses (tfjs variable names are global to the process). */
export const unique = (label: string) => `adapter${counter++}/${label}`;

/** Adam then the learning rate: tensor slots (mu, nu) and number slots (count), so every slot kind occurs. */
export function adam(options: Partial<RobustOptimizerOptions> = {}): RobustOptimizer {
  return new RobustOptimizer({
    transformation: chain(scaleByAdam(), scaleByLearningRate()),
    learningRate: 0.1,
    ...options,
  });
}

/** What a refusal must carry: every field pinned (`expected` undefined where the error sets none). */
export interface Refusal {
  code: RobustFtError['code'];
  message: string;
  argument: string;
  expected?: string;
}

export function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a RobustFtError, but the call succeeded');
}

export async function caughtAsync(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a RobustFtError, but the call succeeded');
}

export function expectRefusal(error: unknown, refusal: Refusal): void {
  expect(RobustFtError.isInstance(error), String(error)).toBe(true);
  const e = error as RobustFtError;
  expect(e.name).toBe('RobustFtError');
  expect({ code: e.code, message: e.message, argument: e.argument, expected: e.expected }).toEqual({
    expected: undefined,
    ...refusal,
  });
}

async function anchorBytes(opt: RobustOptimizer): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const n of opt.anchors.names()) {
    out[n] = opt.anchors.hasCaptured(n) ? await tensorBytes(opt.anchors.get(n)) : 'zero';
  }
  return out;
}

/**
 * Records everything a failed call must leave alone: the variables' bytes, the optimizer's whole state
 * (getWeights, header included), its step, iterations and skipped count, its anchors, and the live
 * tensor and variable counts. The returned check asserts all of them unchanged.
 */
export async function freeze(
  opt: RobustOptimizer,
  vars: readonly tf.Variable[],
): Promise<() => Promise<void>> {
  const state = await optimizerSnapshot(opt);
  const anchors = await anchorBytes(opt);
  const values = await Promise.all(vars.map(tensorBytes));
  const counters = { step: opt.step, iterations: opt.iterations, skipped: opt.skippedSteps };
  const variables = Object.keys(tf.engine().registeredVariables).length;
  const tensors = liveTensors();
  return async () => {
    // Counted first: the snapshots below allocate (getWeights' encoded numbers replace the last call's).
    expect(liveTensors(), 'live tensors after the failed call').toBe(tensors);
    expect(Object.keys(tf.engine().registeredVariables).length).toBe(variables);
    expect({ step: opt.step, iterations: opt.iterations, skipped: opt.skippedSteps }).toEqual(counters);
    expect(await Promise.all(vars.map(tensorBytes))).toEqual(values);
    expect(await anchorBytes(opt)).toEqual(anchors);
    expect(sameSnapshot(await optimizerSnapshot(opt), state)).toBe(true);
  };
}

/** `getWeights()` copied (the optimizer may be disposed afterwards). */
export async function savedWeights(opt: RobustOptimizer): Promise<NamedTensor[]> {
  return (await opt.getWeights()).map(({ name, tensor }) => ({ name, tensor: tf.keep(tf.clone(tensor)) }));
}

/** `tf.variable` under a unique name, float32 unless the values say otherwise. */
export function variable(values: number[], label = 'w', dtype: 'float32' | 'int32' = 'float32'): tf.Variable {
  return tf.variable(tf.tensor1d(values, dtype), true, unique(label));
}

/** As tfjs-backend-webgpu reports itself, for the lines that only run there (no GPU needed: no kernel runs). */
export function asIfWebGpu<T>(fn: () => T): T {
  // tf.getBackend() returns the engine's backendName (a module namespace export cannot be spied on).
  const engine = tf.engine() as unknown as { backendName: string };
  const real = engine.backendName;
  engine.backendName = 'webgpu';
  try {
    return fn();
  } finally {
    engine.backendName = real;
  }
}

/**
 * Registers a cpu FINITE_FLAG_KERNEL that records how many tensors each call checks in `calls` and returns
 * `ok` when all are finite, 0 otherwise (`ok` other than 1 shows whether a caller compares with 0).
 */
export function spyFiniteFlagKernel(calls: number[], ok = 1): void {
  tf.registerKernel({
    kernelName: FINITE_FLAG_KERNEL,
    backendName: 'cpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const b = backend as unknown as {
        data: { get(id: object): { values: Float32Array } };
        makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): tf.TensorInfo;
      };
      calls.push(attrs?.n as number);
      const finite = Object.values(inputs).every((x) => b.data.get(x!.dataId).values.every(Number.isFinite));
      return b.makeTensorInfo([], 'float32', Float32Array.of(finite ? ok : 0));
    },
  });
}
