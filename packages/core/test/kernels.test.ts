import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { embeddedWasm, isSharedMemory } from '../src/embedded-wasm';
import { registerCpuTrainingKernels, unpatchCpuBackend } from '../src/kernels/cpu';
import { cpuHost } from '../src/kernels/host';
import { patchedKernels, stockKernel } from '../src/kernels/registry';
import { TRAINING_SHARED_WASM_BASE64, TRAINING_WASM_BASE64 } from '../src/kernels/simd/training.generated';
import {
  setWasmTrainingSimdEnabled,
  TrainingSimd,
  trainingSimdFor,
  wasmTrainingSimdInUse,
} from '../src/kernels/simd/training-simd';
import { binaryPlan, SMALL_MATMUL_MAX_MACS, SMALL_OP_MAX_ELEMENTS } from '../src/kernels/small-ops';
import { resolveWasmThreads, WASM_MAX_THREADS } from '../src/kernels/threads';
import { conv2dBackpropFilterConfig, convInfoOf, poolInfoOf } from '../src/kernels/training-kernels';
import {
  conv2dBackpropFilterNhwc,
  depthwiseBackpropFilterNhwc,
  maxPoolGradNhwc,
} from '../src/kernels/typed-array';
import { registerWasmTrainingKernels, unpatchWasmBackend } from '../src/kernels/wasm';
import './setup-wasm';
import { testHeap } from './wasm-heap';

// The conformance cases (kernels-conformance.test.ts) check the kernels' values on real backends; this
// file pins what they do not reach: registration bookkeeping, refusals, fallbacks, the SIMD module on
// its own (plain and shared heaps: the threaded wasm build's is shared) and the thread count.

afterAll(async () => {
  unpatchCpuBackend();
  unpatchWasmBackend();
  setWasmTrainingSimdEnabled(true);
  await tf.setBackend('cpu');
});

const WASM_PATCHED = [
  'Conv2DBackpropFilter',
  'Conv2DBackpropInput',
  'BatchMatMul',
  '_FusedMatMul',
  'DepthwiseConv2dNativeBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
  'MaxPoolGrad',
  'AvgPoolGrad',
  'RobustFtReluGrad',
  'RobustFtRelu6Grad',
  'RobustFtClipByValueGrad',
  'UnsortedSegmentSum',
  'Sum',
  'Prod',
  'Mean',
  'Max',
  'Min',
  'Any',
  'All',
  'Add',
  'Sub',
  'Multiply',
  'RealDiv',
  'Softmax',
  'Identity',
  'Cast',
  'Relu',
  'MaxPool',
];

/** Runs `fn` with `kernelName` of `backend` unregistered (as if its package had not been imported). */
function withoutKernel(kernelName: string, backend: string, fn: () => void): void {
  const k = tf.getKernel(kernelName, backend)!;
  tf.unregisterKernel(kernelName, backend);
  try {
    fn();
  } finally {
    tf.registerKernel(k);
  }
}

describe('registering the training kernels', () => {
  it('wasm: adds or replaces exactly the listed kernels, idempotently, and unpatching restores stock', () => {
    unpatchWasmBackend();
    const stockMaxPoolGrad = tf.getKernel('MaxPoolGrad', 'wasm');
    expect(stockMaxPoolGrad).toBeDefined();
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeUndefined(); // wasm 4.22 ships none
    expect(registerWasmTrainingKernels()).toEqual(WASM_PATCHED);
    expect(registerWasmTrainingKernels()).toEqual(WASM_PATCHED);
    expect(patchedKernels('wasm')).toEqual(WASM_PATCHED);
    expect(tf.getKernel('MaxPoolGrad', 'wasm')).not.toBe(stockMaxPoolGrad);
    // Registered twice, the stock kernel is still the one tfjs shipped, not the first override.
    expect(stockKernel('MaxPoolGrad', 'wasm')).toBe(stockMaxPoolGrad);
    expect(stockKernel('Conv2DBackpropFilter', 'wasm')).toBeUndefined();
    unpatchWasmBackend();
    expect(patchedKernels('wasm')).toEqual([]);
    expect(tf.getKernel('MaxPoolGrad', 'wasm')).toBe(stockMaxPoolGrad);
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeUndefined();
    // The fused gradient kernels are robust-ft's own: unpatched, wasm has none (and the installed
    // 'Relu'/'Relu6'/'ClipByValue' gradients fall back to tfjs-core's ops, see activation-grads.test.ts).
    for (const k of ['RobustFtReluGrad', 'RobustFtRelu6Grad', 'RobustFtClipByValueGrad'])
      expect(tf.getKernel(k, 'wasm')).toBeUndefined();
  });

  it('re-registering logs no tfjs overwrite warning, and unpatching tolerates a kernel removed meanwhile', () => {
    unpatchWasmBackend();
    // tfjs only warns outside PROD (the test setup sets PROD to keep logs quiet).
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    tf.env().set('PROD', false);
    try {
      registerWasmTrainingKernels();
      registerWasmTrainingKernels();
      expect(warn).not.toHaveBeenCalled();
    } finally {
      tf.env().set('PROD', true);
      warn.mockRestore();
    }
    tf.unregisterKernel('Conv2DBackpropFilter', 'wasm');
    expect(() => unpatchWasmBackend()).not.toThrow();
    expect(patchedKernels('wasm')).toEqual([]);
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeUndefined();
  });

  it('cpu: replaces only the filter gradient, and unpatching leaves the wasm patch alone', () => {
    unpatchCpuBackend();
    const stockFilter = tf.getKernel('Conv2DBackpropFilter', 'cpu');
    registerWasmTrainingKernels();
    expect(registerCpuTrainingKernels()).toEqual(['Conv2DBackpropFilter']);
    expect(tf.getKernel('Conv2DBackpropFilter', 'cpu')).not.toBe(stockFilter);
    unpatchCpuBackend();
    expect(tf.getKernel('Conv2DBackpropFilter', 'cpu')).toBe(stockFilter);
    expect(patchedKernels('cpu')).toEqual([]);
    expect(patchedKernels('wasm')).toEqual(WASM_PATCHED);
    unpatchWasmBackend();
  });

  it.each([
    ['wasm', 'Conv2D', registerWasmTrainingKernels, "no 'Conv2D' kernel"],
    ['cpu', 'Conv2DBackpropFilter', registerCpuTrainingKernels, 'tfjs-backend-cpu'],
  ] as const)(
    '%s: refuses with BACKEND_UNAVAILABLE when the backend package was not imported',
    (backend, kernel, register, says) => {
      unpatchWasmBackend();
      unpatchCpuBackend();
      withoutKernel(kernel, backend, () => {
        expect(() => register()).toThrow(
          expect.objectContaining({ code: 'BACKEND_UNAVAILABLE', message: expect.stringContaining(says) }),
        );
      });
      expect(patchedKernels(backend)).toEqual([]);
    },
  );
});

const filterAttrs = (dataFormat: 'NHWC' | 'NCHW', filterShape: number[]) => ({
  strides: 1,
  pad: 'valid',
  dataFormat,
  dilations: 1,
  filterShape,
});

describe('the backends as kernel hosts', () => {
  it('cpuHost allocates zeroed arrays of the dtype asked for, and disposes what it allocated', () => {
    const h = cpuHost(tf.backend());
    const backend = tf.backend();
    const before = backend.numDataIds();
    const made = (['int32', 'bool', 'float32'] as const).map((dtype) => h.alloc([2, 3], dtype));
    expect(made.map((m) => m.values.constructor)).toEqual([Int32Array, Uint8Array, Float32Array]);
    expect(made.map((m) => [m.info.dtype, m.info.shape, Array.from(m.values)])).toEqual(
      (['int32', 'bool', 'float32'] as const).map((d) => [d, [2, 3], [0, 0, 0, 0, 0, 0]]),
    );
    made[0]!.values[1] = 7;
    expect(Array.from(h.read(made[0]!.info))).toEqual([0, 7, 0, 0, 0, 0]);
    expect(backend.numDataIds()).toBe(before + 3);
    for (const m of made) h.dispose(m.info);
    expect(backend.numDataIds()).toBe(before);
  });
});

