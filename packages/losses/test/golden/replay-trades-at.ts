import * as tf from '@tensorflow/tfjs-core';
import {
  type Attack,
  adversarialTrainingLoss,
  type BatchModel,
  klFromLogProbs,
  labelCrossEntropy,
  tradesLoss,
  tradesLossFromLogits,
} from '../../src/index';
import { type CaseResult, compare, type Golden, record, toTensor } from './compare';

/**
 * `guide_trades_at.json`. The file stores the APGD outputs; the attack itself belongs to
 * `@robust-ft/eval`. Here the LOSSES are replayed: an "attack" that returns the stored x_adv drives
 * tradesLoss / adversarialTrainingLoss on the file's linear model, and the per-sample losses, the
 * adversarial logits and ∂mean(TRADES)/∂W are compared.
 */
export function replayTradesAt(file: Golden): CaseResult[] {
  const results: CaseResult[] = [];
  const inputs = record(file, 'inputs');
  const x = toTensor(record(inputs, 'x'));
  const labels = tf.tensor1d(record(inputs, 'y') as number[], 'int32');
  const W = toTensor(record(inputs, 'W')) as tf.Tensor2D;
  const b = toTensor(record(inputs, 'b'));
  const beta = record(inputs, 'beta') as number;
  // logits = x.flatten(1) @ Wᵀ + b
  const linear =
    (weight: tf.Tensor2D): BatchModel =>
    (input) =>
      tf.add(tf.matMul(tf.reshape(input, [input.shape[0]!, -1]), weight, false, true), b) as tf.Tensor2D;

  for (const [eps, run] of Object.entries(record(file, 'attack_and_losses') as Record<string, Golden>)) {
    const xAdv = toTensor(record(run, 'x_adv_apgd'));
    const replayAttack: Attack = () => tf.clone(xAdv);
    const model = linear(W);
    const trades = tradesLoss(model, x, labels, { attack: replayAttack, beta, reduction: 'none' });
    results.push(compare(`${eps}/trades_loss_per_sample`, trades, record(run, 'trades_loss_per_sample')));
    results.push(compare(`${eps}/trades_logits_adv`, model(xAdv), record(run, 'trades_logits_adv')));
    const at = adversarialTrainingLoss(model, x, labels, { attack: replayAttack, reduction: 'none' });
    results.push(compare(`${eps}/classic_at_loss_per_sample`, at, record(run, 'classic_at_loss_per_sample')));
    results.push(compare(`${eps}/classic_at_logits_adv`, model(xAdv), record(run, 'classic_at_logits_adv')));
    const gradW = tf.grad((w: tf.Tensor) =>
      tradesLoss(linear(w as tf.Tensor2D), x, labels, { attack: replayAttack, beta }),
    )(W);
    results.push(compare(`${eps}/grad_W_of_mean_trades`, gradW, record(run, 'grad_W_of_mean_trades')));
  }

  const fixed = record(file, 'trades_on_fixed_logits');
  const nat = toTensor(record(fixed, 'logits_nat')) as tf.Tensor2D;
  const adv = toTensor(record(fixed, 'logits_adv')) as tf.Tensor2D;
  const fixedLabels = tf.tensor1d(record(fixed, 'labels') as number[], 'int32');
  results.push(
    compare('fixed/ce_clean', labelCrossEntropy(nat, fixedLabels, 'none'), record(fixed, 'ce_clean')),
  );
  results.push(
    compare(
      'fixed/kl_nat_adv',
      klFromLogProbs(tf.logSoftmax(nat), tf.logSoftmax(adv)),
      record(fixed, 'kl_nat_adv'),
    ),
  );
  const perSample = tradesLossFromLogits(nat, adv, fixedLabels, {
    beta: record(fixed, 'beta') as number,
    reduction: 'none',
  });
  results.push(compare('fixed/trades_per_sample', perSample, record(fixed, 'trades_per_sample')));
  return results;
}
