import { statSync } from 'node:fs';
import { join } from 'node:path';
import { createRng } from '@robust-ft/core';
import { expectNoTensorLeaks } from '@robust-ft/core/testing';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/backend';
import {
  classPrompts,
  DIGIT_NAMES,
  encodeCaptions,
  HELD_OUT_TEMPLATES,
  MAX_TOKENS,
  PAD,
  PROMPT_TEMPLATES,
  STYLES,
  sampleCaption,
  TRAIN_TEMPLATES,
  tokenize,
  UNK,
  vocabulary,
  words,
} from '../src/clip/captions';
import { contrastiveTrain } from '../src/clip/contrastive-train';
import {
  buildDualEncoder,
  CLIP_DIR,
  copyImageTower,
  EMBED_DIM,
  embed,
  L2Normalize,
  loadDualEncoder,
  towers,
} from '../src/clip/dual-encoder';
import { embeddingMetrics, retrievalBlocks } from '../src/clip/embedding-metrics';
import { fontFamily, fontFiles, fontTraits, splitFonts } from '../src/clip/fonts';
import { CLIP_METHODS, CLIP_SETTINGS, fineTuneCe, fineTuneFsr } from '../src/clip/methods';
import { principalAxes, projectionSvg } from '../src/clip/plots';
import {
  INIT_LOG_SCALE,
  MAX_LOGIT_SCALE,
  PRETRAIN_DEFAULTS,
  pretrainDualEncoder,
} from '../src/clip/pretrain';
import { buildClassifier, classEmbeddings, HEAD, zeroShotClassifier } from '../src/clip/zero-shot';
import { loadFontDigits, loadMnist } from '../src/data/datasets';
import { assetPath } from '../src/data/paths';
import { argmaxAccuracy } from '../src/evaluate';
import { HYPERPARAMETERS } from '../src/methods';
import { predictLogits } from '../src/model';
import { clip, clipTierOptions } from '../src/tiers/clip';

beforeAll(async () => {
  await selectBackend('wasm', true);
});

describe('caption grammar', () => {
  const vocab = vocabulary();

  it('has every word of every template, digit name, numeral and style, and nothing maps to <unk>', () => {
    const rng = createRng(3);
    for (let i = 0; i < 500; i++) {
      const domain = i % 2 === 0 ? 'handwritten' : 'printed';
      const templates = i % 3 === 0 ? HELD_OUT_TEMPLATES : TRAIN_TEMPLATES;
      const c = sampleCaption(i % 10, rng, { domain, traits: ['bold', 'italic'], templates });
      expect(tokenize(c, vocab)).not.toContain(vocab.indexOf(UNK));
    }
    for (let d = 0; d < 10; d++) for (const p of classPrompts(d)) expect(tokenize(p, vocab)).not.toContain(1);
    expect(vocab[0]).toBe(PAD);
    expect(vocab[1]).toBe(UNK);
    expect(new Set(vocab).size).toBe(vocab.length);
  });

  it('names the digit by its name or its numeral, and only styles of its domain', () => {
    const rng = createRng(9);
    let names = 0;
    let numerals = 0;
    for (let i = 0; i < 300; i++) {
      const w = words(sampleCaption(7, rng, { domain: 'handwritten' }));
      if (w.includes('seven')) names++;
      if (w.includes('7')) numerals++;
      expect(w.includes('seven') !== w.includes('7')).toBe(true);
      for (const s of STYLES.printed) expect(w).not.toContain(s);
    }
    expect(names).toBeGreaterThan(100);
    expect(numerals).toBeGreaterThan(100);
  });

  it('keeps held-out phrasings out of the training and prompt templates', () => {
    for (const t of HELD_OUT_TEMPLATES) {
      expect(TRAIN_TEMPLATES as readonly string[]).not.toContain(t);
      expect(PROMPT_TEMPLATES as readonly string[]).not.toContain(t);
    }
  });

  it('draws the same captions from the same seed', () => {
    const draw = () => {
      const rng = createRng(11);
      return Array.from({ length: 20 }, (_, i) => sampleCaption(i % 10, rng, { domain: 'printed' }));
    };
    expect(draw()).toEqual(draw());
  });

  it('tokenizes to MAX_TOKENS ids, padded, and one-hot encodes one 1 per position', () => {
    const ids = tokenize('the number 7', vocab);
    expect(ids).toHaveLength(MAX_TOKENS);
    expect(ids.slice(3)).toEqual(Array(MAX_TOKENS - 3).fill(0));
    expect(tokenize('the zebra', vocab)[1]).toBe(1);
    const x = encodeCaptions(['the number 7', 'a handwritten seven'], vocab);
    expect(x.length).toBe(2 * MAX_TOKENS * vocab.length);
    expect(x.reduce((a, b) => a + b, 0)).toBe(2 * MAX_TOKENS);
    expect(x[(0 * MAX_TOKENS + 2) * vocab.length + vocab.indexOf('7')]).toBe(1);
  });

  it('class prompts cover the name and the numeral of their digit, and no other digit', () => {
    for (let d = 0; d < 10; d++) {
      const ps = classPrompts(d).map(words);
      expect(ps.some((w) => w.includes(DIGIT_NAMES[d] as string))).toBe(true);
      expect(ps.some((w) => w.includes(String(d)))).toBe(true);
      for (const w of ps)
        for (let o = 0; o < 10; o++)
          if (o !== d) {
            expect(w).not.toContain(DIGIT_NAMES[o]);
            expect(w).not.toContain(String(o));
          }
    }
  });
});

