import { createRng } from '@robust-ft/core';
import type * as tf from '@tensorflow/tfjs';
import { encodeCaptions, HELD_OUT_TEMPLATES, MAX_TOKENS, sampleCaption } from '../clip/captions';
import { buildDualEncoder, EMBED_DIM, embed, loadDualEncoder, towers } from '../clip/dual-encoder';
import { embeddingMetrics } from '../clip/embedding-metrics';
import { splitFonts } from '../clip/fonts';
import {
  CLIP_METHOD_LABELS,
  CLIP_SETTINGS,
  type ClipMethod,
  CONTRASTIVE,
  fineTuneCe,
  fineTuneContrastive,
  fineTuneFsr,
  isCeMethod,
} from '../clip/methods';
import { projectionSvg, scatterWithCurvesSvg } from '../clip/plots';
import { buildClassifier, zeroShotClassifier } from '../clip/zero-shot';
import { head, uciDigitsSplit } from '../data/datasets';
import { digitEvalSets, type EvalSet, namedWeights, runModel } from '../evaluate';
import { outputEnsembleSweep, vrfEnsemble, wiseFtSweep } from '../posthoc';
import type { BenchReport, MethodResult, WisePoint } from '../results';
import { defineTier } from '../runner';
import type { MethodSpec } from '../tier';

/**
 * Tier "clip": the digit dual encoder (assets/pretrained-clip, made by scripts/pretrain-clip.ts), the
 * smallest honest stand-in for CLIP, fine-tuned on the UCI digits with every method under one budget.
 * OOD = MNIST test, the font families the encoder never saw, and the corruption suite; per method also
 * the image–text papers' embedding metrics on held-out image–caption pairs.
 */

/** A clip-tier model: the image classifier (tower + prompt head) and its text tower's caption embeddings. */
export interface ClipModel {
  classifier: tf.LayersModel;
  /** The held-out captions embedded by this model's text tower (the pre-trained one for CE methods). */
  text: Float32Array;
}

/** The embedding metrics each row carries (null for the output-space ensembles OSE and VRF). */
export const EMBEDDING_FIELDS = ['uniformity', 'alignment', 'modalityGap', 'recallAt1', 'recallAt5'] as const;

/** Models whose embeddings the report keeps for the projection plot. */
const SNAPSHOTS: readonly ClipMethod[] = ['zero-shot', 'e2e-ft', 'flyp', 'm2mix'];

export interface EmbeddingSnapshot {
  method: string;
  image: number[];
  text: number[];
}

/** A row of the clip report: the bench's fields plus the embedding metrics (null for OSE and VRF). */
export type ClipRow = MethodResult & Record<(typeof EMBEDDING_FIELDS)[number], number | null>;

/** The report as the clip tier writes it: rows with top-level embedding metrics, OSE curve, snapshots. */
export interface ClipReport extends BenchReport {
  methods: ClipRow[];
  oseCurve: WisePoint[];
  embeddings: { labels: number[]; dim: number; snapshots: EmbeddingSnapshot[] };
}

const train = (name: ClipMethod, init?: ClipMethod): MethodSpec<ClipModel> => ({
  name,
  label: CLIP_METHOD_LABELS[name],
  kind: 'train',
  ...(init ? { init } : {}),
});

const round4 = (v: number) => Math.round(v * 1e4) / 1e4;
const pct = (v: number) => (100 * v).toFixed(1);
const metric =
  (digits: number, scale = 1) =>
  (v: number) =>
    Number.isFinite(v) ? (scale * v).toFixed(digits) : '—';

/** Tradeoff plot: every method, the WiSE-FT and OSE α curves, VRF among the points (the VRF paper's figure). */
export function tradeoffSvg(r: ClipReport): string {
  const curve = (label: string, c: readonly WisePoint[]) => ({
    label,
    points: c.map((p) => ({ x: p.id, y: p.oodAvg, alpha: p.alpha })),
  });
  return scatterWithCurvesSvg({
    title: `clip tier: ID vs OOD with the WiSE-FT and OSE α curves (seed ${r.seed})`,
    xLabel: 'ID accuracy (%), UCI digits test',
    yLabel: 'OOD accuracy (%), mean over shifts',
    scale: 100,
    points: r.methods.map((m) => ({ x: m.id, y: m.oodAvg, label: m.method })),
    curves: [
      curve('WiSE-FT α (ZS ↔ E2E-FT)', r.wiseCurve),
      curve('OSE α (ZS + E2E-FT)', r.oseCurve ?? []),
    ].filter((c) => c.points.length > 1),
  });
}

