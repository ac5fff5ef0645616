import { RobustOptimizer } from '@robust-ft/core';
import { expectNoTensorLeaks } from '@robust-ft/core/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { setFusedKernelsEnabled } from '../src/fused';
import {
  adamw,
  adamwTransformation,
  axisMap,
  digrap,
  ftp,
  ftpState,
  l2sp,
  setTpgmValidationLoss,
  sgd,
  spd,
  tpgm,
} from '../src/index';
import { rowL1 } from '../src/layout';
import { disposeAll, FACTORIES, makeVars, quadraticValidation, run, SHAPES, values } from './helpers';
import './setup-backend';

const HEAD = '*/head/**';

/*
 * Bit-identity across two optimizers needs both to run the same arithmetic. The fixed-strength DiGraP
 * has no fused kernel (composed ops, rounding after every op), while adamw() runs the fused kernel
 * (float32 stores, double intermediates: within a few ulps of the composed ops, not bit-equal). So
 * its Adam reference runs with fused kernels off; every other pair is fused on both sides.
 */
function runReference(
  label: string,
  opt: RobustOptimizer,
  vars: Record<string, tf.Variable>,
  steps: number,
  seed: number,
) {
  const composedOnly = label === 'digrapFixed';
  if (composedOnly) setFusedKernelsEnabled(false);
  try {
    run(opt, vars, steps, { seed });
  } finally {
    setFusedKernelsEnabled(true);
  }
}
const isHead = (name: string) => name.includes('/head/');

describe('FTP keeps every row inside radius γ of the anchor', () => {
  for (const inner of ['adam', 'sgd'] as const) {
    it(`over ${inner}, on random inputs, every step`, async () => {
      for (const seed of [1, 2, 3]) {
        const { vars, anchors } = makeVars(seed, seed === 3 ? 0.1 : 0);
        const opt = ftp({
          inner,
          learningRate: 5e-2,
          ...(inner === 'sgd' ? { momentum: 0.9 } : {}),
          k: 0.5,
          anchor: anchors,
        });
        for (let s = 1; s <= 15; s++) {
          run(opt, vars, 1, { from: s, seed });
          const gammas = (await ftpState(opt)).tensors;
          for (const [name, v] of Object.entries(vars)) {
            const gamma = gammas[name]!.gamma;
            // Rows as the optimizer reads them: the default tfjs layout rule (output units).
            const axes = axisMap('tfjs', name, v.shape);
            const rows = tf.tidy(() => Array.from(rowL1(tf.sub(v, anchors[name]!), axes).dataSync()));
            // float32: θ = θ₀ + ratio·c is rounded to the ulp of |θ| per element, and θ − θ₀ again, so the
            // measured row norm may exceed γ by about (row length)·2·ulp(max|θ|) plus a relative 1e-6.
            const rowLen = v.size / Math.max(rows.length, 1);
            const maxAbs = tf.tidy(() => tf.max(tf.abs(v)).dataSync()[0]!);
            const slack = rowLen * 2 * maxAbs * 2 ** -23 + gamma * 1e-6;
            for (const r of rows) expect(r).toBeLessThanOrEqual(gamma + slack);
          }
        }
        disposeAll(vars, anchors, opt);
      }
    });
  }
});

describe('λ = 0 makes SPD and DiGraP exactly Adam (bit-identical)', () => {
  const cases = {
    spd: (a: tf.NamedTensorMap) => spd({ learningRate: 5e-2, weightDecay: 0, anchor: a }),
    digrapTrainable: (a: tf.NamedTensorMap) => digrap({ learningRate: 5e-2, weightDecay: 0, anchor: a }),
    digrapFixed: (a: tf.NamedTensorMap) =>
      digrap({ learningRate: 5e-2, weightDecay: 0, trainableStrength: false, strength: 1, anchor: a }),
  };
  for (const [label, make] of Object.entries(cases)) {
    it(label, () => {
      // Start off-anchor so conflicts (⟨g, θ−θ₀⟩ < 0) occur on many tensor-steps.
      const a = makeVars(11, 0.2);
      const b = makeVars(11, 0.2);
      const robust = make(a.anchors);
      const adam = adamw({ learningRate: 5e-2, weightDecay: 0 });
      run(robust, a.vars, 20, { seed: 5 });
      runReference(label, adam, b.vars, 20, 5);
      expect(Object.values(values(a.vars))).toEqual(Object.values(values(b.vars)));
      disposeAll(a.vars, a.anchors, robust);
      disposeAll(b.vars, b.anchors, adam);
    });
  }
});

