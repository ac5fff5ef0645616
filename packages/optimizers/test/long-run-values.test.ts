import { describe, expect, it } from 'vitest';
import { hasFusedKernel } from '../src/fused';
import { digrapDiagnostics } from '../src/index';
import { disposeAll, FACTORIES, makeVars, run, values, withoutFusedKernels } from './helpers';
import './setup-backend';

const HEAD = '*/head/**';

/** The factories that have a fused kernel: on cpu their steps run the fused JS drivers. */
const FUSED = ['adamw', 'l2sp', 'ftpAdam', 'spd', 'digrap'];

/**
 * The values of the 100-step run the leak test makes (same variables, same gradients), which is long
 * enough for DiGraP's strengths to hit their lower clamp at 0 (issue #20). Each fused trajectory must
 * match the composed one, the oracle.
 */
describe('100 steps: values, not only the absence of leaks', () => {
  it('the fused path runs on this backend for every fused method', () => {
    for (const method of ['adamw', 'l2sp', 'ftp', 'spd', 'digrap'] as const)
      expect(hasFusedKernel(method)).toBe(true);
  });

  for (const label of Object.keys(FACTORIES)) {
    it(`${label}: finite, moved, and the fused trajectory equals the composed one`, async () => {
      const fused = makeVars(41, 0.05);
      const optFused = FACTORIES[label]!(fused.anchors, HEAD);
      const composed = makeVars(41, 0.05);
      const optComposed = FACTORIES[label]!(composed.anchors, HEAD);
      // Per tensor and strength, the sequence of ω over the run.
      const strengths = new Map<string, number[]>();
      for (let s = 1; s <= 100; s++) {
        run(optFused, fused.vars, 1, { from: s });
        withoutFusedKernels(() => run(optComposed, composed.vars, 1, { from: s }));
        if (label === 'digrap') {
          for (const [name, d] of Object.entries(await digrapDiagnostics(optFused))) {
            for (const [key, w] of [
              ['loss', d.lossStrength],
              ['reg', d.regStrength],
            ] as const) {
              const seq = strengths.get(`${name}/${key}`) ?? [];
              seq.push(w);
              strengths.set(`${name}/${key}`, seq);
            }
          }
        }
      }
      // The two runs name their variables differently (unique prefixes); the order is the same.
      const got = Object.entries(values(fused.vars));
      const want = Object.values(values(composed.vars));
      const start = Object.values(fused.anchors).map((a) => Array.from(a.dataSync()));
      let moved = 0;
      got.forEach(([name, v], k) => {
        v.forEach((x, i) => {
          const w = want[k]![i]!;
          expect(Number.isFinite(x), `${name}[${i}]`).toBe(true);
          // float32 stores with double intermediates vs op-by-op rounding: a few ulps per step.
          expect(Math.abs(x - w), `${name}[${i}]`).toBeLessThan(1e-4 * (1 + Math.abs(w)));
          moved = Math.max(moved, Math.abs(x - start[k]![i]!));
        });
      });
      expect(moved).toBeGreaterThan(0.05);
      if (label === 'digrap') {
        const all = [...strengths.values()].flat();
        expect(all.length).toBeGreaterThan(0);
        expect(all.every((w) => w >= 0 && w <= 1)).toBe(true);
        // This run drives some ω from above 0 onto the lower clamp, exactly (the upper clamp is not
        // reached in 100 steps here: digrap-clamps.test.ts pins it).
        const clampedAtZero = [...strengths.values()].some((seq) =>
          seq.some((w, k) => w === 0 && k > 0 && seq[k - 1]! > 0),
        );
        expect(clampedAtZero).toBe(true);
      }
      disposeAll(fused.vars, fused.anchors, optFused);
      disposeAll(composed.vars, composed.anchors, optComposed);
    });
  }

  it('covers each fused factory', () => {
    for (const label of FUSED) expect(Object.keys(FACTORIES)).toContain(label);
  });
});

describe('a parameter that first gets a gradient after step 1', () => {
  // FTP keeps no C_prev for it yet (the fused driver must not read one), DiGraP starts its strengths.
  for (const label of ['ftpAdam', 'digrap', 'spd', 'l2sp']) {
    it(`${label}: the fused steps equal the composed ones`, () => {
      const fused = makeVars(43, 0.05);
      const composed = makeVars(43, 0.05);
      const late = (name: string, s: number) => name.endsWith('/body/w2d') && s < 3;
      const optFused = FACTORIES[label]!(fused.anchors);
      const optComposed = FACTORIES[label]!(composed.anchors);
      run(optFused, fused.vars, 6, { skip: late });
      withoutFusedKernels(() => run(optComposed, composed.vars, 6, { skip: late }));
      const want = Object.values(values(composed.vars));
      Object.values(values(fused.vars)).forEach((v, k) => {
        v.forEach((x, i) => {
          expect(Math.abs(x - want[k]![i]!)).toBeLessThan(1e-5 * (1 + Math.abs(want[k]![i]!)));
        });
      });
      disposeAll(fused.vars, fused.anchors, optFused);
      disposeAll(composed.vars, composed.anchors, optComposed);
    });
  }
});