describe('cpu Conv2DBackpropFilter on special values', () => {
  it("gives the stock kernel's bits where x = 0 meets ±∞ or NaN in dy (0 · ∞ is NaN), and skips zeros otherwise exactly", async () => {
    await tf.setBackend('cpu');
    unpatchCpuBackend();
    const stock = tf.getKernel('Conv2DBackpropFilter', 'cpu')!;
    registerCpuTrainingKernels();
    const ours = tf.getKernel('Conv2DBackpropFilter', 'cpu')!;
    expect(ours).not.toBe(stock);
    const backend = tf.backend();
    // x with a ReLU-like share of zeros (a whole channel of them), dy finite, then with ∞ / −∞ / NaN.
    const x = tf.tensor4d(
      Array.from({ length: 2 * 5 * 5 * 3 }, (_, i) => (i % 3 === 1 || i % 7 === 0 ? 0 : ((i * 37) % 11) - 5)),
      [2, 5, 5, 3],
    );
    const attrs = { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 1, filterShape: [3, 3, 3, 4] };
    for (const special of [undefined, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN]) {
      const dy = tf.tensor4d(
        Array.from({ length: 2 * 5 * 5 * 4 }, (_, i) =>
          special !== undefined && i === 41 ? special : (i % 9) - 4,
        ),
        [2, 5, 5, 4],
      );
      const run = (k: tf.KernelConfig) => {
        const info = k.kernelFunc({ inputs: { x, dy }, backend, attrs: attrs as never }) as tf.TensorInfo;
        const t = tf.engine().makeTensorFromTensorInfo(info);
        const values = Array.from(t.dataSync());
        t.dispose();
        return values;
      };
      const want = run(stock);
      expect(run(ours), String(special)).toEqual(want);
      if (special !== undefined) expect(want.some(Number.isNaN), String(special)).toBe(true);
      dy.dispose();
    }
    x.dispose();
    unpatchCpuBackend();
  });
});

describe('layouts and shapes the kernels do not cover', () => {
  it('wasm Conv2DBackpropFilter refuses NCHW with a typed UNSUPPORTED naming dataFormat', async () => {
    registerWasmTrainingKernels();
    await tf.setBackend('wasm');
    const x = tf.ones([1, 2, 4, 4]);
    const dy = tf.ones([1, 2, 3, 3]);
    expect(() =>
      tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, filterAttrs('NCHW', [2, 2, 2, 2])),
    ).toThrow(
      expect.objectContaining({
        code: 'UNSUPPORTED',
        message: 'Conv2DBackpropFilter on wasm supports only NHWC',
        argument: 'dataFormat',
        expected: 'NHWC',
      }),
    );
    tf.dispose([x, dy]);
    await tf.setBackend('cpu');
  });

  it('cpu Conv2DBackpropFilter hands NCHW to the stock kernel, and without one refuses it', async () => {
    const x = tf.randomUniform([1, 2, 4, 4], -1, 1, 'float32', 1);
    const dy = tf.randomUniform([1, 2, 3, 3], -1, 1, 'float32', 2);
    const run = () =>
      tf
        .engine()
        .runKernel('Conv2DBackpropFilter', { x, dy }, filterAttrs('NCHW', [2, 2, 2, 2])) as tf.Tensor;
    unpatchCpuBackend();
    const stock = run();
    registerCpuTrainingKernels();
    const patched = run();
    unpatchCpuBackend();
    expect(Array.from(await patched.data())).toEqual(Array.from(await stock.data()));
    const call = (config: tf.KernelConfig, attrs: object) =>
      config.kernelFunc({ inputs: { x, dy }, backend: tf.backend(), attrs: attrs as tf.NamedAttrMap });
    let thrown: unknown;
    try {
      call(conv2dBackpropFilterConfig('cpu', cpuHost), filterAttrs('NCHW', [2, 2, 2, 2]));
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(Error);
    expect((thrown as Error).message).toBe(
      'robust-ft Conv2DBackpropFilter: dataFormat NCHW is not supported by the typed-array kernel',
    );
    // NHWC, stated or left to the default, is the typed-array loop's own: the fallback is never asked.
    const refusing = conv2dBackpropFilterConfig('cpu', cpuHost, {
      kernelName: 'Conv2DBackpropFilter',
      backendName: 'cpu',
      kernelFunc: () => {
        throw new Error('fallback called');
      },
    });
    const { dataFormat: _f, ...noFormat } = filterAttrs('NHWC', [2, 2, 2, 2]);
    const [xh, dyh] = [tf.transpose(x, [0, 2, 3, 1]), tf.transpose(dy, [0, 2, 3, 1])];
    const expected = tf
      .engine()
      .runKernel(
        'Conv2DBackpropFilter',
        { x: xh, dy: dyh },
        filterAttrs('NHWC', [2, 2, 2, 2]) as never,
      ) as tf.Tensor;
    for (const attrs of [filterAttrs('NHWC', [2, 2, 2, 2]), noFormat]) {
      const info = refusing.kernelFunc({
        inputs: { x: xh, dy: dyh },
        backend: tf.backend(),
        attrs: attrs as never,
      }) as tf.TensorInfo;
      const out = tf.engine().makeTensorFromTensorInfo(info);
      expect(out.shape).toEqual([2, 2, 2, 2]);
      near(Array.from(await out.data()), await expected.data());
      out.dispose();
    }
    tf.dispose([xh, dyh, expected]);
    tf.dispose([x, dy, stock, patched]);
  });

  it('wasm input gradients fall back for NCHW and dilated depthwise filters, with the right values', async () => {
    const dy = tf.randomUniform([1, 5, 5, 3], -1, 1, 'float32', 3) as tf.Tensor4D;
    const w = tf.randomUniform([3, 3, 3, 1], -1, 1, 'float32', 4) as tf.Tensor4D;
    const wFull = tf.randomUniform([3, 3, 3, 3], -1, 1, 'float32', 5) as tf.Tensor4D;
    // The input gradient of a linear map f is dx_i = <f(e_i), dy>: all 75 one-hot inputs as one batch,
    // forward only (tfjs has no gradient for dilated depthwise convs, and cpu's input-gradient kernel
    // ignores the dilation), on stock cpu.
    const vjp = (f: (x: tf.Tensor4D) => tf.Tensor4D) =>
      tf.tidy(() => {
        const eye = tf.reshape(
          tf.cast(tf.oneHot(tf.range(0, 75, 1, 'int32'), 75), 'float32'),
          [75, 5, 5, 3],
        ) as tf.Tensor4D;
        return tf.reshape(tf.sum(tf.mul(f(eye), dy), [1, 2, 3]), [1, 5, 5, 3]);
      });
    const nchw = (t: tf.Tensor) => tf.transpose(t, [0, 3, 1, 2]);
    const common = { strides: 1, pad: 'same', dimRoundingMode: undefined };
    const calls: [string, tf.NamedTensorMap, object, tf.Tensor][] = [
      ...(
        [
          [2, 1],
          [1, 2],
        ] as const
      ).map((d): [string, tf.NamedTensorMap, object, tf.Tensor] => [
        'DepthwiseConv2dNativeBackpropInput',
        { dy, filter: w },
        { ...common, dataFormat: 'NHWC', dilations: d, inputShape: [1, 5, 5, 3] },
        vjp((x) => tf.depthwiseConv2d(x, w, 1, 'same', 'NHWC', [d[0], d[1]])),
      ]),
      [
        'Conv2DBackpropInput',
        { dy: nchw(dy), filter: wFull },
        { ...common, dataFormat: 'NCHW', dilations: 1, inputShape: [1, 3, 5, 5] },
        nchw(vjp((x) => tf.conv2d(x, wFull, 1, 'same'))),
      ],
    ];
    registerWasmTrainingKernels();
    await tf.setBackend('wasm');
    for (const [name, inputs, attrs, oracle] of calls) {
      const t = tf.engine().runKernel(name, inputs, attrs as tf.NamedAttrMap) as tf.Tensor;
      expect(t.shape, name).toEqual(oracle.shape);
      const [actual, expected] = [await t.data(), await oracle.data()];
      actual.forEach((v, i) => {
        expect(Math.abs(v - expected[i]!), `${name}[${i}]`).toBeLessThan(1e-4);
      });
      t.dispose();
    }
    await tf.setBackend('cpu');
    tf.dispose([dy, w, wFull, ...calls.map(([, , , o]) => o), calls.at(-1)![1].dy!]);
  });
});

