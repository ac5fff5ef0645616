import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  alignment,
  disposeVrf,
  fitVrf,
  interpolateProbabilities,
  knnFalsePositiveRate,
  kthNeighbourDistance,
  l2Normalize,
  relativeAlignment,
  retrievalRecall,
  searchTemperature,
  uniformity,
  vrfNeighbourCount,
  vrfPredict,
  vrfWeight,
  wiseFt,
  zeroShotFailureSet,
} from '../src/index';
import { classifyLossesGoldenFile, goldenKind } from './golden-ownership';
import './setup-backend';

/**
 * Replays the reference vectors in shared/golden/losses against this package. Every file is routed by
 * content through the shared classifier; the losses package replays its own files.
 */
const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../../..');
const goldenDir = process.env.ROBUST_FT_GOLDEN_LOSSES ?? resolve(repoRoot, '../shared/golden/losses');

type Json = Record<string, unknown>;
type Nested = number | string | Nested[];

const decode = (v: Nested): Nested =>
  Array.isArray(v)
    ? v.map(decode)
    : v === 'NaN'
      ? Number.NaN
      : v === 'Infinity'
        ? Infinity
        : v === '-Infinity'
          ? -Infinity
          : v;
const flat = (v: unknown): number[] =>
  Array.isArray(v) ? (v as Nested[]).flatMap((x) => flat(x)) : [decode(v as Nested) as number];
const obj = (v: unknown, key: string): Json => (v as Json)[key] as Json;
const t2 = (v: unknown) => tf.tensor2d(v as number[][]);

interface Tally {
  cases: number;
  failed: string[];
}

function compare(
  tally: Tally,
  name: string,
  actual: ArrayLike<number> | number,
  expected: unknown,
  rtol: number,
  atol: number,
) {
  tally.cases++;
  const a = typeof actual === 'number' ? [actual] : Array.from(actual);
  const e = flat(expected);
  if (a.length !== e.length) {
    tally.failed.push(`${name}: length ${a.length} vs ${e.length}`);
    return;
  }
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = e[i] as number;
    const ok = Number.isNaN(y) ? Number.isNaN(x) : Math.abs(x - y) <= atol + rtol * Math.abs(y);
    if (!ok) {
      tally.failed.push(`${name}[${i}]: got ${x}, expected ${y}`);
      return;
    }
  }
}

// float32 tolerances: the references are float64 (lunif float32).
const R = 2e-5;
const A = 2e-6;

function replayUniformity(j: Json, t: Tally) {
  const inputs = obj(j, 'inputs');
  const out = obj(j, 'outputs');
  tf.tidy(() => {
    const img = t2(inputs.img);
    const txt = t2(inputs.txt);
    compare(t, 'lunif_img_t2', uniformity(img, 2).dataSync(), out.lunif_img_t2, R, A);
    compare(
      t,
      'lunif_cat_img_txt',
      uniformity(tf.concat([img, txt]) as tf.Tensor2D).dataSync(),
      out.lunif_cat_img_txt_t2,
      R,
      A,
    );
    compare(
      t,
      'lunif_do_valid',
      uniformity(tf.concat([img, img]) as tf.Tensor2D).dataSync(),
      out.lunif_cat_img_img_t2__as_in_do_valid,
      R,
      A,
    );
    compare(t, 'lalign_a2', alignment(img, txt, 2).dataSync(), out.lalign_img_txt_a2, R, A);
    compare(t, 'lalign_a1', alignment(img, txt, 1).dataSync(), out.lalign_img_txt_a1, R, A);
    compare(
      t,
      'rel_lalign_do_valid',
      relativeAlignment(txt, img).dataSync(),
      out.rel_lalign_torch_txt_img__as_in_do_valid,
      R,
      A,
    );
    compare(
      t,
      'rel_lalign_img_txt',
      relativeAlignment(img, txt).dataSync(),
      out.rel_lalign_torch_img_txt,
      R,
      A,
    );
    for (const neighbor of [1, -1, 3]) {
      for (const relative of ['ratio', 'diff'] as const) {
        const key = `rel_lalign_txt_img_neighbor=${neighbor}_relative=${relative}`;
        compare(t, key, relativeAlignment(txt, img, { neighbor, relative }).dataSync(), out[key], R, 1e-4);
      }
    }
    const grads = obj(j, 'gradients_float64');
    const la = obj(grads, 'lalign_a2');
    const g = tf.grads((x: tf.Tensor, y: tf.Tensor) => alignment(x as tf.Tensor2D, y as tf.Tensor2D, 2))([
      img,
      txt,
    ]);
    compare(t, 'grad lalign x', (g[0] as tf.Tensor).dataSync(), la.grad_x, R, A);
    compare(t, 'grad lalign y', (g[1] as tf.Tensor).dataSync(), la.grad_y, R, A);
    const lu = obj(grads, 'lunif_t2_img');
    const gu = tf.grad((x: tf.Tensor) => uniformity(x as tf.Tensor2D, 2))(img);
    compare(t, 'grad lunif x', gu.dataSync(), lu.grad_x, 1e-4, 1e-5);
  });
}

