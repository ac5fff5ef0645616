import {
  type AnyTransformation,
  addDecayedWeights,
  chain,
  createRng,
  RobustOptimizer,
  scaleByAdam,
  scaleByLearningRate,
} from '@robust-ft/core';
import { collectTensors, flattenState, isTensor } from '@robust-ft/core/internal';
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import { ADAMW_METHOD, adamwTransformation } from '../src/adamw';
import { DIGRAP_METHOD, digrapTransformation } from '../src/digrap';
import { FTP_METHOD, ftpTransformation } from '../src/ftp';
import { type FusedMethod, withFusedMethod } from '../src/fused';
import { L2SP_METHOD, l2spTransformation } from '../src/l2sp';
import type { MethodDeclaration, MethodSettings, SlotSet } from '../src/method';
import { SPD_METHOD, spdTransformation } from '../src/spd';

/*
 * The fused-vs-composed cases shared by the cpu/wasm and the WebGPU integration tests. The composed-op
 * transformations are the oracle: the same optimizer with its fused wrapper must give the same
 * parameters and the same state (every leaf, by path) over several steps, including a step where one
 * parameter has no gradient and an excluded tensor.
 */

export const SHAPES: Record<string, number[]> = {
  'conv/kernel': [3, 3, 4, 6],
  'conv/bias': [6],
  'dense/kernel': [12, 5],
  'head/kernel': [5, 3],
  scale: [],
  // tfjs layouts whose output units (FTP's rows) are strided: whole f32x4 columns (the SIMD column
  // kernels), a DepthwiseConv2D (rows = cin·mult), a Conv1D, and an Embedding (rows stay on axis 0).
  'conv2/kernel': [3, 3, 4, 8],
  'block/depthwise_kernel': [3, 3, 8, 2],
  'conv1d/kernel': [3, 4, 8],
  'tok/embeddings': [6, 4],
};

/**
 * FTP's cases add a Dense streamed through several chunks of the copying engine (its per-column
 * accumulators carried across chunks). Not in the others' set: their whole-tensor hyper sums over 17k
 * float32 terms differ between the composed ops and the kernels' f64 sums by more than the tolerance.
 */
export const FTP_SHAPES: Record<string, number[]> = { ...SHAPES, 'long/kernel': [2100, 8] };

/**
 * The excluded tensors (plain AdamW beside the method: two kernel calls a step). A glob over the whole
 * name, since the runs prefix every variable name (`g3/head/kernel`).
 */
const HEAD = '**/head/*';

export const ADAM = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };

export interface Case {
  name: string;
  make: () => AnyTransformation;
  fused: (t: AnyTransformation) => AnyTransformation;
  lr: number;
  /** The parameter set (default `SHAPES`). */
  shapes?: Record<string, number[]>;
  /** The fused kernel it dispatches to, when not its name. */
  method?: FusedMethod;
}

/**
 * A method wrapped around AdamW (decoupled decay `weightDecay`): the composed transformation and its
 * fused wrapper, built from one options object.
 */
export function overAdam<O, T extends MethodSettings, S extends SlotSet>(
  decl: MethodDeclaration<O, T, S>,
  transformation: (inner: AnyTransformation, options: O) => AnyTransformation,
  options: O,
  weightDecay: number,
): Pick<Case, 'make' | 'fused'> {
  return {
    make: () => transformation(adamwTransformation({ ...ADAM, weightDecay }), options),
    fused: (t) => withFusedMethod(decl, t, options, { ...ADAM, weightDecay }),
  };
}

export const CASES: Case[] = [
  {
    name: 'adamw',
    make: () => adamwTransformation({ ...ADAM, weightDecay: 0.05 }),
    fused: (t) => withFusedMethod(ADAMW_METHOD, t, undefined, { ...ADAM, weightDecay: 0.05 }),
    lr: 1e-2,
  },
  {
    // The Adam slot is not the chain's first: the dispatch finds it by its slot names (mu, nu, count),
    // so it reads and writes slot '1' (a positional read of '0' would find no moments).
    name: 'adamw (Adam slot second in the chain)',
    method: 'adamw',
    make: () => chain(addDecayedWeights(0), scaleByAdam(ADAM), scaleByLearningRate()),
    fused: (t) => withFusedMethod(ADAMW_METHOD, t, undefined, { ...ADAM, weightDecay: 0 }),
    lr: 1e-2,
  },
  {
    name: 'l2sp',
    make: () => l2spTransformation({ ...ADAM, alpha: 0.3, exclude: HEAD }),
    fused: (t) => withFusedMethod(L2SP_METHOD, t, { alpha: 0.3, exclude: HEAD }, { ...ADAM, weightDecay: 0 }),
    lr: 1e-2,
  },
  {
    name: 'spd',
    ...overAdam(SPD_METHOD, spdTransformation, { weightDecay: 0.8, exclude: HEAD }, 0),
    lr: 5e-2,
  },
  {
    name: 'ftp',
    ...overAdam(FTP_METHOD, ftpTransformation, { k: 0.5, exclude: HEAD }, 0.1),
    lr: 1e-2,
    shapes: FTP_SHAPES,
  },
  {
    // The same FTP on weights declared to be in torch layout (rows on axis 0, contiguous).
    name: 'ftp (torch layout)',
    method: 'ftp',
    ...overAdam(FTP_METHOD, ftpTransformation, { k: 0.5, exclude: HEAD, layout: 'torch' }, 0.1),
    lr: 1e-2,
    shapes: FTP_SHAPES,
  },
  {
    name: 'digrap',
    ...overAdam(DIGRAP_METHOD, digrapTransformation, { weightDecay: 0.5, exclude: HEAD }, 0),
    lr: 1e-2,
  },
];

