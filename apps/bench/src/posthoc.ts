import {
  disposeVrf,
  fitVrf,
  interpolateProbabilities,
  vrfPredict,
  wiseFt,
  zeroShotFailureSet,
} from '@robust-ft/eval';
import * as tf from '@tensorflow/tfjs';
import { argmaxAccuracy, type EvalSet } from './evaluate';
import { logitsOf, type MethodResult, summarise, type WisePoint } from './results';
import type { DerivedContext, FinishedRun, MethodSpec, ScoredRun } from './tier';

// Post-hoc methods as derived-method declarations: a tier lists `wiseFtSweep(...)` or `vrfEnsemble(...)`
// beside its trained methods, naming the runs they combine, and the runner does the rest.

function finished<M>(ctx: DerivedContext<M>, name: string, method: string): FinishedRun<M> & { model: M } {
  const run = ctx.runs.get(name);
  if (!run?.model) throw new Error(`${method}: the ${name} run has no model`);
  return { ...run, model: run.model };
}

/** The two finished runs an α sweep combines; there must be an α to sweep. */
function sweepEnds<M>(ctx: DerivedContext<M>, a: string, b: string, method: string) {
  if (ctx.options.wiseAlphas.length === 0) throw new Error(`${method}: no α to sweep`);
  return [finished(ctx, a, method), finished(ctx, b, method)] as const;
}

/** A derived method's declaration: its name and label, the runs it needs, and how it runs. */
function derived<M>(
  spec: { name: string; label: string },
  needs: readonly string[],
  body: { features?: readonly string[]; run(ctx: DerivedContext<M>): Promise<ScoredRun<M>> },
): MethodSpec<M> {
  return { name: spec.name, label: spec.label, kind: 'derived', needs, ...body };
}

/** The runs an output-space ensemble (OSE, VRF) combines: the zero-shot and the fine-tuned one. */
interface EnsembleSpec {
  name: string;
  label: string;
  zeroShot: string;
  fineTuned: string;
}

/** The hyperparameters every α sweep reports about its choice of α. */
const chosenAlpha = (best: SweepBest, alphas: readonly number[]) => ({
  alpha: best.alpha,
  alphaChosenBy: 'ID validation accuracy',
  sweep: alphas.join(','),
});

const point = (alpha: number, r: MethodResult): WisePoint => ({
  alpha,
  id: r.id,
  oodAvg: r.oodAvg,
  ood: r.ood,
});

interface SweepBest {
  alpha: number;
  val: number;
  scores: Map<string, Float32Array>;
}

/**
 * The α sweep WiSE-FT and OSE share: for each α of `options.wiseAlphas`, `at(α)` gives the eval-set
 * scores and the ID validation accuracy; the curve runs from the `ends[0]` run (α = 0) through each α to
 * the `ends[1]` run (α = 1), and the α with the best validation accuracy is kept (ties → the larger α).
 */
export async function sweepAlphas<M>(
  ctx: DerivedContext<M>,
  ends: readonly [FinishedRun<M>, FinishedRun<M>],
  input: 'logits' | 'probabilities',
  method: string,
  at: (alpha: number) => Promise<Omit<SweepBest, 'alpha'>>,
): Promise<{ curve: WisePoint[]; best: SweepBest }> {
  const curve: WisePoint[] = [point(0, ends[0].result)];
  let best: SweepBest | undefined;
  for (const alpha of ctx.options.wiseAlphas) {
    const { scores, val } = await at(alpha);
    const sm = await summarise(ctx.tier.eval, scores, input);
    curve.push({ alpha, id: sm.id, oodAvg: sm.oodAvg, ood: sm.ood });
    if (!best || val >= best.val) best = { alpha, val, scores };
  }
  curve.push(point(1, ends[1].result));
  if (!best) throw new Error(`${method}: the sweep produced no scores`);
  return { curve, best };
}

/**
 * WiSE-FT: weight interpolation (1 − α)·θ_from + α·θ_to swept over `options.wiseAlphas`; α chosen on ID
 * validation accuracy, as in the WiSE-FT and VRF papers (ties → the larger α). The report's curve runs
 * from the `from` run (α = 0) to the `to` run (α = 1), whose rows are the endpoints.
 */