async function replayRetrieval(j: Json, t: Tally) {
  await scoped(async () => {
    const logits = t2(j.logits);
    const check = (name: string, got: Record<string, number>, want: Json) => {
      for (const key of ['R1', 'R5', 'R10'])
        compare(t, `${name}.${key}`, got[key] as number, want[key], 1e-12, 0);
    };
    check('i2t', await retrievalRecall(logits), obj(j, 'i2t'));
    check('t2i', await retrievalRecall(tf.transpose(logits)), obj(j, 't2i'));
    const tie = obj(j, 'tie_case');
    check('tie.i2t', await retrievalRecall(t2(tie.logits)), obj(tie, 'i2t'));
  });
}

function replayWeightCurve(j: Json, t: Tally) {
  const weights = obj(j, 'weights');
  tf.tidy(() => {
    const x = tf.tensor1d(flat(j.x));
    for (const [key, want] of Object.entries(weights)) {
      const m = /a=([\d.]+),b=([\d.]+)/.exec(key);
      if (!m) {
        t.cases++;
        t.failed.push(`vrf_weight_curve: unparsed key ${key}`);
        continue;
      }
      compare(t, `weight ${key}`, vrfWeight(x, Number(m[1]), Number(m[2])).dataSync(), want, 1e-5, 1e-7);
    }
  });
}

