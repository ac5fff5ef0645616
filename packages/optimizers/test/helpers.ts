import {
  type GradientTransformation,
  mapTensors,
  type RobustOptimizer,
  type StateTree,
} from '@robust-ft/core';
import * as tf from '@tensorflow/tfjs-core';
import { setFusedKernelsEnabled } from '../src/fused';
import { adamw, digrap, ftp, l2sp, sgd, spd, tpgm } from '../src/index';

/** Shapes covering the cases the methods special-case: rank 1 (whole-tensor norm), 2, 3 and 4. */
export const SHAPES: Record<string, number[]> = {
  'body/w2d': [5, 3],
  'body/b1d': [4],
  'body/w3d': [2, 3, 2],
  'head/w4d': [3, 2, 2, 2],
};

let counter = 0;

/** Fresh variables with unique names (prefix + base name) and random values; anchors are their copies. */
export function makeVars(
  seed: number,
  offset = 0,
): { vars: Record<string, tf.Variable>; anchors: tf.NamedTensorMap } {
  const prefix = `p${counter++}`;
  const vars: Record<string, tf.Variable> = {};
  const anchors: tf.NamedTensorMap = {};
  Object.entries(SHAPES).forEach(([base, shape], i) => {
    const a = tf.randomNormal(shape, 0, 0.5, 'float32', seed + i);
    anchors[`${prefix}/${base}`] = a;
    const init =
      offset === 0 ? tf.clone(a) : tf.add(a, tf.randomNormal(shape, 0, offset, 'float32', seed + 100 + i));
    vars[`${prefix}/${base}`] = tf.variable(init, true, `${prefix}/${base}`);
    if (init !== a) init.dispose();
  });
  return { vars, anchors };
}

/** A deterministic random gradient for `name` at `step` (seeded, so two runs see the same numbers). */
export function gradFor(name: string, shape: number[], step: number, seed = 0): tf.Tensor {
  let h = seed * 7919 + step * 104729;
  for (const ch of name.split('/').slice(1).join('/')) h = (h * 31 + ch.charCodeAt(0)) % 1_000_003;
  return tf.randomNormal(shape, 0, 1, 'float32', h);
}

/** Applies `steps` random gradient steps; `skip(name, step)` leaves a gradient out. */
export function run(
  opt: RobustOptimizer,
  vars: Record<string, tf.Variable>,
  steps: number,
  {
    from = 1,
    seed = 0,
    skip,
  }: { from?: number; seed?: number; skip?: (name: string, step: number) => boolean } = {},
): void {
  for (let s = from; s < from + steps; s++) {
    const grads: tf.NamedTensorMap = {};
    for (const [name, v] of Object.entries(vars))
      if (!skip?.(name, s)) grads[name] = gradFor(name, v.shape, s, seed);
    opt.applyGradients(grads);
    tf.dispose(Object.values(grads));
  }
}

export function values(vars: Record<string, tf.Variable>): Record<string, number[]> {
  return Object.fromEntries(Object.entries(vars).map(([n, v]) => [n, Array.from(v.dataSync())]));
}

export function disposeAll(
  vars: Record<string, tf.Variable>,
  anchors: tf.NamedTensorMap,
  ...opts: RobustOptimizer[]
) {
  for (const o of opts) o.dispose();
  tf.dispose([...Object.values(vars), ...Object.values(anchors)]);
}

/** A quadratic validation loss for TPGM on arbitrary names: Σ 0.5·(w − 0.3)². */
export function quadraticValidation(params: tf.NamedTensorMap): tf.Scalar {
  return tf.addN(
    Object.values(params).map((p) => tf.mul(tf.sum(tf.square(tf.sub(p, 0.3))), 0.5)),
  ) as tf.Scalar;
}

/** The anchor, and the exclusion when one is given (an absent `exclude` key keeps the default). */
const anchored = (anchor: tf.NamedTensorMap, exclude?: string) => ({
  anchor,
  ...(exclude ? { exclude } : {}),
});

/** One factory per optimizer of the package, with settings that exercise its robust branch. */
export const FACTORIES: Record<string, (anchor: tf.NamedTensorMap, exclude?: string) => RobustOptimizer> = {
  adamw: () => adamw({ learningRate: 1e-2, weightDecay: 0.01 }),
  sgd: () => sgd({ learningRate: 1e-2, momentum: 0.9, nesterov: true, weightDecay: 1e-3 }),
  l2sp: (anchor, exclude) => l2sp({ learningRate: 1e-2, alpha: 0.1, ...anchored(anchor, exclude) }),
  ftpAdam: (anchor, exclude) =>
    ftp({ learningRate: 1e-2, weightDecay: 0.1, k: 0.5, ...anchored(anchor, exclude) }),
  ftpSgd: (anchor, exclude) =>
    ftp({ inner: 'sgd', learningRate: 1e-2, momentum: 0.9, nesterov: true, ...anchored(anchor, exclude) }),
  spd: (anchor, exclude) => spd({ learningRate: 5e-2, weightDecay: 1, ...anchored(anchor, exclude) }),
  spdSgd: (anchor, exclude) =>
    spd({ inner: 'sgd', learningRate: 5e-2, momentum: 0.9, weightDecay: 1, ...anchored(anchor, exclude) }),
  digrap: (anchor, exclude) => digrap({ learningRate: 1e-2, weightDecay: 0.5, ...anchored(anchor, exclude) }),
  digrapSgd: (anchor, exclude) =>
    digrap({
      inner: 'sgd',
      learningRate: 1e-2,
      nesterov: true,
      momentum: 0.9,
      weightDecay: 0.5,
      ...anchored(anchor, exclude),
    }),
  digrapFixed: (anchor, exclude) =>
    digrap({
      learningRate: 1e-2,
      weightDecay: 0.5,
      trainableStrength: false,
      strength: 0.5,
      projTerm: 'grad',
      ...anchored(anchor, exclude),
    }),
  tpgm: (anchor, exclude) =>
    tpgm({ learningRate: 1e-2, validationLoss: quadraticValidation, ...anchored(anchor, exclude) }),
  tpgmL2: (anchor, exclude) =>
    tpgm({
      inner: 'adam',
      learningRate: 1e-2,
      normMode: 'l2',
      maxIters: 2,
      validationLoss: quadraticValidation,
      ...anchored(anchor, exclude),
    }),
};

/** Sign descent: a toy inner transformation with its own state (a step counter per name). */
export function signDescent(): GradientTransformation<StateTree> {
  return {
    label: 'signDescent',
    init: (params) => ({ steps: Object.fromEntries(Object.keys(params).map((n) => [n, 0])) }),
    update: (grads, state, _params, ctx) => {
      const prev = (state.steps ?? {}) as Record<string, number>;
      const steps = { ...prev };
      for (const n of Object.keys(grads)) steps[n] = (prev[n] ?? 0) + 1;
      return { updates: mapTensors(grads, (g) => tf.mul(tf.sign(g), -ctx.learningRate)), state: { steps } };
    },
  };
}

/** Runs `fn` on the composed path (fused kernels off), turning them back on however it ends. */
export function withoutFusedKernels<T>(fn: () => T): T {
  setFusedKernelsEnabled(false);
  try {
    return fn();
  } finally {
    setFusedKernelsEnabled(true);
  }
}
