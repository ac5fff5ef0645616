import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createRng } from '@robust-ft/core';
import { type CorruptionFamily, corrupt, wiseFt } from '@robust-ft/eval';
import * as tf from '@tensorflow/tfjs';
import {
  applyEffectiveRobustness,
  type BenchOptions,
  type BenchReport,
  logitsOf,
  type MethodResult,
  machineInfo,
  namedWeights,
  summarise,
  type WisePoint,
} from './bench';
import { type Dataset, subset } from './data/datasets';
import { readIdx } from './data/idx';
import { benchRoot } from './data/paths';
import { argmaxAccuracy, type EvalSet, runModel } from './evaluate';
import { fineTune, HYPERPARAMETERS, METHOD_LABELS, type MethodName } from './methods';
import { HEAD_LAYER } from './model';
import { fmtTime, log, Progress } from './progress';

/** Input size: 64 px keeps the frozen MobileNetV2 trunk at ~90 img/s on one wasm thread. */
const SIZE = 64;
/** The trunk ends at block_12_add (untouched ImageNet weights); block_13_expand is the tail we fine-tune. */
const CUT = 'block_12_add';
const FASHION_DIR = '/usr/share/datasets/fashion-mnist';
export const MOBILENET_METHODS: MethodName[] = [
  'linear-probe',
  'adamw',
  'lp-ft',
  'l2sp',
  'ftp',
  'spd',
  'digrap',
  'wise-ft',
];
const FAMILIES: CorruptionFamily[] = ['gaussian_noise', 'defocus_blur', 'contrast', 'pixelate'];
const SEVERITIES = [2, 4];

interface KerasLayer {
  class_name: string;
  config: { batch_input_shape?: (number | null)[]; pool_size?: number[]; strides?: number[] };
}

/**
 * Loads nsfwjs@4.4.0's MobileNetV2 (α = 1.0, a Keras layers model whose layers up to block_10 are the
 * Keras ImageNet weights and were frozen while nsfwjs tuned the top) at `size` px, from the package's
 * UMD modules, offline.
 */
export async function loadMobilenet(size: number): Promise<tf.LayersModel> {
  const dir = join(benchRoot(), 'node_modules', 'nsfwjs', 'dist', 'models', 'mobilenet_v2');
  if (!existsSync(dir)) throw new Error(`nsfwjs@4.4.0 is not installed (looked in ${dir})`);
  const require = createRequire(join(dir, 'x.js'));
  const model = require('./model.min.js') as {
    modelTopology: { model_config: { config: { layers: KerasLayer[] } } };
    weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[];
  };
  const weights = require('./group1-shard1of1.min.js') as string;
  const topology = structuredClone(model.modelTopology);
  const layers = topology.model_config.config.layers;
  const first = layers[0];
  if (first) first.config.batch_input_shape = [null, size, size, 3];
  // The head's global pooling is a fixed-size AveragePooling2D; resize it so the model still builds.
  for (const l of layers) {
    if (l.class_name === 'AveragePooling2D') {
      l.config.pool_size = [size / 32, size / 32];
      l.config.strides = [size / 32, size / 32];
    }
  }
  const buf = Buffer.from(weights, 'base64');
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: topology,
      weightSpecs: model.weightsManifest.flatMap((g) => g.weights),
      weightData: buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength),
    }),
  );
}