async function replayVrf(j: Json, t: Tally) {
  const inputs = obj(j, 'inputs');
  const part = (name: string) => {
    const p = obj(inputs, name);
    return {
      features: t2(p.ft_feats),
      zsFeatures: t2(p.zs_feats),
      zeroShotLogits: t2(p.zs_logits),
      fineTunedLogits: t2(p.ft_logits),
      labels: flat(p.labels),
    };
  };
  await scoped(async () => {
    const train = part('train');
    const sets = { ID: part('ID_test'), OOD: part('OOD_test') };
    const step1 = obj(j, 'step1');
    const zsf = await zeroShotFailureSet(
      train.features,
      train.zeroShotLogits,
      train.fineTunedLogits,
      train.labels,
    );
    compare(t, 'zsf_mask', Array.from(zsf.mask), flat(step1.zsf_mask).map(Number), 0, 0);
    compare(t, 'zsf_size', zsf.features.shape[0], step1.zsf_size, 0, 0);
    compare(t, 'ratio', zsf.ratio, step1.ratio, 1e-12, 0);
    const kCode = vrfNeighbourCount(zsf.features.shape[0], 1200, 'code');
    compare(t, 'K code', kCode, step1.K_code_round_ratio_x1000, 0, 0);
    compare(
      t,
      'k paper',
      vrfNeighbourCount(zsf.features.shape[0], 1200, 'paper'),
      step1['k_paper_floor_0.1pct_of_V'],
      0,
      0,
    );

    // ZS-space index, used only by the FPR diagnostic.
    const rows = tf.tensor1d(
      Array.from(zsf.mask).flatMap((m, i) => (m ? [i] : [])),
      'int32',
    );
    const zsIndex = l2Normalize(tf.gather(train.zsFeatures, rows) as tf.Tensor2D);
    const scores = obj(j, 'step2_scores_as_saved_npz');
    const dist: Record<string, { zs: Float32Array; ft: Float32Array }> = {};
    for (const [name, s] of Object.entries(sets)) {
      const want = obj(scores, name);
      const zs = tf.neg(kthNeighbourDistance(s.zsFeatures, zsIndex, kCode)).dataSync() as Float32Array;
      const ft = tf.neg(kthNeighbourDistance(s.features, zsf.features, kCode)).dataSync() as Float32Array;
      compare(t, `${name} zs_scores`, zs, want.zs_scores, R, 1e-5);
      compare(t, `${name} ft_scores`, ft, want.ft_scores, R, 1e-5);
      compare(
        t,
        `${name} ft_scores_k5`,
        tf.neg(kthNeighbourDistance(s.features, zsf.features, 5)).dataSync(),
        want.ft_scores_k5,
        R,
        1e-5,
      );
      dist[name] = { zs: zs.map((v) => -v), ft: ft.map((v) => -v) };
    }
    const diag = obj(j, 'knn_diagnostics');
    const zsFpr = knnFalsePositiveRate(dist.ID!.zs, dist.OOD!.zs);
    const ftFpr = knnFalsePositiveRate(dist.ID!.ft, dist.OOD!.ft);
    compare(t, 'zs_thres', zsFpr.threshold, diag.zs_thres, R, 1e-5);
    compare(t, 'ft_thres', ftFpr.threshold, diag.ft_thres, R, 1e-5);
    compare(t, 'zs_FPR', zsFpr.fpr, diag.zs_FPR, 1e-12, 0);
    compare(t, 'ft_FPR', ftFpr.fpr, diag.ft_FPR, 1e-12, 0);

    const cal = obj(j, 'calibration');
    const id = sets.ID;
    const tz = await searchTemperature(id.zeroShotLogits, cal.ID_zs_acc as number);
    const tft = await searchTemperature(id.fineTunedLogits, cal.ID_ft_acc as number);
    compare(t, 'T_zs', tz.temperature, cal.T_zs, 1e-5, 0);
    compare(t, 'conf_zs', tz.confidence, cal.conf_zs, 1e-5, 0);
    compare(t, 'T_ft', tft.temperature, cal.T_ft, 1e-5, 0);
    compare(t, 'conf_ft', tft.confidence, cal.conf_ft, 1e-5, 0);

    // End to end: fit on train + ID logits, predict on ID and OOD, with the code's k and with k = 5.
    const step3 = obj(j, 'step3');
    const calibration = {
      zeroShotLogits: id.zeroShotLogits,
      fineTunedLogits: id.fineTunedLogits,
      labels: id.labels,
    };
    const trainData = {
      features: train.features,
      zeroShotLogits: train.zeroShotLogits,
      fineTunedLogits: train.fineTunedLogits,
      labels: train.labels,
    };
    const fit = await fitVrf(trainData, calibration, { a: inputs.a as number, b: inputs.b as number });
    const fit5 = await fitVrf(trainData, calibration, { k: 5 });
    const fitL2 = await fitVrf(trainData, calibration, { distance: 'l2' });
    compare(t, 'fit.k', fit.k, step1.K_code_round_ratio_x1000, 0, 0);
    for (const [name, s] of Object.entries(sets)) {
      const want = obj(step3, name);
      const got = vrfPredict(fit, s);
      compare(t, `${name} d_sq_kth`, got.distances.dataSync(), want.d_sq_kth, R, 1e-5);
      compare(t, `${name} w`, got.weights.dataSync(), want.w, 1e-4, 1e-5);
      compare(t, `${name} vrf_probs`, got.probabilities.dataSync(), want.vrf_probs, 1e-4, 1e-5);
      compare(t, `${name} vrf_pred`, tf.argMax(got.probabilities, 1).dataSync(), want.vrf_pred, 0, 0);
      const acc = (p: tf.Tensor) =>
        tf.mean(tf.cast(tf.equal(tf.argMax(p, 1), tf.tensor1d(s.labels, 'int32')), 'float32')).dataSync();
      compare(t, `${name} vrf_acc`, acc(got.probabilities), want.vrf_acc, 1e-6, 0);
      compare(
        t,
        `${name} d_l2 (paper)`,
        vrfPredict(fitL2, s).distances.dataSync(),
        want.d_l2_kth_paper_convention,
        R,
        1e-5,
      );
      const k5 = obj(want, 'k5_variant');
      const got5 = vrfPredict(fit5, s);
      compare(t, `${name} k5 d_sq`, got5.distances.dataSync(), k5.d_sq_kth, R, 1e-5);
      compare(t, `${name} k5 w`, got5.weights.dataSync(), k5.w, 1e-4, 1e-5);
      compare(t, `${name} k5 probs`, got5.probabilities.dataSync(), k5.vrf_probs, 1e-4, 1e-5);
      compare(t, `${name} k5 acc`, acc(got5.probabilities), k5.vrf_acc, 1e-6, 0);
      const ose = obj(want, 'ose_probs_baselines_py');
      const oseAcc = obj(want, 'ose_acc');
      for (const [key, probs] of Object.entries(ose)) {
        const alpha = Number(key.split('=')[1]);
        const p = interpolateProbabilities(s.zeroShotLogits, s.fineTunedLogits, alpha);
        compare(t, `${name} ose ${key}`, p.dataSync(), probs, R, 1e-6);
        compare(t, `${name} ose acc ${key}`, acc(p), oseAcc[key], 1e-6, 0);
      }
    }
    disposeVrf(fit);
    disposeVrf(fit5);
    disposeVrf(fitL2);
    zsf.features.dispose();
  });
}

