/**
 * The live demo's loop in Node (wasm backend, patched as in the browser) on the same real files the page fetches: the benchmark's
 * pre-trained CNN, its UCI digits split and the font digits, read from apps/bench where the site copies
 * them from. A short run of both methods with the real optimizers.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HYPERPARAMETERS } from '../../bench/src/methods';
import { loadDigits } from '../src/demo/digits';
import { BENCH_HYPERPARAMETERS, runDemo } from '../src/demo/run-demo';
import { docsRoot } from './collect';

const nodeRequire = createRequire(import.meta.url);
const benchDir = join(docsRoot, '../bench');
const fetchBytes = async (path: string) => new Uint8Array(await readFile(join(benchDir, path)));

describe('live demo loop (Node, wasm)', () => {
  it('uses the benchmark’s documented hyper-parameters', () => {
    expect(BENCH_HYPERPARAMETERS.learningRate).toBe(HYPERPARAMETERS.learningRate);
    expect(BENCH_HYPERPARAMETERS.adamwWeightDecay).toBe(HYPERPARAMETERS.adamwWeightDecay);
    expect(BENCH_HYPERPARAMETERS.ftpK).toBe(HYPERPARAMETERS.ftpK);
    expect(BENCH_HYPERPARAMETERS.spdLambda).toBe(HYPERPARAMETERS.spdLambda);
  });

  it('loads the benchmark’s split and fine-tunes AdamW and SPD side by side from the pre-trained CNN', async () => {
    const tf = nodeRequire('@tensorflow/tfjs') as typeof import('@tensorflow/tfjs');
    const { adamw, spd } = nodeRequire('@robust-ft/optimizers') as typeof import('@robust-ft/optimizers');
    const { registerWasmTrainingKernels } = nodeRequire(
      '@robust-ft/core/kernels',
    ) as typeof import('@robust-ft/core/kernels');
    const { corrupt } = nodeRequire('@robust-ft/eval') as typeof import('@robust-ft/eval');
    tf.env().set('PROD', true);
    // wasm, as on a browser without a usable GPU, with the training kernels backend-web registers.
    nodeRequire('@tensorflow/tfjs-backend-wasm');
    expect(await tf.setBackend('wasm')).toBe(true);
    registerWasmTrainingKernels();

    const data = await loadDigits(fetchBytes);
    // The benchmark's seed-0 split sizes (apps/bench/README.md).
    expect([data.idTrain.n, data.idTest.n, data.fonts.n]).toEqual([1108, 539, 2360]);

    const before = tf.memory().numTensors;
    const H = BENCH_HYPERPARAMETERS;
    const started = performance.now();
    const result = await runDemo(tf, data, {
      epochs: 2,
      trainImages: 128,
      oodImages: 400,
      optimizers: {
        AdamW: () => adamw({ learningRate: H.learningRate, weightDecay: H.adamwWeightDecay }),
        SPD: () => spd({ learningRate: H.learningRate, weightDecay: H.spdLambda }),
      },
      corrupt: (x) => corrupt(x, 'gaussian_noise', 3, 0),
    });
    console.log(
      `demo loop on wasm: ${result.steps} steps in ${((performance.now() - started) / 1000).toFixed(1)} s`,
      result.points,
    );
    expect(result.steps).toBe(2 * 4 * 2);
    expect(result.points.map((p) => `${p.method}@${p.epoch}`)).toEqual([
      'AdamW@0',
      'SPD@0',
      'AdamW@1',
      'SPD@1',
      'AdamW@2',
      'SPD@2',
    ]);
    const [adamw0, spd0] = result.points;
    // Both copies start from the same pre-trained weights: the zero-shot model (bench README: 84.4 % ID,
    // 86.0 % on all font digits; here a 400-image sample of them).
    expect(adamw0).toEqual({ ...spd0, method: 'AdamW' });
    expect(adamw0?.id).toBeCloseTo(0.844, 2);
    expect(adamw0?.ood).toBeGreaterThan(0.8);
    expect(adamw0?.corrupted).toBeLessThan(adamw0?.id ?? 0);
    // Fine-tuning on UCI digits lifts ID accuracy for both methods.
    for (const p of result.points.slice(-2)) expect(p.id).toBeGreaterThan(0.88);
    // Data, models and optimizer state are all released.
    expect(tf.memory().numTensors - before).toBe(0);
  });
});