describe('font split', () => {
  it('splits whole families: no evaluation family has a pre-training font', () => {
    const files = fontFiles();
    const split = splitFonts();
    expect(split.pretrain.n + split.evaluation.n).toBe(loadFontDigits().n);
    const evalFamilies = new Set(split.evaluationFamilies);
    const pretrainFamilies = new Set(files.map(fontFamily).filter((f) => !evalFamilies.has(f)));
    for (const f of evalFamilies) expect(pretrainFamilies.has(f)).toBe(false);
    expect(split.evaluation.n).toBe(files.filter((f) => evalFamilies.has(fontFamily(f))).length * 20);
    expect(split.pretrainTraits).toHaveLength(split.pretrain.n);
    expect(split.evaluation.n).toBeGreaterThan(500);
  });

  it('reads families and traits off font file names', () => {
    expect(fontFamily('FreeSerifBoldItalic.ttf')).toBe('FreeSerif');
    expect(fontFamily('DejaVuSans-Bold.ttf')).toBe('DejaVuSans');
    expect(fontFamily('dkgBI.ttf')).toBe('dkg');
    expect(fontTraits('FreeSerifBoldItalic.ttf')).toEqual(['bold', 'italic', 'serif']);
    expect(fontTraits('LiberationMono-Regular.ttf')).toEqual(['mono']);
    expect(fontTraits('DejaVuSansCondensed.ttf')).toEqual(['narrow']);
  });
});

