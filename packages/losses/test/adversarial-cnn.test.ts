/**
 * AT / TRADES on a small CNN under an outer gradient tape (issue #19's bug): the attack takes its own
 * gradients, whose backward kernels (Conv2DBackpropInput, MaxPoolGrad, …) have no gradients themselves.
 * Recorded on the outer tape and connected from the weights to the adversarial batch, they made
 * `tf.variableGrads` / `optimizer.minimize` throw. The losses now run the attack off the outer tape.
 */
import { createRng } from '@robust-ft/core';
import { expectNoTensorLeaks } from '@robust-ft/core/testing';
import { apgdCe } from '@robust-ft/eval';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import {
  type Attack,
  adversarialTrainingLoss,
  type BatchModel,
  labelCrossEntropy,
  tradesLoss,
  tradesLossFromLogits,
} from '../src/index';
import './setup-backend';

const rng = createRng(7);
const normal = (shape: number[], scale: number) =>
  tf.tensor(
    Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => scale * rng.normal()),
    shape,
  );

// conv3x3(1→4) → relu → maxPool 2 → dense(64→3): the ops whose gradients-of-gradients tfjs lacks.
const kernel = tf.variable(normal([3, 3, 1, 4], 0.5), true, 'cnn-kernel');
const dense = tf.variable(normal([64, 3], 0.3), true, 'cnn-dense');
const cnn: BatchModel = (input) =>
  tf.tidy(() => {
    const h = tf.maxPool(
      tf.relu(tf.conv2d(input as tf.Tensor4D, kernel as tf.Tensor4D, 1, 'same')),
      2,
      2,
      'valid',
    );
    return tf.matMul(tf.reshape(h, [input.shape[0]!, 64]), dense) as tf.Tensor2D;
  });
const x = tf.tidy(() => tf.sigmoid(normal([4, 8, 8, 1], 1)));
const labels = tf.tensor1d([0, 1, 2, 1], 'int32');
const attack: Attack = (m, input, y) => apgdCe(m, input, y, { epsilon: 0.1, steps: 3 });

/** Gradients of the loss with the adversarial batch made first and passed in as a plain constant. */
function referenceGrads(loss: 'at' | 'trades', vars: tf.Variable[]): Float32Array[] {
  return tf.tidy(() => {
    const xAdv = attack(cnn, x, labels);
    const { grads } = tf.variableGrads(
      () =>
        (loss === 'at'
          ? labelCrossEntropy(cnn(xAdv), labels)
          : tradesLossFromLogits(cnn(x), cnn(xAdv), labels)) as tf.Scalar,
      vars,
    );
    return vars.map((v) => grads[v.name]!.dataSync() as Float32Array);
  });
}

function closeArrays(a: Float32Array, b: Float32Array): void {
  expect(a.length).toBe(b.length);
  const worst = Math.max(...Array.from(a).map((v, i) => Math.abs(v - b[i]!)));
  expect(worst).toBeLessThan(1e-5);
  expect(Math.max(...Array.from(a).map(Math.abs))).toBeGreaterThan(1e-4);
}

describe('adversarial losses on a CNN inside an outer gradient tape', () => {
  for (const loss of ['at', 'trades'] as const) {
    const run = () =>
      (loss === 'at'
        ? adversarialTrainingLoss(cnn, x, labels, { attack })
        : tradesLoss(cnn, x, labels, { attack })) as tf.Scalar;

    it(`${loss}: tf.variableGrads gives the gradients of the loss at the (constant) adversarial batch`, () => {
      const got = tf.tidy(() => {
        const { grads } = tf.variableGrads(run, [kernel, dense]);
        return [kernel, dense].map((v) => grads[v.name]!.dataSync() as Float32Array);
      });
      const want = referenceGrads(loss, [kernel, dense]);
      closeArrays(got[0]!, want[0]!);
      closeArrays(got[1]!, want[1]!);
    });

    it(`${loss}: optimizer.minimize (the trainOnBatch path) steps the weights and leaks nothing`, async () => {
      const before = kernel.dataSync().slice();
      const opt = tf.train.sgd(0.1);
      await expectNoTensorLeaks(() => opt.minimize(run, true, [kernel, dense]), {
        label: `${loss} minimize`,
      });
      expect(
        Math.max(...Array.from(kernel.dataSync()).map((v, i) => Math.abs(v - before[i]!))),
      ).toBeGreaterThan(0);
      opt.dispose();
    });

    it(`${loss}: under variableGrads, leaks no tensors and leaves the outer tape usable`, async () => {
      await expectNoTensorLeaks(() => tf.variableGrads(run, [kernel, dense]), { label: `${loss} grads` });
      // The clean part of the same outer tape still differentiates (the attack did not end it).
      const { grads } = tf.variableGrads(() => {
        const a = run();
        return tf.add(a, labelCrossEntropy(cnn(x), labels)) as tf.Scalar;
      }, [kernel]);
      expect(Number.isFinite(grads[kernel.name]!.dataSync()[0]!)).toBe(true);
      tf.dispose(grads);
    });
  }

  it("an attack that returns x itself leaves the caller's batch alive; a throwing one leaves the tape working", () => {
    const loss = adversarialTrainingLoss(cnn, x, labels, { attack: (_m, input) => input });
    expect(x.isDisposed).toBe(false);
    expect(loss.dataSync()[0]!).toBeCloseTo(labelCrossEntropy(cnn(x), labels).dataSync()[0]!, 5);
    const before = tf.memory().numTensors;
    const boom: Attack = () => {
      throw new Error('boom');
    };
    expect(() =>
      tf.variableGrads(() => tradesLoss(cnn, x, labels, { attack: boom }) as tf.Scalar, [dense]),
    ).toThrow('boom');
    expect(tf.memory().numTensors).toBe(before);
    // The engine's tape state was restored: an ordinary variableGrads still works afterwards.
    const { grads } = tf.variableGrads(() => labelCrossEntropy(cnn(x), labels) as tf.Scalar, [dense]);
    expect(Number.isFinite(grads[dense.name]!.dataSync()[0]!)).toBe(true);
    tf.dispose(grads);
  });

  it('a tfjs-layers CNN (conv, max-pool, dense) trains with TRADES through optimizer.minimize', async () => {
    const model = tfl.sequential({
      layers: [
        tfl.layers.conv2d({
          inputShape: [8, 8, 1],
          filters: 4,
          kernelSize: 3,
          activation: 'relu',
          seed: 1,
        } as never),
        tfl.layers.maxPooling2d({ poolSize: 2 }),
        tfl.layers.flatten(),
        tfl.layers.dense({ units: 3 }),
      ],
    });
    const logits: BatchModel = (input) => model.apply(input, { training: true }) as tf.Tensor2D;
    const opt = tf.train.adam(0.01);
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const step = () => opt.minimize(() => tradesLoss(logits, x, labels, { attack }) as tf.Scalar, true, vars);
    const first = step()!.dataSync()[0]!;
    await expectNoTensorLeaks(step, { label: 'layers TRADES step' });
    expect(Number.isFinite(first)).toBe(true);
    opt.dispose();
    model.dispose();
  });
});