function replayWiseFt(j: Json, t: Tally) {
  const inputs = obj(j, 'inputs');
  tf.tidy(() => {
    const toMap = (m: Json) =>
      Object.fromEntries(Object.entries(m).map(([k, v]) => [k, tf.tensor(flat(v), shapeOf(v))]));
    const theta0 = toMap(obj(inputs, 'theta_0_zeroshot'));
    const theta1 = toMap(obj(inputs, 'theta_1_finetuned'));
    const fishers = [toMap(obj(inputs, 'fisher_0')), toMap(obj(inputs, 'fisher_1'))] as const;
    const floor = inputs.fisher_floor as number;
    for (const [key, want] of Object.entries(obj(j, 'merged_plain'))) {
      const merged = wiseFt(theta0, theta1, Number(key.split('=')[1]));
      for (const [name, v] of Object.entries(want as Json))
        compare(t, `plain ${key} ${name}`, merged[name]!.dataSync(), v, 1e-6, 1e-7);
    }
    for (const [key, want] of Object.entries(obj(j, 'merged_fisher'))) {
      const merged = wiseFt(theta0, theta1, Number(key.split('=')[1]), { fishers, fisherFloor: floor });
      for (const [name, v] of Object.entries(want as Json))
        compare(t, `fisher ${key} ${name}`, merged[name]!.dataSync(), v, 1e-6, 1e-7);
    }
    // The tiny net is enc (no bias) then head, both linear, as torch Linear layers: y = x Wᵀ + b.
    const x = t2(inputs.x_for_tiny_net);
    const net = (m: Record<string, tf.Tensor>) =>
      tf.add(
        tf.matMul(tf.matMul(x, m['enc.weight']!, false, true), m['head.weight']!, false, true),
        m['head.bias']!,
      );
    for (const [key, want] of Object.entries(obj(j, 'vrf_wiseft_merge_tiny_net'))) {
      const merged = wiseFt(theta0, theta1, Number(key.split('=')[1]));
      for (const [name, v] of Object.entries(obj(want, 'state')))
        compare(t, `tiny ${key} ${name}`, merged[name]!.dataSync(), v, 1e-6, 1e-7);
      compare(t, `tiny ${key} logits`, net(merged).dataSync(), (want as Json).logits, 1e-5, 1e-6);
    }
    for (const [key, want] of Object.entries(obj(j, 'ose_tiny_net_probs'))) {
      const p = interpolateProbabilities(net(theta0), net(theta1), Number(key.split('=')[1]));
      compare(t, `ose tiny ${key}`, p.dataSync(), want, 1e-5, 1e-6);
    }
  });
}

/** `tf.tidy` for an async body: tensors created inside are disposed when it settles. */
async function scoped(body: () => Promise<void>): Promise<void> {
  tf.engine().startScope();
  try {
    await body();
  } finally {
    tf.engine().endScope();
  }
}

function shapeOf(v: unknown): number[] {
  const shape: number[] = [];
  let cur = v;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0];
  }
  return shape;
}

const REPLAYS: Record<string, (j: Json, t: Tally) => void | Promise<void>> = {
  uniformity_alignment: replayUniformity,
  m2mix_retrieval_metrics: replayRetrieval,
  vrf_weight_curve: replayWeightCurve,
  vrf_pipeline: replayVrf,
  wiseft: replayWiseFt,
};

describe('golden replay (shared/golden/losses)', () => {
  it('matches every eval-owned reference vector', async () => {
    const files = readdirSync(goldenDir)
      .filter((f) => f.endsWith('.json'))
      .sort();
    const tally: Tally = { cases: 0, failed: [] };
    const delegated: string[] = [];
    const unknown: string[] = [];
    for (const file of files) {
      const json = JSON.parse(readFileSync(join(goldenDir, file), 'utf8')) as unknown;
      const owner = classifyLossesGoldenFile(json);
      if (owner === null) {
        unknown.push(file);
        continue;
      }
      if (owner === 'losses') {
        delegated.push(file);
        continue;
      }
      const replay = REPLAYS[goldenKind(json) as string];
      if (!replay) {
        unknown.push(file);
        continue;
      }
      await replay(json as Json, tally);
    }
    for (const file of unknown) tally.failed.push(`${file}: no package owns this golden file`);
    console.log(`eval golden files delegated to @robust-ft/losses: ${delegated.join(', ') || 'none'}`);
    for (const f of tally.failed) console.log(`  FAILED ${f}`);
    console.log(
      `golden-replay @robust-ft/eval: ${files.length} files, ${tally.cases} cases compared, ${tally.failed.length} failed`,
    );
    expect(files.length).toBeGreaterThan(0);
    expect(tally.failed).toEqual([]);
  });
});