/**
 * Each case's [shape, values, dtype] on stock cpu and on patched wasm, the heap dirtied before each
 * (freed memory that held non-zeros: an output a kernel leaves unwritten shows it); ends on cpu.
 */
async function cpuAndPatchedWasm(cases: [string, () => tf.Tensor][]) {
  const run = async (backend: string) => {
    await tf.setBackend(backend);
    const out: [number[], number[], string][] = [];
    for (const [, fn] of cases) {
      tf.dispose([tf.fill([64], 7), tf.fill([64], 7, 'int32')]);
      const t = tf.tidy(fn);
      out.push([t.shape, Array.from(await t.data()), t.dtype]);
      t.dispose();
    }
    return out;
  };
  const expected = await run('cpu');
  registerWasmTrainingKernels();
  const actual = await run('wasm');
  await tf.setBackend('cpu');
  return { expected, actual };
}

describe('wasm reductions over empty tensors', () => {
  it('give stock cpu values (tfjs-wasm 4.22 left the output unwritten: heap garbage after earlier work)', async () => {
    const none = () => tf.zeros([0, 3, 4]);
    const flags = () => tf.cast(tf.zeros([0, 3, 4]), 'bool');
    const cases: [string, () => tf.Tensor][] = [
      ['sum, axis 0', () => tf.sum(none(), 0)],
      ['sum int32, all axes', () => tf.sum(tf.zeros([0, 4], 'int32'))],
      ['prod, axis 0, keepDims', () => tf.prod(none(), 0, true)],
      ['prod int32, axis 0', () => tf.prod(tf.zeros([0, 4], 'int32'), 0)],
      ['mean, axes 0 and 2', () => tf.mean(none(), [0, 2])],
      ['max, axis 0', () => tf.max(none(), 0)],
      ['max, all axes', () => tf.max(none())],
      ['min, axis 0, keepDims', () => tf.min(none(), 0, true)],
      ['any, axis 0', () => tf.any(flags(), 0)],
      ['all, axis 0', () => tf.all(flags(), 0)],
      ['max over a non-empty axis of an empty tensor', () => tf.max(none(), 1)],
    ];
    const { expected, actual } = await cpuAndPatchedWasm(cases);
    cases.forEach(([name], k) => {
      expect(actual[k], name).toEqual(expected[k]);
    });
    // The cpu oracle's values, pinned: NaN for max/min, 1 for prod, 0 (false) for the rest.
    expect(expected.map(([, v]) => v[0])).toEqual([
      0,
      0,
      1,
      1,
      0,
      Number.NaN,
      Number.NaN,
      Number.NaN,
      0,
      0,
      undefined,
    ]);
  });
});

describe('wasm Sum and Add outside the bias-gradient shapes', () => {
  it('give stock cpu values (int32, non-leading or all axes, keepDims, empty rows, bias first or not a bias)', async () => {
    const f = tf.tensor3d(seq(24, 0.7), [2, 3, 4]);
    const i = tf.tensor3d(
      Array.from({ length: 24 }, (_, k) => (k % 9) - 4),
      [2, 3, 4],
      'int32',
    );
    const none = tf.zeros([0, 4]);
    const b4 = tf.tensor1d([1, -2, 3, -4]);
    const i4 = tf.tensor1d([1, -2, 3, -4], 'int32');
    const cases: [string, () => tf.Tensor][] = [
      ['int32 leading sum', () => tf.sum(i, [0, 1])],
      [
        'a leading and a later axis',
        () => tf.sum(tf.reshape(tf.range(0, 192, 1, 'float32'), [2, 3, 4, 8]), [0, 2]),
      ],
      ['non-leading axis', () => tf.sum(f, 1)],
      ['last axis only', () => tf.sum(f, -1)],
      ['all axes', () => tf.sum(f)],
      ['axes out of order', () => tf.sum(f, [1, 0], true)],
      ['keepDims', () => tf.sum(f, 0, true)],
      ['no rows', () => tf.sum(none, 0)],
      ['no rows, all axes', () => tf.sum(none)],
      ['no rows, keepDims', () => tf.sum(none, 0, true)],
      ['no rows, int32', () => tf.sum(tf.zeros([0, 4], 'int32'), 0)],
      ['empty kept axis', () => tf.sum(tf.zeros([3, 0]), 0)],
      ['scalar', () => tf.sum(tf.scalar(3))],
      ['int32 bias add', () => tf.add(i, i4)],
      ['bias first', () => tf.add(b4, f)],
      ['same-shape add', () => tf.add(f, f)],
      ['bias of 3', () => tf.add(tf.reshape(f, [8, 3]), tf.tensor1d([1, 2, 3]))],
      ['row, not a bias', () => tf.add(f, tf.ones([1, 4]))],
      ['1-D + 1-D', () => tf.add(b4, b4)],
      ['broadcast column + bias', () => tf.add(tf.reshape(f, [24, 1]), b4)],
    ];
    const { expected, actual } = await cpuAndPatchedWasm(cases);
    cases.forEach(([name], k) => {
      const [shape, values, dtype] = actual[k]!;
      expect([shape, dtype], name).toEqual([expected[k]![0], expected[k]![2]]);
      values.forEach((v, j) => {
        expect(Math.abs(v - expected[k]![1][j]!), name).toBeLessThan(1e-4);
      });
    });
    tf.dispose([f, i, none, b4, i4]);
  });
});

