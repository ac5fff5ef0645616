import '@tensorflow/tfjs-backend-cpu';
import { RobustFtError } from '@robust-ft/core';
import { FINITE_FLAG_KERNEL } from '@robust-ft/core/internal';
import { expectNoTensorLeaks } from '@robust-ft/core/testing';
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  FUSED_KERNELS,
  fusedFtpStep,
  fusedKernelsEnabled,
  registerFusedOptimizerKernels,
  setFusedKernelsEnabled,
  setWasmSimdEnabled,
  unregisterFusedOptimizerKernels,
  wasmSimdEnabled,
} from '../src/fused';
import { adamAttrs, checkSameSize, ftpGeometry, input, num, numAt } from '../src/fused/args';
import { kernelError } from '../src/fused/errors';
import { fusedAdamWBatch } from '../src/fused/ops';
import { caught } from './typed-error';

tf.env().set('PROD', true);
registerFusedOptimizerKernels();

/*
 * What the fused kernels refuse and how they say it: their attribute and input unpacking (`args.ts`),
 * the typed error every refusal is (`errors.ts`), and the switches and batch edges of the kernel glue.
 * The adapter's own refusals are core's (adapter-refusals.test.ts); these sit one level lower, where a
 * caller of `tf.engine().runKernel` or a future method declaration lands.
 */

const HP = { learningRate: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 };

describe('kernelError', () => {
  it('is a RobustFtError with the fused-kernel prefix, naming its argument only when given one', () => {
    const withArg = kernelError('INVALID_ARGUMENT', 'bad thing', 'attrs.x');
    expect(withArg).toBeInstanceOf(RobustFtError);
    expect(withArg.code).toBe('INVALID_ARGUMENT');
    expect(withArg.message).toBe('fused optimizer kernel: bad thing');
    expect(withArg.argument).toBe('attrs.x');
    const without = kernelError('SHAPE_MISMATCH', 'other thing');
    expect(without.code).toBe('SHAPE_MISMATCH');
    expect(without.message).toBe('fused optimizer kernel: other thing');
    expect(without.argument).toBeUndefined();
    expect('argument' in without && without.argument !== undefined).toBe(false);
  });
});

describe('attribute and input unpacking', () => {
  it('num: a number attribute, else INVALID_ARGUMENT naming attrs.<key>', () => {
    expect(num({ lr: 0.5 }, 'lr')).toBe(0.5);
    expect(num({ lr: 0 }, 'lr')).toBe(0);
    for (const attrs of [undefined, {}, { lr: '0.5' }, { lr: [0.5] }]) {
      const e = caught(() => num(attrs as tf.NamedAttrMap | undefined, 'lr'));
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.message).toBe('fused optimizer kernel: attribute "lr" must be a number');
      expect(e.argument).toBe('attrs.lr');
    }
  });

  it('numAt: entry i of an array attribute, else INVALID_ARGUMENT naming the entry', () => {
    expect(numAt({ counts: [3, 7] }, 'counts', 1)).toBe(7);
    for (const attrs of [undefined, { counts: 7 }, { counts: [3] }, { counts: [3, '7'] }]) {
      const e = caught(() => numAt(attrs as tf.NamedAttrMap | undefined, 'counts', 1));
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.message).toBe('fused optimizer kernel: attribute "counts[1]" must be a number');
      expect(e.argument).toBe('attrs.counts');
    }
  });

  it('input: the named input, else INVALID_ARGUMENT naming inputs.<key>', () => {
    const t = tf.scalar(1);
    expect(input({ param0: t }, 'param0')).toBe(t);
    const e = caught(() => input({ param0: t }, 'grad0'));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toBe('fused optimizer kernel: missing input "grad0"');
    expect(e.argument).toBe('inputs.grad0');
    t.dispose();
  });

  it('checkSameSize: every present state tensor has its parameter size (shape may differ)', () => {
    const p = { shape: [2, 3] } as tf.TensorInfo;
    expect(() =>
      checkSameSize(p, [{ shape: [6] } as tf.TensorInfo, undefined, { shape: [3, 2] } as tf.TensorInfo]),
    ).not.toThrow();
    const e = caught(() =>
      checkSameSize(p, [{ shape: [6] } as tf.TensorInfo, { shape: [5] } as tf.TensorInfo]),
    );
    expect(e.code).toBe('SHAPE_MISMATCH');
    expect(e.message).toBe('fused optimizer kernel: a state tensor does not match its parameter size');
  });

  it('adamAttrs: reads lr, β1, β2, ε once and each tensor its own count', () => {
    const at = adamAttrs({ learningRate: 0.1, beta1: 0.9, beta2: 0.99, epsilon: 1e-6, counts: [1, 3] });
    const first = at(0);
    const third = at(1);
    // Step constants depend on the count: bias corrections 1 − β^s differ between s = 1 and s = 3.
    expect(first).not.toEqual(third);
    expect(at(1)).toEqual(third);
    for (const key of ['learningRate', 'beta1', 'beta2', 'epsilon']) {
      const attrs: tf.NamedAttrMap = {
        learningRate: 0.1,
        beta1: 0.9,
        beta2: 0.99,
        epsilon: 1e-6,
        counts: [1],
      };
      delete attrs[key];
      expect(caught(() => adamAttrs(attrs)).argument).toBe(`attrs.${key}`);
    }
    expect(
      caught(() => adamAttrs({ learningRate: 0.1, beta1: 0.9, beta2: 0.99, epsilon: 1e-6, counts: [1] })(1))
        .argument,
    ).toBe('attrs.counts');
  });

  it('ftpGeometry: a row span [first, end) must be integers with 0 ≤ first ≤ end ≤ rank', () => {
    const shape = [4, 3, 2];
    expect(ftpGeometry({ rowSpans: [0, 0] }, 0, shape).rows).toBe(1);
    expect(ftpGeometry({ rowSpans: [9, 9, 2, 3] }, 1, shape).rows).toBe(2);
    expect(ftpGeometry({ rowSpans: [0, 3] }, 0, shape).rows).toBe(24);
    expect(ftpGeometry({ rowSpans: [3, 3] }, 0, shape).rows).toBe(1);
    for (const [first, end] of [
      [0.5, 1],
      [0, 1.5],
      [-1, 1],
      [2, 1],
      [0, 4],
    ] as const) {
      const e = caught(() => ftpGeometry({ rowSpans: [first, end] }, 0, shape));
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.message).toBe(`fused optimizer kernel: FTP row span [${first}, ${end}) does not fit rank 3`);
      expect(e.argument).toBe('attrs.rowSpans');
    }
  });
});