describe('exclude leaves a tensor on plain inner-optimizer updates (bit-identical)', () => {
  const plain: Record<string, () => RobustOptimizer> = {
    l2sp: () => adamw({ learningRate: 1e-2, weightDecay: 0 }),
    ftpAdam: () => adamw({ learningRate: 1e-2, weightDecay: 0.1 }),
    ftpSgd: () => sgd({ learningRate: 1e-2, momentum: 0.9, nesterov: true }),
    spd: () => adamw({ learningRate: 5e-2, weightDecay: 0 }),
    digrap: () => adamw({ learningRate: 1e-2, weightDecay: 0 }),
    digrapFixed: () => adamw({ learningRate: 1e-2, weightDecay: 0 }),
    spdSgd: () => sgd({ learningRate: 5e-2, momentum: 0.9 }),
    digrapSgd: () => sgd({ learningRate: 1e-2, momentum: 0.9, nesterov: true }),
    tpgm: () => sgd({ learningRate: 1e-2, momentum: 0.9, nesterov: true, weightDecay: 5e-4 }),
  };
  for (const [label, makePlain] of Object.entries(plain)) {
    it(label, () => {
      const a = makeVars(21, 0.1);
      const b = makeVars(21, 0.1);
      const robust = FACTORIES[label]!(a.anchors, HEAD);
      const reference = makePlain();
      run(robust, a.vars, 12, { seed: 9 });
      runReference(label, reference, b.vars, 12, 9);
      const va = values(a.vars);
      const vb = values(b.vars);
      const names = Object.keys(va);
      const heads = names.filter(isHead);
      expect(heads.length).toBe(1);
      for (const [i, n] of names.entries()) {
        const other = vb[Object.keys(vb)[i]!]!;
        if (isHead(n)) expect(va[n]).toEqual(other);
        else expect(va[n]).not.toEqual(other); // the robust method did act on the others
      }
      disposeAll(a.vars, a.anchors, robust);
      disposeAll(b.vars, b.anchors, reference);
    });
  }
});

describe('state round-trips through getWeights/setWeights and resumes bit-identically', () => {
  for (const [label, make] of Object.entries(FACTORIES)) {
    it(label, async () => {
      const a = makeVars(31, 0.05);
      const opt = make(a.anchors, HEAD);
      run(opt, a.vars, 5, { seed: 3 });
      const savedVars = values(a.vars);
      const weights = await opt.getWeights();
      const saved = weights.map((w) => ({ name: w.name, tensor: tf.clone(w.tensor) }));
      run(opt, a.vars, 6, { from: 6, seed: 3 });
      const want = values(a.vars);

      // Rebuild from the serialised config (no anchors passed), restore state and parameters, continue.
      const restored = RobustOptimizer.fromConfig(RobustOptimizer, opt.getConfig()) as RobustOptimizer;
      if (label.startsWith('tpgm')) setTpgmValidationLoss(restored, quadraticValidation);
      await restored.setWeights(saved);
      for (const [n, v] of Object.entries(a.vars)) v.assign(tf.tensor(savedVars[n]!, v.shape));
      run(restored, a.vars, 6, { from: 6, seed: 3 });
      expect(values(a.vars)).toEqual(want);
      tf.dispose(saved.map((s) => s.tensor));
      disposeAll(a.vars, a.anchors, opt, restored);
    });
  }
});

