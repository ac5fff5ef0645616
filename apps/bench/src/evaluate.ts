import { type CorruptionFamily, corrupt, expectedCalibrationError } from '@robust-ft/eval';
import * as tf from '@tensorflow/tfjs';
import type { Dataset } from './data/datasets';
import { FEATURE_LAYER } from './model';

/** One evaluation set: images and labels plus where it belongs in the report. */
export interface EvalSet {
  key: string;
  kind: 'id' | 'domain' | 'corruption';
  family?: string;
  severity?: number;
  data: Dataset;
}

/** Outputs of a model on one set (logits N×10, features N×D when requested). */
export interface SetOutputs {
  logits: Float32Array;
  features?: Float32Array;
}

export type Outputs = Map<string, SetOutputs>;

/**
 * Builds the corrupted copies of the ID test set. Each (family, severity) has its own fixed seed, so the
 * corrupted images are identical across methods and runs.
 */
export function corruptedSets(
  idTest: Dataset,
  families: readonly CorruptionFamily[],
  severities: readonly number[],
  seed: number,
): EvalSet[] {
  const sets: EvalSet[] = [];
  families.forEach((family, f) => {
    for (const severity of severities) {
      const x = tf.tidy(() => {
        const t = tf.tensor4d(idTest.x, [idTest.n, 28, 28, 1]);
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
    const logits = new Float32Array(n * 10);
    let features: Float32Array | undefined;
    for (let i = 0; i < n; i += batch) {
      const m = Math.min(batch, n - i);
      const res = tf.tidy(() => {
        const xb = tf.tensor4d(x.subarray(i * size, (i + m) * size), [m, shape[0], shape[1], shape[2]]);
        const r = net.predict(xb);
        return Array.isArray(r) ? r : [r];
      });
      const last = res[res.length - 1] as tf.Tensor;
      logits.set(last.dataSync(), i * 10);
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

export function argmaxAccuracy(scores: Float32Array, y: Int32Array): number {
  let ok = 0;
  for (let i = 0; i < y.length; i++) {
    let best = 0;
    for (let k = 1; k < 10; k++) if ((scores[i * 10 + k] ?? 0) > (scores[i * 10 + best] ?? 0)) best = k;
    if (best === y[i]) ok++;
  }
  return ok / y.length;
}

export async function ece(
  scores: Float32Array,
  y: Int32Array,
  input: 'logits' | 'probabilities',
): Promise<number> {
  const s = tf.tensor2d(scores, [y.length, 10]);
  try {
    return (await expectedCalibrationError(s, y, { input })).ece;
  } finally {
    s.dispose();
  }
}
