import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/backend';
import type { EvalSet } from '../src/evaluate';
import { outputEnsembleSweep, sweepAlphas } from '../src/posthoc';
import type { MethodResult, WisePoint } from '../src/results';
import type { DerivedContext, FinishedRun } from '../src/tier';

/** The α sweep WiSE-FT and OSE share: curve end points, α choice on ID validation, ties → larger α. */

beforeAll(async () => {
  await selectBackend('cpu', true);
});

// Two samples, two classes, labels [0, 1]: scores decide the ID accuracy (0, 0.5 or 1).
const idSet = { key: 'id', kind: 'id', data: { y: new Int32Array([0, 1]), n: 2 } } as unknown as EvalSet;
const scoresFor = (correct: number) =>
  new Map([
    ['id', new Float32Array(correct === 2 ? [1, 0, 0, 1] : correct === 1 ? [1, 0, 1, 0] : [0, 1, 1, 0])],
  ]);
const run = (id: number): FinishedRun<unknown> => ({ result: { id, ood: {}, oodAvg: id } as MethodResult });
const ctx = (wiseAlphas: number[]) =>
  ({ tier: { eval: [idSet] }, options: { wiseAlphas } }) as unknown as DerivedContext<unknown>;

describe('sweepAlphas', () => {
  it('runs the curve from the α = 0 run through each α to the α = 1 run and keeps the best α, ties → the larger', async () => {
    const val = new Map([
      [0.25, 0.5],
      [0.5, 0.9],
      [0.75, 0.9],
    ]);
    const correct = new Map([
      [0.25, 0],
      [0.5, 1],
      [0.75, 2],
    ]);
    const { curve, best } = await sweepAlphas(
      ctx([0.25, 0.5, 0.75]),
      [run(0.1), run(0.2)],
      'logits',
      'm',
      async (a) => ({
        scores: scoresFor(correct.get(a)!),
        val: val.get(a)!,
      }),
    );
    expect(curve.map((p) => [p.alpha, p.id])).toEqual([
      [0, 0.1],
      [0.25, 0],
      [0.5, 0.5],
      [0.75, 1],
      [1, 0.2],
    ]);
    expect(best.alpha).toBe(0.75);
    expect(best.val).toBe(0.9);
  });

  it('an empty sweep is an error naming the method', async () => {
    await expect(
      sweepAlphas(ctx([]), [run(0), run(1)], 'logits', 'ose', async () => ({ scores: scoresFor(0), val: 0 })),
    ).rejects.toThrow(/ose: the sweep produced no scores/);
  });
});

describe('outputEnsembleSweep', () => {
  // Zero-shot logits get both validation samples wrong, fine-tuned ones both right: on the mix
  // p = α·softmax(ft) + (1 − α)·softmax(zs), α = 0.25 is still wrong on both and α = 0.75 right on both.
  const zsLogits = new Float32Array([0, 1, 1, 0]);
  const ftLogits = new Float32Array([5, 0, 0, 5]);
  const outputs = (logits: Float32Array) => new Map([['id', { logits }]]);
  const tier = {
    eval: [idSet],
    val: { y: new Int32Array([0, 1]), n: 2 },
    outputs: async (model: string) => outputs(model === 'zs' ? zsLogits : ftLogits),
  };
  const runs = new Map([
    ['zero-shot', { model: 'zs', outputs: outputs(zsLogits), result: { id: 0, ood: {}, oodAvg: 0 } }],
    [
      'adamw',
      { model: 'ft', outputs: outputs(ftLogits), result: { id: 1, ood: {}, oodAvg: 1, trainSeconds: 3 } },
    ],
  ]);

  it('reports the chosen α, how it was chosen and the swept αs', async () => {
    const spec = outputEnsembleSweep<string>({
      name: 'ose',
      label: 'OSE',
      zeroShot: 'zero-shot',
      fineTuned: 'adamw',
    });
    const ctx = { tier, options: { wiseAlphas: [0.25, 0.75] }, runs } as unknown as DerivedContext<string>;
    if (spec.kind !== 'derived') throw new Error('OSE is a derived method');
    const out = await spec.run(ctx);
    expect(out.hyperparameters).toEqual({
      zeroShot: 'zero-shot',
      fineTuned: 'adamw',
      alpha: 0.75,
      alphaChosenBy: 'ID validation accuracy',
      sweep: '0.25,0.75',
    });
    expect(out.idVal).toBe(1);
    expect((out.curve ?? []).map((p: WisePoint) => [p.alpha, p.id])).toEqual([
      [0, 0],
      [0.25, 0],
      [0.75, 1],
      [1, 1],
    ]);
  });
});