// The values of this same 100-step run are checked in long-run-values.test.ts.
describe('no tensor leaks over 100 steps', () => {
  for (const [label, make] of Object.entries(FACTORIES)) {
    it(label, async () => {
      const a = makeVars(41, 0.05);
      const opt = make(a.anchors, HEAD);
      let s = 0;
      await expectNoTensorLeaks(() => run(opt, a.vars, 1, { from: ++s }), { warmup: 2, repeats: 100, label });
      disposeAll(a.vars, a.anchors, opt);
    });
  }
});

describe('reference bugs, fixed', () => {
  it('state is keyed by name: a tensor missing its gradient on some steps does not shift another tensor', () => {
    for (const label of ['ftpAdam', 'ftpSgd', 'spd', 'digrap', 'digrapFixed', 'l2sp', 'tpgm']) {
      const a = makeVars(51, 0.05);
      const b = makeVars(51, 0.05);
      const names = Object.keys(a.vars);
      const optA = FACTORIES[label]!(a.anchors);
      const optB = FACTORIES[label]!(b.anchors);
      // Run A: the first tensor has no gradient on steps 2, 3 and 6. Run B: that tensor never has one.
      const first = names[0]!;
      const firstBefore = Array.from(a.vars[first]!.dataSync());
      run(optA, a.vars, 8, { skip: (n, s) => n === first && [2, 3, 6].includes(s) });
      const bFirst = Object.keys(b.vars)[0]!;
      run(optB, b.vars, 8, {
        skip: (n, s) => n === bFirst && s !== 1 && s !== 4 && s !== 5 && s !== 7 && s !== 8,
      });
      // The other tensors saw identical gradients in both runs and must be bit-identical.
      const va = Object.values(values(a.vars));
      const vb = Object.values(values(b.vars));
      for (let i = 1; i < names.length; i++) expect(va[i], `${label} ${names[i]}`).toEqual(vb[i]);
      expect(va[0]).toEqual(vb[0]);
      expect(va[0]).not.toEqual(firstBefore);
      disposeAll(a.vars, a.anchors, optA);
      disposeAll(b.vars, b.anchors, optB);
    }
  });

  it("SPD's 0/0 (update lands exactly on the anchor while decaying) gives r = 0, not NaN", () => {
    const v = tf.variable(tf.tensor1d([1, 1]), true, 'spd00/w');
    // With β₁ = β₂ = ε = 0 Adam's step is exactly sign(g) = 1, so q = 1 − 1·1 = 0 = anchor, while
    // −⟨g, θ − 0⟩ = −2 < 0 makes the decay fire: the reference computes r = 0/0 = NaN here.
    const opt = spd({ learningRate: 1, weightDecay: 1, beta1: 0, beta2: 0, epsilon: 0, anchor: 'zero' });
    const g = tf.tensor1d([1, 1]);
    opt.applyGradients({ 'spd00/w': g });
    expect(Array.from(v.dataSync())).toEqual([0, 0]);
    const spdRatio = (opt.state as { spdRatio: Record<string, tf.Tensor> }).spdRatio['spd00/w']!;
    expect(spdRatio.dataSync()[0]).toBe(0);
    tf.dispose([v, g]);
    opt.dispose();
  });

  it('DiGraP honours exclude (the reference stored the list and ignored it)', () => {
    const a = makeVars(61, 0.1);
    const b = makeVars(61, 0.1);
    const robust = digrap({ learningRate: 1e-2, weightDecay: 1, anchor: a.anchors, exclude: HEAD });
    const plain = adamw({ learningRate: 1e-2, weightDecay: 0 });
    run(robust, a.vars, 6);
    run(plain, b.vars, 6);
    const head = (m: Record<string, number[]>) => Object.entries(m).find(([n]) => isHead(n))![1];
    expect(head(values(a.vars))).toEqual(head(values(b.vars)));
    disposeAll(a.vars, a.anchors, robust);
    disposeAll(b.vars, b.anchors, plain);
  });

  it('DiGraP fixed strength runs (the reference crashed at the end of step) for every projTerm', () => {
    const results: Record<string, number[][]> = {};
    for (const projTerm of ['both', 'grad', 'reg'] as const) {
      const a = makeVars(71, 0.2);
      const opt = digrap({
        learningRate: 1e-2,
        weightDecay: 1,
        trainableStrength: false,
        strength: 0.7,
        projTerm,
        anchor: a.anchors,
      });
      expect(() => run(opt, a.vars, 10)).not.toThrow();
      results[projTerm] = Object.values(values(a.vars));
      for (const arr of results[projTerm]!) for (const x of arr) expect(Number.isFinite(x)).toBe(true);
      disposeAll(a.vars, a.anchors, opt);
    }
    expect(results.grad).not.toEqual(results.both);
    expect(results.reg).not.toEqual(results.both);
    expect(results.grad).not.toEqual(results.reg);
  });

  it('no debug printing from any optimizer step', () => {
    const calls: string[] = [];
    const spies = (['log', 'info', 'debug', 'warn', 'error'] as const).map((k) => {
      const original = console[k];
      console[k] = (...args: unknown[]) => {
        calls.push(`${k}: ${args.map(String).join(' ')}`);
      };
      return () => {
        console[k] = original;
      };
    });
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string | Uint8Array) => {
      calls.push(`stdout: ${String(chunk)}`);
      return true;
    }) as typeof process.stdout.write;
    try {
      for (const make of Object.values(FACTORIES)) {
        const a = makeVars(81, 0.1);
        const opt = make(a.anchors, HEAD);
        run(opt, a.vars, 4);
        disposeAll(a.vars, a.anchors, opt);
      }
    } finally {
      process.stdout.write = write;
      for (const restore of spies) restore();
    }
    expect(calls).toEqual([]);
  });
});

