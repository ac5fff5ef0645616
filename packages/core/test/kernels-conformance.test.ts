import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { registerCpuTrainingKernels, unpatchCpuBackend } from '../src/kernels/cpu';
import { setWasmTrainingSimdEnabled, wasmTrainingSimdInUse } from '../src/kernels/simd/training-simd';
import { registerWasmTrainingKernels, unpatchWasmBackend } from '../src/kernels/wasm';
import {
  CONFORMANCE_CASES,
  type ConformanceCase,
  compareCase,
  computeCase,
  runConformance,
  TOLERANCE,
} from '../src/testing';
import './setup-wasm';

// The kernels come from ../src (not the dist) so that mutation testing runs core's own suite over them.
// The oracle is always stock cpu: the cpu patch is applied only around the computation under test.
afterAll(() => {
  unpatchCpuBackend();
  unpatchWasmBackend();
});

describe('conformance: patched wasm against stock cpu', () => {
  it.each(CONFORMANCE_CASES.map((c) => [c.name, c] as const))('%s', async (_name, testCase) => {
    unpatchCpuBackend();
    registerWasmTrainingKernels();
    const [result] = await runConformance('wasm', { cases: [testCase] });
    expect(result?.detail, JSON.stringify(result)).toBeDefined();
    expect(result?.ok, `${result?.detail} (worst ${result?.worst})`).toBe(true);
  });
});

describe('conformance: patched wasm without its SIMD kernels against stock cpu', () => {
  // The paths wasm takes where SIMD is missing (typed-array loops, the XNNPACK filter-gradient
  // matmul, stock Sum/Add), on the same cases; the run above must have used the SIMD kernels.
  it('the SIMD training kernels link to the wasm heap in Node', async () => {
    registerWasmTrainingKernels();
    await tf.setBackend('wasm');
    expect(wasmTrainingSimdInUse(tf.backend())).toBe(true);
    setWasmTrainingSimdEnabled(false);
    expect(wasmTrainingSimdInUse(tf.backend())).toBe(false);
    setWasmTrainingSimdEnabled(true);
    expect(wasmTrainingSimdInUse(tf.backend())).toBe(true);
    await tf.setBackend('cpu');
  });
  it.each(CONFORMANCE_CASES.map((c) => [c.name, c] as const))('%s', async (_name, testCase) => {
    unpatchCpuBackend();
    registerWasmTrainingKernels();
    setWasmTrainingSimdEnabled(false);
    try {
      const [result] = await runConformance('wasm', { cases: [testCase] });
      expect(result?.ok, `${result?.detail} (worst ${result?.worst})`).toBe(true);
    } finally {
      setWasmTrainingSimdEnabled(true);
    }
  });
});

describe('conformance: patched wasm on more shapes (found by mutation testing)', () => {
  const cases: ConformanceCase[] = [
    // A full conv's filter [KH, KW, CI, 1] has the layout of a depthwise one; the input gradient must
    // still treat it as a full conv (CI inputs summed into one output channel).
    {
      name: 'conv2d 3x3 same, 3 → 1 channel',
      inputs: [{ shape: [2, 6, 5, 3] }, { shape: [3, 3, 3, 1] }],
      fn: (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same'),
      tolerance: TOLERANCE.conv,
    },
    // Batched (rank 3) with transposeB, K = 46 and past the small-product loop: the explicit transpose
    // swaps the last two axes of a rank-3 operand.
    {
      name: 'batched matMul 3D transposeB, K = 46, 2 × 40x40',
      inputs: [{ shape: [2, 40, 46] }, { shape: [2, 40, 46] }],
      fn: (a, b) => tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D, false, true),
      tolerance: TOLERANCE.conv,
    },
    // A fused product with transposeB and a ReLU whose output (130 × 130) is past the small loop: the
    // explicit transpose keeps the activation for the stock kernel.
    {
      name: 'fused matMul transposeB + bias + relu, K = 46, 130x130',
      inputs: [{ shape: [130, 46] }, { shape: [130, 46] }, { shape: [130] }],
      fn: (a, b, bias) =>
        tf.fused.matMul({
          a: a as tf.Tensor2D,
          b: b as tf.Tensor2D,
          transposeB: true,
          bias,
          activation: 'relu',
        }),
      tolerance: TOLERANCE.conv,
    },
    // A fused product the own paths must hand to the stock kernel: past the small loop, refused by the
    // SIMD product (N = 10), with an output small enough for the epilogue.
    {
      name: 'fused matMul + bias, 10x700 · 700x10',
      inputs: [{ shape: [10, 700] }, { shape: [700, 10] }, { shape: [10] }],
      fn: (a, b, bias) => tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, bias }),
      tolerance: TOLERANCE.conv,
    },
  ];
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, testCase) => {
    unpatchCpuBackend();
    registerWasmTrainingKernels();
    const [result] = await runConformance('wasm', { cases: [testCase] });
    expect(result?.ok, `${result?.detail} (worst ${result?.worst})`).toBe(true);
  });
});

describe('conformance: patched cpu against stock cpu', () => {
  it.each(CONFORMANCE_CASES.map((c) => [c.name, c] as const))('%s', async (_name, testCase) => {
    unpatchCpuBackend();
    const expected = await computeCase(testCase, 'cpu');
    registerCpuTrainingKernels();
    try {
      const actual = await computeCase(testCase, 'cpu');
      const result = compareCase(testCase, expected, actual, 'cpu (patched)');
      expect(result.ok, `${result.detail} (worst ${result.worst})`).toBe(true);
    } finally {
      unpatchCpuBackend();
    }
  });
});

describe('the suite catches the stock wasm defects it was written for', () => {
  it('flags stock wasm maxPool gradients and missing filter gradients', async () => {
    unpatchWasmBackend();
    const pick = (s: string) => CONFORMANCE_CASES.filter((c) => c.name.startsWith(s));
    // Stock MaxPoolGrad drops the gradient of all-negative windows, so only those cases must fail.
    const negative = pick('maxPool').filter((c) => c.name.includes('negative'));
    const results = await runConformance('wasm', {
      cases: [...negative, ...pick('conv2d 3x3 stride 1')],
    });
    expect(results.length).toBe(6);
    for (const r of results) expect(r.ok, r.name).toBe(false);
    registerWasmTrainingKernels();
  });
});
