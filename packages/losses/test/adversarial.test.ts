import { expectNoTensorLeaks } from '@robust-ft/core/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  type Attack,
  adversarialTrainingLoss,
  type BatchModel,
  labelCrossEntropy,
  tradesLoss,
  tradesLossFromLogits,
} from '../src/index';
import { caught, expectPoisoned, randomMatrix } from './helpers';
import './setup-backend';

const value = (t: tf.Tensor) => t.dataSync()[0]!;

/** A tiny local FGSM (L∞, one step on the cross-entropy), only for these tests. */
function fgsm(epsilon: number): Attack {
  return (model, x, labels) =>
    tf.tidy(() => {
      const g = tf.grad((input: tf.Tensor) => labelCrossEntropy(model(input), labels))(x);
      return tf.clipByValue(tf.add(x, tf.mul(epsilon, tf.sign(g))), 0, 1);
    });
}

const x = tf.tidy(() => tf.sigmoid(randomMatrix(6, 4, 1)));
const labels = tf.tensor1d([0, 1, 2, 1, 0, 2], 'int32');
const w = tf.variable(randomMatrix(4, 3, 2));
const model: BatchModel = (input) => tf.matMul(input as tf.Tensor2D, w);

describe('adversarialTrainingLoss / tradesLoss', () => {
  it('AT is the cross-entropy on the attacked batch, and the attack raises the loss', () => {
    const attack = fgsm(0.1);
    const xAdv = attack(model, x, labels);
    expect(value(adversarialTrainingLoss(model, x, labels, { attack }))).toBeCloseTo(
      value(labelCrossEntropy(model(xAdv), labels)),
      5,
    );
    expect(value(adversarialTrainingLoss(model, x, labels, { attack }))).toBeGreaterThan(
      value(labelCrossEntropy(model(x), labels)),
    );
  });

  // The KL's direction, KL(clean ‖ adv), is checked against a float64 hand computation in pinned-values.test.ts.
  it('TRADES: β scales the KL term; β = 0 is plain CE; an identity attack leaves CE', () => {
    const attack = fgsm(0.1);
    const clean = value(labelCrossEntropy(model(x), labels));
    expect(value(tradesLoss(model, x, labels, { attack, beta: 0 }))).toBeCloseTo(clean, 5);
    expect(value(tradesLoss(model, x, labels, { attack: (_m, input) => tf.clone(input) }))).toBeCloseTo(
      clean,
      5,
    );
    const t1 = value(tradesLoss(model, x, labels, { attack }));
    const t6 = value(tradesLoss(model, x, labels, { attack, beta: 6 }));
    expect(t6 - clean).toBeCloseTo(6 * (t1 - clean), 4);
    expect(t1).toBeGreaterThan(clean);
  });

  it('treats the adversarial batch as a constant: no gradient flows back through the attack', () => {
    // An "attack" whose output depends on the weights: were it not stopped, d/dW would pick up that path.
    const dependent: Attack = (_m, input) => tf.add(input, tf.mul(0.1, tf.sum(w)));
    const { grads } = tf.variableGrads(
      () => adversarialTrainingLoss(model, x, labels, { attack: dependent }) as tf.Scalar,
      [w],
    );
    const constant = tf.tidy(() => tf.add(x, tf.mul(0.1, tf.sum(w))));
    const expected = tf.variableGrads(() => labelCrossEntropy(model(constant), labels), [w]).grads;
    const viaPath = tf.variableGrads(
      () => labelCrossEntropy(model(dependent(model, x, labels)), labels),
      [w],
    ).grads;
    const ours = Array.from(grads[w.name]!.dataSync());
    expect(ours).toEqual(Array.from(expected[w.name]!.dataSync()).map((v) => expect.closeTo(v, 6)));
    // Sanity: the un-stopped path really does change the gradient, so the check above can fail.
    expect(
      Math.max(...Array.from(viaPath[w.name]!.dataSync()).map((v, i) => Math.abs(v - ours[i]!))),
    ).toBeGreaterThan(1e-3);
  });

  it('tradesLossFromLogits validates shapes and labels', () => {
    const z = randomMatrix(4, 3, 5);
    const y = tf.tensor1d([0, 1, 2, 0], 'int32');
    expect(caught(() => tradesLossFromLogits(z, randomMatrix(4, 2, 1), y)).argument).toBe(
      'adversarialLogits',
    );
    // A label out of range is a value: checked on the device, the loss and its gradients are NaN.
    const outOfRange = tf.tensor1d([0, 1, 3, 0], 'int32');
    expectPoisoned((c, a) => tradesLossFromLogits(c as tf.Tensor2D, a as tf.Tensor2D, outOfRange), [z, z]);
    expectPoisoned(
      (c, a) => tradesLossFromLogits(c as tf.Tensor2D, a as tf.Tensor2D, tf.tensor1d([0, -1, 2, 0], 'int32')),
      [z, z],
    );
    expect(Number.isFinite(tradesLossFromLogits(z, z, y).dataSync()[0]!)).toBe(true);
    expect(caught(() => tradesLossFromLogits(z, z, tf.tensor1d([0, 1, 2], 'int32'))).code).toBe(
      'SHAPE_MISMATCH',
    );
    expect(caught(() => tradesLossFromLogits(z, z, tf.tensor1d([0, 1, 2, 0]) as tf.Tensor1D)).argument).toBe(
      'labels',
    );
    expect(caught(() => tradesLossFromLogits(z, z, y, { beta: -1 })).argument).toBe('options.beta');
    const bad: Attack = () => tf.zeros([2, 4]);
    expect(caught(() => tradesLoss(model, x, labels, { attack: bad })).argument).toBe('options.attack');
    expect(caught(() => adversarialTrainingLoss(model, x, labels, { attack: 3 as never })).argument).toBe(
      'options.attack',
    );
  });

  it('leaks no tensors, with an attack that takes gradients itself, forward and under variableGrads', async () => {
    const attack = fgsm(0.05);
    await expectNoTensorLeaks(() => adversarialTrainingLoss(model, x, labels, { attack }), { label: 'AT' });
    await expectNoTensorLeaks(() => tradesLoss(model, x, labels, { attack }), { label: 'TRADES' });
    await expectNoTensorLeaks(
      () => tf.variableGrads(() => tradesLoss(model, x, labels, { attack }) as tf.Scalar, [w]),
      { label: 'TRADES grads' },
    );
    const z = randomMatrix(4, 3, 5);
    const y = tf.tensor1d([0, 1, 2, 0], 'int32');
    await expectNoTensorLeaks(() => tradesLossFromLogits(z, z, y), { label: 'tradesLossFromLogits' });
  });
});
