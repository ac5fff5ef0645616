/**
 * Pre-trains the clip tier's dual encoder (src/clip/pretrain.ts, recipe PRETRAIN_DEFAULTS) and writes
 * `assets/pretrained-clip/`: the tfjs layers model (both towers) and `summary.json` with the vocabulary,
 * the learned logit scale, the recipe, the wall time and the zero-shot accuracies (prompt ensembles).
 * The UCI digits are never trained on; their zero-shot accuracy is reported as information only.
 *   pnpm --filter @robust-ft/bench build && node apps/bench/dist/scripts/pretrain-clip.js [--mnist N] [--epochs E] [--out DIR]
 */
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend';
import { CLIP_DIR, saveDualEncoder, towers } from '../src/clip/dual-encoder';
import { PRETRAIN_DEFAULTS, pretrainDualEncoder } from '../src/clip/pretrain';
import { zeroShotClassifier } from '../src/clip/zero-shot';
import { type Dataset, loadMnist, loadUciDigits } from '../src/data/datasets';
import { assetPath } from '../src/data/paths';
import { argmaxAccuracy } from '../src/evaluate';
import { predictLogits } from '../src/model';

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

async function main(): Promise<void> {
  const backend = await selectBackend(
    (process.env.ROBUST_FT_BACKEND as 'wasm' | 'cpu' | undefined) ?? 'auto',
  );
  const config = {
    ...PRETRAIN_DEFAULTS,
    mnistImages: flag('mnist', PRETRAIN_DEFAULTS.mnistImages),
    epochs: flag('epochs', PRETRAIN_DEFAULTS.epochs),
    fontRepeat: flag('font-repeat', PRETRAIN_DEFAULTS.fontRepeat),
  };
  tf.util.assert(
    [config.mnistImages, config.epochs, config.fontRepeat].every(Number.isFinite),
    () => 'bad --mnist/--epochs/--font-repeat',
  );
  const out = process.argv.includes('--out')
    ? String(process.argv[process.argv.indexOf('--out') + 1])
    : assetPath(CLIP_DIR);
  console.error(
    `pre-training the dual encoder on ${config.mnistImages} MNIST + pre-training fonts ×${config.fontRepeat} ` +
      `× ${config.epochs} epoch(s), batch ${config.batchSize}, backend ${backend}`,
  );
  const r = await pretrainDualEncoder(config);
  const clf = zeroShotClassifier(r.dual, towers(r.dual).text, r.vocabulary, r.logitScale);
  const acc = (ds: Dataset) => Number(argmaxAccuracy(predictLogits(clf, ds.x), ds.y).toFixed(4));
  const summary = {
    seed: config.seed,
    vocabulary: r.vocabulary,
    logLogitScale: r.logLogitScale,
    logitScale: r.logitScale,
    recipe: {
      ...config,
      mnistImages: config.mnistImages,
      fontImages: r.fonts.pretrain.n,
      optimizer: 'adam',
      initialTemperature: 0.07,
      loss: 'clipContrastiveLoss (learnable logit scale, clamped at 100)',
      augmentation: 'mildAugment (±2 px shift, 30 % thicker stroke)',
      heldOutFontFamilies: r.fonts.evaluationFamilies,
    },
    steps: r.steps,
    seconds: Math.round(r.seconds),
    backend,
    zeroShot: {
      mnistTest: acc(loadMnist('test')),
      fontsPretrain: acc(r.fonts.pretrain),
      fontsHeldOut: acc(r.fonts.evaluation),
      uciDigitsNeverTrainedOn: acc(loadUciDigits()),
    },
  };
  await saveDualEncoder(r.dual, summary, out);
  console.log(
    JSON.stringify(summary.zeroShot),
    `logitScale ${r.logitScale.toFixed(2)}`,
    `${summary.seconds}s`,
  );
}

await main();
