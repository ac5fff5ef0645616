import { assertInteger, invalidArgument } from '@robust-ft/core/internal';
import * as tf from '@tensorflow/tfjs-core';
import type { LogitsModel } from './attacks/attack-common';
import type { Attack } from './attacks/robust-accuracy';
import { robustAccuracy } from './attacks/robust-accuracy';
import { assertImageBatch, type Labels } from './checks';
import { CORRUPTION_FAMILIES, corrupt } from './corruptions/corrupt';
import type { CorruptionFamily } from './corruptions/families';
import { expectedCalibrationError } from './metrics/calibration';
import { relativeRobustness } from './metrics/corruption-metrics';
import { topKAccuracy } from './metrics/top-k';
import { checkEvalOptions } from './option-schemas';

/** One labelled image set of `evaluate`. */
export interface EvaluationData {
  /** Images `[N, H, W, C]` in [0, 1]. */
  x: tf.Tensor4D;
  y: Labels;
}

/** The sets `evaluate` runs: the ID set, and optionally corruptions, attacks and OOD sets. */
export interface EvaluationSuites {
  /** In-distribution test set: top-1/top-k accuracy and ECE. Required. */
  id: EvaluationData;
  /** Corruptions of the ID set. Default: none. */
  corruptions?: { families?: readonly CorruptionFamily[]; severities?: readonly number[]; seed?: number };
  /** Named attacks in `(model, x, y) → xAdv` form. */
  attacks?: Readonly<Record<string, Attack>>;
  /** Extra OOD sets (e.g. another digit style), reported as accuracies. */
  ood?: Readonly<Record<string, EvaluationData>>;
  /** Top-k to report besides top-1. Default 5 (skipped when K < 5). */
  topK?: number;
  /** Rows per forward pass. Default 256. */
  batchSize?: number;
}

/** What `evaluate` reports to its `onProgress` callback. */
export interface EvaluationProgress {
  stage: 'id' | 'corruption' | 'attack' | 'ood';
  name: string;
  done: number;
  total: number;
}

/** What `evaluate` measured for one model; `reportToJson`/`reportToMarkdown` render it. */
export interface EvaluationReport {
  model: string;
  id: { accuracy: number; topK: { k: number; accuracy: number } | null; ece: number; n: number };
  corruptions: {
    /** family → accuracy per severity, in the order of `severities`. */
    accuracy: Record<string, number[]>;
    severities: number[];
    meanCorruptionAccuracy: number;
    relativeRobustness: number;
  } | null;
  attacks: Record<string, number>;
  ood: Record<string, number>;
}

/** Runs `model` over rows in chunks and concatenates the logits (bounded memory on large sets). */
export function predictBatched(model: LogitsModel, x: tf.Tensor, batchSize = 256): tf.Tensor2D {
  const n = x.shape[0] as number;
  const parts: tf.Tensor[] = [];
  for (let i = 0; i < n; i += batchSize) {
    parts.push(tf.tidy(() => model(tf.slice(x, i, Math.min(batchSize, n - i)))));
  }
  const out = tf.concat(parts) as tf.Tensor2D;
  tf.dispose(parts);
  return out;
}

/**
 * Evaluates one model on an ID set, its corruptions, attacks and extra OOD sets. Returns plain numbers
 * (no tensors); every tensor it creates is disposed. `onProgress` is called after each unit of work.
 */
export async function evaluate(
  model: LogitsModel,
  suites: EvaluationSuites,
  options: { name?: string; onProgress?: (p: EvaluationProgress) => void } = {},
): Promise<EvaluationReport> {
  checkEvalOptions('evaluate', 'evaluate', options);
  // checkOptions accepts undefined (options are optional); suites are not.
  if (typeof suites !== 'object' || suites === null) {
    throw invalidArgument(
      'suites',
      'an object { id, corruptions?, attacks?, ood?, topK?, batchSize? }',
      suites,
    );
  }
  checkEvalOptions('evaluate suites', 'evaluateSuites', suites);
  checkEvalOptions('evaluate suites.corruptions', 'evaluateCorruptions', suites.corruptions);
  const { id, topK = 5, batchSize = 256 } = suites;
  if (!id) throw invalidArgument('suites.id', 'an in-distribution set { x, y }');
  assertInteger('suites.topK', topK, 1);
  // A batch size of 0 would never advance predictBatched's loop.
  assertInteger('suites.batchSize', batchSize, 1);
  assertImageBatch('suites.id.x', id.x);
  const families = suites.corruptions?.families ?? (suites.corruptions ? CORRUPTION_FAMILIES : []);
  const severities = suites.corruptions?.severities ?? [1, 2, 3, 4, 5];
  const attacks = Object.entries(suites.attacks ?? {});
  const oodSets = Object.entries(suites.ood ?? {});
  const total = 1 + families.length * severities.length + attacks.length + oodSets.length;
  let done = 0;
  const tick = (stage: EvaluationProgress['stage'], name: string) => {
    done++;
    options.onProgress?.({ stage, name, done, total });
  };
  const accuracyOn = async (x: tf.Tensor, y: Labels) => {
    const logits = predictBatched(model, x, batchSize);
    try {
      return await topKAccuracy(logits, y, 1);
    } finally {
      logits.dispose();
    }
  };

  const logits = predictBatched(model, id.x, batchSize);
  const k = logits.shape[1];
  const report: EvaluationReport = {
    model: options.name ?? 'model',
    id: {
      accuracy: await topKAccuracy(logits, id.y, 1),
      topK: topK > 1 && topK <= k ? { k: topK, accuracy: await topKAccuracy(logits, id.y, topK) } : null,
      ece: (await expectedCalibrationError(logits, id.y)).ece,
      n: id.x.shape[0],
    },
    corruptions: null,
    attacks: {},
    ood: {},
  };
  logits.dispose();
  tick('id', 'id');
  await Promise.resolve();

  if (families.length > 0) {
    const accuracy: Record<string, number[]> = {};
    for (const family of families) {
      accuracy[family] = [];
      for (const s of severities) {
        const xc = corrupt(id.x, family, s, suites.corruptions?.seed ?? 0);
        (accuracy[family] as number[]).push(await accuracyOn(xc, id.y));
        xc.dispose();
        tick('corruption', `${family}/${s}`);
        // Yield so progress reaches a UI between units of work.
        await Promise.resolve();
      }
    }
    const rr = relativeRobustness(Math.max(report.id.accuracy, 1e-9), accuracy);
    report.corruptions = {
      accuracy,
      severities: [...severities],
      meanCorruptionAccuracy: rr.meanCorruptionAccuracy,
      relativeRobustness: rr.relative,
    };
  }
  for (const [name, attack] of attacks) {
    report.attacks[name] = await robustAccuracy(model, id.x, id.y, attack);
    tick('attack', name);
    await Promise.resolve();
  }
  for (const [name, data] of oodSets) {
    assertImageBatch(`suites.ood.${name}.x`, data.x);
    report.ood[name] = await accuracyOn(data.x, data.y);
    tick('ood', name);
  }
  return report;
}
