import { RobustFtError, RobustOptimizer } from '@robust-ft/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { setFusedKernelsEnabled } from '../src/fused';
import { type AxisMap, axisMap, DEFAULT_LAYOUT, digrap, ftp, type LayoutOption, tpgm } from '../src/index';
import { rowL1, rowShape, rowSpan, spanGeometry } from '../src/layout';
import './setup-backend';

describe('the layout rule (layout.ts)', () => {
  it("defaults to 'tfjs'", () => {
    expect(DEFAULT_LAYOUT).toBe('tfjs');
  });

  it('maps tfjs variables to the reference rows by name and rank', () => {
    const cases: [string, number[], AxisMap][] = [
      ['s', [], { rowAxes: [], lastAxis: null }],
      ['dense/bias', [7], { rowAxes: [], lastAxis: 0 }],
      ['dense/kernel', [12, 5], { rowAxes: [1], lastAxis: 0 }],
      ['conv1d/kernel', [3, 4, 8], { rowAxes: [2], lastAxis: 0 }],
      ['conv2d/kernel', [3, 3, 4, 8], { rowAxes: [3], lastAxis: 1 }],
      ['block_1_depthwise/depthwise_kernel', [3, 3, 8, 2], { rowAxes: [2, 3], lastAxis: 1 }],
      // tfjs-layers uniquifies a repeated variable name with a suffix.
      ['sep/depthwise_kernel_1', [3, 3, 8, 1], { rowAxes: [2, 3], lastAxis: 1 }],
      ['sep/pointwise_kernel', [1, 1, 8, 16], { rowAxes: [3], lastAxis: 1 }],
      // Embedding [inputDim, outputDim] is torch's [num_embeddings, dim] already.
      ['tok/embeddings', [100, 16], { rowAxes: [0], lastAxis: 1 }],
      // Suffixes of several digits are uniquified names too; anything else after the word is another
      // variable (a name that merely contains it takes the rule by rank).
      ['sep/depthwise_kernel_12', [3, 3, 8, 1], { rowAxes: [2, 3], lastAxis: 1 }],
      ['tok/embeddings_10', [100, 16], { rowAxes: [0], lastAxis: 1 }],
      ['x/depthwise_kernel_scale', [3, 3, 8, 2], { rowAxes: [3], lastAxis: 1 }],
      ['x/embeddings_a', [100, 16], { rowAxes: [1], lastAxis: 0 }],
      ['x/embeddings_proj', [100, 16], { rowAxes: [1], lastAxis: 0 }],
    ];
    for (const [name, shape, want] of cases) expect(axisMap('tfjs', name, shape), name).toEqual(want);
  });

  it("'torch' reads rows on axis 0 and dim=-1 as the last axis, at any rank", () => {
    expect(axisMap('torch', 'w', [4, 3])).toEqual({ rowAxes: [0], lastAxis: 1 });
    expect(axisMap('torch', 'x/depthwise_kernel', [16, 1, 3, 3])).toEqual({ rowAxes: [0], lastAxis: 3 });
    expect(axisMap('torch', 'w5', [2, 3, 4, 5, 6])).toEqual({ rowAxes: [0], lastAxis: 4 });
    expect(axisMap('torch', 'b', [3])).toEqual({ rowAxes: [], lastAxis: 0 });
  });

  it('a rank-5 tensor without an override is a typed error naming options.layout', () => {
    let error: unknown;
    try {
      axisMap('tfjs', 'conv3d/kernel', [3, 3, 3, 4, 8]);
    } catch (e) {
      error = e;
    }
    expect(RobustFtError.isInstance(error)).toBe(true);
    expect((error as RobustFtError).argument).toBe('options.layout');
    expect((error as RobustFtError).message).toContain('conv3d/kernel');
    // A function says how to read it (Conv3D [kd,kh,kw,cin,cout] ↔ torch [cout,cin,kd,kh,kw]).
    const conv3d: LayoutOption = (_name, shape) =>
      shape.length === 5 ? { rowAxes: [4], lastAxis: 2 } : 'tfjs';
    expect(axisMap(conv3d, 'conv3d/kernel', [3, 3, 3, 4, 8])).toEqual({ rowAxes: [4], lastAxis: 2 });
    expect(axisMap(conv3d, 'dense/kernel', [4, 2])).toEqual({ rowAxes: [1], lastAxis: 0 });
  });

  it('bad layout options and bad axis maps are typed errors before anything runs', () => {
    const bad: unknown[] = ['TFJS', 3, {}, null];
    for (const layout of bad) {
      for (const make of [
        () => ftp({ layout: layout as LayoutOption }),
        () => tpgm({ layout: layout as LayoutOption }),
        () => digrap({ layout: layout as LayoutOption }),
      ]) {
        expect(make).toThrowError(RobustFtError);
        expect(make).toThrow(/options\.layout/);
      }
    }
    for (const map of [
      { rowAxes: [2], lastAxis: 0 },
      { rowAxes: [1, 0], lastAxis: 0 },
      { rowAxes: [0], lastAxis: 5 },
      { rowAxes: [0], lastAxis: null },
    ])
      expect(() => axisMap(() => map as AxisMap, 'w', [4, 3])).toThrowError(RobustFtError);
  });

  it('row L1 norms are per output unit, shaped to broadcast', () => {
    tf.tidy(() => {
      // Dense [in=2, out=3]: one norm per column.
      const x = tf.tensor2d([
        [1, -2, 3],
        [-4, 5, -6],
      ]);
      const map = axisMap('tfjs', 'd/kernel', x.shape);
      expect(Array.from(rowL1(x, map).dataSync())).toEqual([5, 7, 9]);
      expect(rowShape(x.shape, map)).toEqual([1, 3]);
      expect(rowShape([3, 3, 8, 2], axisMap('tfjs', 'a/depthwise_kernel', [3, 3, 8, 2]))).toEqual([
        1, 1, 8, 2,
      ]);
      expect(rowShape([5], axisMap('tfjs', 'b', [5]))).toEqual([]);
    });
  });

  it('the fused row geometry: contiguous row blocks only', () => {
    expect(rowSpan({ rowAxes: [2, 3], lastAxis: 1 })).toEqual([2, 4]);
    expect(rowSpan({ rowAxes: [], lastAxis: 0 })).toEqual([0, 0]);
    expect(rowSpan({ rowAxes: [0, 2], lastAxis: 1 })).toBeNull();
    expect(spanGeometry([3, 3, 8, 2], [2, 4])).toEqual({
      outer: 9,
      rows: 16,
      inner: 1,
      rowShape: [1, 1, 8, 2],
    });
    expect(spanGeometry([4, 6], [0, 1])).toEqual({ outer: 1, rows: 4, inner: 6, rowShape: [4, 1] });
    expect(spanGeometry([5], [0, 0])).toEqual({ outer: 1, rows: 1, inner: 5, rowShape: [] });
  });

  it("the config records 'layout' (default 'tfjs') and fromConfig restores it; a function is not serialisable", () => {
    const options = (o: RobustOptimizer) =>
      JSON.parse(o.getConfig().options as string) as { layout?: string };
    for (const make of [ftp, tpgm, digrap] as ((o: { layout?: LayoutOption }) => RobustOptimizer)[]) {
      const byDefault = make({});
      expect(options(byDefault).layout).toBe('tfjs');
      const torch = make({ layout: 'torch' });
      const restored = RobustOptimizer.fromConfig(RobustOptimizer, torch.getConfig()) as RobustOptimizer;
      expect(options(restored).layout).toBe('torch');
      const fn = make({ layout: () => 'torch' });
      expect(() => fn.getConfig()).toThrowError(RobustFtError);
      for (const o of [byDefault, torch, restored, fn]) o.dispose();
    }
  });
});