describe('wasm Sum and Add route bias-gradient shapes to the SIMD loops', () => {
  it('calls the stock kernel only for the shapes the SIMD (or the small) loops do not take', async () => {
    registerWasmTrainingKernels();
    await tf.setBackend('wasm');
    // The SIMD-first kernels call the stock config they wrap at run time, so a spy on it sees every fallback.
    const stockSum = vi.spyOn(stockKernel('Sum', 'wasm')!, 'kernelFunc');
    const stockAdd = vi.spyOn(stockKernel('Add', 'wasm')!, 'kernelFunc');
    const simdAdd = vi.spyOn(TrainingSimd.prototype, 'addBias');
    const x = tf.tensor3d(seq(40, 0.9), [2, 5, 4]);
    const b = tf.tensor1d([1, 2, 3, 4]);
    // 'simd': the stock kernel was not called (for Add: and the SIMD row loop was); 'small': neither.
    const routed = async (fn: () => tf.Tensor, spy: typeof stockSum) => {
      spy.mockClear();
      simdAdd.mockClear();
      const t = fn();
      await t.data();
      t.dispose();
      if (spy.mock.calls.length > 0) return 'stock';
      return spy === stockAdd && simdAdd.mock.calls.length === 0 ? 'small' : 'simd';
    };
    try {
      expect(await routed(() => tf.sum(x, [0, 1]), stockSum)).toBe('simd');
      expect(await routed(() => tf.sum(x, [1, 0], true), stockSum)).toBe('simd');
      expect(await routed(() => tf.sum(x, 0), stockSum)).toBe('simd');
      expect(await routed(() => tf.sum(x, 1), stockSum)).toBe('stock');
      expect(await routed(() => tf.sum(x), stockSum)).toBe('stock');
      expect(await routed(() => tf.sum(tf.reshape(x, [8, 5]), 0), stockSum)).toBe('stock');
      expect(await routed(() => tf.add(x, b), stockAdd)).toBe('simd');
      expect(await routed(() => tf.add(b, x), stockAdd)).toBe('simd');
      expect(await routed(() => tf.add(tf.reshape(x, [10, 4]), b), stockAdd)).toBe('simd');
      // Not a bias: small same-shape adds take small-ops.ts's loop, larger ones the stock kernel.
      expect(await routed(() => tf.add(x, x), stockAdd)).toBe('small');
      expect(await routed(() => tf.add(b, b), stockAdd)).toBe('small');
      expect(await routed(() => tf.add(tf.ones([3, 10]), tf.ones([10])), stockAdd)).toBe('small');
      const big = tf.ones([SMALL_OP_MAX_ELEMENTS + 1]);
      expect(await routed(() => tf.add(big, big), stockAdd)).toBe('stock');
      big.dispose();
    } finally {
      stockSum.mockRestore();
      stockAdd.mockRestore();
      simdAdd.mockRestore();
      tf.dispose([x, b]);
      await tf.setBackend('cpu');
    }
  });
});

/**
 * Runs each case on patched wasm, noting whether its stock-kernel spy was called ('stock') or not
 * ('ours': a SIMD kernel or a small-ops.ts loop), then on cpu: expects the route and cpu's shape and
 * values (`exact`: toEqual, NaN and −0 included; else |Δ| < 1e-4).
 */
type Spy = { mockClear(): void; mock: { calls: unknown[] } };
type Route = 'ours' | 'stock';
async function expectRoutes(
  cases: readonly (readonly [string, () => tf.Tensor, Spy, Route])[],
  exact: boolean,
): Promise<void> {
  registerWasmTrainingKernels();
  await tf.setBackend('wasm');
  const got: { route: string; shape: number[]; values: number[] }[] = [];
  for (const [, fn, spy] of cases) {
    spy.mockClear();
    const t = fn();
    got.push({
      route: spy.mock.calls.length > 0 ? 'stock' : 'ours',
      shape: t.shape,
      values: Array.from(await t.data()),
    });
    t.dispose();
  }
  await tf.setBackend('cpu');
  cases.forEach(([name, fn, , route], k) => {
    const t = fn();
    expect(got[k]!.route, name).toBe(route);
    expect(got[k]!.shape, name).toEqual(t.shape);
    const want = Array.from(t.dataSync());
    if (exact) expect(got[k]!.values, name).toEqual(want);
    else
      got[k]!.values.forEach((v, j) => {
        expect(Math.abs(v - want[j]!), name).toBeLessThan(1e-4);
      });
    t.dispose();
  });
}

describe('wasm BatchMatMul routes to the SIMD products', () => {
  it('calls the stock kernel only for what the SIMD products do not take, and the products match cpu', async () => {
    registerWasmTrainingKernels();
    const stockMatMul = vi.spyOn(stockKernel('BatchMatMul', 'wasm')!, 'kernelFunc');
    const a = tf.tensor2d(seq(24, 0.3), [4, 6]);
    const s = stockMatMul;
    const cases = [
      ['A·B, N = 8', () => tf.matMul(a, tf.tensor2d(seq(48, 0.7), [6, 8])), s, 'ours'],
      ['Aᵀ·B, N = 4', () => tf.matMul(a, tf.tensor2d(seq(16, 0.5), [4, 4]), true, false), s, 'ours'],
      [
        'A·Bᵀ, K = 8',
        () => tf.matMul(tf.tensor2d(seq(24, 0.2), [3, 8]), tf.tensor2d(seq(32, 0.6), [4, 8]), false, true),
        s,
        'ours',
      ],
      [
        'batched, same leading sizes',
        () => tf.matMul(tf.reshape(a, [2, 2, 6]), tf.ones([2, 6, 4])),
        s,
        'ours',
      ],
      // Small products the SIMD tiles do not take run as small-ops.ts's loop, up to SMALL_MATMUL_MAX_MACS.
      ['N = 3', () => tf.matMul(a, tf.ones([6, 3])), s, 'ours'],
      ['A·Bᵀ, K = 6', () => tf.matMul(a, tf.ones([4, 6]), false, true), s, 'ours'],
      ['Aᵀ·Bᵀ', () => tf.matMul(a, tf.ones([8, 4]), true, true), s, 'ours'],
      [
        'Aᵀ·B, N = 10 (a dense head)',
        () => tf.matMul(a, tf.tensor2d(seq(40, 0.4), [4, 10]), true),
        s,
        'ours',
      ],
      [
        'N = 2, 512·64·2 = SMALL_MATMUL_MAX_MACS',
        () => tf.matMul(tf.tensor2d(seq(512 * 64, 0.01), [512, 64]), tf.tensor2d(seq(128, 0.3), [64, 2])),
        s,
        'ours',
      ],
      [
        'N = 2, one row more',
        () => tf.matMul(tf.tensor2d(seq(513 * 64, 0.01), [513, 64]), tf.tensor2d(seq(128, 0.3), [64, 2])),
        s,
        'stock',
      ],
      ['broadcast batch', () => tf.matMul(tf.reshape(a, [2, 2, 6]), tf.ones([1, 6, 4])), s, 'stock'],
      // Stock wasm returns uninitialised memory for an empty sum; these are zeros, with or without SIMD.
      ['K = 0', () => tf.matMul(tf.ones([2, 0]), tf.ones([0, 3])), s, 'ours'],
    ] as const;
    try {
      await expectRoutes(cases, false);
    } finally {
      stockMatMul.mockRestore();
    }
    a.dispose();
  });

  it('switched off with the other SIMD kernels', async () => {
    registerWasmTrainingKernels();
    await tf.setBackend('wasm');
    const stockMatMul = vi.spyOn(stockKernel('BatchMatMul', 'wasm')!, 'kernelFunc');
    setWasmTrainingSimdEnabled(false);
    try {
      // 64·64·32 multiply-adds: more than the small loop takes, so only the SIMD product could.
      tf.tidy(() => tf.matMul(tf.ones([64, 64]), tf.ones([64, 32])));
      expect(stockMatMul).toHaveBeenCalledTimes(1);
      // The small loop is not SIMD: it stays on.
      tf.tidy(() => tf.matMul(tf.ones([4, 4]), tf.ones([4, 8])));
      expect(stockMatMul).toHaveBeenCalledTimes(1);
    } finally {
      setWasmTrainingSimdEnabled(true);
      stockMatMul.mockRestore();
      await tf.setBackend('cpu');
    }
  });
});

