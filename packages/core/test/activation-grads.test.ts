import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { setWasmTrainingSimdEnabled } from '../src/kernels/simd/training-simd';
import { registerWasmTrainingKernels, unpatchWasmBackend } from '../src/kernels/wasm';
import './setup-wasm';

// The 'Relu'/'Relu6'/'ClipByValue' gradients robust-ft installs (src/kernels/activation-grads.ts) must give
// tfjs-core's values bit for bit on every backend: through the one-pass kernel where the backend has
// it (wasm, with and without SIMD), through tfjs-core's own ops elsewhere (cpu, stock wasm).

afterAll(async () => {
  setWasmTrainingSimdEnabled(true);
  unpatchWasmBackend();
  await tf.setBackend('cpu');
});

/**
 * x: edge values (±0, 6, ±∞, NaN) at both ends — the end is wasm's scalar tail — and values on both
 * sides of 0 and 6 between; 4k + 3 elements. dy: finite and of both signs (so dy · 0 gives -0 too),
 * with one ∞ and one NaN away from x's edge values.
 */
const X = [Number.NaN, -0, 0, 1e-30, -1e-30, 6, 6.000001, 5.999999, 7, -3, Infinity, -Infinity, -0.7, 5.9];
const TAIL = [0, Number.NaN, 6];
const values = (n: number, seed: number) =>
  Array.from({ length: n }, (_, i) =>
    i < X.length ? X[i]! : i >= n - TAIL.length ? TAIL[i - n + TAIL.length]! : Math.sin(i * seed) * 9 - 1,
  );
const N = 4 * 50 + 3;
const DY = Array.from({ length: N }, (_, i) =>
  i === 20 ? Number.POSITIVE_INFINITY : i === 21 ? Number.NaN : Math.cos(i * 7) * 3,
);

/** Each op, its fused gradient kernel on wasm, and tfjs-core 4.22's gradient expression, op for op. */
const OPS = {
  relu: {
    apply: (x: tf.Tensor) => tf.relu(x),
    fused: 'RobustFtReluGrad',
    composed: (dy: tf.Tensor, x: tf.Tensor) => tf.mul(dy, tf.cast(tf.step(x), 'float32')),
  },
  relu6: {
    apply: (x: tf.Tensor) => tf.relu6(x),
    fused: 'RobustFtRelu6Grad',
    composed: (dy: tf.Tensor, x: tf.Tensor) =>
      tf.mul(dy, tf.cast(tf.mul(tf.lessEqual(x, 6), tf.step(x)), 'float32')),
  },
  clipByValue: {
    // Bounds that are not float32 values (-0.7, 5.9) and sit among X's values.
    apply: (x: tf.Tensor) => tf.clipByValue(x, -0.7, 5.9),
    fused: 'RobustFtClipByValueGrad',
    composed: (dy: tf.Tensor, x: tf.Tensor) =>
      tf.where(tf.logicalAnd(tf.greaterEqual(x, -0.7), tf.lessEqual(x, 5.9)), dy, tf.zerosLike(dy)),
  },
} as const;
type Op = keyof typeof OPS;

async function gradAndComposed(op: Op): Promise<{ got: number[]; want: number[]; kernels: string[] }> {
  const x = tf.tensor1d(values(N, 3));
  const dy = tf.tensor1d(DY);
  let g: tf.Tensor | undefined;
  const profile = await tf.profile(() => {
    g = tf.grad((t: tf.Tensor) => OPS[op].apply(t))(x, dy);
    return g;
  });
  const want = OPS[op].composed(dy, x);
  const out = {
    got: Array.from(await g!.data()),
    want: Array.from(await want.data()),
    kernels: profile.kernelNames,
  };
  tf.dispose([x, dy, g!, want]);
  return out;
}

function expectSameBits(got: number[], want: number[]): void {
  expect(got.length).toBe(want.length);
  // Object.is: NaN matches NaN, and -0 must stay -0 (dy · 0 for a negative dy).
  const diff = got.findIndex((v, i) => !Object.is(v, want[i]));
  expect(diff, `element ${diff}: ${got[diff]} vs ${want[diff]}`).toBe(-1);
}

