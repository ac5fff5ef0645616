import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { createRng, RobustFtError } from '@robust-ft/core';
import { expectNoTensorLeaks } from '@robust-ft/core/testing';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  canFuse,
  FUSED_KERNELS,
  fusedAdamWStep,
  fusedDigrapStep,
  fusedFtpStep,
  fusedL2spStep,
  fusedSpdStep,
  fusedStepEngine,
  hasFusedKernel,
  registerFusedOptimizerKernels,
  setFusedKernelsEnabled,
  setWasmSimdEnabled,
  unregisterFusedOptimizerKernels,
} from '../src/fused';

tf.env().set('PROD', true);

/*
 * Each fused kernel against a plain-JS float64 transcription of the spec (specs/optimizers.md §1–§6),
 * written element by element in the spec's own order and independent of src/fused/loops.ts. The
 * composed-op optimizers are the second oracle (fused-integration tests).
 */

type Arr = Float64Array;
const B1 = 0.9;
const B2 = 0.999;
const EPS = 1e-8;

function adamRef(g: Arr, m: Arr, v: Arr, s: number, lr: number): { m: Arr; v: Arr; u: Arr } {
  const n = g.length;
  const m2 = new Float64Array(n);
  const v2 = new Float64Array(n);
  const u = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    m2[i] = B1 * m[i]! + (1 - B1) * g[i]!;
    v2[i] = B2 * v[i]! + (1 - B2) * g[i]! ** 2;
    u[i] = (lr / (1 - B1 ** s)) * (m2[i]! / (Math.sqrt(v2[i]!) / Math.sqrt(1 - B2 ** s) + EPS));
  }
  return { m: m2, v: v2, u };
}

function hyperRef(x: number, m: number, v: number, h: number, t: number) {
  const m2 = 0.9 * m + 0.1 * h;
  const v2 = 0.999 * v + 0.001 * h * h;
  return { x: x - (0.01 * (m2 / (1 - 0.9 ** t))) / (Math.sqrt(v2 / (1 - 0.999 ** t)) + 1e-8), m: m2, v: v2 };
}

const dotp = (a: Arr, b: Arr) => a.reduce((s, x, i) => s + x * b[i]!, 0);
const zip = (a: Arr, b: Arr, f: (x: number, y: number) => number) => a.map((x, i) => f(x, b[i]!));

interface Problem {
  shape: number[];
  theta: Arr;
  g: Arr;
  m: Arr;
  v: Arr;
  anchor: Arr;
}

function randn(rng: ReturnType<typeof createRng>, n: number, scale = 1): Arr {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.fround(rng.normal() * scale);
  return a;
}

function problem(seed: number, shape: number[]): Problem {
  const rng = createRng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const anchor = randn(rng, n, 0.5);
  const theta = zip(anchor, randn(rng, n, 0.05), (a, d) => Math.fround(a + d));
  const v = randn(rng, n, 0.01).map((x) => Math.fround(x * x));
  return { shape, theta, g: randn(rng, n, 0.1), m: randn(rng, n, 0.01), v, anchor };
}

const T = (a: Arr, shape: number[]) => tf.tensor(Float32Array.from(a), shape, 'float32');
/** A run's carried state (param, moments, step outputs) with this step's grad and anchor, as a fused-step input. */
const carriedItem = (
  state: Record<string, tf.Tensor | null>,
  grad: tf.Tensor,
  anchor: tf.Tensor,
  step: number,
) => ({
  ...state,
  param: state.param!,
  m: state.m!,
  v: state.v!,
  grad,
  anchor,
  count: step + 1,
});
/** A problem's param, grad, moments and anchor as one fused-step input at step `count`. */
const anchoredItem = (p: Problem, count: number) => ({
  param: T(p.theta, p.shape),
  grad: T(p.g, p.shape),
  m: T(p.m, p.shape),
  v: T(p.v, p.shape),
  anchor: T(p.anchor, p.shape),
  count,
});