describe('FTP over our AdamW transformation equals the default FTP (AdamP)', () => {
  function both(fusedDefault: boolean) {
    const a = makeVars(91, 0.05);
    const b = makeVars(91, 0.05);
    const viaDefault = ftp({ learningRate: 1e-2, weightDecay: 0.05, anchor: a.anchors });
    const viaAdamW = ftp({
      inner: adamwTransformation({ weightDecay: 0.05 }),
      learningRate: 1e-2,
      anchor: b.anchors,
    });
    setFusedKernelsEnabled(fusedDefault);
    try {
      run(viaDefault, a.vars, 8);
    } finally {
      setFusedKernelsEnabled(true);
    }
    // A custom inner transformation always runs the composed ops.
    run(viaAdamW, b.vars, 8);
    const out = { fused: values(a.vars), composed: values(b.vars) };
    disposeAll(a.vars, a.anchors, viaDefault);
    disposeAll(b.vars, b.anchors, viaAdamW);
    return out;
  }

  it('bit-identical on the composed path', () => {
    const { fused, composed } = both(false);
    expect(Object.values(fused)).toEqual(Object.values(composed));
  });

  it('the default fused kernel stays within float32 rounding of it over 8 steps', () => {
    // The fused step rounds to float32 once per stored value (doubles in between), the composed ops
    // after every op: per step a few ulps of |θ| (≤ 1, ulp ≤ 1.2e-7) and of the step (lr·|m/√v| ≤ 1e-2).
    // Over 8 steps that is ≲ 1e-6; FTP's γ step has a fixed size (1e-2·sign-like), so a tiny change
    // of the hyper-gradient does not grow it. A wrong formula would move θ by ≥ 1e-4 (one Adam step).
    const { fused, composed } = both(true);
    let worst = 0;
    const fusedValues = Object.values(fused);
    for (const [j, want] of Object.values(composed).entries()) {
      const got = fusedValues[j]!;
      expect(got.length).toBe(want.length);
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
    }
    console.log(`ftp fused vs composed: max |Δθ| ${worst.toExponential(2)} over 8 steps`);
    expect(worst).toBeLessThanOrEqual(1e-6);
    expect(Object.values(fused)).not.toEqual(Object.values(composed)); // both paths really ran
  });
});

void SHAPES;
void l2sp;
void tpgm;