describe('dual encoder', () => {
  const vocab = vocabulary();

  it('both towers output unit-norm embeddings of EMBED_DIM', () => {
    const dual = buildDualEncoder(1, vocab.length);
    const t = towers(dual);
    const img = embed(t.image, loadMnist('test', 8).x, [28, 28, 1]);
    const txt = embed(t.text, encodeCaptions(['a handwritten seven', 'the number 3', '7'], vocab), [
      MAX_TOKENS,
      vocab.length,
    ]);
    for (const [e, n] of [
      [img, 8],
      [txt, 3],
    ] as const) {
      expect(e.length).toBe(n * EMBED_DIM);
      for (let i = 0; i < n; i++) {
        const norm = Math.hypot(...e.subarray(i * EMBED_DIM, (i + 1) * EMBED_DIM));
        expect(norm).toBeCloseTo(1, 5);
      }
    }
    dual.dispose();
  });

  it('L2Normalize leaves a zero row at zero instead of NaN', () => {
    const layer = new L2Normalize({});
    const out = layer.apply(
      tf.tensor2d([
        [0, 0],
        [3, 4],
      ]),
    ) as tf.Tensor;
    const v = Array.from(out.dataSync());
    [0, 0, 0.6, 0.8].forEach((e, i) => {
      expect(v[i]).toBeCloseTo(e, 6);
    });
    out.dispose();
  });

  it('a classifier from the dual encoder has its image tower and the prompt head scale·classEmbᵀ', () => {
    const dual = buildDualEncoder(2, vocab.length);
    const t = towers(dual);
    const clf = zeroShotClassifier(dual, t.text, vocab, 7);
    const x = loadMnist('test', 4).x;
    const a = embed(t.image, x, [28, 28, 1]);
    const b = embed(
      tf.model({ inputs: clf.inputs, outputs: clf.getLayer('features').output }),
      x,
      [28, 28, 1],
    );
    expect(Array.from(b)).toEqual(Array.from(a));
    const emb = classEmbeddings(t.text, vocab);
    const kernel = clf.getLayer(HEAD).getWeights()[0] as tf.Tensor;
    expect(kernel.shape).toEqual([EMBED_DIM, 10]);
    const diff = tf.max(tf.abs(tf.sub(kernel, tf.mul(7, tf.transpose(emb))))).dataSync()[0];
    expect(diff).toBeLessThan(1e-6);
    const fresh = buildClassifier();
    copyImageTower(dual, fresh);
    expect(
      Array.from(
        embed(tf.model({ inputs: fresh.inputs, outputs: fresh.getLayer('features').output }), x, [28, 28, 1]),
      ),
    ).toEqual(Array.from(a));
    // getWeights hands out the variables themselves: dispose only what we made.
    emb.dispose();
    dual.dispose();
    clf.dispose();
    fresh.dispose();
  });

  it('class embeddings are unit rows and leak nothing', async () => {
    const dual = buildDualEncoder(3, vocab.length);
    const t = towers(dual);
    const emb = classEmbeddings(t.text, vocab);
    const norms = tf.norm(emb, 2, 1).dataSync();
    for (const n of norms) expect(n).toBeCloseTo(1, 5);
    emb.dispose();
    await expectNoTensorLeaks(() => classEmbeddings(t.text, vocab), { label: 'classEmbeddings' });
    dual.dispose();
  });

  it('the contrastive loop lowers the CLIP loss and leaks no tensors', async () => {
    const dual = buildDualEncoder(4, vocab.length);
    const data = loadMnist('train', 64);
    const vars = dual.trainableWeights.map((w) => w.read() as tf.Variable);
    const optimizer = tf.train.adam(3e-3);
    const { clipContrastiveLoss } = await import('@robust-ft/losses');
    const run = (epochs: number) =>
      contrastiveTrain(dual, data, {
        epochs,
        batchSize: 16,
        rng: createRng(1),
        optimizer,
        variables: vars,
        vocab,
        caption: (label, _row, r) => sampleCaption(label, r, { domain: 'handwritten' }),
        loss: ({ image, text }) => clipContrastiveLoss(image, text, { temperature: 0.1, validate: false }),
        label: 'test',
        quiet: true,
      });
    const first = run(1);
    const later = run(6);
    expect(first.steps).toBe(4);
    expect(later.finalLoss).toBeLessThan(first.finalLoss);
    await expectNoTensorLeaks(() => run(1), { label: 'contrastiveTrain', repeats: 2 });
    optimizer.dispose();
    dual.dispose();
  });
});