export function wiseFtSweep<M>(spec: {
  name: string;
  label: string;
  from: string;
  to: string;
}): MethodSpec<M> {
  return derived(spec, [spec.from, spec.to], {
    async run(ctx) {
      const { tier, options } = ctx;
      const [from, to] = sweepEnds(ctx, spec.from, spec.to, spec.name);
      const theta0 = tier.weights(from.model);
      const theta1 = tier.weights(to.model);
      const valSet: EvalSet[] = [{ key: 'id', kind: 'id', data: tier.val }];
      let mix: M | undefined;
      const { curve, best } = await sweepAlphas(ctx, [from, to], 'logits', spec.name, async (alpha) => {
        const merged = wiseFt(theta0, theta1, alpha);
        mix = tier.withWeights(merged, mix);
        tf.dispose(Object.values(merged));
        const scores = logitsOf(await tier.outputs(mix, tier.eval));
        const val = argmaxAccuracy(
          (await tier.outputs(mix, valSet)).get('id')?.logits ?? new Float32Array(),
          tier.val.y,
        );
        return { scores, val };
      });
      if (mix === undefined) throw new Error(`${spec.name}: the sweep produced no model`);
      // The tier's metrics hook measures the chosen mix, so the last sweep model is set to it.
      if (tier.metrics) {
        const merged = wiseFt(theta0, theta1, best.alpha);
        tier.withWeights(merged, mix);
        tf.dispose(Object.values(merged));
      }
      return {
        scores: best.scores,
        input: 'logits',
        idVal: best.val,
        trainSeconds: to.result.trainSeconds,
        hyperparameters: {
          from: spec.from,
          to: spec.to,
          ...chosenAlpha(best, options.wiseAlphas),
        },
        curve,
        model: mix,
      };
    },
  });
}

/**
 * OSE (the VRF paper's output-space ensemble baseline): p = α·softmax(z_ft) + (1 − α)·softmax(z_zs),
 * no temperature scaling, swept over `options.wiseAlphas` with α chosen on ID validation accuracy (ties →
 * the larger α), as the paper's `baselines.py`. Its curve goes to the report field `curveField`
 * (default `oseCurve`), from the zero-shot run (α = 0) to the fine-tuned run (α = 1).
 */
export function outputEnsembleSweep<M>(spec: EnsembleSpec & { curveField?: string }): MethodSpec<M> {
  return derived(spec, [spec.zeroShot, spec.fineTuned], {
    async run(ctx) {
      const { tier, options } = ctx;
      const [zs, ft] = sweepEnds(ctx, spec.zeroShot, spec.fineTuned, spec.name);
      const valSet: EvalSet[] = [{ key: 'id', kind: 'id', data: tier.val }];
      const zsVal = (await tier.outputs(zs.model, valSet)).get('id');
      const ftVal = (await tier.outputs(ft.model, valSet)).get('id');
      if (!zsVal || !ftVal) throw new Error(`${spec.name}: missing validation outputs`);
      const mix = async (alpha: number, z: Float32Array, f: Float32Array, n: number) => {
        const classes = z.length / n;
        const p = tf.tidy(() =>
          interpolateProbabilities(tf.tensor2d(z, [n, classes]), tf.tensor2d(f, [n, classes]), alpha),
        );
        const v = (await p.data()) as Float32Array;
        p.dispose();
        return v;
      };
      const { curve, best } = await sweepAlphas(ctx, [zs, ft], 'probabilities', spec.name, async (alpha) => {
        const scores = new Map<string, Float32Array>();
        for (const set of tier.eval) {
          const z = zs.outputs?.get(set.key)?.logits;
          const f = ft.outputs?.get(set.key)?.logits;
          if (!z || !f) throw new Error(`${spec.name}: missing outputs for ${set.key}`);
          scores.set(set.key, await mix(alpha, z, f, set.data.n));
        }
        const val = argmaxAccuracy(await mix(alpha, zsVal.logits, ftVal.logits, tier.val.n), tier.val.y);
        return { scores, val };
      });
      return {
        scores: best.scores,
        input: 'probabilities',
        idVal: best.val,
        trainSeconds: ft.result.trainSeconds,
        hyperparameters: {
          zeroShot: spec.zeroShot,
          fineTuned: spec.fineTuned,
          ...chosenAlpha(best, options.wiseAlphas),
        },
        curve,
        curveField: spec.curveField ?? 'oseCurve',
      };
    },
  });
}

