import './setup-backend';
import type { StateTree } from '@robust-ft/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { sgdTransformation } from '../src/sgd';
import { tpgmDiagnostics, tpgmTransformation } from '../src/tpgm';

/*
 * TPGM is declared (`TPGM_METHOD`): its init, slot checks and diagnostics come from the declaration,
 * its γ learning from the declared joint hook, which leaves the step to the inner between projections.
 */

const ctx = (anchors: tf.NamedTensorMap) => ({
  step: 1,
  learningRate: 0.1,
  anchor: (n: string) => anchors[n]!,
});
type Maps = Record<string, Record<string, tf.Tensor | number>> & { t: number };
const scalarOf = async (t: unknown) => (await (t as tf.Tensor).data())[0];

describe("TPGM's declaration", () => {
  it('init: the declared slots per projected tensor (none for excluded ones), counter 1', async () => {
    const t = tpgmTransformation(sgdTransformation(), { exclude: 'head/*' });
    const s = t.init({ w: tf.ones([2, 3]), 'head/b': tf.ones([3]) }) as unknown as Maps;
    for (const k of ['constraint', 'gammaM', 'gammaV']) {
      expect(Object.keys(s[k]!)).toEqual(['w']);
      expect((s[k]!.w as tf.Tensor).shape).toEqual([]);
      expect(await scalarOf(s[k]!.w)).toBe(0);
    }
    expect(s.gammaCount).toEqual({ w: 0 });
    expect(s.started).toEqual({ w: 0 });
    expect(s.t).toBe(1);
    expect(Object.keys(s.inner as unknown as object)).not.toHaveLength(0);
  });

  it('a restored slot of the wrong shape class is STATE_MISMATCH naming it', () => {
    const t = tpgmTransformation(sgdTransformation(), { validationLoss: () => tf.scalar(0) });
    const params = { w: tf.ones([2]) };
    const s = t.init(params) as unknown as Maps;
    const bad = { ...s, constraint: { w: tf.zeros([2]) } } as unknown as StateTree;
    const run = () => t.update({ w: tf.ones([2]) }, bad as never, params, ctx({ w: tf.zeros([2]) }));
    expect(run).toThrowError(expect.objectContaining({ code: 'STATE_MISMATCH' }));
    expect(run).toThrowError(/constraint of "w"/);
  });

  it('between projections (projFreq 2) the inner delta stands, no loss is needed, slots are kept', async () => {
    const t = tpgmTransformation(sgdTransformation(), { projFreq: 2 });
    const params = { w: tf.tensor1d([1, 2]) };
    const anchors = { w: tf.zeros([2]) };
    const s0 = t.init(params) as unknown as Maps;
    const r = t.update({ w: tf.tensor1d([0.5, -1]) }, s0 as never, params, ctx(anchors));
    expect(r.assign ?? {}).toEqual({});
    // sgd's delta: −lr·g.
    expect(Array.from(await r.updates.w!.data())).toEqual([-0.05, 0.1].map(Math.fround));
    const s1 = r.state as unknown as Maps;
    expect(s1.constraint!.w).toBe(s0.constraint!.w);
    expect(s1.started).toEqual({ w: 0 });
    expect(s1.t).toBe(2);
    // The next step projects, and needs the loss.
    expect(() => t.update({ w: tf.tensor1d([0.5, -1]) }, s1 as never, params, ctx(anchors))).toThrowError(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });

  it('a projection runs the joint hook (γ from min(n)/2, maxIters Adam steps) then the per-tensor step', async () => {
    const t = tpgmTransformation(sgdTransformation(), {
      normMode: 'l2',
      maxIters: 3,
      validationLoss: (p) => tf.sum(tf.square(p.w!)),
    });
    const params = { w: tf.tensor1d([3, 4]) };
    const r = t.update({ w: tf.tensor1d([0, 0]) }, t.init(params), params, ctx({ w: tf.zeros([2]) }));
    const s1 = r.state as unknown as Maps;
    expect(s1.started).toEqual({ w: 1 });
    expect(s1.gammaCount).toEqual({ w: 3 });
    // γ0 = ‖θ − θ₀‖/2 = 2.5; the loss pulls θ in, so γ shrinks, and θ' = θ₀ + γ/‖δ‖·δ.
    const gamma = (await scalarOf(s1.constraint!.w))!;
    expect(gamma).toBeLessThan(2.5);
    expect(gamma).toBeGreaterThan(2.4);
    expect(Array.from(await r.assign!.w!.data()).map((x) => x / gamma)).toEqual([
      expect.closeTo(0.6, 5),
      expect.closeTo(0.8, 5),
    ]);
    expect(await tpgmDiagnostics(r.state as StateTree)).toEqual({ w: { constraint: gamma } });
  });
});
