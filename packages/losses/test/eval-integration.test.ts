/**
 * Integration with `@robust-ft/eval` (a devDependency only; the library never imports it): its APGD-CE
 * drives our TRADES / AT losses, and its corruptions are the simulated-OOD views of the regularizer.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRng } from '@robust-ft/core';
import { apgdCe, corrupt } from '@robust-ft/eval';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  type Attack,
  adversarialTrainingLoss,
  type BatchModel,
  functionSpaceRegularizer,
  tradesLoss,
} from '../src/index';
import { flat, type Golden, record, toTensor } from './golden/compare';
import './setup-backend';

const here = dirname(fileURLToPath(import.meta.url));
const goldenDir = process.env.ROBUST_FT_GOLDEN_LOSSES ?? resolve(here, '../../..', '../shared/golden/losses');

describe('with @robust-ft/eval', () => {
  it("eval's APGD-CE driving tradesLoss / adversarialTrainingLoss reproduces the Guide's end-to-end losses", () => {
    const file = JSON.parse(readFileSync(resolve(goldenDir, 'guide_trades_at.json'), 'utf8')) as Golden;
    const inputs = record(file, 'inputs');
    const x = toTensor(record(inputs, 'x'));
    const labels = tf.tensor1d(record(inputs, 'y') as number[], 'int32');
    const w = toTensor(record(inputs, 'W')) as tf.Tensor2D;
    const b = toTensor(record(inputs, 'b'));
    const model: BatchModel = (input) =>
      tf.add(tf.matMul(tf.reshape(input, [input.shape[0]!, -1]), w, false, true), b) as tf.Tensor2D;
    for (const run of Object.values(record(file, 'attack_and_losses') as Record<string, Golden>)) {
      const epsilon = record(run, 'epsilon') as number;
      const attack: Attack = (m, input, y) => apgdCe(m, input, y, { epsilon, steps: 10 });
      const trades = tradesLoss(model, x, labels, { attack, beta: 1, reduction: 'none' }).dataSync();
      const at = adversarialTrainingLoss(model, x, labels, { attack, reduction: 'none' }).dataSync();
      // The attack itself now runs in float32 too (APGD's sign steps can flip on rounding), so allow 1e-4
      // relative; observed errors are ~1e-6.
      flat(record(run, 'trades_loss_per_sample')).forEach((ref, i) => {
        expect(Math.abs(trades[i]! - ref)).toBeLessThan(1e-4 * Math.max(1, Math.abs(ref)));
      });
      flat(record(run, 'classic_at_loss_per_sample')).forEach((ref, i) => {
        expect(Math.abs(at[i]! - ref)).toBeLessThan(1e-4 * Math.max(1, Math.abs(ref)));
      });
    }
  });

  it('a corruption from eval is a valid simulated-OOD view for the function-space regularizer', () => {
    const rng = createRng(0);
    const x = tf.randomUniform([2, 8, 8, 3], 0, 1, 'float32', rng.tensorSeed()) as tf.Tensor4D;
    const teacherW = tf.variable(tf.randomNormal([192, 4], 0, 0.1, 'float32', rng.tensorSeed()));
    const studentW = tf.variable(tf.mul(teacherW, 1.5));
    const linear =
      (v: tf.Variable): BatchModel =>
      (input) =>
        tf.matMul(tf.reshape(input, [input.shape[0]!, -1]), v) as tf.Tensor2D;
    const fsr = functionSpaceRegularizer({
      views: (input, r) => corrupt(input as tf.Tensor4D, 'shot_noise', 3, r.nextUint32()),
    });
    const { value, grads } = tf.variableGrads(
      () => fsr(linear(studentW), linear(teacherW), x, rng),
      [studentW, teacherW],
    );
    expect(value.dataSync()[0]!).toBeGreaterThan(0);
    expect(Math.max(...Array.from(grads[teacherW.name]!.dataSync()).map(Math.abs))).toBe(0);
    expect(Math.max(...Array.from(grads[studentW.name]!.dataSync()).map(Math.abs))).toBeGreaterThan(0);
  });
});