function expectClose(got: tf.Tensor, want: Arr, atol = 2e-6, rtol = 2e-5): void {
  const g = got.dataSync();
  expect(g.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const excess = Math.abs(g[i]! - want[i]!) - (atol + rtol * Math.abs(want[i]!));
    if (excess > worst) worst = excess;
  }
  expect(worst).toBe(0);
}

const SHAPES: number[][] = [[7, 5], [13], [4, 3, 3, 2], [], [3, 0]];

/*
 * Four engine/backend pairs: our SIMD module streaming cpu tensors through its own memory, the JS
 * loops on cpu, the SIMD module in place on the wasm heap, and the JS loops on the wasm heap (the JS
 * loops also run the last n mod 4 elements of every SIMD range).
 */
const CONFIGS = [
  { backend: 'cpu', simd: true, engine: 'wasm-simd-copy' },
  { backend: 'cpu', simd: false, engine: 'js' },
  { backend: 'wasm', simd: true, engine: 'wasm-simd' },
  { backend: 'wasm', simd: false, engine: 'js' },
] as const;

for (const { backend, simd, engine } of CONFIGS) {
  describe(`fused optimizer kernels on ${backend} (${engine})`, () => {
    beforeAll(async () => {
      expect(await tf.setBackend(backend)).toBe(true);
      setWasmSimdEnabled(simd);
      registerFusedOptimizerKernels();
    });
    afterAll(() => {
      setFusedKernelsEnabled(true);
      setWasmSimdEnabled(true);
    });

    it(`runs on the ${engine} engine`, () => {
      expect(fusedStepEngine()).toBe(engine);
    });

    it('whole-tensor sums keep float64 accuracy over 200k elements (SPD κ, DiGraP ⟨g,c⟩)', () => {
      // 200k float32 terms of mixed sign: a float32 running sum would be off by ~1e-4 relative.
      const p = problem(80, [400, 500]);
      const dt = zip(p.theta, p.anchor, (t, a) => t - a);
      const want = dotp(p.g, dt);
      tf.tidy(() => {
        const item = anchoredItem(p, 1);
        const opts = { learningRate: 1e-3, beta1: B1, beta2: B2, epsilon: EPS };
        const [spd] = fusedSpdStep([item], { ...opts, lambda: 0.5 });
        const [dg] = fusedDigrapStep([{ ...item, lrPrev: 0 }], { ...opts, lambda: 0.5, t: 1 });
        // Read back as float32: compare at float32 resolution of the sum itself.
        expectClose(spd!.condition, Float64Array.of(-want), 0, 1e-6);
        expectClose(dg!.dot, Float64Array.of(want), 0, 1e-6);
        // The element-wise outputs over many chunks of the copying engine (8192 elements each).
        const r = spdRef(p, 0.5, 1, 1e-3);
        expectClose(spd!.param, r.theta);
        expectClose(spd!.m, r.m);
        expectClose(spd!.v, r.v);
      });
    });

    it('registers every kernel for this backend', () => {
      for (const method of Object.keys(FUSED_KERNELS) as (keyof typeof FUSED_KERNELS)[])
        expect(hasFusedKernel(method)).toBe(true);
      expect(hasFusedKernel('adamw', 'webgl')).toBe(false);
    });

    it('hasFusedKernel is a query: it does not register what is missing', () => {
      unregisterFusedOptimizerKernels();
      try {
        expect(hasFusedKernel('adamw')).toBe(false);
        expect(hasFusedKernel('adamw')).toBe(false);
      } finally {
        registerFusedOptimizerKernels();
      }
      expect(hasFusedKernel('adamw')).toBe(true);
    });

    it('AdamW matches torch AdamW arithmetic (batched, several shapes, counts, decay, zero grad)', () => {
      const ps = SHAPES.map((s, i) => problem(10 + i, s));
      ps[0]!.g.fill(0); // a zero gradient is an ordinary step
      for (const [wd, lr] of [
        [0, 1e-3],
        [0.05, 1e-2],
      ] as const) {
        const counts = ps.map((_, i) => 1 + 3 * i);
        tf.tidy(() => {
          const out = fusedAdamWStep(
            ps.map((p, i) => ({
              param: T(p.theta, p.shape),
              grad: T(p.g, p.shape),
              m: T(p.m, p.shape),
              v: T(p.v, p.shape),
              count: counts[i]!,
            })),
            { learningRate: lr, beta1: B1, beta2: B2, epsilon: EPS, weightDecay: wd },
          );
          ps.forEach((p, i) => {
            const r = adamRef(p.g, p.m, p.v, counts[i]!, lr);
            const theta = p.theta.map((t, j) => t * (1 - lr * wd) - r.u[j]!);
            expectClose(out[i]!.param, theta);
            expectClose(out[i]!.m, r.m);
            expectClose(out[i]!.v, r.v);
            expect(out[i]!.param.shape).toEqual(p.shape);
          });
        });
      }
    });

    it('L2-SP feeds g + α(θ − θ₀) through Adam', () => {
      const ps = SHAPES.slice(0, 3).map((s, i) => problem(20 + i, s));
      tf.tidy(() => {
        const out = fusedL2spStep(
          ps.map((p) => anchoredItem(p, 2)),
          { learningRate: 1e-2, beta1: B1, beta2: B2, epsilon: EPS, alpha: 0.3 },
        );
        ps.forEach((p, i) => {
          const gh = p.g.map((g, j) => g + 0.3 * (p.theta[j]! - p.anchor[j]!));
          const r = adamRef(gh, p.m, p.v, 2, 1e-2);
          expectClose(
            out[i]!.param,
            zip(p.theta, r.u, (t, u) => t - u),
          );
          expectClose(out[i]!.m, r.m);
          expectClose(out[i]!.v, r.v);
        });
      });
    });

    function spdRef(p: Problem, lambda: number, s: number, lr: number) {
      const r = adamRef(p.g, p.m, p.v, s, lr);
      const q = zip(p.theta, r.u, (t, u) => Math.fround(t - u));
      const dt = zip(p.theta, p.anchor, (t, a) => t - a);
      const dq = zip(q, p.anchor, (x, a) => x - a);
      const kappa = -dotp(p.g, dt);
      const nq = Math.sqrt(dotp(dq, dq));
      const ratio = Math.min(Math.max((nq - Math.sqrt(dotp(dt, dt))) / nq, 0), 1);
      let fired = false;
      if (kappa < 0) {
        if (lambda * ratio > 0) {
          fired = true;
          for (let i = 0; i < q.length; i++) q[i] = q[i]! - lambda * ratio * dq[i]!;
        }
      }
      return { theta: q, m: r.m, v: r.v, fired, kappa, ratio };
    }

    it('SPD decays exactly when κ < 0 and the Adam step moves away (both branches)', () => {
      // fires: g along θ−a (κ < 0) while the momentum pushes further out; quiet: g against θ−a.
      const base = problem(30, [6, 4]);
      const away = base.theta.map((t, i) => t - base.anchor[i]!);
      const firing: Problem = {
        ...base,
        g: away.map((d) => Math.fround(0.1 * d)),
        m: away.map((d) => Math.fround(-2 * d)),
      };
      const quiet: Problem = { ...base, g: away.map((d) => Math.fround(-0.1 * d)) };
      const atAnchor: Problem = { ...base, theta: base.anchor }; // κ = −0: never fires
      const cases = [firing, quiet, atAnchor];
      const refs = cases.map((p) => spdRef(p, 0.7, 3, 1e-2));
      expect(refs.map((r) => r.fired)).toEqual([true, false, false]);
      tf.tidy(() => {
        const out = fusedSpdStep(
          cases.map((p) => anchoredItem(p, 3)),
          { learningRate: 1e-2, beta1: B1, beta2: B2, epsilon: EPS, lambda: 0.7 },
        );
        refs.forEach((r, i) => {
          expectClose(out[i]!.condition, Float64Array.of(r.kappa));
          expectClose(out[i]!.ratio, Float64Array.of(r.ratio));
          expectClose(out[i]!.param, r.theta);
          expectClose(out[i]!.m, r.m);
          expectClose(out[i]!.v, r.v);
        });
      });
    });

    it('SPD on random tensors with λ = 0 is plain Adam', () => {
      const p = problem(31, [9, 3]);
      tf.tidy(() => {
        const [out] = fusedSpdStep([anchoredItem(p, 1)], {
          learningRate: 1e-3,
          beta1: B1,
          beta2: B2,
          epsilon: EPS,
          lambda: 0,
        });
        const r = adamRef(p.g, p.m, p.v, 1, 1e-3);
        expectClose(
          out!.param,
          zip(p.theta, r.u, (t, u) => t - u),
        );
      });
    });

    /**
     * FTP (AdamP) over several steps, state carried in float64. The rows are the axes [first, end) of
     * `span` (the layout rule's output units; [0, 0) = the whole tensor): element i is in row
     * ⌊i / inner⌋ mod rows with rows = Π shape[first..end) and inner = Π shape[end..].
     */
    function ftpRefRun(p0: Problem, grads: Arr[], lr: number, wd: number, k: number, span: [number, number]) {
      const [first, end] = span;
      const prod = (a: number[]) => a.reduce((x, y) => x * y, 1);
      const rows = prod(p0.shape.slice(first, end));
      const inner = first === end ? p0.theta.length : prod(p0.shape.slice(end));
      const rowOf = (i: number) => Math.floor(i / inner) % rows;
      const n = p0.theta.length;
      let { theta, m, v } = p0;
      let cPrev: Arr | null = null;
      let rPrev: Arr | null = null;
      let gamma = 0;
      let mg = 0;
      let vg = 0;
      const trace: { theta: Arr; m: Arr; v: Arr; c: Arr; r: Arr; hyper: Arr }[] = [];
      grads.forEach((g, step) => {
        const t = step + 1;
        const a = adamRef(g, m, v, t, lr);
        const c = theta.map((th, i) => th - (a.u[i]! + lr * wd * th) - p0.anchor[i]!);
        const norms = new Float64Array(rows).fill(1e-8);
        for (let i = 0; i < n; i++) norms[rowOf(i)] = norms[rowOf(i)]! + Math.abs(c[i]!);
        if (t === 1) {
          gamma = 1e-8;
          mg = 0;
          vg = 0;
        } else {
          let h = 0;
          for (let i = 0; i < n; i++) h += g[i]! * cPrev![i]! * rPrev![rowOf(i)]!;
          if (h > 0) h *= k;
          const s = hyperRef(gamma, mg, vg, h, t);
          gamma = Math.min(Math.max(s.x, 1e-8), Math.max(...norms));
          mg = s.m;
          vg = s.v;
        }
        theta = c.map((ci, i) => p0.anchor[i]! + Math.min(Math.max(gamma / norms[rowOf(i)]!, 0), 1) * ci);
        m = a.m;
        v = a.v;
        cPrev = c;
        rPrev = norms.map((x) => 1 / x);
        trace.push({ theta, m, v, c, r: rPrev, hyper: Float64Array.of(gamma, mg, vg) });
      });
      return trace;
    }

    it('FTP over Adam: first step snaps to the anchor, then γ learns; rows in torch and tfjs layouts', () => {
      for (const [shape, k, wd, span] of [
        // torch layout (rows on axis 0, contiguous runs):
        [[6, 5], 1, 0, [0, 1]],
        [[11], 0.5, 0, [0, 0]],
        [[4, 2, 3, 3], 1, 0.1, [0, 1]],
        // Rows of 9001: several chunks of the copying engine, unaligned row starts, a 1-element tail.
        [[3, 9001], 1, 0.05, [0, 1]],
        // Row lengths that are multiples of 4: the wasm engine's one-call-per-tensor row kernels.
        [[8, 12], 0.5, 0.02, [0, 1]],
        [[2, 4, 3, 4], 1, 0, [0, 1]],
        // 1500 rows of 8: the copying engine moves them in two blocks of whole rows.
        [[1500, 8], 1, 0, [0, 1]],
        // tfjs layouts (rows = output units = the trailing axes, strided): Dense [in, out] with 5
        // columns (not whole f32x4 vectors: JS columns), Conv2D [kh, kw, cin, cout] with 8 (the SIMD
        // column kernels), DepthwiseConv2D [kh, kw, cin, mult] (rows = cin·mult = 16), Conv1D.
        [[6, 5], 1, 0, [1, 2]],
        [[3, 3, 4, 8], 0.5, 0.1, [3, 4]],
        [[3, 3, 8, 2], 1, 0, [2, 4]],
        [[3, 4, 8], 1, 0.02, [2, 3]],
        // 3000 lines of 8 columns: the copying engine streams three blocks, accumulators carried over.
        [[3000, 8], 1, 0, [1, 2]],
        // 9000 columns: more than a copying-engine chunk (JS columns there; the heap kernels take it).
        [[3, 9000], 0.5, 0, [1, 2]],
        // Row axes in the middle (outer > 1 and inner > 1): by contiguous runs.
        [[2, 3, 4, 5], 1, 0, [1, 3]],
        // One line of 8 output units (a [1, 8] Dense), and one output unit of 7 (read as one run).
        [[1, 8], 1, 0, [1, 2]],
        [[7, 1], 0.5, 0, [1, 2]],
      ] as [number[], number, number, [number, number]][]) {
        const p0 = problem(40 + shape.length, shape);
        const rng = createRng(41);
        // Gradients that keep pushing away from the anchor (h < 0: γ grows), then one pulling back
        // (h > 0: the annealing by k applies).
        const away = p0.theta.map((t, i) => t - p0.anchor[i]!);
        const grads = Array.from({ length: 6 }, (_, s) =>
          randn(rng, p0.theta.length, 0.02).map((x, i) => Math.fround(x + (s < 5 ? -1 : 1) * away[i]!)),
        );
        const want = ftpRefRun(p0, grads, 1e-2, wd, k, span);
        let state: Record<string, tf.Tensor | null> = {
          param: T(p0.theta, shape),
          m: T(p0.m, shape),
          v: T(p0.v, shape),
          cPrev: null,
          rPrev: null,
          gamma: null,
          gammaM: null,
          gammaV: null,
        };
        const anchor = T(p0.anchor, shape);
        grads.forEach((g, step) => {
          const gt = T(g, shape);
          const [out] = fusedFtpStep(
            [
              {
                ...carriedItem(state, gt, anchor, step),
                rowSpan: span,
              },
            ],
            { learningRate: 1e-2, beta1: B1, beta2: B2, epsilon: EPS, weightDecay: wd, k, t: step + 1 },
          );
          const w = want[step]!;
          expectClose(out!.param, w.theta, 1e-5, 1e-4);
          expectClose(out!.m, w.m);
          expectClose(out!.v, w.v);
          expectClose(out!.cPrev, w.c, 1e-5, 1e-4);
          // 1/n is compared as n: each stored c is float32 (θ' − θ₀ rounded at the ulp of |θ|), so a
          // row norm carries up to (row length)·2·ulp(max|θ|) of rounding, which is large relative to
          // the short, small columns of a tfjs kernel in its first steps.
          const rowLen = p0.theta.length / Math.max(w.r.length, 1);
          const maxTheta = Math.max(...p0.theta.map(Math.abs), ...w.theta.map(Math.abs));
          tf.tidy(() =>
            expectClose(
              tf.reciprocal(out!.rPrev),
              w.r.map((r) => 1 / r),
              rowLen * 2 * maxTheta * 2 ** -23,
              1e-5,
            ),
          );
          expectClose(tf.stack([out!.gamma, out!.gammaM, out!.gammaV]), w.hyper, 1e-9, 1e-4);
          if (step === 0) expectClose(out!.param, p0.anchor, 1e-6, 0);
          for (const t of [gt, ...Object.values(state)]) t?.dispose();
          state = { ...out! };
        });
        // γ moved off its initial 1e-8 (the hyper step ran), so the later steps were not trivial.
        expect(Math.max(...want.map((w) => w.hyper[0]!))).toBeGreaterThan(1e-3);
        expect(state.rPrev!.shape).toEqual(
          span[0] === span[1] ? [] : shape.map((d, i) => (i >= span[0] && i < span[1] ? d : 1)),
        );
        for (const t of [anchor, ...Object.values(state)]) t?.dispose();
      }
    });

    /** DiGraP (trainable) over several steps, state in float64. */
    function digrapRefRun(p0: Problem, grads: Arr[], lrs: number[], lambda: number) {
      let { theta, m, v } = p0;
      let P: Arr | null = null;
      let Q: Arr | null = null;
      let lrPrev = 0;
      let [wl, wr, ml, vl, mr, vr] = [0, 0, 0, 0, 0, 0];
      const trace: { theta: Arr; m: Arr; v: Arr; p: Arr; q: Arr; hyper: Arr; conflict: boolean }[] = [];
      grads.forEach((g, step) => {
        const t = step + 1;
        const lr = lrs[step]!;
        const c = zip(theta, p0.anchor, (a, b) => Math.fround(a - b));
        const dot = dotp(g, c);
        const Pn = c.map((x) => (dot / (dotp(c, c) + 1e-8)) * x);
        const Qn = g.map((x) => (dot / (dotp(g, g) + 1e-8)) * x);
        if (t === 1) [wl, wr, ml, vl, mr, vr] = [0, 0, 0, 0, 0, 0];
        else {
          const G = zip(g, c, (a, b) => a + lambda * b);
          const sl = hyperRef(wl, ml, vl, lrPrev * dotp(G, P!), t);
          const sr = hyperRef(wr, mr, vr, lambda * lrPrev * dotp(G, Q!), t);
          [wl, ml, vl] = [Math.min(Math.max(sl.x, 0), 1), sl.m, sl.v];
          [wr, mr, vr] = [Math.min(Math.max(sr.x, 0), 1), sr.m, sr.v];
        }
        const gh =
          dot < 0
            ? g.map((x, i) => x - wl * Pn[i]! + lambda * (c[i]! - wr * Qn[i]!))
            : g.map((x, i) => x + lambda * c[i]!);
        const a = adamRef(gh, m, v, t, lr);
        theta = zip(theta, a.u, (x, u) => x - u);
        m = a.m;
        v = a.v;
        P = Pn;
        Q = Qn;
        lrPrev = lr;
        trace.push({
          theta,
          m,
          v,
          p: Pn,
          q: Qn,
          hyper: Float64Array.of(wl, wr, ml, vl, mr, vr),
          conflict: dot < 0,
        });
      });
      return trace;
    }

    it('DiGraP (trainable strengths): conflict and no-conflict steps, strengths learned, lr schedule', () => {
      const p0 = problem(50, [5, 8]);
      const rng = createRng(51);
      const away = p0.theta.map((t, i) => t - p0.anchor[i]!);
      // Alternate gradients that conflict with the pull to the anchor (⟨g,c⟩ < 0) and that do not.
      const grads = Array.from({ length: 6 }, (_, s) =>
        randn(rng, p0.theta.length, 0.02).map((x, i) =>
          Math.fround(x + (s % 3 === 2 ? 0.5 : -0.5) * away[i]!),
        ),
      );
      const lrs = [1e-2, 1e-2, 8e-3, 6e-3, 4e-3, 2e-3];
      const lambda = 0.5;
      const want = digrapRefRun(p0, grads, lrs, lambda);
      expect(want.some((w) => w.conflict)).toBe(true);
      expect(want.some((w) => !w.conflict)).toBe(true);
      expect(Math.max(...want.map((w) => w.hyper[0]! + w.hyper[1]!))).toBeGreaterThan(0);
      const shape = p0.shape;
      const anchor = T(p0.anchor, shape);
      let state: Record<string, tf.Tensor | null> = {
        param: T(p0.theta, shape),
        m: T(p0.m, shape),
        v: T(p0.v, shape),
      };
      grads.forEach((g, step) => {
        const gt = T(g, shape);
        const [out] = fusedDigrapStep(
          [
            {
              ...carriedItem(state, gt, anchor, step),
              lrPrev: step === 0 ? 0 : lrs[step - 1]!,
            },
          ],
          {
            learningRate: lrs[step]!,
            beta1: B1,
            beta2: B2,
            epsilon: EPS,
            lambda,
            t: step + 1,
          },
        );
        const w = want[step]!;
        expectClose(out!.param, w.theta, 1e-5, 1e-4);
        expectClose(out!.m, w.m, 1e-6, 1e-4);
        expectClose(out!.v, w.v, 1e-7, 1e-4);
        expectClose(out!.pPrev, w.p, 1e-6, 1e-4);
        expectClose(out!.qPrev, w.q, 1e-6, 1e-4);
        const o = out!;
        expectClose(
          tf.stack([o.lossStrength, o.regStrength, o.lossM, o.lossV, o.regM, o.regV]),
          w.hyper,
          1e-7,
          1e-4,
        );
        expect(o.dot.dataSync()[0]! < 0).toBe(w.conflict);
        for (const t of [gt, ...Object.values(state)]) t?.dispose();
        state = { ...out! };
      });
      for (const t of [anchor, ...Object.values(state)]) t?.dispose();
    });

    it('DiGraP with λ = 0 is plain Adam even when ⟨g, θ − θ₀⟩ < 0', () => {
      const p = problem(55, [4, 6]);
      const g = p.theta.map((t, i) => Math.fround(-(t - p.anchor[i]!)));
      tf.tidy(() => {
        const item = {
          param: T(p.theta, p.shape),
          grad: T(g, p.shape),
          m: T(p.m, p.shape),
          v: T(p.v, p.shape),
          anchor: T(p.anchor, p.shape),
          lossStrength: tf.scalar(0.8),
          regStrength: tf.scalar(0.3),
          count: 3,
          lrPrev: 1e-2,
        };
        const [out] = fusedDigrapStep([item], {
          learningRate: 1e-2,
          beta1: B1,
          beta2: B2,
          epsilon: EPS,
          lambda: 0,
          t: 3,
        });
        expect(out!.dot.dataSync()[0]!).toBeLessThan(0);
        const r = adamRef(g, p.m, p.v, 3, 1e-2);
        expectClose(
          out!.param,
          zip(p.theta, r.u, (t, u) => t - u),
        );
      });
    });

    it('one batched call equals one call per tensor', () => {
      const ps = [[3, 4], [5], [2, 2, 2]].map((s, i) => problem(60 + i, s));
      const item = (p: Problem) => ({
        rowSpan: (p.shape.length <= 1 ? [0, 0] : [p.shape.length - 1, p.shape.length]) as [number, number],
        ...anchoredItem(p, 4),
      });
      tf.tidy(() => {
        const opts = { learningRate: 1e-2, beta1: B1, beta2: B2, epsilon: EPS, weightDecay: 0, k: 1, t: 1 };
        const batched = fusedFtpStep(ps.map(item), opts);
        ps.forEach((p, i) => {
          const [single] = fusedFtpStep([item(p)], opts);
          expect(Array.from(batched[i]!.param.dataSync())).toEqual(Array.from(single!.param.dataSync()));
          expect(Array.from(batched[i]!.rPrev.dataSync())).toEqual(Array.from(single!.rPrev.dataSync()));
        });
      });
    });

    it('does not leak tensors and does not mutate its inputs', async () => {
      const p = problem(70, [8, 8]);
      const inputs = {
        param: T(p.theta, p.shape),
        grad: T(p.g, p.shape),
        m: T(p.m, p.shape),
        v: T(p.v, p.shape),
        anchor: T(p.anchor, p.shape),
      };
      const opts = { learningRate: 1e-2, beta1: B1, beta2: B2, epsilon: EPS };
      await expectNoTensorLeaks(
        () => fusedAdamWStep([{ ...inputs, count: 1 }], { ...opts, weightDecay: 0.1 }),
        {
          label: 'fusedAdamWStep',
        },
      );
      await expectNoTensorLeaks(() => fusedSpdStep([{ ...inputs, count: 1 }], { ...opts, lambda: 1 }), {
        label: 'fusedSpdStep',
      });
      await expectNoTensorLeaks(() => fusedL2spStep([{ ...inputs, count: 1 }], { ...opts, alpha: 1 }), {
        label: 'fusedL2spStep',
      });
      await expectNoTensorLeaks(
        () =>
          fusedFtpStep([{ ...inputs, count: 1, rowSpan: [1, 2] }], { ...opts, weightDecay: 0, k: 1, t: 1 }),
        { label: 'fusedFtpStep' },
      );
      await expectNoTensorLeaks(
        () => fusedDigrapStep([{ ...inputs, count: 1, lrPrev: 0 }], { ...opts, lambda: 1, t: 1 }),
        { label: 'fusedDigrapStep' },
      );
      expectClose(inputs.param, p.theta, 0, 0);
      expectClose(inputs.m, p.m, 0, 0);
      expectClose(inputs.v, p.v, 0, 0);
      for (const t of Object.values(inputs)) t.dispose();
    });

    it('refuses non-float32 tensors and disabled kernels with typed errors', () => {
      tf.tidy(() => {
        const f = tf.ones([3]);
        const i = tf.ones([3], 'int32');
        expect(canFuse('adamw', [f, f])).toBe(true);
        expect(canFuse('adamw', [f, i])).toBe(false);
        const call = () =>
          fusedAdamWStep([{ param: f, grad: i, m: f, v: f, count: 1 }], {
            learningRate: 1,
            beta1: B1,
            beta2: B2,
            epsilon: EPS,
            weightDecay: 0,
          });
        expect(call).toThrowError(RobustFtError);
        expect(() => call()).toThrow(/int32/);
        setFusedKernelsEnabled(false);
        try {
          expect(hasFusedKernel('adamw')).toBe(false);
          expect(canFuse('adamw', [f])).toBe(false);
          let code = '';
          try {
            fusedAdamWStep([{ param: f, grad: f, m: f, v: f, count: 1 }], {
              learningRate: 1,
              beta1: B1,
              beta2: B2,
              epsilon: EPS,
              weightDecay: 0,
            });
          } catch (e) {
            code = (e as RobustFtError).code;
          }
          expect(code).toBe('BACKEND_UNAVAILABLE');
        } finally {
          setFusedKernelsEnabled(true);
        }
      });
    });
  });
}

describe('the SIMD step module on a shared heap (tfjs-wasm threaded build)', () => {
  it('links to a shared memory and computes what the JS passes compute', async () => {
    const { wasmEngineFor } = await import('../src/fused/wasm/engine');
    const { JS_ENGINE } = await import('../src/fused/loops');
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
    const engine = wasmEngineFor(memory);
    expect(engine?.name).toBe('wasm-simd');
    const heap = new Float32Array(memory.buffer);
    const n = 13; // three f32x4 vectors and a scalar tail
    const [x, y, out] = [0, 1, 2].map((k) => heap.subarray(k * 16, k * 16 + n)) as [
      Float32Array,
      Float32Array,
      Float32Array,
    ];
    for (let i = 0; i < n; i++) {
      x[i] = i - 6;
      y[i] = 0.5 * i;
    }
    engine!.axpby(x, y, out, 0.25, -2, 0, n);
    const expected = new Float32Array(n);
    JS_ENGINE.axpby(x.slice(), y.slice(), expected, 0.25, -2, 0, n);
    expect(Array.from(out)).toEqual(Array.from(expected));
  });
});
