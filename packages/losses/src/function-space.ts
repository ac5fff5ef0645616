import type { Rng } from '@robust-ft/core';
import { assertNonNegative, assertOneOf, assertPositive, invalidArgument } from '@robust-ft/core/internal';
import * as tf from '@tensorflow/tfjs-core';
import { OUTPUT_DISTANCES, type OutputDistance, outputDistance } from './divergences';
import { checkLossOptions } from './option-schemas';
import { stopGradient } from './stop-gradient';
import { assertFloatTensor } from './validate-inputs';

/** A model as a function of a batch: logits `[N, K]`, or features `[N, D]` for the cosine distance. */
export type BatchModel = (x: tf.Tensor) => tf.Tensor2D;

/**
 * A view of the batch: `(x, rng) => x'`, e.g. a corruption from `@robust-ft/eval` or any augmentation.
 * It must not dispose `x`; whatever it creates is released by the regularizer's `tf.tidy`.
 */
export type ViewFn = (x: tf.Tensor, rng: Rng) => tf.Tensor;

/** The configuration of `functionSpaceRegularizer`. */
export interface FunctionSpaceRegularizerConfig {
  /**
   * Simulated-OOD views of the batch; with several, the distance is averaged over them. The fine-tuned
   * and the frozen model see the SAME view.
   */
  views: ViewFn | readonly ViewFn[];
  /** Default 'kl' = KL(p_pretrained ‖ p_finetuned) at `temperature`, scaled by T². */
  distance?: OutputDistance;
  /** Softmax temperature of the distribution distances. Default 1. */
  temperature?: number;
  /** Multiplies the distance. Default 1. */
  weight?: number;
}

/** The regularizer `functionSpaceRegularizer` returns: a scalar penalty for one batch. */
export type FunctionSpaceRegularizer = (
  model: BatchModel,
  pretrained: BatchModel,
  x: tf.Tensor,
  rng: Rng,
) => tf.Scalar;

function normaliseViews(views: unknown, argument: string): readonly ViewFn[] {
  const list = Array.isArray(views) ? views : [views];
  if (list.length === 0 || !list.every((v) => typeof v === 'function')) {
    throw invalidArgument(argument, "a view function (x, rng) => x' or a non-empty array of them", views);
  }
  return list as ViewFn[];
}

function checkModelOutput(argument: string, output: tf.Tensor, batch: number): void {
  if (output.rank !== 2 || output.shape[0] !== batch) {
    output.dispose();
    throw invalidArgument(
      argument,
      `a function returning a [${batch}, K] tensor`,
      `shape [${output.shape.join(',')}]`,
    );
  }
}

/**
 * Function-space regularizer: the distance between the fine-tuned model and the FROZEN pre-trained
 * model on simulated-OOD views of the batch, `weight · mean_v d(pretrained(v(x)), model(v(x)))`.
 *
 * The pre-trained outputs pass through `stopGradient`, so no gradient reaches the frozen model even if
 * its weights are trainable variables (still pass `varList`, or make them non-trainable, so an
 * optimizer does not touch them at all).
 *
 * OUR DEFAULT, not the paper's: the "Feed Two Birds with One Scone" (FSR) paper's formula could not be
 * read (no public code; only its abstract). We default to KL(p_pre ‖ p_ft) at T = 1 — the
 * distillation / learning-without-forgetting direction, which penalises the fine-tuned model for
 * dropping classes the pre-trained model considered likely on the shifted inputs, and which reduces to
 * ordinary cross-entropy against the teacher's soft labels (up to a constant). Swap in
 * 'symmetric-kl', 'js', 'mse' (logits) or 'cosine' (features) through `distance`.
 */
export function functionSpaceRegularizer(config: FunctionSpaceRegularizerConfig): FunctionSpaceRegularizer {
  checkLossOptions('functionSpaceRegularizer', 'functionSpaceRegularizer', config, 'config');
  const views = normaliseViews(config.views, 'config.views');
  const { distance = 'kl', temperature = 1, weight = 1 } = config;
  assertOneOf('config.distance', distance, OUTPUT_DISTANCES);
  assertPositive('config.temperature', temperature);
  assertNonNegative('config.weight', weight);

  return (model, pretrained, x, rng) => {
    if (typeof model !== 'function') throw invalidArgument('model', 'a function x => logits', model);
    if (typeof pretrained !== 'function')
      throw invalidArgument('pretrained', 'a function x => logits', pretrained);
    assertFloatTensor('x', x);
    if (x.rank < 1 || x.shape[0]! < 1) throw invalidArgument('x', 'a non-empty batch');
    const batch = x.shape[0]!;
    return tf.tidy(() => {
      let total: tf.Tensor = tf.scalar(0);
      for (const view of views) {
        const shifted = view(x, rng);
        if (shifted === x)
          throw invalidArgument('config.views', 'views that return a new tensor, not x itself');
        const teacher = pretrained(shifted);
        checkModelOutput('pretrained', teacher, batch);
        const student = model(shifted);
        checkModelOutput('model', student, batch);
        const d = outputDistance(distance, stopGradient(teacher), student, { temperature, validate: false });
        total = tf.add(total, d);
      }
      return tf.mul(total, weight / views.length) as tf.Scalar;
    });
  };
}