describe('embedding metrics', () => {
  it('blocks hold one row per digit, each row once', () => {
    const y = Int32Array.from({ length: 57 }, (_, i) => (i * 7) % 10);
    const blocks = retrievalBlocks(y);
    expect(blocks).toHaveLength(5);
    const seen = new Set<number>();
    for (const b of blocks) {
      expect(b.map((i) => y[i])).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      for (const i of b) seen.add(i);
    }
    expect(seen.size).toBe(50);
  });

  it('identical image and text embeddings: alignment 0, no gap, perfect recall', async () => {
    const n = 30;
    const rng = createRng(4);
    const x = new Float32Array(n * 4);
    for (let i = 0; i < n; i++) {
      const v = Array.from({ length: 4 }, () => rng.normal());
      const norm = Math.hypot(...v);
      v.forEach((a, j) => {
        x[i * 4 + j] = a / norm;
      });
    }
    const y = Int32Array.from({ length: n }, (_, i) => i % 10);
    const m = await embeddingMetrics(x, x, y, 4);
    expect(m.alignment).toBeCloseTo(0, 6);
    expect(m.modalityGap).toBeCloseTo(0, 6);
    expect(m.recallAt1).toBe(1);
    expect(m.recallAt5).toBe(1);
    expect(m.uniformity).toBeLessThan(0);
  });

  it('a constant shift of the text embeddings is the modality gap, and metrics leak nothing', async () => {
    const n = 20;
    const img = new Float32Array(n * 2);
    const txt = new Float32Array(n * 2);
    for (let i = 0; i < n; i++) {
      img.set([Math.cos(i), Math.sin(i)], i * 2);
      txt.set([Math.cos(i) + 0.3, Math.sin(i) - 0.4], i * 2);
    }
    const y = Int32Array.from({ length: n }, (_, i) => i % 10);
    const m = await embeddingMetrics(img, txt, y, 2);
    expect(m.modalityGap).toBeCloseTo(0.5, 5);
    expect(m.alignment).toBeCloseTo(0.25, 5);
    await expectNoTensorLeaks(() => embeddingMetrics(img, txt, y, 2), { label: 'embeddingMetrics' });
  });
});

describe('shipped dual encoder', () => {
  it('is at most 2 MB and its zero-shot MNIST accuracy is the one its summary records', async () => {
    const dir = assetPath(CLIP_DIR);
    expect(
      statSync(join(dir, 'weights.bin')).size + statSync(join(dir, 'model.json')).size,
    ).toBeLessThanOrEqual(2 * 1024 * 1024);
    const { model, summary } = await loadDualEncoder();
    const clf = zeroShotClassifier(model, towers(model).text, summary.vocabulary, summary.logitScale);
    const test = loadMnist('test');
    const acc = Number(argmaxAccuracy(predictLogits(clf, test.x), test.y).toFixed(4));
    expect(acc).toBe((summary.zeroShot as { mnistTest: number }).mnistTest);
    expect(acc).toBeGreaterThan(0.8);
    model.dispose();
    clf.dispose();
  });
});

describe('clip defaults (pinned)', () => {
  it('pre-training recipe, temperature and clamp', () => {
    expect(PRETRAIN_DEFAULTS).toEqual({
      seed: 2024,
      mnistImages: 30000,
      fontRepeat: 4,
      epochs: 3,
      batchSize: 128,
      learningRate: 2e-3,
    });
    expect(INIT_LOG_SCALE).toBeCloseTo(Math.log(1 / 0.07), 12);
    expect(MAX_LOGIT_SCALE).toBe(100);
    expect(MAX_TOKENS).toBe(9);
    expect(EMBED_DIM).toBe(32);
  });

  it('mix weights, β and τ₂ of the reference scripts; the tier budget', () => {
    expect(CLIP_SETTINGS).toEqual({
      mixWeights: { m2mix: 0.01, vmix: 0.05, lmix: 0.05, vlmix: 0.1 },
      mixBeta: { m2mix: 0.5, vmix: 0.5, lmix: 0.5, vlmix: 0.5 },
      mixTemperature: 0.07,
      consistencyWeight: 1,
    });
    expect(clip.defaults).toEqual({
      epochs: 3,
      mnistLimit: 2000,
      severities: [3],
      wiseAlphas: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
    });
    expect(clip.methodNames).toEqual([...CLIP_METHODS]);
  });

  it('tier options: evalLimit (default all), integers ≥ 10 only, no other keys', () => {
    expect(clipTierOptions()).toEqual({ evalLimit: Number.POSITIVE_INFINITY });
    expect(clipTierOptions({ evalLimit: '60' })).toEqual({ evalLimit: 60 });
    expect(() => clipTierOptions({ evalLimit: '5' })).toThrow(/evalLimit=5/);
    expect(() => clipTierOptions({ evalLimit: 'x' })).toThrow(/evalLimit=x/);
    expect(() => clipTierOptions({ limit: '60' })).toThrow(/knows only evalLimit/);
  });
});