describe('wasm Relu and MaxPool route to the SIMD passes', () => {
  it('calls the stock kernel only for the shapes and dtypes the passes do not take', async () => {
    registerWasmTrainingKernels();
    const stockRelu = vi.spyOn(stockKernel('Relu', 'wasm')!, 'kernelFunc');
    const stockPool = vi.spyOn(stockKernel('MaxPool', 'wasm')!, 'kernelFunc');
    const x = tf.tensor4d(seq(2 * 6 * 8 * 4, 0.37), [2, 6, 8, 4]);
    const cases: [string, () => tf.Tensor, typeof stockRelu, 'ours' | 'stock'][] = [
      [
        // −0 in every lane group of both SIMD blocks and the tail (it must become +0, as Math.max
        // does), NaN and ±∞ among them.
        'relu, 37 elements (two SIMD blocks of 16 and a tail of 5)',
        () =>
          tf.relu(
            tf.tensor1d(
              seq(37, 0.9).map((v, i) =>
                i % 4 === 1
                  ? -0
                  : i % 9 === 2
                    ? Number.NaN
                    : i % 11 === 3
                      ? -Number.POSITIVE_INFINITY * v
                      : v,
              ),
            ),
          ),
        stockRelu,
        'ours',
      ],
      ['relu, 3 elements (all tail)', () => tf.relu(tf.tensor1d([-1, 2, -3])), stockRelu, 'ours'],
      ['relu int32', () => tf.relu(tf.tensor1d([-1, 2, -3, 4], 'int32')), stockRelu, 'stock'],
      ['maxPool 2x2 stride 2 valid', () => tf.maxPool(x, 2, 2, 'valid'), stockPool, 'ours'],
      [
        // NaN never wins, first tap included; the all-NaN window (pixels 8, 9, 12, 13) gives −∞, as on cpu.
        'maxPool 2x2 stride 2, NaN taps',
        () =>
          tf.maxPool(
            tf.tensor4d(
              seq(64, 0.7).map((v, i) =>
                i % 5 === 0 || (i >= 32 && i < 40) || (i >= 48 && i < 56) ? Number.NaN : v,
              ),
              [1, 4, 4, 4],
            ),
            2,
            2,
            'valid',
          ),
        stockPool,
        'ours',
      ],
      ['maxPool 2x2 stride 2 same, even sizes', () => tf.maxPool(x, 2, 2, 'same'), stockPool, 'ours'],
      ['maxPool 3x3 stride 2', () => tf.maxPool(x, 3, 2, 'valid'), stockPool, 'stock'],
      ['maxPool 2x2 stride 1', () => tf.maxPool(x, 2, 1, 'valid'), stockPool, 'stock'],
      [
        'maxPool 2x2, 3 channels',
        () => tf.maxPool(tf.ones([1, 4, 4, 3]) as tf.Tensor4D, 2, 2, 'valid'),
        stockPool,
        'stock',
      ],
      [
        'maxPool 2x2 same, odd 5x5 (padded)',
        () => tf.maxPool(tf.ones([1, 5, 5, 4]) as tf.Tensor4D, 2, 2, 'same'),
        stockPool,
        'stock',
      ],
    ];
    try {
      await expectRoutes(cases, true);
    } finally {
      stockRelu.mockRestore();
      stockPool.mockRestore();
    }
    x.dispose();
  });
});