/*
 * The invariant: given weights in tfjs layout, each method computes exactly the tfjs-layout image of
 * what it computes in torch layout (where it replays the references' goldens). Every tensor kind runs
 * twice: in torch layout with `layout: 'torch'`, and moved to tfjs layout under its tfjs name with the
 * default options; the second run, moved back, must equal the first.
 */
type Move = {
  torchShape: number[];
  toTfjs: (t: tf.Tensor) => tf.Tensor;
  toTorch: (t: tf.Tensor) => tf.Tensor;
};

const KINDS: Record<string, Move> = {
  'dense/kernel': {
    torchShape: [5, 7],
    toTfjs: (t) => tf.transpose(t, [1, 0]),
    toTorch: (t) => tf.transpose(t, [1, 0]),
  },
  'dense/bias': { torchShape: [5], toTfjs: (t) => tf.clone(t), toTorch: (t) => tf.clone(t) },
  'conv1d/kernel': {
    torchShape: [6, 3, 3],
    toTfjs: (t) => tf.transpose(t, [2, 1, 0]),
    toTorch: (t) => tf.transpose(t, [2, 1, 0]),
  },
  'conv2d/kernel': {
    torchShape: [8, 4, 3, 2],
    toTfjs: (t) => tf.transpose(t, [2, 3, 1, 0]),
    toTorch: (t) => tf.transpose(t, [3, 2, 0, 1]),
  },
  // torch depthwise [cin·mult, 1, kh, kw] (row o = c·mult + m) ↔ tfjs [kh, kw, cin, mult].
  'dw/depthwise_kernel': {
    torchShape: [8, 1, 3, 2],
    toTfjs: (t) => tf.reshape(tf.transpose(tf.reshape(t, [8, 3, 2]), [1, 2, 0]), [3, 2, 4, 2]),
    toTorch: (t) => tf.reshape(tf.transpose(tf.reshape(t, [3, 2, 8]), [2, 0, 1]), [8, 1, 3, 2]),
  },
};

