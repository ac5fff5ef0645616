import { type CorruptionFamily, corrupt, expectedCalibrationError } from '@robust-ft/eval';
import * as tf from '@tensorflow/tfjs';
import { type Dataset, head, loadMnist } from './data/datasets';
import { FEATURE_LAYER } from './model';

/** One evaluation set: images and labels plus where it belongs in the report. */
export interface EvalSet {
  key: string;
  kind: 'id' | 'domain' | 'corruption';
  family?: string;
  severity?: number;
  data: Dataset;
}

/** Outputs of a model on one set (logits N×K, features N×D when requested). */
export interface SetOutputs {
  logits: Float32Array;
  features?: Float32Array;
}

export type Outputs = Map<string, SetOutputs>;

/**
 * The digit tiers' evaluation sets: the ID test set, MNIST test (first `mnistLimit`) and the given font
 * digits as domain shifts, then the corrupted copies of the test set.
 */
export function digitEvalSets(
  test: Dataset,
  fonts: Dataset,
  o: {
    mnistLimit: number;
    families: readonly CorruptionFamily[];
    severities: readonly number[];
    seed: number;
  },
): EvalSet[] {
  return [
    { key: 'id', kind: 'id', data: test },
    { key: 'mnist', kind: 'domain', data: head(loadMnist('test'), o.mnistLimit) },
    { key: 'fonts', kind: 'domain', data: fonts },
    ...corruptedSets(test, o.families, o.severities, o.seed),
  ];
}

/**
 * Builds the corrupted copies of the ID test set. Each (family, severity) has its own fixed seed, so the
 * corrupted images are identical across methods and runs.
 */
export function corruptedSets(
  idTest: Dataset,
  families: readonly CorruptionFamily[],
  severities: readonly number[],
  seed: number,
  shape: [number, number, number] = [28, 28, 1],
): EvalSet[] {
  const sets: EvalSet[] = [];
  families.forEach((family, f) => {
    for (const severity of severities) {
      const x = tf.tidy(() => {
        const t = tf.tensor4d(idTest.x, [idTest.n, ...shape]);
        return corrupt(t, family, severity, seed * 1000 + f * 10 + severity);
      });
      const data = {
        name: `${family}-${severity}`,
        x: x.dataSync() as Float32Array,
        y: idTest.y,
        n: idTest.n,
      };
      x.dispose();
      sets.push({ key: `${family}@${severity}`, kind: 'corruption', family, severity, data });
    }
  });
  return sets;
}

/** Runs `model` over every set in batches; returns logits (and penultimate features if asked). */
export function runModel(
  model: tf.LayersModel,
  sets: readonly EvalSet[],
  withFeatures = false,
  batch = 512,
  shape: [number, number, number] = [28, 28, 1],
): Outputs {
  const size = shape[0] * shape[1] * shape[2];
  const net = withFeatures
    ? tf.model({
        inputs: model.inputs,
        outputs: [
          model.getLayer(FEATURE_LAYER).output as tf.SymbolicTensor,
          model.outputs[0] as tf.SymbolicTensor,
        ],
      })
    : model;
  const out: Outputs = new Map();
  for (const set of sets) {
    const { n, x } = set.data;
    let logits = new Float32Array(0);
    let features: Float32Array | undefined;
    for (let i = 0; i < n; i += batch) {
      const m = Math.min(batch, n - i);
      const res = tf.tidy(() => {
        const xb = tf.tensor4d(x.subarray(i * size, (i + m) * size), [m, shape[0], shape[1], shape[2]]);
        const r = net.predict(xb);
        return Array.isArray(r) ? r : [r];
      });
      const last = res[res.length - 1] as tf.Tensor;
      const classes = last.shape[1] ?? 0;
      if (logits.length === 0) logits = new Float32Array(n * classes);
      logits.set(last.dataSync(), i * classes);
      if (withFeatures) {
        const f = res[0] as tf.Tensor;
        const d = f.shape[1] ?? 0;
        features ??= new Float32Array(n * d);
        features.set(f.dataSync(), i * d);
      }
      tf.dispose(res);
    }
    out.set(set.key, features ? { logits, features } : { logits });
  }
  return out;
}

/** Top-1 accuracy of row-major scores N×K (K = scores.length / N) on host memory; ties → the lower class. */
export function argmaxAccuracy(scores: Float32Array, y: Int32Array): number {
  const classes = scores.length / y.length;
  let ok = 0;
  for (let i = 0; i < y.length; i++) {
    let best = 0;
    for (let k = 1; k < classes; k++)
      if ((scores[i * classes + k] ?? 0) > (scores[i * classes + best] ?? 0)) best = k;
    if (best === y[i]) ok++;
  }
  return ok / y.length;
}

export async function ece(
  scores: Float32Array,
  y: Int32Array,
  input: 'logits' | 'probabilities',
): Promise<number> {
  const s = tf.tensor2d(scores, [y.length, scores.length / y.length]);
  try {
    return (await expectedCalibrationError(s, y, { input })).ece;
  } finally {
    s.dispose();
  }
}

/** Named weights keyed by their layer-scoped names, identical across copies of the architecture. */
export function namedWeights(model: tf.LayersModel): Record<string, tf.Tensor> {
  return Object.fromEntries(model.weights.map((w) => [w.originalName, w.read()]));
}

/**
 * The model operations a tier's `LoadedTier` needs, for a tfjs layers model whose architecture `build`
 * makes: evaluation through `runModel` (batch and per-sample shape as given), named weights, and a copy
 * holding given weights (WiSE-FT's mixes).
 */
export function layersModelOps(
  build: () => tf.LayersModel,
  evaluation: { batch?: number; shape?: [number, number, number] } = {},
) {
  return {
    outputs: async (model: tf.LayersModel, sets: readonly EvalSet[], features = false) =>
      runModel(model, sets, features, evaluation.batch, evaluation.shape),
    weights: namedWeights,
    withWeights: (weights: Record<string, tf.Tensor>, into?: tf.LayersModel) => {
      const model = into ?? build();
      model.setWeights(
        model.weights.map((w) => {
          const t = weights[w.originalName];
          if (!t) throw new Error(`no weight named ${w.originalName}`);
          return t;
        }),
      );
      return model;
    },
    disposeModel: (model: tf.LayersModel) => model.dispose(),
  };
}