/**
 * VRF: the zero-shot and fine-tuned models' outputs mixed per sample by the k-NN distance of its
 * fine-tuned features to the zero-shot-failure set, temperatures fitted on ID validation. k: the released
 * rule (round(1000·|ZSF|/N)) assumes ImageNet-sized training sets and exceeds |ZSF| on small data, so
 * it is 5 % of the ZSF set here (a small-data choice, documented in the README).
 */
export function vrfEnsemble<M>(spec: EnsembleSpec): MethodSpec<M> {
  return derived(spec, [spec.zeroShot, spec.fineTuned], {
    features: [spec.fineTuned],
    async run(ctx) {
      const { tier } = ctx;
      const zs = finished(ctx, spec.zeroShot, spec.name);
      const ft = finished(ctx, spec.fineTuned, spec.name);
      const trainSet: EvalSet[] = [{ key: 'train', kind: 'id', data: tier.train }];
      const valSet: EvalSet[] = [{ key: 'id', kind: 'id', data: tier.val }];
      const ftTrain = (await tier.outputs(ft.model, trainSet, true)).get('train');
      const zsTrain = (await tier.outputs(zs.model, trainSet)).get('train');
      const ftVal = (await tier.outputs(ft.model, valSet)).get('id');
      const zsVal = (await tier.outputs(zs.model, valSet)).get('id');
      if (!ftTrain?.features || !zsTrain || !ftVal || !zsVal) throw new Error('VRF inputs missing');
      const n = tier.train.n;
      const dim = ftTrain.features.length / n;
      const classes = zsTrain.logits.length / n;
      const nVal = tier.val.n;
      const inputs = {
        features: tf.tensor2d(ftTrain.features, [n, dim]),
        zeroShotLogits: tf.tensor2d(zsTrain.logits, [n, classes]),
        fineTunedLogits: tf.tensor2d(ftTrain.logits, [n, classes]),
        labels: tier.train.y,
      };
      const calibration = {
        zeroShotLogits: tf.tensor2d(zsVal.logits, [nVal, classes]),
        fineTunedLogits: tf.tensor2d(ftVal.logits, [nVal, classes]),
        labels: tier.val.y,
      };
      let fit: Awaited<ReturnType<typeof fitVrf>>;
      try {
        const zsf = await zeroShotFailureSet(
          inputs.features,
          inputs.zeroShotLogits,
          inputs.fineTunedLogits,
          inputs.labels,
        );
        const zsfSize = zsf.features.shape[0];
        zsf.features.dispose();
        if (zsfSize === 0) throw new Error('VRF: the zero-shot-failure set is empty');
        const k = Math.max(1, Math.min(zsfSize, Math.round(0.05 * zsfSize)));
        fit = await fitVrf(inputs, calibration, { k });
      } finally {
        tf.dispose([
          inputs.features,
          inputs.zeroShotLogits,
          inputs.fineTunedLogits,
          calibration.zeroShotLogits,
          calibration.fineTunedLogits,
        ]);
      }
      const scores = new Map<string, Float32Array>();
      try {
        for (const set of tier.eval) {
          const f = ft.outputs?.get(set.key);
          const z = zs.outputs?.get(set.key);
          if (!f?.features || !z) throw new Error(`VRF: missing outputs for ${set.key}`);
          const m = set.data.n;
          const features = f.features;
          const probs = tf.tidy(
            () =>
              vrfPredict(fit, {
                features: tf.tensor2d(features, [m, dim]),
                zeroShotLogits: tf.tensor2d(z.logits, [m, classes]),
                fineTunedLogits: tf.tensor2d(f.logits, [m, classes]),
              }).probabilities,
          );
          scores.set(set.key, (await probs.data()) as Float32Array);
          probs.dispose();
        }
      } finally {
        disposeVrf(fit);
      }
      return {
        scores,
        input: 'probabilities',
        trainSeconds: ft.result.trainSeconds,
        hyperparameters: {
          zeroShot: spec.zeroShot,
          fineTuned: spec.fineTuned,
          a: fit.a,
          b: fit.b,
          k: fit.k,
          zsfSize: fit.zsfSize,
          tZeroShot: Number(fit.temperatures.zeroShot.toFixed(3)),
          tFineTuned: Number(fit.temperatures.fineTuned.toFixed(3)),
        },
      };
    },
  });
}