export function uniformityAlignmentSvg(r: ClipReport): string {
  return scatterWithCurvesSvg({
    title: `clip tier: uniformity vs alignment, lower is better on both (seed ${r.seed})`,
    xLabel: 'uniformity lunif(concat[img, txt])',
    yLabel: 'alignment lalign(img, txt)',
    points: r.methods.flatMap((m) =>
      m.uniformity === null || m.alignment === null
        ? []
        : [{ x: m.uniformity, y: m.alignment, label: m.method }],
    ),
  });
}

export function embeddingsSvg(r: ClipReport): string {
  const labels = Int32Array.from(r.embeddings.labels);
  return projectionSvg(
    r.embeddings.snapshots.map((s) => {
      const gap = r.methods.find((m) => m.method === s.method)?.modalityGap;
      return {
        title: `${s.method}${typeof gap === 'number' ? ` (gap ${gap.toFixed(2)})` : ''}`,
        image: Float32Array.from(s.image),
        text: Float32Array.from(s.text),
        labels,
        dim: r.embeddings.dim,
      };
    }),
    'Image and caption embeddings before (zero-shot) and after fine-tuning',
  );
}

/**
 * The clip tier's own options (`--tier-option key=value`): `evalLimit` caps the ID test set and the
 * held-out fonts (smoke tests; default all). Unknown keys and bad values are errors.
 */
export function clipTierOptions(options: Readonly<Record<string, string>> = {}): { evalLimit: number } {
  for (const key of Object.keys(options))
    if (key !== 'evalLimit') throw new Error(`--tier-option ${key}: the clip tier knows only evalLimit`);
  const raw = options.evalLimit;
  if (raw === undefined) return { evalLimit: Number.POSITIVE_INFINITY };
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 10) throw new Error(`--tier-option evalLimit=${raw}: an integer ≥ 10`);
  return { evalLimit: n };
}