describe('wasm small float32 operators run on the calling thread (small-ops.ts)', () => {
  // Special values in both operands: NaN, ±∞, ±0 (so 0/0, ∞−∞, 0·∞, x/±0 all occur).
  const special = (n: number, k: number) =>
    seq(n, k).map((v, i) =>
      i % 7 === 3
        ? Number.NaN
        : i % 11 === 5
          ? Number.POSITIVE_INFINITY
          : i % 13 === 6
            ? Number.NEGATIVE_INFINITY
            : i % 5 === 2
              ? 0
              : i % 9 === 4
                ? -0
                : v * 3,
    );
  const m = (shape: number[], k: number) => tf.tensor(special(tf.util.sizeFromShape(shape), k), shape);

  it('pins the size limits', () => {
    expect(SMALL_OP_MAX_ELEMENTS).toBe(16384);
    expect(SMALL_MATMUL_MAX_MACS).toBe(65536);
  });

  it('plans whole, scalar, row and column operands of one [outer, inner] view, and nothing else', () => {
    const plan = (a: number[], b: number[]) => {
      const p = binaryPlan(a, b);
      return p && [p.outShape, p.outer, p.inner, p.aRow, p.aCol, p.bRow, p.bCol];
    };
    expect(plan([32, 10], [32, 10])).toEqual([[32, 10], 1, 320, 320, 1, 320, 1]);
    expect(plan([32, 1], [32, 10])).toEqual([[32, 10], 32, 10, 1, 0, 10, 1]);
    expect(plan([32, 10], [32, 1])).toEqual([[32, 10], 32, 10, 10, 1, 1, 0]);
    expect(plan([32, 10], [10])).toEqual([[32, 10], 32, 10, 10, 1, 0, 1]);
    expect(plan([1, 10], [2, 3, 10])).toEqual([[2, 3, 10], 6, 10, 0, 1, 10, 1]);
    expect(plan([], [4, 5])).toEqual([[4, 5], 1, 20, 0, 0, 20, 1]);
    expect(plan([4, 5], [1, 1])).toEqual([[4, 5], 1, 20, 20, 1, 0, 0]);
    expect(plan([4, 1], [1, 5])).toEqual([[4, 5], 4, 5, 1, 0, 0, 1]); // an outer product
    expect(plan([1, 32, 10], [32, 10])).toEqual([[1, 32, 10], 1, 320, 320, 1, 320, 1]);
    expect(plan([2, 1, 3], [2, 4, 3])).toBeNull(); // a middle axis broadcast
    expect(plan([4, 1], [5])).toEqual([[4, 5], 4, 5, 1, 0, 0, 1]);
    expect(plan([3, 1, 1], [1, 4, 5])).toEqual([[3, 4, 5], 3, 20, 1, 0, 0, 1]);
    // A row of 12 and a column of 6 over [2,3,4] share the axis of 3: no one [outer, inner] view.
    expect(plan([3, 4], [2, 3, 1])).toBeNull();
    expect(plan([2, 3], [4, 3])).toBeNull(); // does not broadcast
    expect(plan([0, 3], [3])).toBeNull(); // empty
    expect(plan([SMALL_OP_MAX_ELEMENTS], [1])).not.toBeNull();
    expect(plan([SMALL_OP_MAX_ELEMENTS + 1], [1])).toBeNull();
  });

  it('Add, Sub, Multiply and RealDiv: every form they take gives the bits of tfjs-cpu; the rest go to stock', async () => {
    registerWasmTrainingKernels();
    const spies = {
      add: vi.spyOn(stockKernel('Add', 'wasm')!, 'kernelFunc'),
      sub: vi.spyOn(stockKernel('Sub', 'wasm')!, 'kernelFunc'),
      mul: vi.spyOn(stockKernel('Multiply', 'wasm')!, 'kernelFunc'),
      div: vi.spyOn(stockKernel('RealDiv', 'wasm')!, 'kernelFunc'),
    };
    const ops = { add: tf.add, sub: tf.sub, mul: tf.mul, div: tf.div } as const;
    const shapes: [string, number[], number[], Route][] = [
      ['same shape, 37 elements', [37], [37], 'ours'],
      ['[32,1] by [32,10] (the loss gradient)', [32, 1], [32, 10], 'ours'],
      ['[32,10] by [32,1]', [32, 10], [32, 1], 'ours'],
      ['bias of 10 after', [32, 10], [10], 'ours'],
      ['bias of 10 first', [10], [32, 10], 'ours'],
      ['scalar after', [3, 7], [], 'ours'],
      ['scalar first', [1], [3, 7], 'ours'],
      ['outer product [4,1] by [1,5]', [4, 1], [1, 5], 'ours'],
      ['rank 3, row [1,7]', [2, 3, 7], [1, 7], 'ours'],
      ['middle axis broadcast', [2, 1, 3], [2, 4, 3], 'stock'],
      ['over the size limit', [SMALL_OP_MAX_ELEMENTS + 1], [1], 'stock'],
    ];
    const cases = (Object.keys(ops) as (keyof typeof ops)[]).flatMap((op) =>
      shapes.map(
        ([name, sa, sb, route], i) =>
          [`${op} ${name}`, () => ops[op](m(sa, 0.3 + i), m(sb, 0.7 + i)), spies[op], route] as const,
      ),
    );
    const ints = tf.tensor1d([7, -3, 8, 9], 'int32');
    try {
      await expectRoutes(
        [
          ...cases,
          ['int32 multiply', () => tf.mul(ints, tf.tensor1d([2, 2, -1, 0], 'int32')), spies.mul, 'stock'],
          ['int32 add', () => tf.add(ints, tf.tensor1d([2, 2, -1, 3], 'int32')), spies.add, 'stock'],
          ['int32 sub', () => tf.sub(ints, tf.scalar(3, 'int32')), spies.sub, 'stock'],
        ],
        true,
      );
    } finally {
      for (const spy of Object.values(spies)) spy.mockRestore();
      ints.dispose();
    }
  });

  it('Softmax over the last axis gives the bits of tfjs-cpu (NaN and ±∞ rows); larger tensors go to stock', async () => {
    registerWasmTrainingKernels();
    const stock = vi.spyOn(stockKernel('Softmax', 'wasm')!, 'kernelFunc');
    const rows = [
      [1, 2, 3, -1, 0.5, 2.5, -4],
      [Number.NaN, 1, 2, 3, 4, 5, 6],
      [1, 2, Number.NaN, 3, 4, 5, 6],
      [Number.POSITIVE_INFINITY, 1, 2, 3, 4, 5, 6],
      [Number.NEGATIVE_INFINITY, 1, 2, 3, Number.NEGATIVE_INFINITY, 5, 6],
      [Number.POSITIVE_INFINITY, 1, Number.POSITIVE_INFINITY, 3, 4, 5, 6],
      [80, 90, 100, -100, 0, 88.7, 1e-30],
    ];
    try {
      await expectRoutes(
        [
          ['[7,7] with special rows', () => tf.softmax(tf.tensor2d(rows.flat(), [7, 7])), stock, 'ours'],
          [
            'rank 3 [2,3,5]',
            () =>
              tf.softmax(
                tf.tensor3d(
                  seq(30, 1.3).map((v) => 4 * v),
                  [2, 3, 5],
                ),
              ),
            stock,
            'ours',
          ],
          ['a vector', () => tf.softmax(tf.tensor1d(seq(10, 0.8))), stock, 'ours'],
          ['the digits head [32,10]', () => tf.softmax(tf.tensor2d(seq(320, 0.37), [32, 10])), stock, 'ours'],
        ],
        true,
      );
      await expectRoutes(
        [
          [
            'over the size limit',
            () =>
              tf.softmax(
                tf.tensor2d(seq(SMALL_OP_MAX_ELEMENTS + 16, 0.1), [SMALL_OP_MAX_ELEMENTS / 16 + 1, 16]),
              ),
            stock,
            'stock',
          ],
        ],
        false,
      );
      // The Softmax op allows only the last axis; a kernel called with another goes to stock.
      await tf.setBackend('wasm');
      stock.mockClear();
      const x = tf.tensor2d(seq(12, 0.5), [3, 4]);
      tf.dispose(tf.engine().runKernel('Softmax', { logits: x }, { dim: 0 }) as tf.Tensor);
      expect(stock).toHaveBeenCalledTimes(1);
      x.dispose();
      await tf.setBackend('cpu');
    } finally {
      stock.mockRestore();
    }
  });

  it('_FusedMatMul: linear or ReLU with a bias they can add run as our product and epilogue; the rest go to stock', async () => {
    registerWasmTrainingKernels();
    const stock = vi.spyOn(stockKernel('_FusedMatMul', 'wasm')!, 'kernelFunc');
    const a = tf.tensor2d(special(32 * 12, 0.3), [32, 12]);
    const w = tf.tensor2d(seq(120, 0.7), [12, 10]);
    const bias = tf.tensor1d(special(10, 0.9));
    const fused = (
      activation: tf.fused.Activation | undefined,
      b: tf.Tensor | undefined,
      extra: Partial<Parameters<typeof tf.fused.matMul>[0]> = {},
    ) =>
      tf.fused.matMul({
        a,
        b: w,
        ...(b ? { bias: b } : {}),
        ...(activation ? { activation } : {}),
        ...extra,
      });
    try {
      await expectRoutes(
        [
          ['linear, no bias, N = 10', () => fused(undefined, undefined), stock, 'ours'],
          ['bias [10] and relu', () => fused('relu', bias), stock, 'ours'],
          [
            'bias [32,1] (a column), linear',
            () => fused('linear', tf.tensor2d(seq(32, 0.2), [32, 1])),
            stock,
            'ours',
          ],
          [
            'bias [32,10] (whole), relu',
            () => fused('relu', tf.tensor2d(seq(320, 0.2), [32, 10])),
            stock,
            'ours',
          ],
          [
            'transposeB, N = 10, K = 12',
            () => tf.fused.matMul({ a, b: tf.transpose(w), transposeB: true, bias, activation: 'relu' }),
            stock,
            'ours',
          ],
        ],
        true,
      );
      // The fallbacks, on finite values (stock wasm's activations treat NaN their own way).
      const plain = tf.tensor2d(seq(32 * 12, 0.3), [32, 12]);
      const plainBias = tf.tensor1d(seq(10, 0.9));
      await expectRoutes(
        [
          [
            'relu6',
            () => tf.fused.matMul({ a: plain, b: w, bias: plainBias, activation: 'relu6' }),
            stock,
            'stock',
          ],
          [
            'prelu',
            () =>
              tf.fused.matMul({
                a: plain,
                b: w,
                bias: plainBias,
                activation: 'prelu',
                preluActivationWeights: tf.scalar(0.2),
              }),
            stock,
            'stock',
          ],
          [
            'a bias over the size limit',
            () =>
              tf.fused.matMul({
                a: tf.ones([SMALL_OP_MAX_ELEMENTS / 4 + 1, 2]),
                b: tf.ones([2, 4]),
                bias: tf.ones([4]),
              }),
            stock,
            'stock',
          ],
        ],
        false,
      );
      tf.dispose([plain, plainBias]);
    } finally {
      stock.mockRestore();
      tf.dispose([a, w, bias]);
    }
  });

  it('run without the SIMD modules too (they are plain loops)', async () => {
    registerWasmTrainingKernels();
    await tf.setBackend('wasm');
    const stockMul = vi.spyOn(stockKernel('Multiply', 'wasm')!, 'kernelFunc');
    setWasmTrainingSimdEnabled(false);
    try {
      tf.tidy(() => tf.mul(tf.ones([32, 1]), tf.ones([32, 10])));
      expect(stockMul).not.toHaveBeenCalled();
    } finally {
      setWasmTrainingSimdEnabled(true);
      stockMul.mockRestore();
      await tf.setBackend('cpu');
    }
  });
});

describe('int32 inputs', () => {
  it('patched wasm UnsortedSegmentSum keeps int32 and drops ids out of range', async () => {
    registerWasmTrainingKernels();
    await tf.setBackend('wasm');
    const x = tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8], [4, 2], 'int32');
    const ids = tf.tensor1d([0, 2, 0, 5], 'int32');
    const out = tf.unsortedSegmentSum(x, ids, 3);
    expect(out.dtype).toBe('int32');
    expect(out.shape).toEqual([3, 2]);
    expect(Array.from(await out.data())).toEqual([6, 8, 0, 0, 3, 4]);
    tf.dispose([x, ids, out]);
    await tf.setBackend('cpu');
  });
});