/** Seeded normals (seed 0 would mean "unseeded" to tfjs, hence the offset). */
function seeded(shape: number[], seed: number, scale: number): tf.Tensor {
  return tf.mul(tf.randomNormal(shape, 0, 1, 'float32', seed + 1), scale);
}

async function runIn(
  layout: 'torch' | 'tfjs',
  make: (anchor: tf.NamedTensorMap, layoutOptions: { layout?: LayoutOption }) => RobustOptimizer,
  steps: number,
): Promise<Record<string, number[]>> {
  const names = Object.keys(KINDS);
  const move = (n: string, t: tf.Tensor) => (layout === 'tfjs' ? KINDS[n]!.toTfjs(t) : tf.clone(t));
  const anchors: tf.NamedTensorMap = {};
  const vars: Record<string, tf.Variable> = {};
  names.forEach((n, i) => {
    const a = seeded(KINDS[n]!.torchShape, 10 + i, 0.5);
    anchors[n] = move(n, a);
    const v = move(n, tf.add(a, seeded(KINDS[n]!.torchShape, 20 + i, 0.05)));
    vars[n] = tf.variable(v, true, `${layout}${counter}/${n}`);
    tf.dispose([a, v]);
  });
  counter++;
  const opt = make(
    Object.fromEntries(names.map((n) => [vars[n]!.name, anchors[n]!])),
    layout === 'torch' ? { layout: 'torch' } : {},
  );
  for (let s = 0; s < steps; s++) {
    tf.tidy(() => {
      const grads: tf.NamedTensorMap = {};
      names.forEach((n, i) => {
        // Pushes away from the anchor with noise, so radii grow and projections bind.
        const g = tf.add(seeded(KINDS[n]!.torchShape, 100 * s + i, 0.3), tf.mul(s < steps - 2 ? -1 : 1, 0.5));
        grads[vars[n]!.name] = move(n, g);
      });
      opt.applyGradients(grads);
    });
  }
  const out: Record<string, number[]> = {};
  for (const n of names) {
    const back = layout === 'tfjs' ? KINDS[n]!.toTorch(vars[n]!) : tf.clone(vars[n]!);
    out[n] = Array.from(await back.data());
    back.dispose();
  }
  opt.dispose();
  tf.dispose([...Object.values(vars), ...Object.values(anchors)]);
  return out;
}

let counter = 0;