export const clip = defineTier<ClipModel>({
  name: 'clip',
  help: `clip: a 2-tower digit "CLIP" (assets/pretrained-clip, made by scripts/pretrain-clip.ts: CNN
                      image tower + attention-pooling text tower over grammar captions, CLIP loss, MNIST
                      + 2/3 of the font families) classifies zero-shot by prompt ensembles and is fine-tuned
                      on UCI digits: CE methods (lp, e2e-ft, lp-ft, fsr, ftp/spd/digrap as E2E-FT's
                      optimizer), contrastive FLYP and m²-mix / V-, L-, VL-Mix, and the WiSE-FT, OSE and
                      VRF ensembles. OOD = MNIST, held-out font families, corruptions. Rows add
                      uniformity, alignment, modality gap and image↔text R@1/R@5 on held-out captions.`,
  defaults: {
    epochs: 3,
    mnistLimit: 2000,
    severities: [3],
    wiseAlphas: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
  },
  methods: [
    { name: 'zero-shot', label: CLIP_METHOD_LABELS['zero-shot'], kind: 'zero-shot' },
    train('lp'),
    train('e2e-ft'),
    train('lp-ft', 'lp'),
    train('flyp'),
    train('m2mix'),
    train('v-mix'),
    train('l-mix'),
    train('vl-mix'),
    train('fsr'),
    wiseFtSweep({ name: 'wise-ft', label: CLIP_METHOD_LABELS['wise-ft'], from: 'zero-shot', to: 'e2e-ft' }),
    outputEnsembleSweep({
      name: 'ose',
      label: CLIP_METHOD_LABELS.ose,
      zeroShot: 'zero-shot',
      fineTuned: 'e2e-ft',
    }),
    vrfEnsemble({ name: 'vrf', label: CLIP_METHOD_LABELS.vrf, zeroShot: 'zero-shot', fineTuned: 'e2e-ft' }),
    train('ftp'),
    train('spd'),
    train('digrap'),
  ],
  baseline: ['zero-shot', 'lp', 'e2e-ft'],
  report: {
    idLabel: 'UCI digits',
    describe: (r) =>
      `ID: UCI handwritten digits (fine-tune ${r.data.idTrain}, validation ${r.data.idVal}, test ${r.data.idTest}). ` +
      `OOD: MNIST test (first ${r.data.mnistTest}; the pre-training domain), ${r.data.fontDigits} digits of the ` +
      `font families the dual encoder never saw (${r.data.heldOutFontFamilies}), and the ID test set under ` +
      `${r.data.corruptions}. Embedding metrics: the ID test images paired with captions in phrasings no ` +
      `model trains on; recall is 10-way (one image per digit per block), averaged over both directions.`,
    // OSE and VRF have no embedding metrics: their cells read '—', not NaN.
    metricColumns: [
      { key: 'uniformity', label: 'Unif.', format: metric(2) },
      { key: 'alignment', label: 'Align.', format: metric(2) },
      { key: 'modalityGap', label: 'Gap', format: metric(2) },
      { key: 'recallAt1', label: 'R@1', format: metric(1, 100) },
      { key: 'recallAt5', label: 'R@5', format: metric(1, 100) },
    ],
    // The issue's contract: the embedding metrics as row fields, null where there is no single
    // embedding space (the output-space ensembles).
    extra: (r) => ({
      methods: r.methods.map((m) => ({
        ...m,
        ...Object.fromEntries(EMBEDDING_FIELDS.map((f) => [f, m.metrics?.[f] ?? null])),
      })),
    }),
    sections: (r) => {
      const c = r as ClipReport;
      const line = (name: string, pts: readonly WisePoint[]) =>
        `${name} (α: ID / OOD avg): ${pts.map((p) => `${p.alpha}: ${pct(p.id)} / ${pct(p.oodAvg)}`).join(', ')}`;
      return [
        `## α curves\n\n${line('WiSE-FT', c.wiseCurve)}\n\n${line('OSE', c.oseCurve ?? [])}\n\n` +
          '![ID vs OOD with the WiSE-FT and OSE α curves](tradeoff.svg)\n\n' +
          '![Uniformity vs alignment](uniformity-alignment.svg)\n\n' +
          '![projection of image and caption embeddings before and after fine-tuning](embeddings.svg)',
      ];
    },
    files: (r) => {
      const c = r as ClipReport;
      return {
        'tradeoff.svg': tradeoffSvg(c),
        'uniformity-alignment.svg': uniformityAlignmentSvg(c),
        ...(c.embeddings?.snapshots.length ? { 'embeddings.svg': embeddingsSvg(c) } : {}),
      };
    },
  },
  async load(o, say) {
    const { evalLimit } = clipTierOptions(o.tierOptions);
    // The digits tier's UCI split, so the two tiers' ID numbers are on the same images.
    const split = uciDigitsSplit(o.seed, o.trainLimit);
    const { train: idTrain, val } = split;
    const test = head(split.test, evalLimit);
    const fonts = splitFonts();
    const heldOutFonts = head(fonts.evaluation, evalLimit);
    const sets = digitEvalSets(test, heldOutFonts, o);
    say(
      `clip tier: fine-tune on ${idTrain.n} UCI digits (val ${val.n}, test ${test.n}); OOD: MNIST test ` +
        `${o.mnistLimit}, ${heldOutFonts.n} held-out font digits, ${o.families.length} corruptions × ` +
        `severities ${o.severities.join(',')}`,
    );
    const { model: dual, summary } = await loadDualEncoder(o.modelDir);
    const vocab = summary.vocabulary;
    const scale = summary.logitScale;
    const pre = towers(dual);
    // Held-out captions (phrasings no model trains on) for the ID test images: the metrics' pairs.
    const capRng = createRng(o.seed).fork('held-out-captions');
    const captions = Array.from(test.y, (y) =>
      sampleCaption(y, capRng, { domain: 'handwritten', templates: HELD_OUT_TEMPLATES }),
    );
    const captionX = encodeCaptions(captions, vocab);
    const textShape = [MAX_TOKENS, vocab.length];
    const preText = embed(pre.text, captionX, textShape);
    const zeroShot: ClipModel = {
      classifier: zeroShotClassifier(dual, pre.text, vocab, scale),
      text: preText,
    };
    const methodOf = new WeakMap<ClipModel, string>([[zeroShot, 'zero-shot']]);
    const snapshots: EmbeddingSnapshot[] = [];
    const budget = { epochs: o.epochs, batchSize: o.batchSize, quiet: o.quiet };
    const H = o.hyperparameters;
    const cloneClassifier = (m: tf.LayersModel) => {
      const c = buildClassifier();
      c.setWeights(m.getWeights());
      return c;
    };
    const idSet: EvalSet[] = [{ key: 'id', kind: 'id', data: test }];
    return {
      train: idTrain,
      val,
      eval: sets,
      zeroShot: {
        model: zeroShot,
        hyperparameters: {
          weights: 'assets/pretrained-clip',
          head: 'class prompt ensemble × learned logit scale',
          logitScale: Number(scale.toFixed(3)),
        },
      },
      async fineTune(method, init, seed) {
        const name = method as ClipMethod;
        let result: { model: ClipModel; seconds: number; hyperparameters: Record<string, number | string> };
        if (isCeMethod(name) || name === 'fsr') {
          const classifier = cloneClassifier((init ?? zeroShot).classifier);
          const tr =
            name === 'fsr'
              ? fineTuneFsr(classifier, zeroShot.classifier, idTrain, budget, seed, H, CLIP_SETTINGS)
              : fineTuneCe(name, classifier, zeroShot.classifier, idTrain, budget, seed, H);
          result = {
            model: { classifier, text: preText },
            seconds: tr.seconds,
            hyperparameters: tr.hyperparameters,
          };
        } else if (CONTRASTIVE[name] !== undefined) {
          const tuned = buildDualEncoder(0, vocab.length);
          tuned.setWeights(dual.getWeights());
          const tr = fineTuneContrastive(name, tuned, idTrain, vocab, scale, budget, seed, H, CLIP_SETTINGS);
          const t = towers(tuned);
          const model = {
            classifier: zeroShotClassifier(tuned, t.text, vocab, scale),
            text: embed(t.text, captionX, textShape),
          };
          tuned.dispose();
          result = {
            model,
            seconds: tr.seconds,
            hyperparameters: {
              ...tr.hyperparameters,
              head: 'class prompts through the fine-tuned text tower',
            },
          };
        } else {
          throw new Error(`clip tier: ${method} is not a training method`);
        }
        methodOf.set(result.model, name);
        return result;
      },
      // Features (the unit image embeddings) always come along: the metrics hook and VRF read them.
      outputs: async (m, s) => runModel(m.classifier, s, true),
      weights: (m) => namedWeights(m.classifier),
      withWeights: (weights, into) => {
        const classifier = into?.classifier ?? buildClassifier();
        classifier.setWeights(
          classifier.weights.map((w) => {
            const t = weights[w.originalName];
            if (!t) throw new Error(`no weight named ${w.originalName}`);
            return t;
          }),
        );
        // Weight mixes are of image classifiers with the pre-trained text tower (WiSE-FT: ZS ↔ E2E-FT).
        return into ?? { classifier, text: preText };
      },
      disposeModel: (m) => m.classifier.dispose(),
      async metrics(m, outputs): Promise<Record<string, number>> {
        if (!m) return {};
        const image = (outputs ?? runModel(m.classifier, idSet, true)).get('id')?.features;
        if (!image) throw new Error('clip tier: missing ID image embeddings');
        const e = await embeddingMetrics(image, m.text, test.y, EMBED_DIM);
        const name = methodOf.get(m);
        if (name !== undefined && SNAPSHOTS.includes(name as ClipMethod))
          snapshots.push({
            method: name,
            image: Array.from(image, round4),
            text: Array.from(m.text, round4),
          });
        return {
          uniformity: e.uniformity,
          alignment: e.alignment,
          modalityGap: e.modalityGap,
          recallAt1: e.recallAt1,
          recallAt5: e.recallAt5,
          imageToTextR1: e.imageToText.r1,
          imageToTextR5: e.imageToText.r5,
          textToImageR1: e.textToImage.r1,
          textToImageR5: e.textToImage.r5,
        };
      },
      reportFields: () => ({
        pretrained: { ...summary, vocabulary: undefined, vocabularySize: vocab.length },
        embeddings: {
          labels: Array.from(test.y),
          dim: EMBED_DIM,
          snapshots: SNAPSHOTS.flatMap((n) => snapshots.filter((s) => s.method === n)),
        },
      }),
      data: {
        idTrain: idTrain.n,
        idVal: val.n,
        idTest: test.n,
        mnistTest: o.mnistLimit,
        fontDigits: heldOutFonts.n,
        heldOutFontFamilies: fonts.evaluationFamilies.join(', '),
        corruptions: `${o.families.join(', ')} at severities ${o.severities.join(', ')}`,
        heldOutCaptions: `${captions.length}, phrasings: ${HELD_OUT_TEMPLATES.join(' | ')}`,
      },
      notes: [
        'uniformity = lunif(concat[img, txt]) (t = 2); alignment = lalign(img, txt) (α = 2); modalityGap = ‖mean img − mean txt‖₂; R@K 10-way, mean of image→text and text→image.',
        'CE methods (lp, e2e-ft, lp-ft, fsr, ftp, spd, digrap) keep the pre-trained text tower; WiSE-FT mixes image classifiers and keeps it too.',
        'ose and vrf have no single embedding space: their embedding metrics are null.',
      ],
      dispose: () => {
        zeroShot.classifier.dispose();
        dual.dispose();
      },
    };
  },
});
