import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng } from '@robust-ft/core';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/backend';
import type { Dataset } from '../src/data/datasets';
import { argmaxAccuracy, corruptedSets, ece, layersModelOps } from '../src/evaluate';
import { fineTune } from '../src/methods';
import { HEAD_LAYER } from '../src/model';
import { wiseFtSweep } from '../src/posthoc';
import { markdown, textTable, writeReport } from '../src/report';
import { DEFAULTS, defineTier, parseTierOptions, resolveMethods } from '../src/runner';
import type { MethodSpec, RunOptions, Tier } from '../src/tier';

// A toy tier (3 classes, 8×8 images, a two-layer net) exercises the runner the way a new tier plugs
// in: its own class count, a derived method, metrics, extra report fields and files.

const SIDE = 8;
const CLASSES = 3;

/** Labels from a fixed random projection, so the task is learnable; `noise` shifts the inputs. */
function toyData(n: number, seed: number, noise = 0): Dataset {
  const rng = createRng(seed);
  const proj = createRng(99);
  const w = Array.from({ length: SIDE * SIDE * CLASSES }, () => proj.uniform() - 0.5);
  const x = new Float32Array(n * SIDE * SIDE);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const scores = new Array(CLASSES).fill(0);
    for (let p = 0; p < SIDE * SIDE; p++) {
      const v = rng.uniform();
      x[i * SIDE * SIDE + p] = Math.min(1, Math.max(0, v + noise * (rng.uniform() - 0.5)));
      for (let k = 0; k < CLASSES; k++) scores[k] += v * (w[p * CLASSES + k] ?? 0);
    }
    y[i] = scores.indexOf(Math.max(...scores));
  }
  return { name: `toy-${seed}`, x, y, n };
}

function toyModel(seed: number): tf.LayersModel {
  const input = tf.input({ shape: [SIDE, SIDE, 1] });
  let h = tf.layers.flatten().apply(input) as tf.SymbolicTensor;
  h = tf.layers
    .dense({
      units: 16,
      activation: 'relu',
      name: 'features',
      kernelInitializer: tf.initializers.glorotUniform({ seed }),
    })
    .apply(h) as tf.SymbolicTensor;
  const out = tf.layers
    .dense({
      units: CLASSES,
      name: HEAD_LAYER,
      kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }),
    })
    .apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

const shape: [number, number, number] = [SIDE, SIDE, 1];
const spec = (name: 'adamw' | 'linear-probe' | 'lp-ft', init?: string): MethodSpec<tf.LayersModel> => ({
  name,
  label: `toy ${name}`,
  kind: 'train',
  ...(init === undefined ? {} : { init }),
});

const toyDeclaration: Tier<tf.LayersModel> = {
  name: 'toy',
  help: 'toy: a test tier',
  defaults: { epochs: 2 },
  methods: [
    { name: 'zero-shot', label: 'toy zero-shot', kind: 'zero-shot' },
    spec('linear-probe'),
    spec('adamw'),
    spec('lp-ft', 'linear-probe'),
    wiseFtSweep({ name: 'wise-ft', label: 'toy WiSE-FT', from: 'zero-shot', to: 'adamw' }),
  ],
  baseline: ['zero-shot', 'linear-probe', 'adamw'],
  report: {
    idLabel: 'toy',
    describe: (r) => `Toy data: ${r.data.idTrain} training rows.`,
    metricColumns: [{ key: 'params', label: 'Params', format: (v) => String(v) }],
    extra: (r) => ({ cells: r.methods.map((m) => ({ method: m.method, id: m.id })) }),
    sections: () => ['## Toy section', ''],
    files: (r) => ({ 'toy.txt': `${r.methods.length} rows\n` }),
  },
  async load(o) {
    const test = toyData(90, o.seed + 1);
    const pretrained = toyModel(7);
    return {
      train: toyData(96, o.seed),
      val: toyData(30, o.seed + 2),
      eval: [
        { key: 'id', kind: 'id', data: test },
        { key: 'noisy', kind: 'domain', data: toyData(60, o.seed + 3, 0.8) },
        ...corruptedSets(test, o.families, o.severities, o.seed, shape),
      ],
      zeroShot: { model: pretrained, hyperparameters: { weights: 'toy' } },
      ...layersModelOps(() => toyModel(0), { shape }),
      async fineTune(method, init, seed) {
        if (method !== 'adamw' && method !== 'linear-probe' && method !== 'lp-ft') throw new Error(method);
        const model = toyModel(0);
        model.setWeights((init ?? pretrained).getWeights());
        const budget = { epochs: o.epochs, batchSize: o.batchSize, quiet: true, inputShape: shape };
        const tr = fineTune(method, model, pretrained, toyData(96, o.seed), budget, seed, o.hyperparameters);
        return { model, seconds: tr.seconds, hyperparameters: tr.hyperparameters };
      },
      metrics: async (model) => ({ params: model ? model.countParams() : -1 }),
      data: { idTrain: 96 },
      dispose: () => pretrained.dispose(),
    };
  },
};
const toy = defineTier(toyDeclaration);

const options = (methods: string[]): RunOptions => ({
  ...DEFAULTS,
  ...toy.defaults,
  methods,
  batchSize: 16,
  families: ['contrast'],
  severities: [2],
  wiseAlphas: [0.5],
  quiet: true,
  backend: 'wasm',
});

