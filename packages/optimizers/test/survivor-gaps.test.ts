import type { RobustOptimizer } from '@robust-ft/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { ADAMW_METHOD } from '../src/adamw';
import {
  FUSED_KERNELS,
  fusedFtpStep,
  fusedSpdStep,
  registerFusedOptimizerKernels,
  setFusedKernelsEnabled,
  setWasmSimdEnabled,
} from '../src/fused';
import {
  adamw,
  adamwTransformation,
  digrap,
  ftp,
  l2sp,
  sgd,
  sgdTransformation,
  spd,
  tpgm,
  tpgmTransformation,
} from '../src/index';
import { gradientTransformation, readDiagnostics } from '../src/method';
import { spdTensorStep } from '../src/spd';
import './setup-backend';
import { caught } from './typed-error';

/*
 * Behaviour that the package-wide mutation run of 2026-12-04 (15:27 UTC) found unpinned: each case
 * below failed with a surviving mutant applied by hand (named in the README's mutation section).
 */

/** `steps` steps of Σ (w − target)² from `init`, through `make()`'s optimizer; returns w's values. */
function descend(make: () => RobustOptimizer, init: tf.Tensor, steps: number, name: string): number[] {
  const w = tf.variable(init, true, name);
  const opt = make();
  for (let s = 0; s < steps; s++)
    opt.minimize(
      () => tf.sum(tf.square(tf.sub(w, tf.reshape(tf.linspace(-1, 1, w.size), w.shape)))) as tf.Scalar,
    );
  const out = Array.from(w.dataSync());
  opt.dispose();
  w.dispose();
  return out;
}

/** A predicate `exclude` makes `getConfig` UNSUPPORTED (options.factory); a glob is recorded. */
function expectPredicateUnserialisable(
  factory: (o: { exclude: string | ((n: string) => boolean) }) => RobustOptimizer,
): void {
  const before = tf.memory().numTensors;
  const withPredicate = factory({ exclude: (n: string) => n.startsWith('head') });
  expect(caught(() => withPredicate.getConfig()).argument).toBe('options.factory');
  withPredicate.dispose();
  const withGlob = factory({ exclude: 'head*' });
  expect(JSON.parse(withGlob.getConfig().options as string)).toMatchObject({ exclude: 'head*' });
  withGlob.dispose();
  expect(tf.memory().numTensors).toBe(before);
}

describe('ftp: when getConfig may record the factory', () => {
  it('a custom inner transformation is not serialisable, even with a string layout and no selector', () => {
    const before = tf.memory().numTensors;
    const opt = ftp({ inner: adamwTransformation(), layout: 'torch' });
    const e = caught(() => opt.getConfig());
    expect(e.code).toBe('UNSUPPORTED');
    expect(e.argument).toBe('options.factory');
    opt.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a predicate selector is not serialisable; the same optimizer with a glob is', () => {
    expectPredicateUnserialisable(ftp);
  });
});