describe.each(Object.keys(OPS) as Op[])('the %s gradient', (op) => {
  const { fused } = OPS[op];

  it('is one fused kernel on patched wasm (SIMD and typed-array paths), bit-identical to tfjs-core', async () => {
    registerWasmTrainingKernels();
    await tf.setBackend('wasm');
    for (const simd of [true, false]) {
      setWasmTrainingSimdEnabled(simd);
      const { got, want, kernels } = await gradAndComposed(op);
      expect(kernels).toContain(fused);
      expect(kernels).not.toContain(op === 'clipByValue' ? 'Select' : 'Step');
      expectSameBits(got, want);
    }
    setWasmTrainingSimdEnabled(true);
    // The edge values really are in play: NaN, -0 and 0 all occur in the gradient.
    const { got } = await gradAndComposed(op);
    expect(got.some(Number.isNaN)).toBe(true);
    // -0 from dy · 0 (the ReLUs multiply); the clip gradient selects dy or +0.
    expect(got.some((v) => Object.is(v, -0))).toBe(op !== 'clipByValue');
    expect(got.some((v) => Object.is(v, 0))).toBe(true);
  });

  it('is tfjs-core’s composition on backends without the kernel (cpu, stock wasm)', async () => {
    registerWasmTrainingKernels();
    for (const backend of ['cpu', 'wasm']) {
      if (backend === 'wasm') unpatchWasmBackend();
      await tf.setBackend(backend);
      const { got, want, kernels } = await gradAndComposed(op);
      expect(kernels).not.toContain(fused);
      expect(kernels).toContain(op === 'clipByValue' ? 'Select' : 'Step');
      expectSameBits(got, want);
    }
  });

  it('differentiates again: d/d(dy) is the same mask product, d/dx is zero (fused on wasm)', async () => {
    const x0 = values(42, 5).slice(X.length, -TAIL.length); // 25 finite values
    const secondOrder = async () => {
      const x = tf.tensor1d(x0);
      const w = tf.tensor1d(x0.map((_, i) => 0.5 + ((i * 7) % 5)));
      const v = tf.tensor1d(x0.map((_, i) => 1 + ((i * 3) % 4)));
      // g(x, w) = Σ v · ∂/∂x Σ w · op(x) = Σ v · w · mask(x): ∂g/∂w = v · mask(x), ∂g/∂x = 0.
      const g = (a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.mul(tf.grad((t: tf.Tensor) => tf.sum(tf.mul(OPS[op].apply(t), b)))(a), v));
      const [dx, dw] = tf.grads(g)([x, w]);
      const mask = OPS[op].composed(v, x);
      const out = {
        dx: Array.from(await dx!.data()),
        dw: Array.from(await dw!.data()),
        vMask: Array.from(await mask.data()),
      };
      tf.dispose([x, w, v, dx!, dw!, mask]);
      return out;
    };
    registerWasmTrainingKernels();
    await tf.setBackend('wasm');
    const got = await secondOrder();
    expectSameBits(got.dw, got.vMask);
    expect(got.dx.every((d) => d === 0)).toBe(true);
    expect(got.dw.some((d) => d !== 0) && got.dw.some((d) => d === 0)).toBe(true);
    await tf.setBackend('cpu');
    if (op === 'relu') {
      // tfjs-core's own composition differentiates twice to the same values.
      const want = await secondOrder();
      expectSameBits(got.dw, want.dw);
      expectSameBits(got.dx, want.dx);
    } else {
      // tfjs-core's Relu6 and ClipByValue gradients cannot be differentiated again (LessEqual and
      // LogicalAnd have no gradient); the fused kernels' can. Pinned so a tfjs upgrade that changes
      // this is noticed.
      await expect(secondOrder()).rejects.toThrow(/gradient function not found for (LessEqual|LogicalAnd)/);
    }
  });
});

it('patching wasm again restores these gradients after tfjs-core’s own were registered over them', async () => {
  const stock = tf.getGradient('Relu');
  registerWasmTrainingKernels();
  const ours = tf.getGradient('Relu');
  expect(ours).not.toBe(stock);
  // What loading tfjs-core's gradients a second time does (another copy, or `@tensorflow/tfjs` after -core).
  tf.registerGradient(stock!);
  expect(tf.getGradient('Relu')).toBe(stock);
  registerWasmTrainingKernels();
  await tf.setBackend('wasm');
  const x = tf.tensor1d([-1, 2, 3]);
  const profile = await tf.profile(() => tf.grad((t: tf.Tensor) => tf.sum(tf.relu(t)))(x));
  expect(profile.kernels.map((k) => k.name)).toContain('RobustFtReluGrad');
  expect(Array.from(await (profile.result as tf.Tensor).data())).toEqual([0, 1, 1]);
  tf.dispose([x, profile.result as tf.Tensor]);
  await tf.setBackend('cpu');
});
