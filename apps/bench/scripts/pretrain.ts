/**
 * Pre-trains the bench's digit CNN on MNIST and writes `assets/pretrained-cnn/` (tfjs layers format).
 * Seeded: the same seed, data and backend give the same weights.
 *   pnpm --filter @robust-ft/bench build && node apps/bench/dist/scripts/pretrain.js [--limit N] [--epochs E]
 */
import { createRng } from '@robust-ft/core';
import * as tf from '@tensorflow/tfjs';
import { mildAugment } from '../src/augment';
import { selectBackend } from '../src/backend';
import { loadFontDigits, loadMnist, loadUciDigits } from '../src/data/datasets';
import { assetPath } from '../src/data/paths';
import { buildCnn, PRETRAINED_DIR, predictLogits, saveModel } from '../src/model';
import { train } from '../src/train';

const SEED = 1234;

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

function accuracy(logits: Float32Array, y: Int32Array): number {
  let ok = 0;
  for (let i = 0; i < y.length; i++) {
    let best = 0;
    for (let k = 1; k < 10; k++) if ((logits[i * 10 + k] ?? 0) > (logits[i * 10 + best] ?? 0)) best = k;
    if (best === y[i]) ok++;
  }
  return ok / y.length;
}

async function main(): Promise<void> {
  const backend = await selectBackend(
    (process.env.ROBUST_FT_BACKEND as 'wasm' | 'cpu' | undefined) ?? 'auto',
  );
  const limit = flag('limit', 60000);
  const epochs = flag('epochs', 1);
  const out = process.argv.includes('--out')
    ? String(process.argv[process.argv.indexOf('--out') + 1])
    : assetPath(PRETRAINED_DIR);
  tf.util.assert(Number.isFinite(limit) && Number.isFinite(epochs), () => 'bad --limit/--epochs');
  const rng = createRng(SEED);
  const data = loadMnist('train', limit);
  const model = buildCnn(SEED);
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const optimizer = tf.train.adam(1e-3);
  console.error(`pre-training on ${data.n} MNIST images × ${epochs} epoch(s), backend ${backend}`);
  const result = train(model, data, {
    epochs,
    batchSize: 64,
    optimizer,
    variables,
    rng,
    augment: mildAugment,
    label: 'pretrain',
  });
  const test = loadMnist('test');
  const uci = loadUciDigits();
  const fonts = loadFontDigits();
  const summary = {
    seed: SEED,
    images: data.n,
    epochs,
    seconds: Math.round(result.seconds),
    backend,
    mnistTest: accuracy(predictLogits(model, test.x), test.y),
    uciDigits: accuracy(predictLogits(model, uci.x), uci.y),
    fontDigits: accuracy(predictLogits(model, fonts.x), fonts.y),
  };
  await saveModel(model, out);
  console.log(JSON.stringify(summary));
}

await main();