describe('ftp: rows on non-adjacent axes (a layout function) leave the fused kernel for the composed ops', () => {
  it('the fused-enabled step equals the composed one and keeps each row of θ − θ₀ within its L1 ball', () => {
    const before = tf.memory().numTensors;
    // Rows are (axis 0, axis 2) pairs of a [2, 3, 2] tensor: 4 rows of 3 elements, not one axis block.
    const layout = () => ({ rowAxes: [0, 2], lastAxis: 2 });
    const make = () => ftp({ learningRate: 0.05, layout, anchor: 'zero' });
    const init = tf.tensor3d([1, -2, 0.5, 3, -1, 2, 0.25, 1, -3, 2, 1, -0.5], [2, 3, 2]);
    const runs = [true, false].map((fused) => {
      setFusedKernelsEnabled(fused);
      try {
        return descend(make, init, 1, `ftp-strided-rows-${fused}`);
      } finally {
        setFusedKernelsEnabled(true);
      }
    });
    expect(runs[0]).toEqual(runs[1]);
    // The first step's radius is γ₀ = 1e-8: θ lands on its anchor, 0, within each row's ball.
    for (const x of runs[0]!) expect(Math.abs(x)).toBeLessThan(1e-6);
    init.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('digrap: the fixed-strength mode with λ = 0 reads no axes', () => {
  it('a rank-5 parameter (no default layout) steps as plain Adam does', () => {
    const before = tf.memory().numTensors;
    const init = tf.randomNormal([2, 1, 2, 1, 3], 0, 1, 'float32', 11);
    const got = descend(
      () => digrap({ learningRate: 0.01, trainableStrength: false, weightDecay: 0 }),
      init,
      2,
      'digrap-r5-fixed-l0',
    );
    const want = descend(() => adamw({ learningRate: 0.01, weightDecay: 0 }), init, 2, 'adamw-r5');
    for (const [j, x] of got.entries()) expect(x, `element ${j}`).toBeCloseTo(want[j]!, 6);
    expect(got).not.toEqual(Array.from(init.dataSync()));
    init.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe("a pass-through method's builders (AdamW's declaration)", () => {
  it('its gradient transformation returns the gradients and the state it was given', () => {
    const before = tf.memory().numTensors;
    const t = gradientTransformation(ADAMW_METHOD, {});
    const init = tf.tensor1d([1, 2]);
    const p = tf.variable(init, true, 'pass-through-p');
    const g = tf.tensor1d([0.5, -0.25]);
    const state = t.init({ w: p });
    const r = t.update({ w: g }, state, { w: p }, { learningRate: 0.1, step: 1, anchor: () => p } as never);
    expect(r.updates.w).toBe(g);
    expect(r.state).toBe(state);
    tf.dispose([g, p, init]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('its diagnostics are empty, counter 1 (no group or marker to find)', async () => {
    expect(await readDiagnostics(ADAMW_METHOD, { adam: {} }, [])).toEqual({ tensors: {}, t: 1 });
  });
});

describe("a backend with the fused AdamW kernel but not the method's", () => {
  /** Kernel names of `opt`'s second step on a fresh [4, 3] variable, and the variable's values after it. */
  async function secondStep(
    opt: RobustOptimizer,
    name: string,
  ): Promise<{ kernels: string[]; values: number[] }> {
    const init = tf.tensor2d([0.5, -1, 2, 0.25, 1, -0.5, 3, -2, 0.75, 1.5, -0.25, 1], [4, 3]);
    const w = tf.variable(init, true, name);
    const loss = () => tf.sum(tf.square(tf.sub(w, 1))) as tf.Scalar;
    opt.minimize(loss);
    const profile = await tf.profile(() => {
      opt.minimize(loss);
    });
    const steps: string[] = Object.values(FUSED_KERNELS);
    const out = {
      kernels: profile.kernelNames.filter((k) => steps.includes(k)),
      values: Array.from(w.dataSync()),
    };
    tf.dispose([w, init]);
    opt.dispose();
    return out;
  }

  it('runs the composed step where the method kernel is needed, the fused AdamW where only plain Adam runs', async () => {
    const before = tf.memory().numTensors;
    const composed = await (async () => {
      setFusedKernelsEnabled(false);
      try {
        return await secondStep(ftp({ learningRate: 0.05, anchor: 'zero' }), 'no-kernel-composed');
      } finally {
        setFusedKernelsEnabled(true);
      }
    })();
    // Building an optimizer registers the kernels: take the method's away after that.
    const projectedOpt = ftp({ learningRate: 0.05, anchor: 'zero' });
    const excludedOpt = ftp({ learningRate: 0.05, exclude: /./ });
    tf.unregisterKernel(FUSED_KERNELS.ftp, 'cpu');
    try {
      const projected = await secondStep(projectedOpt, 'no-kernel-projected');
      expect(projected.kernels).toEqual([]);
      expect(projected.values).toEqual(composed.values);
      // Every name excluded: only plain AdamW runs, and its kernel is there.
      const excluded = await secondStep(excludedOpt, 'no-kernel-excluded');
      expect(excluded.kernels).toEqual([FUSED_KERNELS.adamw]);
    } finally {
      registerFusedOptimizerKernels();
    }
    expect(tf.getKernel(FUSED_KERNELS.ftp, 'cpu')).toBeDefined();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe("nonFinite: 'off' lets a NaN gradient through the fused kernel as through the composed ops", () => {
  it('the NaN entry of θ becomes NaN, the others take their step, the same on both paths', () => {
    const before = tf.memory().numTensors;
    const step = (fused: boolean): number[] => {
      setFusedKernelsEnabled(fused);
      const init = tf.tensor1d([1, 2, 3, 4]);
      const w = tf.variable(init, true, `off-policy-${fused}`);
      const opt = adamw({ learningRate: 0.1, weightDecay: 0, nonFinite: 'off' });
      const g = tf.tensor1d([0.5, Number.NaN, -1, 2]);
      try {
        opt.applyGradients({ [w.name]: g });
        return Array.from(w.dataSync());
      } finally {
        setFusedKernelsEnabled(true);
        tf.dispose([init, w, g]);
        opt.dispose();
      }
    };
    const fused = step(true);
    const composed = step(false);
    expect(Number.isNaN(fused[1])).toBe(true);
    // Adam's first step moves each finite entry by lr against its gradient's sign.
    for (const [j, want] of [
      [0, 0.9],
      [2, 3.1],
      [3, 3.9],
    ] as const) {
      expect(fused[j]).toBeCloseTo(want, 5);
      expect(fused[j]).toBeCloseTo(composed[j]!, 6);
    }
    expect(Number.isNaN(composed[1])).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe("FTP's fused scratch (per-row accumulators of strided rows) is freed after each step", () => {
  it('the cpu backend holds no more data buffers after the steps than before', () => {
    const before = tf.memory().numTensors;
    const buffers = tf.backend().numDataIds();
    // A Dense kernel [in, out] in the tfjs layout: rows are the 3 strided output columns.
    const init = tf.tensor2d([0.5, -1, 2, 0.25, 1, -0.5, 3, -2, 0.75, 1.5, -0.25, 1], [4, 3]);
    const got = descend(() => ftp({ learningRate: 0.05 }), init, 3, 'dense/kernel-scratch');
    expect(got.every(Number.isFinite)).toBe(true);
    init.dispose();
    expect(tf.backend().numDataIds()).toBe(buffers);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe("FTP's fused row norms: a row that did not move has n = 0 + 1e-8", () => {
  it('its stored 1/n is 1/1e-8 (not −1e8: the epsilon is added) on every cpu engine', async () => {
    const before = tf.memory().numTensors;
    // θ at its anchor and a zero gradient: c = 0 in every row (rows: the 3 columns, or one row per line).
    const item = (rowSpan: readonly [number, number]) => ({
      param: tf.ones([4, 3]),
      grad: tf.zeros([4, 3]),
      m: tf.zeros([4, 3]),
      v: tf.zeros([4, 3]),
      anchor: tf.ones([4, 3]),
      count: 1,
      rowSpan,
    });
    const hp = { learningRate: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0, k: 1, t: 1 };
    for (const simd of [true, false]) {
      setWasmSimdEnabled(simd);
      try {
        for (const rowSpan of [
          [1, 2],
          [0, 1],
        ] as const) {
          const it = item(rowSpan);
          const [r] = fusedFtpStep([it], hp);
          expect(Array.from(await r!.rPrev.data()), `simd ${simd}, rows ${rowSpan}`).toEqual(
            new Array(rowSpan[0] === 1 ? 3 : 4).fill(Math.fround(1e8)),
          );
          expect(Array.from(await r!.param.data())).toEqual(new Array(12).fill(1));
          tf.dispose([
            ...Object.values(r!),
            ...Object.values(it).filter((x): x is tf.Tensor => x instanceof tf.Tensor),
          ]);
        }
      } finally {
        setWasmSimdEnabled(true);
      }
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe("SPD's fused ratio where the step does not leave the anchor (‖q − θ₀‖ = 0)", () => {
  it('is 0, as the composed step gives (not 0/0), and θ stays at the anchor', async () => {
    const before = tf.memory().numTensors;
    const t = () => tf.ones([2, 3]);
    const item = {
      param: t(),
      grad: tf.zeros([2, 3]),
      m: tf.zeros([2, 3]),
      v: tf.zeros([2, 3]),
      anchor: t(),
      count: 1,
    };
    const [r] = fusedSpdStep([item], {
      learningRate: 0.1,
      beta1: 0.9,
      beta2: 0.999,
      epsilon: 1e-8,
      lambda: 1,
    });
    expect(await r!.ratio.data()).toEqual(new Float32Array([0]));
    expect(Array.from(await r!.param.data())).toEqual(new Array(6).fill(1));
    // The composed oracle on the same (zero) step.
    const oracle = tf.tidy(() => {
      const o = spdTensorStep({
        param: item.param,
        update: tf.zerosLike(item.param),
        grad: item.grad,
        anchor: item.anchor,
        weightDecay: 1,
      });
      return { param: o.param, condition: o.condition, ratio: o.ratio };
    });
    expect(await oracle.ratio.data()).toEqual(new Float32Array([0]));
    tf.dispose([
      ...Object.values(r!),
      ...Object.values(oracle),
      ...Object.values(item).filter((x): x is tf.Tensor => x instanceof tf.Tensor),
    ]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('l2sp: a predicate selector makes it unserialisable', () => {
  it('getConfig is UNSUPPORTED naming options.factory; with a glob the selector is recorded', () => {
    expectPredicateUnserialisable(l2sp);
  });
});

describe('tpgm with every name excluded', () => {
  it("needs no validation loss: nothing is projected, the steps are the inner optimizer's", () => {
    const before = tf.memory().numTensors;
    const init = tf.tensor1d([1, -2, 0.5]);
    const got = descend(() => tpgm({ learningRate: 0.05, exclude: /./ }), init, 2, 'tpgm-all-excluded');
    const plain = descend(
      () => tpgm({ learningRate: 0.05, exclude: /./, validationLoss: () => tf.scalar(0) }),
      init,
      2,
      'tpgm-all-excluded-2',
    );
    expect(got).toEqual(plain);
    expect(got).not.toEqual([1, -2, 0.5]);
    init.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('options that are not an object', () => {
  it('every factory refuses null or a number as INVALID_ARGUMENT (ftp read null.weightDecay: a TypeError)', () => {
    const factories = { adamw, sgd, l2sp, ftp, spd, digrap, tpgm } as Record<
      string,
      (o: unknown) => RobustOptimizer
    >;
    for (const [name, make] of Object.entries(factories)) {
      for (const bad of [null, 3]) {
        const e = caught(() => make(bad));
        expect(e.code, `${name}(${bad})`).toBe('INVALID_ARGUMENT');
        expect(e.message).toBe(`${name} options must be an options object (received ${bad})`);
      }
    }
  });
});

describe("`inner` must be 'adam', 'sgd' or a transformation object", () => {
  it('a function carrying update/init is refused naming options.inner', () => {
    const fn = Object.assign(() => 0, {
      label: 'fn',
      init: () => ({}),
      update: () => ({ updates: {}, state: {} }),
    });
    for (const make of [ftp, spd, digrap]) {
      const e = caught(() => make({ inner: fn as never }));
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.argument).toBe('options.inner');
    }
  });
});

describe('an unknown inner named after an inner-specific option', () => {
  it('the error names options.inner, not the option (whose hint would blame a custom inner)', () => {
    const e = caught(() => ftp({ momentum: 0.9, inner: 'rmsprop' } as never));
    expect(e.argument).toBe('options.inner');
  });
});

describe('sgdTransformation defaults', () => {
  it("without `nesterov` the momentum is torch's plain heavy ball: the first delta is −lr·g", async () => {
    const before = tf.memory().numTensors;
    const t = sgdTransformation({ momentum: 0.5 });
    const init = tf.tensor1d([0]);
    const p = tf.variable(init, true, 'sgd-default-nesterov');
    const g = tf.tensor1d([1]);
    const state = t.init({ w: p });
    const r = t.update({ w: g }, state, { w: p }, { learningRate: 0.1, step: 1, anchor: () => p } as never);
    // Plain: buf = g, delta = −lr·buf = −0.1 (Nesterov would step along g + 0.5·buf: −0.15).
    expect((await r.updates.w!.data())[0]).toBeCloseTo(-0.1, 6);
    tf.dispose([r.updates.w!, g, p, init]);
    tf.dispose([state, r.state] as never);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe("tpgmTransformation's own option checks", () => {
  it('name normMode and projFreq', () => {
    const inner = sgdTransformation({});
    const mode = caught(() => tpgmTransformation(inner, { normMode: 'l1' as never }));
    expect(mode.code).toBe('INVALID_ARGUMENT');
    expect(mode.argument).toBe('normMode');
    const freq = caught(() => tpgmTransformation(inner, { projFreq: 0 }));
    expect(freq.code).toBe('INVALID_ARGUMENT');
    expect(freq.argument).toBe('projFreq');
  });
});

describe('tpgm: the l2 norm, the validation loss and its parameters', () => {
  it("normMode 'l2' is whole-tensor: a rank-5 parameter needs no layout", () => {
    const before = tf.memory().numTensors;
    const init = tf.randomNormal([2, 1, 2, 1, 3], 0, 1, 'float32', 5);
    const loss = (p: tf.NamedTensorMap) => tf.sum(tf.square(Object.values(p)[0]!)) as tf.Scalar;
    const got = descend(
      () => tpgm({ learningRate: 0.05, normMode: 'l2', validationLoss: loss }),
      init,
      2,
      'tpgm-l2-r5',
    );
    expect(got.every(Number.isFinite)).toBe(true);
    expect(got).not.toEqual(Array.from(init.dataSync()));
    init.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('without a validation loss the first projection says what is expected', () => {
    const before = tf.memory().numTensors;
    const z = tf.zeros([2]);
    const w = tf.variable(z, true, 'tpgm-no-loss');
    const opt = tpgm({ learningRate: 0.05 });
    const e = caught(() => opt.minimize(() => tf.sum(tf.square(tf.sub(w, 1))) as tf.Scalar));
    expect(e.argument).toBe('options.validationLoss');
    expect(e.expected).toBe('a function (params) => tf.Scalar (or call setTpgmValidationLoss)');
    opt.dispose();
    tf.dispose([w, z]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the validation loss sees every parameter: the excluded ones at their candidate values', () => {
    const before = tf.memory().numTensors;
    const inits = [tf.tensor1d([1, 2]), tf.tensor1d([3])];
    const a = tf.variable(inits[0]!, true, 'tpgm-vl/body');
    const b = tf.variable(inits[1]!, true, 'tpgm-vl/head');
    const seen: string[][] = [];
    const loss = (p: tf.NamedTensorMap) => {
      seen.push(Object.keys(p).sort());
      return tf.addN(Object.values(p).map((t) => tf.sum(tf.square(t)))) as tf.Scalar;
    };
    const opt = tpgm({ learningRate: 0.05, exclude: 'tpgm-vl/head', validationLoss: loss });
    opt.minimize(() => tf.add(tf.sum(tf.square(a)), tf.sum(tf.square(b))) as tf.Scalar);
    expect(seen.length).toBeGreaterThan(0);
    for (const names of seen) expect(names).toEqual(['tpgm-vl/body', 'tpgm-vl/head']);
    opt.dispose();
    tf.dispose([a, b, ...inits]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe("tpgm's factory record", () => {
  const record = (o: RobustOptimizer) =>
    JSON.parse(o.getConfig().options as string) as Record<string, unknown>;

  it("the inner's decay toward zero defaults to 5e-4 over SGD (the README's default) and to 0 over Adam", () => {
    for (const [options, want] of [
      [{}, 5e-4],
      [{ inner: 'sgd' as const }, 5e-4],
      [{ inner: 'adam' as const }, 0],
      [{ inner: 'adam' as const, weightDecay: 0.1 }, 0.1],
    ] as const) {
      const opt = tpgm(options);
      expect(record(opt).weightDecay, JSON.stringify(options)).toBe(want);
      opt.dispose();
    }
  });

  it('a custom inner or a predicate selector makes it unserialisable; a glob is recorded', () => {
    for (const opt of [
      tpgm({ inner: sgdTransformation({}) }),
      tpgm({ exclude: (n: string) => n.startsWith('h') }),
    ]) {
      expect(caught(() => opt.getConfig()).argument).toBe('options.factory');
      opt.dispose();
    }
    const glob = tpgm({ exclude: 'head*' });
    expect(record(glob)).toMatchObject({ exclude: 'head*' });
    glob.dispose();
  });
});