function expectSame(got: Record<string, number[]>, want: Record<string, number[]>): void {
  for (const [n, w] of Object.entries(want)) {
    const worst = Math.max(...w.map((x, i) => Math.abs(got[n]![i]! - x) - (2e-6 + 2e-5 * Math.abs(x))));
    expect(worst, n).toBeLessThanOrEqual(0);
  }
}

describe('each method on tfjs weights computes the tfjs image of its torch-layout result', () => {
  const methods: Record<
    string,
    (anchor: tf.NamedTensorMap, layout: { layout?: LayoutOption }) => RobustOptimizer
  > = {
    ftp: (anchor, layout) => ftp({ learningRate: 2e-2, k: 0.5, anchor, ...layout }),
    'ftp over sgd': (anchor, layout) =>
      ftp({ inner: 'sgd', learningRate: 5e-2, momentum: 0.9, anchor, ...layout }),
    'tpgm (mars)': (anchor, layout) =>
      tpgm({
        learningRate: 5e-2,
        anchor,
        ...layout,
        // Pulls every weight toward 0.3: its gradient is layout-equivariant, as a real loss's is.
        validationLoss: (p) =>
          tf.addN(Object.values(p).map((t) => tf.sum(tf.square(tf.sub(t, 0.3))))) as tf.Scalar,
      }),
    'digrap (fixed strength)': (anchor, layout) =>
      digrap({
        learningRate: 2e-2,
        weightDecay: 0.5,
        trainableStrength: false,
        strength: 0.7,
        anchor,
        ...layout,
      }),
  };
  for (const [label, make] of Object.entries(methods)) {
    it(label, async () => {
      const torch = await runIn('torch', make, 8);
      const tfjs = await runIn('tfjs', make, 8);
      expectSame(tfjs, torch);
      // And the torch-layout reading of the tfjs tensors (the old axis-0 behaviour) differs.
      const axis0 = await runIn('tfjs', (a) => make(a, { layout: 'torch' }), 8);
      const differs = Object.keys(torch).some((n) =>
        torch[n]!.some((x, i) => Math.abs(axis0[n]![i]! - x) > 1e-4 + 1e-3 * Math.abs(x)),
      );
      expect(differs).toBe(true);
    });
  }
});

describe('FTP state saved under another layout', () => {
  for (const fused of [true, false]) {
    it(`is a typed STATE_MISMATCH, before anything changes (fused kernels ${fused ? 'on' : 'off'})`, async () => {
      setFusedKernelsEnabled(fused);
      try {
        const w = tf.variable(
          tf.randomNormal([4, 3], 0, 1, 'float32', 3),
          true,
          `saved${fused}/dense/kernel`,
        );
        const grad = () => ({ [w.name]: tf.onesLike(w) });
        // Steps with rows along axis 0 (the behaviour before the layout rule), then saves.
        const old = ftp({ learningRate: 0.1, layout: 'torch' });
        for (let s = 0; s < 3; s++) tf.tidy(() => old.applyGradients(grad()));
        const saved = await old.getWeights();
        const restored = ftp({ learningRate: 0.1 });
        // The state header lets setWeights refuse it before anything changes…
        await expect(restored.setWeights(saved)).rejects.toMatchObject({
          code: 'STATE_MISMATCH',
          message: expect.stringContaining('rPrev'),
        });
        expect(restored.step).toBe(0);
        // …and state without a header (written before headers existed) is refused at the next step.
        await restored.setWeights(saved.filter((e) => !e.name.startsWith('["h"')));
        const before = Array.from(await w.data());
        let error: unknown;
        try {
          tf.tidy(() => restored.applyGradients(grad()));
        } catch (e) {
          error = e;
        }
        expect(RobustFtError.isInstance(error)).toBe(true);
        expect((error as RobustFtError).code).toBe('STATE_MISMATCH');
        expect((error as RobustFtError).argument).toBe(`state.rPrev["${w.name}"]`);
        expect(Array.from(await w.data())).toEqual(before);
        for (const o of [old, restored]) o.dispose();
        w.dispose();
      } finally {
        setFusedKernelsEnabled(true);
      }
    });
  }
});