describe('wasm kernels on degenerate shapes', () => {
  it('give stock cpu values: a filter gradient over an empty batch', async () => {
    const cases: [string, () => tf.Tensor][] = [
      [
        'Conv2DBackpropFilter, batch 0',
        () =>
          tf
            .engine()
            .runKernel(
              'Conv2DBackpropFilter',
              { x: tf.zeros([0, 4, 4, 4]), dy: tf.zeros([0, 2, 2, 8]) },
              filterAttrs('NHWC', [3, 3, 4, 8]),
            ) as tf.Tensor,
      ],
    ];
    const { expected, actual } = await cpuAndPatchedWasm(cases);
    cases.forEach(([name], k) => {
      const [shape, values, dtype] = actual[k]!;
      expect([shape, dtype], name).toEqual([expected[k]![0], expected[k]![2]]);
      values.forEach((v, j) => {
        expect(Math.abs(v - expected[k]![1][j]!), name).toBeLessThan(1e-5);
      });
    });
  });
});

describe('wasm Identity and Cast', () => {
  it('share the data where the dtype stays; a real cast still converts (stock kernel)', async () => {
    registerWasmTrainingKernels();
    await tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    const x = tf.tensor1d([1.7, -2.2, 3.5]);
    const same = tf.engine().runKernel('Cast', { x }, { dtype: 'float32' }) as tf.Tensor;
    const id = tf.engine().runKernel('Identity', { x }, {}) as tf.Tensor;
    expect(same.dataId).toBe(x.dataId);
    expect(id.dataId).toBe(x.dataId);
    const asInt = tf.engine().runKernel('Cast', { x }, { dtype: 'int32' }) as tf.Tensor;
    expect(asInt.dtype).toBe('int32');
    expect(asInt.dataId).not.toBe(x.dataId);
    expect(Array.from(await asInt.data())).toEqual([1, -2, 3]);
    tf.dispose([x, same, id, asInt]);
    expect(tf.memory().numTensors).toBe(before);
    await tf.setBackend('cpu');
  });
});

/** A standalone 4-page heap for the SIMD module (shared: the threaded build's). */
const heap = (shared: boolean) => testHeap(4, shared);

const seq = (n: number, k: number) => Array.from({ length: n }, (_, i) => Math.sin(i * k));
const near = (actual: number[], expected: ArrayLike<number>) => {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((v, i) => {
    expect(Math.abs(v - expected[i]!)).toBeLessThan(1e-4 * (1 + Math.abs(expected[i]!)));
  });
};

describe('the SIMD training module', () => {
  it('links to a plain heap (asm.memory) and a shared one (the threaded build), not to anything else', () => {
    const plain = heap(false).memory;
    const shared = heap(true).memory;
    expect(isSharedMemory(plain)).toBe(false);
    expect(isSharedMemory(shared)).toBe(true);
    expect(trainingSimdFor({ wasm: { asm: { memory: plain } } })).not.toBeNull();
    expect(trainingSimdFor({ wasm: { wasmMemory: shared } })).not.toBeNull();
    expect(wasmTrainingSimdInUse({ wasm: { wasmMemory: shared } })).toBe(true);
    expect(trainingSimdFor({})).toBeNull();
    expect(trainingSimdFor({ wasm: { asm: { memory: new ArrayBuffer(8) } } })).toBeNull();
    expect(wasmTrainingSimdInUse({ wasm: {} })).toBe(false);
    setWasmTrainingSimdEnabled(false);
    try {
      expect(trainingSimdFor({ wasm: { asm: { memory: plain } } })).toBeNull();
      expect(wasmTrainingSimdInUse({ wasm: { wasmMemory: shared } })).toBe(false);
    } finally {
      setWasmTrainingSimdEnabled(true);
    }
  });

  it.each([false, true])('computes what the typed-array loops do (shared heap: %s)', (shared) => {
    const h = heap(shared);
    const simd = trainingSimdFor(
      shared ? { wasm: { wasmMemory: h.memory } } : { wasm: { asm: { memory: h.memory } } },
    )!;
    // A full conv with CI % 4 ≠ 0 (the 1×16 / 1×4 tiles), one with CI % 4 = 0 (4×8 / 4×4).
    for (const [xShape, wShape] of [
      [
        [2, 6, 5, 3],
        [3, 3, 3, 20],
      ],
      [
        [2, 6, 5, 4],
        [2, 3, 4, 12],
      ],
    ] as const) {
      const g = convInfoOf(xShape, wShape, { strides: [2, 1], pad: 'same' });
      const x = seq(tf.util.sizeFromShape(xShape.slice()), 0.7);
      const dy = seq(g.batchSize * g.outHeight * g.outWidth * g.outChannels, 1.3);
      const expected = new Float32Array(tf.util.sizeFromShape(wShape.slice()));
      conv2dBackpropFilterNhwc(x, dy, expected, g);
      const dw = h.zeros(expected.length);
      expect(simd.conv2dBackpropFilter(h.put(x), h.put(dy), dw, g)).toBe('done');
      near(h.read(dw, expected.length), expected);
    }
    // Depthwise, 20 channels (dw16 + dw4 tiles), undilated and dilated (the SIMD path takes dilations).
    for (const dilations of [1, [2, 3]] as const) {
      const gd = convInfoOf(
        [2, 7, 8, 20],
        [3, 3, 20, 1],
        { strides: 1, pad: 'same', dilations: dilations as number | [number, number] },
        true,
      );
      const xd = seq(2 * 7 * 8 * 20, 0.3);
      const dyd = seq(gd.batchSize * gd.outHeight * gd.outWidth * 20, 0.9);
      const wd = new Float32Array(3 * 3 * 20);
      depthwiseBackpropFilterNhwc(xd, dyd, wd, gd);
      const dwd = h.zeros(wd.length);
      expect(simd.depthwiseBackpropFilter(h.put(xd), h.put(dyd), dwd, gd)).toBe('done');
      near(h.read(dwd, wd.length), wd);
    }
    // One image is a batch too (the SIMD paths refuse only an empty batch).
    const g1 = convInfoOf([1, 4, 4, 4], [2, 2, 4, 4], { strides: 1, pad: 'valid' });
    const x1 = seq(64, 0.2);
    const dy1 = seq(36, 0.6);
    const w1 = new Float32Array(64);
    conv2dBackpropFilterNhwc(x1, dy1, w1, g1);
    const dw1 = h.zeros(64);
    expect(simd.conv2dBackpropFilter(h.put(x1), h.put(dy1), dw1, g1)).toBe('done');
    near(h.read(dw1, 64), w1);
    const gd1 = convInfoOf([1, 4, 4, 4], [2, 2, 4, 1], { strides: 1, pad: 'valid' }, true);
    const wd1 = new Float32Array(16);
    depthwiseBackpropFilterNhwc(x1, seq(36, 0.6), wd1, gd1);
    const dwd1 = h.zeros(16);
    expect(simd.depthwiseBackpropFilter(h.put(x1), h.put(dy1), dwd1, gd1)).toBe('done');
    near(h.read(dwd1, 16), wd1);
    // Max-pool gradient, 8 channels.
    const gp = poolInfoOf([1, 5, 5, 8], { filterSize: 3, strides: 2, pad: 'same' });
    const xp = seq(200, 2.1);
    const dyp = seq(gp.outHeight * gp.outWidth * 8, 0.5);
    const dxp = new Float32Array(200);
    maxPoolGradNhwc(dyp, xp, dxp, gp);
    const out = h.zeros(200);
    expect(simd.maxPoolGrad(h.put(dyp), h.put(xp), out, h.zeros(16), gp)).toBe(true);
    near(h.read(out, 200), dxp);
    // Column sums and bias rows of a [3, 8] matrix.
    const m = seq(24, 0.4);
    const sums = h.zeros(8);
    expect(simd.columnSums(h.put(m), sums, 3, 8)).toBe(true);
    near(
      h.read(sums, 8),
      Array.from({ length: 8 }, (_, c) => m[c]! + m[8 + c]! + m[16 + c]!),
    );
    const bias = seq(8, 1.7);
    const rows = h.zeros(24);
    expect(simd.addBias(h.put(m), h.put(bias), rows, 3, 8)).toBe(true);
    near(
      h.read(rows, 24),
      m.map((v, i) => v + bias[i % 8]!),
    );
  });

  it('declines shapes it does not cover, writing nothing', () => {
    const h = heap(false);
    const simd = trainingSimdFor({ wasm: { asm: { memory: h.memory } } }) as TrainingSimd;
    const untouched = (at: number, n: number) => expect(h.read(at, n).every((v) => v === 0)).toBe(true);
    const x = h.put(seq(2 * 4 * 4 * 4, 0.5));
    const dy = h.put(seq(2 * 4 * 4 * 6, 0.8));
    const out = h.zeros(256);
    const g6 = convInfoOf([2, 4, 4, 4], [3, 3, 4, 6], { strides: 1, pad: 'same' });
    expect(simd.conv2dBackpropFilter(x, dy, out, g6)).toBe('skip'); // 6 output channels
    const gm = convInfoOf([2, 4, 4, 4], [3, 3, 4, 2], { strides: 1, pad: 'same' }, true);
    expect(simd.depthwiseBackpropFilter(x, dy, out, gm)).toBe('skip'); // multiplier 2
    const g3 = convInfoOf([2, 4, 4, 3], [3, 3, 3, 1], { strides: 1, pad: 'same' }, true);
    expect(simd.depthwiseBackpropFilter(x, dy, out, g3)).toBe('skip'); // 3 channels
    const p6 = poolInfoOf([1, 4, 4, 6], { filterSize: 2, strides: 2, pad: 'valid' });
    expect(simd.maxPoolGrad(dy, x, out, h.zeros(12), p6)).toBe(false);
    expect(simd.columnSums(x, out, 2, 6)).toBe(false);
    expect(simd.addBias(x, dy, out, 2, 6)).toBe(false);
    untouched(out, 256);
    // An empty batch: the filter gradients decline it (their callers fall back), max-pool is done at once.
    const p0 = poolInfoOf([0, 4, 4, 4], { filterSize: 2, strides: 2, pad: 'valid' });
    expect(simd.maxPoolGrad(dy, x, out, h.zeros(8), p0)).toBe(true);
    const e8 = convInfoOf([0, 4, 4, 4], [3, 3, 4, 8], { strides: 1, pad: 'same' });
    expect(simd.conv2dBackpropFilter(x, dy, out, e8)).toBe('skip');
    const e4 = convInfoOf([0, 4, 4, 4], [3, 3, 4, 1], { strides: 1, pad: 'same' }, true);
    expect(simd.depthwiseBackpropFilter(x, dy, out, e4)).toBe('skip');
    untouched(out, 256);
  });

  it('sums columns over several row blocks without reading past the last row', () => {
    // 4 columns: a block is 32768 rows, so 40000 rows take two; the heap after the matrix holds junk.
    const memory = new WebAssembly.Memory({ initial: 20, maximum: 20 });
    const f32 = new Float32Array(memory.buffer);
    const rows = 40000;
    for (let i = 0; i < rows * 4; i++) f32[16 + i] = (i % 7) - 3 + (i % 4) * 0.25;
    f32.fill(1000, 16 + rows * 4);
    const simd = trainingSimdFor({ wasm: { asm: { memory } } })!;
    const outAt = 4 * (16 + rows * 4 + 64);
    f32.fill(0, outAt / 4, outAt / 4 + 4);
    expect(simd.columnSums(64, outAt, rows, 4)).toBe(true);
    const expected = [0, 0, 0, 0];
    for (let i = 0; i < rows * 4; i++) expected[i % 4]! += f32[16 + i]!;
    near(Array.from(f32.subarray(outAt / 4, outAt / 4 + 4)), expected);
  });
});