describe('scores on host memory', () => {
  it('reads the class count from the scores (3 classes here), ties to the lower class', async () => {
    const scores = Float32Array.from([0, 1, 0, 2, 0, 0, 0, 0, 5, 1, 1, 0]);
    expect(argmaxAccuracy(scores, Int32Array.from([1, 0, 2, 0]))).toBe(1);
    expect(argmaxAccuracy(scores, Int32Array.from([1, 0, 2, 1]))).toBe(0.75);
    // One-hot-like confident correct probabilities: ECE 0 whatever K is.
    const probs = Float32Array.from([1, 0, 0, 0, 1, 0]);
    expect(await ece(probs, Int32Array.from([0, 1]), 'probabilities')).toBeCloseTo(0, 6);
  });
});

describe('tier options', () => {
  it('parses repeatable key=value pairs (values may hold "=") and rejects a pair without a key', () => {
    expect(parseTierOptions(['attack=pgd', 'eps=8/255', 'expr=a=b'])).toEqual({
      attack: 'pgd',
      eps: '8/255',
      expr: 'a=b',
    });
    expect(() => parseTierOptions(['=x'])).toThrow(/expected key=value/);
    expect(() => parseTierOptions(['flag'])).toThrow(/expected key=value/);
  });
});

describe('method resolution', () => {
  it('adds the runs a method needs and the zero-shot model, in the tier order', () => {
    const { run, report } = resolveMethods(toyDeclaration.methods, ['wise-ft', 'lp-ft']);
    expect(run.map((s) => s.name)).toEqual(['zero-shot', 'linear-probe', 'adamw', 'lp-ft', 'wise-ft']);
    expect([...report]).toEqual(['wise-ft', 'lp-ft']);
    expect(resolveMethods(toyDeclaration.methods, ['adamw']).run.map((s) => s.name)).toEqual([
      'zero-shot',
      'adamw',
    ]);
  });

  it('rejects a method the tier does not list', () => {
    expect(() => resolveMethods(toyDeclaration.methods, ['tpgm'])).toThrow(/unknown method "tpgm"/);
  });

  it('defineTier rejects a dependency listed after its user, a repeated name and an unlisted baseline', () => {
    const [zs, lp, adamw, lpft] = toyDeclaration.methods as MethodSpec<tf.LayersModel>[];
    if (!zs || !lp || !adamw || !lpft) throw new Error('toy methods');
    expect(() => defineTier({ ...toyDeclaration, methods: [zs, lpft, lp, adamw] })).toThrow(
      /"lp-ft" needs "linear-probe"/,
    );
    expect(() => defineTier({ ...toyDeclaration, methods: [zs, lp, lp, adamw] })).toThrow(/listed twice/);
    expect(() => defineTier({ ...toyDeclaration, baseline: ['spd'] })).toThrow(/baseline method "spd"/);
  });
});

describe('the runner on a toy tier', () => {
  beforeAll(async () => {
    await selectBackend('wasm', true);
  });

  it('runs a 3-class tier end to end with its own metrics, report fields and files; frees every tensor', async () => {
    const before = tf.memory().numTensors;
    const r = await toy.run(options(['lp-ft', 'wise-ft']));
    expect(tf.memory().numTensors).toBe(before);
    expect(r.tier).toBe('toy');
    // Requested methods plus zero-shot; the runs they needed (linear probe, AdamW) stay out of the table.
    expect(r.methods.map((m) => m.method)).toEqual(['zero-shot', 'lp-ft', 'wise-ft']);
    expect(r.shifts).toEqual(['noisy', 'corruptions']);
    const byName = Object.fromEntries(r.methods.map((m) => [m.method, m]));
    // The pre-trained toy model is random, the fine-tuned ones learn the projection.
    expect(byName['lp-ft']?.id).toBeGreaterThan((byName['zero-shot']?.id ?? 1) + 0.1);
    for (const m of r.methods) expect(m.metrics?.params).toBe(16 * 64 + 16 + 16 * 3 + 3);
    // Hyper-parameters come from the optimizer's own config.
    expect(byName['lp-ft']?.hyperparameters).toMatchObject({ optimizer: 'adamw', learningRate: 1e-3 });
    expect(byName['wise-ft']?.hyperparameters).toMatchObject({ from: 'zero-shot', to: 'adamw', alpha: 0.5 });
    // The WiSE-FT curve runs from its `from` row (α=0) through the sweep to its `to` run (α=1).
    expect(r.wiseCurve.map((p) => p.alpha)).toEqual([0, 0.5, 1]);
    expect(r.wiseCurve[0]?.id).toBe(byName['zero-shot']?.id);
    expect(r.cells).toEqual(r.methods.map((m) => ({ method: m.method, id: m.id })));
    expect(textTable(r, toy.report).split('\n')[0]).toContain('Params');
    expect(markdown(r, toy.report)).toContain('## Toy section');
    const dir = mkdtempSync(join(tmpdir(), 'bench-toy-'));
    writeReport(r, dir, toy.report);
    expect(readFileSync(join(dir, 'toy.txt'), 'utf8')).toBe('3 rows\n');
    expect(JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')).cells).toHaveLength(3);
  });

  it('frees every tensor when a run fails part-way', async () => {
    const failing = defineTier({
      ...toyDeclaration,
      methods: [
        ...toyDeclaration.methods.slice(0, 3),
        {
          name: 'broken',
          label: 'broken',
          kind: 'derived',
          needs: ['adamw'],
          run: async () => {
            throw new Error('broken on purpose');
          },
        },
      ],
    });
    const before = tf.memory().numTensors;
    await expect(failing.run(options(['broken']))).rejects.toThrow('broken on purpose');
    expect(tf.memory().numTensors).toBe(before);
  });
});
