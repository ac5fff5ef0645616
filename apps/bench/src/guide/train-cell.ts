import { createRng } from '@robust-ft/core';
import { apgdCe } from '@robust-ft/eval';
import { type Attack, adversarialTrainingLoss, labelCrossEntropy, tradesLoss } from '@robust-ft/losses';
import { adamw, ftp, spd } from '@robust-ft/optimizers';
import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/datasets';
import type { Hyperparameters } from '../methods';
import { HEAD_LAYER } from '../model';
import { batches } from '../train';
import type { GuideCell } from './grid';

export interface CellBudget {
  batchSize: number;
  /** Epochs per protocol over the ID train split. */
  epochs: Record<GuideCell['protocol'], number>;
  /** APGD-CE iterations of the training attack (the Guide: 10). */
  trainAttackSteps: number;
  /** Training budget, L∞ (the Guide: 4/255). */
  trainEpsilon: number;
  /** TRADES β (the Guide: 1). */
  tradesBeta: number;
}

export interface TrainedCell {
  model: tf.LayersModel;
  seconds: number;
  steps: number;
  hyperparameters: Record<string, number | string>;
}

function optimizerFor(
  cell: GuideCell,
  H: Readonly<Hyperparameters>,
): { opt: tf.Optimizer; settings: Record<string, number | string> } {
  // The probe trains a head from its pre-trained weights at the bench's probe rate; full FT at the shared rate.
  const learningRate = cell.protocol === 'lp' ? H.linearProbeLearningRate : H.learningRate;
  switch (cell.optimizer) {
    case 'adamw':
      return {
        opt: adamw({ learningRate, weightDecay: H.adamwWeightDecay }),
        settings: { optimizer: 'adamw', learningRate, weightDecay: H.adamwWeightDecay },
      };
    case 'ftp':
      return {
        opt: ftp({ learningRate, k: H.ftpK }),
        settings: { optimizer: 'ftp (Adam inner)', learningRate, k: H.ftpK },
      };
    case 'spd':
      return {
        opt: spd({ learningRate, weightDecay: H.spdLambda }),
        settings: { optimizer: 'spd (Adam)', learningRate, lambda: H.spdLambda },
      };
  }
}

/** How a backbone's trainable model sees a 28×28×1 pixel batch. */
export interface CellModel {
  /** The fine-tuned part: the whole network, or (MobileNetV2) the tail after a frozen trunk. */
  model: tf.LayersModel;
  /** The frozen pixel → model-input map (MobileNetV2's trunk, in inference mode); absent = identity. */
  front?: (x: tf.Tensor) => tf.Tensor;
  /** Whether training steps run the model in training mode (false keeps frozen BN statistics). */
  trainingMode: boolean;
}

/** The pixel-space classifier of a cell model: what the attacks and the adversarial losses see. */
export function pixelLogits(m: CellModel, training: boolean): (x: tf.Tensor) => tf.Tensor2D {
  return (x) =>
    tf.tidy(
      () => m.model.apply(m.front ? m.front(x) : x, { training: training && m.trainingMode }) as tf.Tensor2D,
    );
}

/**
 * Fine-tunes `m.model` (a fresh copy of the pre-trained model, changed in place) for one grid cell: CE on
 * clean inputs, Classic AT (CE on APGD-CE L∞ examples) or TRADES (CE(clean) + β·KL(clean ‖ adv), the
 * adversarial examples again from APGD-CE on the labels, as in the Guide), through `@robust-ft/losses`
 * inside `tf.variableGrads` (the losses run the attack off the gradient tape). The attack sees the model
 * in inference mode (the Guide sets model.eval()). The probe trains the head only; full FT every
 * trainable weight (MobileNetV2: its tail; the trunk stays frozen).
 */
export function trainCell(
  m: CellModel,
  cell: GuideCell,
  data: Dataset,
  budget: CellBudget,
  H: Readonly<Hyperparameters>,
  seed: number,
): TrainedCell {
  const { model } = m;
  const { opt, settings } = optimizerFor(cell, H);
  const weights =
    cell.protocol === 'lp' ? model.getLayer(HEAD_LAYER).trainableWeights : model.trainableWeights;
  const variables = weights.map((w) => w.read() as tf.Variable);
  const inference = pixelLogits(m, false);
  const trainLogits = pixelLogits(m, true);
  const attack: Attack = (_model, x, labels) =>
    apgdCe(inference, x, labels, { epsilon: budget.trainEpsilon, steps: budget.trainAttackSteps });
  const epochs = budget.epochs[cell.protocol];
  const start = performance.now();
  let steps = 0;
  for (const [xs, ys] of batches(data, budget.batchSize, epochs, createRng(seed).fork('batches'))) {
    tf.tidy(() => {
      const x = tf.tensor4d(xs, [budget.batchSize, 28, 28, 1]);
      const labels = tf.tensor1d(ys, 'int32');
      const { grads } = tf.variableGrads(() => {
        if (cell.loss === 'at')
          return adversarialTrainingLoss(trainLogits, x, labels, { attack }) as tf.Scalar;
        if (cell.loss === 'trades')
          return tradesLoss(trainLogits, x, labels, { attack, beta: budget.tradesBeta }) as tf.Scalar;
        return labelCrossEntropy(trainLogits(x), labels) as tf.Scalar;
      }, variables);
      opt.applyGradients(grads);
    });
    steps++;
  }
  opt.dispose();
  return {
    model,
    seconds: (performance.now() - start) / 1000,
    steps,
    hyperparameters: {
      ...settings,
      trained: cell.protocol === 'lp' ? 'head' : 'all',
      epochs,
      batchSize: budget.batchSize,
      steps,
      ...(cell.loss === 'ce'
        ? {}
        : {
            attack: `APGD-CE Linf eps=${budget.trainEpsilon.toFixed(4)} steps=${budget.trainAttackSteps}`,
            ...(cell.loss === 'trades' ? { beta: budget.tradesBeta } : {}),
          }),
    },
  };
}