describe('the fused kernels as tfjs kernels (cpu)', () => {
  beforeAll(async () => {
    expect(await tf.setBackend('cpu')).toBe(true);
  });
  afterEach(() => {
    setFusedKernelsEnabled(true);
    setWasmSimdEnabled(true);
  });

  it('refuse a backend object that is not the storage they were registered for', () => {
    const kernel = tf.getKernel(FUSED_KERNELS.adamw, 'cpu');
    expect(kernel).toBeDefined();
    const e = caught(() =>
      kernel!.kernelFunc({ inputs: {}, attrs: { n: 0 }, backend: {} as tf.KernelBackend }),
    );
    expect(e.code).toBe('BACKEND_UNAVAILABLE');
    expect(e.message).toBe('fused optimizer kernel: the active backend is not a cpu backend');
  });

  it('refuse int32 memory handed to them directly (the ops check dtypes before that)', () => {
    const p = tf.tensor([1, 2], [2], 'int32');
    const f = tf.tensor([1, 2], [2]);
    const e = caught(() =>
      tf
        .engine()
        .runKernel(FUSED_KERNELS.adamw, { param0: p, grad0: f, m0: f, v0: f }, { ...HP, n: 1, counts: [1] }),
    );
    expect(e.code).toBe('UNSUPPORTED');
    expect(e.message).toMatch(/^fused optimizer kernel: a cpu tensor is not float32 memory$/);
    tf.dispose([p, f]);
  });

  it("refuse a required or optional input whose size is not its parameter's (SHAPE_MISMATCH)", () => {
    const before = tf.memory().numTensors;
    const p = tf.ones([2, 3]);
    const f = tf.zeros([2, 3]);
    const short = tf.zeros([5]);
    const flat = tf.zeros([6]);
    const adamw = (grad: tf.Tensor) =>
      tf
        .engine()
        .runKernel(
          FUSED_KERNELS.adamw,
          { param0: p, grad0: grad, m0: f, v0: f },
          { ...HP, n: 1, counts: [1] },
        );
    // Another shape of the same size is fine (a state tensor may be stored flat).
    tf.dispose(adamw(flat) as tf.Tensor[]);
    const e = caught(() => adamw(short));
    expect(e.code).toBe('SHAPE_MISMATCH');
    expect(e.message).toBe('fused optimizer kernel: a state tensor does not match its parameter size');
    // FTP's optional cPrev (absent at the first step) is checked when present.
    const ftpInputs = { param0: p, grad0: f, m0: f, v0: f, anchor0: f, cPrev0: short };
    const ftpAttrs = { ...HP, n: 1, counts: [2], k: 1, t: 2, rowSpans: [0, 1] };
    expect(caught(() => tf.engine().runKernel(FUSED_KERNELS.ftp, ftpInputs, ftpAttrs)).code).toBe(
      'SHAPE_MISMATCH',
    );
    tf.dispose([p, f, short, flat]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('FTP refuses a row state whose size is not its rows (STATE_MISMATCH naming inputs.rPrev)', () => {
    const item = {
      param: tf.ones([3, 2]),
      grad: tf.fill([3, 2], 0.1),
      m: tf.zeros([3, 2]),
      v: tf.zeros([3, 2]),
      anchor: tf.zeros([3, 2]),
      count: 2,
      rowSpan: [1, 2] as const,
      cPrev: tf.fill([3, 2], 0.5),
      gamma: tf.scalar(1),
      gammaM: tf.scalar(0),
      gammaV: tf.scalar(0),
    };
    const opts = { ...HP, k: 1, t: 2 };
    // rows on axis 1: 2 rows; an rPrev of 3 (axis-0 rows) is state saved under the other layout.
    const good = fusedFtpStep([{ ...item, rPrev: tf.ones([2]) }], opts);
    expect(good[0]!.rPrev.shape).toEqual([1, 2]);
    const bad = tf.ones([3]);
    const e = caught(() => fusedFtpStep([{ ...item, rPrev: bad }], opts));
    expect(e.code).toBe('STATE_MISMATCH');
    expect(e.message).toBe('fused optimizer kernel: FTP row state does not match its parameter');
    expect(e.argument).toBe('inputs.rPrev');
    tf.dispose([...Object.values(good[0]!), bad]);
    tf.dispose(Object.values(item).filter((x): x is tf.Tensor => x instanceof tf.Tensor));
  });

  it('a fused op with the kernels switched off is BACKEND_UNAVAILABLE naming the method and backend', () => {
    const before = tf.memory().numTensors;
    const t = tf.zeros([2]);
    setFusedKernelsEnabled(false);
    const e = caught(() => fusedAdamWBatch([{ param: t, grad: t, m: t, v: t, count: 1 }], HP));
    expect(e.code).toBe('BACKEND_UNAVAILABLE');
    expect(e.message).toBe('no fused adamw kernel for backend "cpu" (or fused kernels are disabled)');
    t.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a fused op refuses a tensor that is not float32, naming the item and role', () => {
    const before = tf.memory().numTensors;
    const t = tf.zeros([2]);
    const ints = tf.zeros([2], 'int32');
    const e = caught(() =>
      fusedAdamWBatch(
        [
          { param: t, grad: t, m: t, v: t, count: 1 },
          { param: t, grad: ints, m: t, v: t, count: 1 },
        ],
        HP,
      ),
    );
    expect(e.code).toBe('UNSUPPORTED');
    expect(e.message).toBe('fused adamw: grad of item 1 is int32');
    expect(e.argument).toBe('items[1].grad');
    expect(e.expected).toBe('a float32 tensor');
    tf.dispose([t, ints]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('an empty batch runs no kernel and returns no results', async () => {
    await expectNoTensorLeaks(() => {
      expect(fusedAdamWBatch([], { ...HP, check: true })).toEqual({ results: [] });
    });
  });

  it('the on/off switches read back what was set', () => {
    expect(fusedKernelsEnabled()).toBe(true);
    setFusedKernelsEnabled(false);
    expect(fusedKernelsEnabled()).toBe(false);
    setFusedKernelsEnabled(true);
    expect(fusedKernelsEnabled()).toBe(true);
    expect(wasmSimdEnabled()).toBe(true);
    setWasmSimdEnabled(false);
    expect(wasmSimdEnabled()).toBe(false);
  });

  it('registering leaves alone a kernel someone else registered under one of the names, on every backend', () => {
    const own: tf.KernelFunc = () => [];
    const names = [FUSED_KERNELS.ftp, FINITE_FLAG_KERNEL];
    const backends = ['cpu', 'wasm', 'webgpu'];
    const saved = backends.flatMap((b) => names.map((n) => ({ b, n, k: tf.getKernel(n, b)! })));
    try {
      for (const { b, n } of saved) {
        tf.unregisterKernel(n, b);
        tf.registerKernel({ kernelName: n, backendName: b, kernelFunc: own });
      }
      registerFusedOptimizerKernels();
      for (const { b, n } of saved) expect(tf.getKernel(n, b)!.kernelFunc, `${n} on ${b}`).toBe(own);
    } finally {
      for (const { b, n, k } of saved) {
        tf.unregisterKernel(n, b);
        tf.registerKernel(k);
      }
    }
  });

  it('unregister removes every fused kernel and the finite-flag kernel on cpu, wasm and webgpu; register restores them', () => {
    const names = [...Object.values(FUSED_KERNELS), FINITE_FLAG_KERNEL];
    const backends = ['cpu', 'wasm', 'webgpu'];
    const registered = () => backends.flatMap((b) => names.map((n) => tf.getKernel(n, b) !== undefined));
    expect(registered().every(Boolean)).toBe(true);
    try {
      unregisterFusedOptimizerKernels();
      expect(registered().some(Boolean)).toBe(false);
      unregisterFusedOptimizerKernels(); // a second call finds nothing to remove
      expect(registered().some(Boolean)).toBe(false);
    } finally {
      registerFusedOptimizerKernels();
    }
    expect(registered().every(Boolean)).toBe(true);
    // Idempotent: registering again keeps the same kernel functions.
    const before = backends.flatMap((b) => names.map((n) => tf.getKernel(n, b)!.kernelFunc));
    registerFusedOptimizerKernels();
    expect(backends.flatMap((b) => names.map((n) => tf.getKernel(n, b)!.kernelFunc))).toEqual(before);
  });
});
