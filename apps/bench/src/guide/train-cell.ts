import { createRng } from '@robust-ft/core';
import { apgdCe } from '@robust-ft/eval';
import { adversarialTrainingLoss, tradesLoss } from '@robust-ft/losses';
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

/**
 * Fine-tunes `model` (a fresh copy of the pre-trained CNN, changed in place) for one grid cell: CE on clean
 * inputs, Classic AT (CE on APGD-CE L∞ examples) or TRADES (CE(clean) + β·KL(clean ‖ adv), the adversarial
 * examples again from APGD-CE on the labels, as in the Guide). The probe trains the head only; full FT all
 * weights. The adversarial batch is made before the gradient tape opens and handed to the losses as a
 * constant: an attack run inside `tf.variableGrads` puts its own ops (MaxPoolGrad, comparisons) on the outer
 * tape, which tfjs cannot differentiate.
 */
export function trainCell(
  model: tf.LayersModel,
  cell: GuideCell,
  data: Dataset,
  budget: CellBudget,
  H: Readonly<Hyperparameters>,
  seed: number,
): TrainedCell {
  const { opt, settings } = optimizerFor(cell, H);
  const weights =
    cell.protocol === 'lp' ? model.getLayer(HEAD_LAYER).trainableWeights : model.trainableWeights;
  const variables = weights.map((w) => w.read() as tf.Variable);
  // The attack sees the model in inference mode (the Guide sets model.eval()); the CNN has no BN/dropout.
  const logits = (v: tf.Tensor) => model.apply(v, { training: false }) as tf.Tensor2D;
  const trainLogits = (v: tf.Tensor) => model.apply(v, { training: true }) as tf.Tensor2D;
  const epochs = budget.epochs[cell.protocol];
  const start = performance.now();
  let steps = 0;
  for (const [xs, ys] of batches(data, budget.batchSize, epochs, createRng(seed).fork('batches'))) {
    tf.tidy(() => {
      const x = tf.tensor4d(xs, [budget.batchSize, 28, 28, 1]);
      const labels = tf.tensor1d(ys, 'int32');
      const xAdv =
        cell.loss === 'ce'
          ? undefined
          : apgdCe(logits, x, labels, { epsilon: budget.trainEpsilon, steps: budget.trainAttackSteps });
      const attack = () => tf.clone(xAdv as tf.Tensor);
      const { grads } = tf.variableGrads(() => {
        if (cell.loss === 'at')
          return adversarialTrainingLoss(trainLogits, x, labels, { attack }) as tf.Scalar;
        if (cell.loss === 'trades')
          return tradesLoss(trainLogits, x, labels, { attack, beta: budget.tradesBeta }) as tf.Scalar;
        return tf.losses.softmaxCrossEntropy(tf.oneHot(labels, 10), trainLogits(x)) as tf.Scalar;
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