describe('embeddedWasm', () => {
  it('compiles each variant once and links an instance to the matching heap', () => {
    const w = embeddedWasm(TRAINING_WASM_BASE64, TRAINING_SHARED_WASM_BASE64);
    const plain = w.module(false);
    const shared = w.module(true);
    expect(plain).toBeInstanceOf(WebAssembly.Module);
    expect(shared).toBeInstanceOf(WebAssembly.Module);
    expect(shared).not.toBe(plain);
    expect(w.module(false)).toBe(plain);
    expect(w.module(true)).toBe(shared);
    const exportsOf = (m: WebAssembly.Module) => WebAssembly.Module.exports(m).map((e) => e.name);
    expect(exportsOf(plain!)).toContain('colsum');
    expect(WebAssembly.Module.imports(shared!)).toEqual([{ module: 'env', name: 'memory', kind: 'memory' }]);
    const exported = w.instantiate<{ colsum: unknown }>(heap(true).memory);
    expect(typeof exported?.colsum).toBe('function');
  });

  it('is null where the bytes do not compile or the heap does not link', () => {
    const broken = embeddedWasm(btoa('not wasm'), btoa('\0asm'));
    expect(broken.module(false)).toBeNull();
    expect(broken.module(true)).toBeNull();
    expect(broken.instantiate(heap(false).memory)).toBeNull();
    // The plain variant against a shared heap: the variant is picked by the heap, so swap them.
    const swapped = embeddedWasm(TRAINING_SHARED_WASM_BASE64, TRAINING_WASM_BASE64);
    expect(swapped.module(false)).not.toBeNull();
    expect(swapped.instantiate(heap(false).memory)).toBeNull();
    expect(swapped.instantiate(heap(true).memory)).toBeNull();
  });
});

describe('wasm thread count', () => {
  it('defaults to half the logical cores, at least 1 and at most the 8 workers tfjs-wasm starts', () => {
    expect(WASM_MAX_THREADS).toBe(8);
    expect(resolveWasmThreads(undefined, 2, 'x')).toBe(1);
    expect(resolveWasmThreads(undefined, 1, 'x')).toBe(1);
    expect(resolveWasmThreads(undefined, 0, 'x')).toBe(1);
    expect(resolveWasmThreads(undefined, 6, 'x')).toBe(3);
    expect(resolveWasmThreads(undefined, 7, 'x')).toBe(3);
    expect(resolveWasmThreads(undefined, 64, 'x')).toBe(8);
    expect(resolveWasmThreads('', 4, 'x')).toBe(2);
    expect(resolveWasmThreads('  ', 4, 'x')).toBe(2);
  });

  it('takes an explicit count, clamped to 8', () => {
    expect(resolveWasmThreads(1, 16, 'x')).toBe(1);
    expect(resolveWasmThreads(' 4 ', 16, 'x')).toBe(4);
    expect(resolveWasmThreads(8, 16, 'x')).toBe(8);
    expect(resolveWasmThreads(12, 16, 'x')).toBe(8);
  });

  it('rejects counts that are not whole numbers ≥ 1, naming the argument', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, 'two', '0']) {
      expect(() => resolveWasmThreads(bad, 4, 'ROBUST_FT_WASM_THREADS')).toThrow(
        expect.objectContaining({
          code: 'INVALID_ARGUMENT',
          argument: 'ROBUST_FT_WASM_THREADS',
          expected: 'a whole number of threads ≥ 1',
        }),
      );
    }
  });
});