/**
 * The methods on every tensor (no `exclude`): one kernel call a step, which under 'guard' on cpu and
 * wasm checks the gradients inside its own passes (the cases above run two calls, and take the
 * adapter's flag).
 */
export const WHOLE_CASES: Case[] = [
  {
    name: 'l2sp (every tensor)',
    method: 'l2sp',
    make: () => l2spTransformation({ ...ADAM, alpha: 0.3 }),
    fused: (t) => withFusedMethod(L2SP_METHOD, t, { alpha: 0.3 }, { ...ADAM, weightDecay: 0 }),
    lr: 1e-2,
  },
  {
    name: 'spd (every tensor)',
    method: 'spd',
    ...overAdam(SPD_METHOD, spdTransformation, { weightDecay: 0.8 }, 0),
    lr: 5e-2,
  },
  {
    name: 'ftp (every tensor)',
    method: 'ftp',
    ...overAdam(FTP_METHOD, ftpTransformation, { k: 0.5 }, 0.1),
    lr: 1e-2,
    shapes: FTP_SHAPES,
  },
  {
    name: 'ftp (torch layout, every tensor)',
    method: 'ftp',
    ...overAdam(FTP_METHOD, ftpTransformation, { k: 0.5, layout: 'torch' }, 0.1),
    lr: 1e-2,
    shapes: FTP_SHAPES,
  },
  {
    name: 'digrap (every tensor)',
    method: 'digrap',
    ...overAdam(DIGRAP_METHOD, digrapTransformation, { weightDecay: 0.5 }, 0),
    lr: 1e-2,
  },
];

/**
 * Runs `steps` steps through the real tf.Optimizer adapter; gradients are a fixed function of the step
 * and of θ (so the two runs can diverge). Reads back asynchronously (webgpu has no sync read in Node).
 */
export async function run(
  transformation: AnyTransformation,
  lr: number,
  prefix: string,
  steps: number,
  shapes: Record<string, number[]> = SHAPES,
) {
  const rng = createRng(7);
  const vars: Record<string, tf.Variable> = {};
  const target: Record<string, tf.Tensor> = {};
  for (const [n, shape] of Object.entries(shapes)) {
    const size = shape.reduce((a, b) => a * b, 1);
    const init = Float32Array.from({ length: size }, () => rng.normal() * 0.3);
    const t0 = tf.tensor(init, shape);
    vars[n] = tf.variable(t0, true, `${prefix}${n}`);
    t0.dispose();
    target[n] = tf.tensor(
      Float32Array.from({ length: size }, () => rng.normal() * 0.5),
      shape,
    );
  }
  const opt = new RobustOptimizer({ transformation, learningRate: lr, nonFinite: 'off' });
  for (let s = 0; s < steps; s++) {
    tf.tidy(() => {
      const grads: tf.NamedTensorMap = {};
      for (const n of Object.keys(shapes)) {
        if (s === 3 && n === 'dense/kernel') continue; // a missing gradient: its state carries over
        // g = θ − target, flipped on some steps so that SPD's/DiGraP's conditions take both branches.
        const sign = s % 4 === 2 ? -1 : 1;
        grads[`${prefix}${n}`] = tf.mul(tf.sub(vars[n]!, target[n]!), sign);
      }
      opt.applyGradients(grads);
    });
  }
  const params: Record<string, number[]> = {};
  for (const [n, v] of Object.entries(vars)) params[n] = Array.from(await v.data());
  const state: Record<string, number[]> = {};
  for (const { path, value } of flattenState(opt.state))
    state[path.join('/').replaceAll(prefix, '')] = isTensor(value)
      ? Array.from(await value.data())
      : [Number(value)];
  const stateTensors = collectTensors(opt.state).size;
  opt.dispose();
  for (const v of Object.values(vars)) v.dispose();
  for (const t of Object.values(target)) t.dispose();
  return { params, state, stateTensors };
}

export function expectAllClose(
  got: Record<string, number[]>,
  want: Record<string, number[]>,
  what: string,
): void {
  expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
  for (const [k, w] of Object.entries(want)) {
    const g = got[k]!;
    expect(g.length, `${what} ${k}`).toBe(w.length);
    const worst = Math.max(0, ...w.map((x, i) => Math.abs(g[i]! - x) - (2e-6 + 2e-5 * Math.abs(x))));
    expect(worst, `${what} ${k}`).toBe(0);
  }
}