describe('pre-training', () => {
  it('is seeded: the same config gives the same weights and logit scale, and the scale moves', async () => {
    const config = {
      ...PRETRAIN_DEFAULTS,
      mnistImages: 96,
      fontRepeat: 0,
      epochs: 1,
      batchSize: 32,
      quiet: true,
    };
    const a = await pretrainDualEncoder(config);
    const b = await pretrainDualEncoder(config);
    expect(a.steps).toBe(3);
    expect(a.logLogitScale).toBe(b.logLogitScale);
    expect(a.logLogitScale).not.toBe(INIT_LOG_SCALE);
    const wa = a.dual.getWeights();
    const wb = b.dual.getWeights();
    wa.forEach((w, i) => {
      expect(Array.from(w.dataSync())).toEqual(Array.from((wb[i] as tf.Tensor).dataSync()));
    });
    a.dual.dispose();
    b.dual.dispose();
  });
});

describe('FSR + consistency (clip tier)', () => {
  const vocab = vocabulary();
  const data = loadMnist('train', 32);
  const budget = { epochs: 1, batchSize: 16, quiet: true };

  it('with both weights 0 it is E2E-FT exactly; with weights it moves elsewhere; it leaks nothing', async () => {
    const dual = buildDualEncoder(5, vocab.length);
    const zs = zeroShotClassifier(dual, towers(dual).text, vocab, 10);
    const run = (fsrWeight: number, consistencyWeight: number) => {
      const m = buildClassifier();
      m.setWeights(zs.getWeights());
      const r = fineTuneFsr(
        m,
        zs,
        data,
        budget,
        7,
        { ...HYPERPARAMETERS, fsrWeight },
        { ...CLIP_SETTINGS, consistencyWeight },
      );
      return { m, r };
    };
    const e2e = buildClassifier();
    e2e.setWeights(zs.getWeights());
    fineTuneCe('e2e-ft', e2e, zs, data, budget, 7);
    const flat = (m: tf.LayersModel) => m.getWeights().flatMap((w) => Array.from(w.dataSync()));
    const off = run(0, 0);
    expect(flat(off.m)).toEqual(flat(e2e));
    const onlyConsistency = run(0, 1);
    expect(flat(onlyConsistency.m)).not.toEqual(flat(e2e));
    const on = run(1, 1);
    expect(flat(on.m)).not.toEqual(flat(onlyConsistency.m));
    expect(on.r.hyperparameters).toMatchObject({ fsrWeight: 1, consistencyWeight: 1, steps: 2 });
    for (const m of [off.m, onlyConsistency.m, on.m, e2e]) m.dispose();
    await expectNoTensorLeaks(() => run(1, 1).m.dispose(), { label: 'fineTuneFsr', repeats: 1 });
    zs.dispose();
    dual.dispose();
  });
});

describe('embedding projection', () => {
  it('keeps a fixed axis first and adds the top principal axis orthogonal to it', () => {
    // Spread mostly along dimension 1, a little along 2; the fixed axis is dimension 0.
    const rng = createRng(8);
    const x = new Float32Array(200 * 3);
    for (let i = 0; i < 200; i++) x.set([rng.normal() * 0.1, rng.normal() * 3, rng.normal()], i * 3);
    const fixed = Float64Array.from([1, 0, 0]);
    const { axes } = principalAxes(x, 3, [fixed]);
    expect(Array.from(axes[0] ?? [])).toEqual([1, 0, 0]);
    const second = axes[1] ?? new Float64Array(3);
    expect(Math.abs(second[1] ?? 0)).toBeCloseTo(1, 3);
    expect(Math.abs(second[0] ?? 1)).toBeLessThan(1e-9);
    const svg = projectionSvg(
      [
        {
          title: 'p',
          image: Float32Array.from([1, 0, 0, 1]),
          text: Float32Array.from([0, 1, 1, 0]),
          labels: Int32Array.from([0, 1]),
          dim: 2,
        },
      ],
      't',
    );
    expect(svg.startsWith('<svg')).toBe(true);
  });
});
