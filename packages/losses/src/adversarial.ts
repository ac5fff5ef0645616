import { RobustFtError } from '@robust-ft/core';
import { assertNonNegative, invalidArgument, shapeToString } from '@robust-ft/core/internal';
import * as tf from '@tensorflow/tfjs-core';
import { labelCrossEntropy, type Reduction } from './cross-entropy';
import { klFromLogProbs } from './divergences';
import type { BatchModel } from './function-space';
import { offTape } from './off-tape';
import { checkLossOptions } from './option-schemas';
import { stopGradient } from './stop-gradient';
import {
  assertBatchMatrix,
  assertFloatTensor,
  assertLabels,
  guardValues,
  type ValueCheck,
} from './validate-inputs';

/**
 * Any attack `(model, x, labels) => xAdv` (FGSM, PGD, APGD from `@robust-ft/eval`, or your own). It may
 * use `tf.grad` internally, also when the loss runs inside `tf.variableGrads` or `optimizer.minimize`:
 * the attack runs off the caller's gradient tape, and its result is a constant input (no gradient flows
 * through it).
 */
export type Attack = (model: BatchModel, x: tf.Tensor, labels: tf.Tensor1D) => tf.Tensor;

/** Options of the TRADES loss (`tradesLoss`, `tradesLossFromLogits`). */
export interface TradesOptions {
  /** Weight of the KL term. Default 1.0 — the Guide's value (TRADES papers commonly use 6). */
  beta?: number;
  reduction?: Reduction;
  /** Check shapes, finiteness and labels first. Default true. */
  validate?: boolean;
}

/**
 * TRADES on given logits, per sample `CE(z_clean, y) + β·KL(softmax(z_clean) ‖ softmax(z_adv))` (the
 * Guide's `TRADES_v2`, KL summed over classes, averaged over the batch). The gradient flows through
 * BOTH the clean and the adversarial logits, as in the reference.
 */
export function tradesLossFromLogits(
  cleanLogits: tf.Tensor2D,
  adversarialLogits: tf.Tensor2D,
  labels: tf.Tensor1D,
  options: TradesOptions = {},
): tf.Tensor {
  checkLossOptions('tradesLossFromLogits', 'trades', options);
  const { beta = 1, reduction = 'mean', validate = true } = options;
  assertNonNegative('options.beta', beta);
  const checks: ValueCheck[] = [];
  if (validate) {
    assertBatchMatrix('cleanLogits', cleanLogits, 1);
    assertBatchMatrix('adversarialLogits', adversarialLogits, 1);
    if (!cleanLogits.shape.every((d, i) => d === adversarialLogits.shape[i])) {
      throw new RobustFtError(
        'SHAPE_MISMATCH',
        `adversarialLogits has shape ${shapeToString(adversarialLogits.shape)}, cleanLogits ${shapeToString(cleanLogits.shape)}`,
        { argument: 'adversarialLogits', expected: `shape ${shapeToString(cleanLogits.shape)}` },
      );
    }
    checks.push(
      { tensor: cleanLogits },
      { tensor: adversarialLogits },
      assertLabels('labels', labels, cleanLogits.shape[0], cleanLogits.shape[1]),
    );
  }
  return tf.tidy(() => {
    const ce = labelCrossEntropy(cleanLogits, labels, 'none');
    const kl = klFromLogProbs(tf.logSoftmax(cleanLogits), tf.logSoftmax(adversarialLogits));
    const perSample = tf.add(ce, tf.mul(beta, kl)) as tf.Tensor1D;
    return guardValues(reduction === 'mean' ? tf.mean(perSample) : perSample, checks);
  });
}

/** Options of `adversarialTrainingLoss` and `tradesLoss`: the attack that makes the adversarial batch. */
export interface AdversarialLossOptions {
  attack: Attack;
  reduction?: Reduction;
}

function runAttack(attack: Attack, model: BatchModel, x: tf.Tensor, labels: tf.Tensor1D): tf.Tensor {
  if (typeof attack !== 'function')
    throw invalidArgument('options.attack', 'a function (model, x, labels) => xAdv', attack);
  // Off the enclosing tape: the attack's own gradients must not land on the caller's tape (see offTape).
  // An attack that hands back `x` itself gets a copy, so disposing xAdv never frees the caller's batch.
  const xAdv = offTape(() =>
    tf.tidy(() => {
      const out = attack(model, x, labels);
      return out === x ? tf.clone(out) : out;
    }),
  );
  if (!xAdv.shape.every((d, i) => d === x.shape[i]) || xAdv.rank !== x.rank) {
    xAdv.dispose();
    throw new RobustFtError(
      'SHAPE_MISMATCH',
      `the attack returned shape ${shapeToString(xAdv.shape)} for x of shape ${shapeToString(x.shape)}`,
      {
        argument: 'options.attack',
        expected: `an adversarial batch of shape ${shapeToString(x.shape)}`,
      },
    );
  }
  return xAdv;
}

function checkBatch(model: BatchModel, x: tf.Tensor, labels: tf.Tensor1D): void {
  if (typeof model !== 'function') throw invalidArgument('model', 'a function x => logits', model);
  assertFloatTensor('x', x);
  if (x.rank < 1 || x.shape[0]! < 1) throw invalidArgument('x', 'a non-empty batch');
  if (typeof labels !== 'object' || labels === null || labels.rank !== 1 || labels.shape[0] !== x.shape[0]) {
    throw new RobustFtError('SHAPE_MISMATCH', `labels must be a [${x.shape[0]}] int32 tensor`, {
      argument: 'labels',
      expected: `shape [${x.shape[0]}]`,
    });
  }
}

/**
 * Adversarial training (Madry et al.; the Guide's `CLASSIC_AT`): cross-entropy of the model on
 * `attack(model, x, labels)`.
 */
export function adversarialTrainingLoss(
  model: BatchModel,
  x: tf.Tensor,
  labels: tf.Tensor1D,
  options: AdversarialLossOptions,
): tf.Tensor {
  checkLossOptions('adversarialTrainingLoss', 'adversarialTraining', options);
  checkBatch(model, x, labels);
  const xAdv = runAttack(options?.attack, model, x, labels);
  try {
    return tf.tidy(() => {
      const logits = model(stopGradient(xAdv));
      const range = assertLabels('labels', labels, logits.shape[0], logits.shape[1]);
      return guardValues(labelCrossEntropy(logits, labels, (options.reduction ?? 'mean') as 'mean'), [range]);
    });
  } finally {
    xAdv.dispose();
  }
}

/**
 * TRADES driven by an attack: `CE(model(x), y) + β·KL(p(x) ‖ p(xAdv))` with `xAdv = attack(model, x, y)`.
 * The Guide generates xAdv with APGD on the cross-entropy (not on the KL as standard TRADES does); pass
 * whichever attack you want.
 */
export function tradesLoss(
  model: BatchModel,
  x: tf.Tensor,
  labels: tf.Tensor1D,
  options: AdversarialLossOptions & Omit<TradesOptions, 'reduction'>,
): tf.Tensor {
  checkLossOptions('tradesLoss', 'tradesLoss', options);
  checkBatch(model, x, labels);
  assertNonNegative('options.beta', options?.beta ?? 1);
  const xAdv = runAttack(options?.attack, model, x, labels);
  try {
    return tf.tidy(() =>
      tradesLossFromLogits(model(x), model(stopGradient(xAdv)), labels, {
        beta: options.beta ?? 1,
        reduction: options.reduction ?? 'mean',
      }),
    );
  } finally {
    xAdv.dispose();
  }
}