/** The tail: block_13_expand (1×1 conv 96→576, BN, ReLU6) from the pre-trained model, GAP, a new head. */
export function buildTail(full: tf.LayersModel, inShape: number[], seed: number): tf.LayersModel {
  const input = tf.input({ shape: inShape });
  const conv = tf.layers.conv2d({ filters: 576, kernelSize: 1, useBias: false, name: 'block_13_expand' });
  const bn = tf.layers.batchNormalization({ name: 'block_13_expand_BN', epsilon: 1e-3 });
  let h = conv.apply(input) as tf.SymbolicTensor;
  h = bn.apply(h) as tf.SymbolicTensor;
  h = tf.layers.reLU({ maxValue: 6 }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(h) as tf.SymbolicTensor;
  const out = tf.layers
    .dense({ units: 10, name: HEAD_LAYER, kernelInitializer: tf.initializers.glorotUniform({ seed }) })
    .apply(h) as tf.SymbolicTensor;
  const tail = tf.model({ inputs: input, outputs: out });
  conv.setWeights(full.getLayer('block_13_expand').getWeights());
  bn.setWeights(full.getLayer('block_13_expand_BN').getWeights());
  return tail;
}

function loadFashion(dir: string, split: 'train' | 't10k'): Dataset {
  const img = readIdx(join(dir, `${split}-images-idx3-ubyte.gz`));
  const lab = readIdx(join(dir, `${split}-labels-idx1-ubyte.gz`));
  const n = img.shape[0] ?? 0;
  const x = new Float32Array(n * 784);
  for (let i = 0; i < x.length; i++) x[i] = (img.data[i] ?? 0) / 255;
  return { name: `fashion-${split}`, x, y: Int32Array.from(lab.data), n };
}

/** Trunk activations at CUT for 28×28 grey images (resized to SIZE, grey copied to RGB, [0,1] as nsfwjs). */
function trunkFeatures(trunk: tf.LayersModel, ds: Dataset, label: string, quiet: boolean): Dataset {
  const batch = 50;
  const dims = (trunk.outputs[0]?.shape.slice(1) ?? []) as number[];
  const d = dims.reduce((a, b) => a * b, 1);
  const x = new Float32Array(ds.n * d);
  const progress = new Progress(label, ds.n, quiet);
  for (let i = 0; i < ds.n; i += batch) {
    const m = Math.min(batch, ds.n - i);
    const f = tf.tidy(() => {
      const t = tf.tensor4d(ds.x.subarray(i * 784, (i + m) * 784), [m, 28, 28, 1]);
      const rgb = tf.tile(tf.image.resizeBilinear(t, [SIZE, SIZE]), [1, 1, 1, 3]);
      return trunk.predict(rgb) as tf.Tensor;
    });
    x.set(f.dataSync(), i * d);
    f.dispose();
    progress.update(i + m);
  }
  progress.done();
  return { name: ds.name, x, y: ds.y, n: ds.n };
}

/**
 * Tier "mobilenetv2": an ImageNet MobileNetV2 (from nsfwjs@4.4.0) on Fashion-MNIST. The trunk up to
 * block_12 stays frozen (its activations are computed once); every method fine-tunes the same tail
 * (block_13_expand + BN, 55 k weights) and a new 10-way head on those activations. OOD = the ID test set
 * under corruptions. Fashion-MNIST has no natural second domain, so there is no domain-shift column.
 */
export async function runMobilenet(
  o: BenchOptions & { dataDir?: string; trainSize?: number; testSize?: number },
): Promise<BenchReport> {
  const t0 = performance.now();
  const dir = o.dataDir ?? FASHION_DIR;
  if (!existsSync(join(dir, 'train-images-idx3-ubyte.gz'))) {
    throw new Error(
      `Fashion-MNIST not found in ${dir}: apt-get install dataset-fashion-mnist, or pass --data <dir with the 4 IDX .gz files>`,
    );
  }
  const say = (m: string) => {
    if (!o.quiet) log(m);
  };
  const rng = createRng(o.seed).fork('mobilenet-split');
  const trainAll = loadFashion(dir, 'train');
  const order = rng.shuffle(Array.from({ length: trainAll.n }, (_, i) => i));
  const nTrain = Math.min(o.trainSize ?? 1000, o.trainLimit);
  const train28 = subset(trainAll, order.slice(0, nTrain), 'fashion-train');
  const val28 = subset(trainAll, order.slice(nTrain, nTrain + 200), 'fashion-val');
  const testAll = loadFashion(dir, 't10k');
  const test28 = subset(
    testAll,
    Array.from({ length: o.testSize ?? 500 }, (_, i) => i),
    'fashion-test',
  );
  say(
    `mobilenetv2 tier: nsfwjs@4.4.0 MobileNetV2 (ImageNet trunk to ${CUT}) at ${SIZE} px; Fashion-MNIST train ${train28.n}, val ${val28.n}, test ${test28.n}`,
  );
  tf.engine().startScope();
  const full = await loadMobilenet(SIZE);
  const trunk = tf.model({ inputs: full.inputs, outputs: full.getLayer(CUT).output as tf.SymbolicTensor });
  const shape = (trunk.outputs[0]?.shape.slice(1) ?? []) as [number, number, number];
  const sets: EvalSet[] = [
    { key: 'id', kind: 'id', data: trunkFeatures(trunk, test28, 'features:test', o.quiet) },
  ];
  const idTrain = trunkFeatures(trunk, train28, 'features:train', o.quiet);
  const idVal = trunkFeatures(trunk, val28, 'features:val', o.quiet);
  FAMILIES.forEach((family, f) => {
    for (const severity of SEVERITIES) {
      const c = tf.tidy(() =>
        corrupt(
          tf.tensor4d(test28.x, [test28.n, 28, 28, 1]),
          family,
          severity,
          o.seed * 1000 + f * 10 + severity,
        ),
      );
      const data: Dataset = {
        name: `${family}-${severity}`,
        x: c.dataSync() as Float32Array,
        y: test28.y,
        n: test28.n,
      };
      c.dispose();
      sets.push({
        key: `${family}@${severity}`,
        kind: 'corruption',
        family,
        severity,
        data: trunkFeatures(trunk, data, `features:${family}@${severity}`, o.quiet),
      });
    }
  });
  const valSet: EvalSet[] = [{ key: 'id', kind: 'id', data: idVal }];
  const results = new Map<MethodName, MethodResult>();
  const models = new Map<MethodName, tf.LayersModel>();
  const budget = {
    epochs: o.epochs,
    batchSize: o.batchSize,
    quiet: o.quiet,
    inputShape: shape,
    trainingMode: false,
    exclude: /^head\//,
  };
  const wanted = new Set(o.methods);
  const run = MOBILENET_METHODS.filter(
    (m) =>
      wanted.has(m) ||
      (m === 'linear-probe' && (wanted.has('lp-ft') || wanted.has('wise-ft'))) ||
      (m === 'lp-ft' && wanted.has('wise-ft')),
  );
  const record = async (
    name: MethodName,
    scores: Map<string, Float32Array>,
    trainSeconds: number,
    evalSeconds: number,
    idValAcc: number,
    hyperparameters: Record<string, number | string>,
  ) => {
    const s = await summarise(sets, scores, 'logits');
    results.set(name, {
      method: name,
      label: name === 'wise-ft' ? 'WiSE-FT (LP ↔ LP-FT)' : METHOD_LABELS[name],
      id: s.id,
      idVal: idValAcc,
      ood: s.ood,
      oodAvg: s.oodAvg,
      effectiveRobustness: 0,
      ece: s.ece,
      wallSeconds: trainSeconds + evalSeconds,
      trainSeconds,
      evalSeconds,
      corruptions: s.corruptions,
      hyperparameters,
    });
    say(
      `${METHOD_LABELS[name].padEnd(24)} ID ${(100 * s.id).toFixed(1)}  OOD avg ${(100 * s.oodAvg).toFixed(1)}  ${fmtTime(trainSeconds + evalSeconds)}`,
    );
  };
  for (const name of run) {
    if (name === 'wise-ft' || name === 'zero-shot' || name === 'vrf' || name === 'fsr') continue;
    const headSeed = createRng(o.seed)
      .fork('head')
      .int(2 ** 31 - 1);
    const model = buildTail(full, shape, headSeed);
    if (name === 'lp-ft') {
      const lp = models.get('linear-probe');
      if (lp) model.setWeights(lp.getWeights());
    }
    const seed = createRng(o.seed)
      .fork(name)
      .int(2 ** 31 - 1);
    const tr = fineTune(name, model, model, idTrain, budget, seed, o.hyperparameters ?? HYPERPARAMETERS);
    const s = performance.now();
    const out = runModel(model, sets, false, 256, shape);
    const val = argmaxAccuracy(
      runModel(model, valSet, false, 256, shape).get('id')?.logits ?? new Float32Array(),
      idVal.y,
    );
    models.set(name, model);
    await record(name, logitsOf(out), tr.seconds, (performance.now() - s) / 1000, val, {
      ...tr.hyperparameters,
      trained: name === 'linear-probe' ? 'head' : 'block_13_expand + BN (γ, β) + head',
      exclude:
        name === 'linear-probe' || name === 'adamw' || name === 'lp-ft' ? '-' : 'head (new, no anchor)',
    });
  }
  const wiseCurve: WisePoint[] = [];
  const lp = models.get('linear-probe');
  const lpft = models.get('lp-ft');
  if (lp && lpft && run.includes('wise-ft')) {
    const s0 = performance.now();
    const theta0 = namedWeights(lp);
    const theta1 = namedWeights(lpft);
    const mix = buildTail(full, shape, 0);
    let best: { alpha: number; val: number; scores: Map<string, Float32Array> } | undefined;
    for (const alpha of [0, ...o.wiseAlphas, 1]) {
      const merged = wiseFt(theta0, theta1, alpha);
      mix.setWeights(mix.weights.map((w) => merged[w.originalName] as tf.Tensor));
      tf.dispose(Object.values(merged));
      const scores = logitsOf(runModel(mix, sets, false, 256, shape));
      const sm = await summarise(sets, scores, 'logits');
      wiseCurve.push({ alpha, id: sm.id, oodAvg: sm.oodAvg, ood: sm.ood });
      const val = argmaxAccuracy(
        runModel(mix, valSet, false, 256, shape).get('id')?.logits ?? new Float32Array(),
        idVal.y,
      );
      if (alpha > 0 && alpha < 1 && (!best || val >= best.val)) best = { alpha, val, scores };
    }
    mix.dispose();
    if (best) {
      await record(
        'wise-ft',
        best.scores,
        results.get('lp-ft')?.trainSeconds ?? 0,
        (performance.now() - s0) / 1000,
        best.val,
        { base: 'linear probe → LP-FT', alpha: best.alpha, alphaChosenBy: 'ID validation accuracy' },
      );
    }
  }
  const baseline = applyEffectiveRobustness(results, ['linear-probe', 'adamw']);
  for (const m of models.values()) m.dispose();
  full.dispose();
  tf.engine().endScope();
  return {
    tier: 'mobilenetv2',
    seed: o.seed,
    backend: o.backend,
    startedAt: new Date(Date.now() - (performance.now() - t0)).toISOString(),
    totalSeconds: (performance.now() - t0) / 1000,
    machine: await machineInfo(),
    data: {
      idTrain: idTrain.n,
      idVal: idVal.n,
      idTest: test28.n,
      model: `nsfwjs@4.4.0 MobileNetV2 at ${SIZE} px, frozen to ${CUT}`,
      corruptions: `${FAMILIES.join(', ')} at severities ${SEVERITIES.join(', ')}`,
    },
    shifts: Object.keys(results.values().next().value?.ood ?? {}),
    baseline,
    options: {
      epochs: o.epochs,
      batchSize: o.batchSize,
      hyperparameters: o.hyperparameters ?? HYPERPARAMETERS,
    },
    methods: MOBILENET_METHODS.filter((m) => wanted.has(m)).flatMap((m) => {
      const r = results.get(m);
      return r ? [r] : [];
    }),
    wiseCurve,
    notes: [
      'No zero-shot head exists for Fashion-MNIST, so zero-shot, VRF and FSR are not run; WiSE-FT interpolates the linear probe and LP-FT.',
    ],
  };
}
