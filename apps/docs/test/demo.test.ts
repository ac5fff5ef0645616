/** The live demo's training loop in Node (cpu): a short run of both methods with real optimizers. */
import { createRequire } from 'node:module';
import { expect, it } from 'vitest';
import { runDemo } from '../src/demo/run-demo';

const nodeRequire = createRequire(import.meta.url);

it('pre-trains, then fine-tunes AdamW and FTP side by side, reporting ID and OOD accuracy', async () => {
  const tf = nodeRequire('@tensorflow/tfjs') as typeof import('@tensorflow/tfjs');
  const { adamw, ftp } = nodeRequire('@robust-ft/optimizers') as typeof import('@robust-ft/optimizers');
  tf.env().set('PROD', true);
  await tf.setBackend('cpu');
  const before = tf.memory().numTensors;
  const result = await runDemo(tf, {
    epochs: 3,
    optimizers: { AdamW: () => adamw({ learningRate: 0.01 }), FTP: () => ftp({ learningRate: 0.01 }) },
  });
  expect(result.pretrainAccuracy).toBeGreaterThan(0.9);
  expect(result.points.map((p) => `${p.method}@${p.epoch}`)).toEqual([
    'AdamW@0',
    'FTP@0',
    'AdamW@1',
    'FTP@1',
    'AdamW@2',
    'FTP@2',
    'AdamW@3',
    'FTP@3',
  ]);
  for (const p of result.points) {
    expect(p.id).toBeGreaterThanOrEqual(0);
    expect(p.id).toBeLessThanOrEqual(1);
    expect(p.ood).toBeGreaterThanOrEqual(0);
    expect(p.ood).toBeLessThanOrEqual(1);
  }
  // Both copies start from the same pre-trained weights.
  expect(result.points[0]!.id).toBe(result.points[1]!.id);
  // The optimizers keep small per-run state; the data, models and copies must all be released.
  expect(tf.memory().numTensors - before).toBeLessThan(60);
});
