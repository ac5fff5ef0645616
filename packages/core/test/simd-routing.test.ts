import { describe, expect, it } from 'vitest';
import { ForwardSimd } from '../src/kernels/simd/forward-simd';
import { TrainingSimd } from '../src/kernels/simd/training-simd';
import type { WindowGeometry } from '../src/kernels/typed-array';

// Which SIMD routine takes which shapes, and how the work is cut into calls. Every path computes the same
// values (the conformance suite checks those), so only these tests see a shape sent down the slow path,
// a tile plan that leaves the wide tiles unused, or a batch cut into the wrong blocks.

type Exports = ConstructorParameters<typeof TrainingSimd>[0];

/** A TrainingSimd over exports that record their calls instead of touching memory. */
function recording() {
  const calls: [string, ...number[]][] = [];
  const exports = new Proxy({} as Exports, {
    get:
      (_, name) =>
      (...args: number[]) => {
        calls.push([String(name), ...args]);
      },
  });
  return {
    simd: new TrainingSimd(exports, new WebAssembly.Memory({ initial: 1 })),
    calls,
    names: () => calls.map((c) => c[0]),
  };
}

/** A 1×1-filter, stride-1, unpadded geometry (every tap meets every position), with overrides. */
function geometry(o: Partial<WindowGeometry> = {}): WindowGeometry {
  return {
    batchSize: 1,
    inHeight: 2,
    inWidth: 2,
    inChannels: 4,
    outHeight: 2,
    outWidth: 2,
    outChannels: 4,
    strideHeight: 1,
    strideWidth: 1,
    dilationHeight: 1,
    dilationWidth: 1,
    filterHeight: 1,
    filterWidth: 1,
    padInfo: { top: 0, left: 0 },
    ...o,
  };
}

describe('ForwardSimd.takesProduct', () => {
  it.each([
    [[1, 4, 1, false, false], true],
    [[3, 8, 5, false, false], true],
    [[0, 4, 1, false, false], false],
    [[1, 3, 1, false, false], false],
    [[1, 6, 1, false, false], false],
    [[1, 0, 1, false, false], false],
    [[1, 4, 0, false, false], false],
    [[1, 4, 3, true, false], true],
    [[1, 4, 3, false, true], false],
    [[1, 4, 4, false, true], true],
    [[1, 4, 4, true, true], false],
  ] as const)('(m, n, k, transposeA, transposeB) = %j → %s', (args, want) => {
    const [m, n, k, transposeA, transposeB] = args;
    expect(ForwardSimd.takesProduct(m, n, k, transposeA, transposeB)).toBe(want);
  });
});

describe('TrainingSimd.takesMaxPool2x2 and maxPool2x2CoversInput', () => {
  const g2 = (o: Partial<WindowGeometry> = {}) =>
    geometry({
      inHeight: 4,
      inWidth: 6,
      outHeight: 2,
      outWidth: 3,
      filterHeight: 2,
      filterWidth: 2,
      strideHeight: 2,
      strideWidth: 2,
      ...o,
    });
  it('takes 2×2 windows of stride 2, undilated, unpadded at the top/left, channels % 4 = 0', () => {
    expect(TrainingSimd.takesMaxPool2x2(g2())).toBe(true);
    // An odd input whose last row and column no window reads still qualifies.
    expect(TrainingSimd.takesMaxPool2x2(g2({ inHeight: 5, inWidth: 7 }))).toBe(true);
  });
  it.each([
    ['a 3-high window', { filterHeight: 3 }],
    ['a 3-wide window', { filterWidth: 3 }],
    ['row stride 1', { strideHeight: 1 }],
    ['column stride 1', { strideWidth: 1 }],
    ['row dilation 2', { dilationHeight: 2 }],
    ['column dilation 2', { dilationWidth: 2 }],
    ['padding on top', { padInfo: { top: 1, left: 0 } }],
    ['padding on the left', { padInfo: { top: 0, left: 1 } }],
    ['more output rows than the input holds', { inHeight: 3 }],
    ['more output columns than the input holds', { inWidth: 5 }],
    ['6 channels', { inChannels: 6, outChannels: 6 }],
    ['other output channels', { outChannels: 8 }],
  ] as const)('refuses %s', (_, o) => {
    expect(TrainingSimd.takesMaxPool2x2(g2(o))).toBe(false);
  });
  it('the windows cover the input only when it is exactly twice the output', () => {
    expect(TrainingSimd.maxPool2x2CoversInput(g2())).toBe(true);
    expect(TrainingSimd.maxPool2x2CoversInput(g2({ inHeight: 5 }))).toBe(false);
    expect(TrainingSimd.maxPool2x2CoversInput(g2({ inWidth: 7 }))).toBe(false);
  });
});

describe('TrainingSimd refusals: false, and nothing called', () => {
  it.each([
    [
      'conv2dBackpropFilter, 6 output channels',
      (s: TrainingSimd) => s.conv2dBackpropFilter(0, 0, 0, geometry({ outChannels: 6 })),
    ],
    [
      'conv2dBackpropFilter, no images',
      (s: TrainingSimd) => s.conv2dBackpropFilter(0, 0, 0, geometry({ batchSize: 0 })),
    ],
    [
      'depthwiseBackpropFilter, multiplier 2',
      (s: TrainingSimd) => s.depthwiseBackpropFilter(0, 0, 0, geometry({ outChannels: 8 })),
    ],
    [
      'depthwiseBackpropFilter, 6 channels',
      (s: TrainingSimd) => s.depthwiseBackpropFilter(0, 0, 0, geometry({ inChannels: 6, outChannels: 6 })),
    ],
    [
      'depthwiseBackpropFilter, no images',
      (s: TrainingSimd) => s.depthwiseBackpropFilter(0, 0, 0, geometry({ batchSize: 0 })),
    ],
    [
      'maxPoolGrad, 6 channels',
      (s: TrainingSimd) => s.maxPoolGrad(0, 0, 0, 0, geometry({ inChannels: 6, outChannels: 6 })),
    ],
    [
      'maxPoolGrad, other output channels',
      (s: TrainingSimd) => s.maxPoolGrad(0, 0, 0, 0, geometry({ outChannels: 8 })),
    ],
    [
      'avgPoolGrad, 6 channels',
      (s: TrainingSimd) => s.avgPoolGrad(0, 0, geometry({ inChannels: 6, outChannels: 6 })),
    ],
    [
      'avgPoolGrad, other output channels',
      (s: TrainingSimd) => s.avgPoolGrad(0, 0, geometry({ outChannels: 8 })),
    ],
    ['avgPoolGrad, row dilation', (s: TrainingSimd) => s.avgPoolGrad(0, 0, geometry({ dilationHeight: 2 }))],
    [
      'avgPoolGrad, column dilation',
      (s: TrainingSimd) => s.avgPoolGrad(0, 0, geometry({ dilationWidth: 2 })),
    ],
    ['columnSums, 6 columns', (s: TrainingSimd) => s.columnSums(0, 0, 3, 6)],
    ['addBias, 6 columns', (s: TrainingSimd) => s.addBias(0, 0, 0, 3, 6)],
  ])('%s', (name, call) => {
    const r = recording();
    // The filter gradients say 'skip' (their outcomes also tell a helper's failure apart); the rest false.
    expect(call(r.simd)).toBe(/^(conv2d|depthwise)/.test(name) ? 'skip' : false);
    expect(r.calls).toEqual([]);
  });

  it('an empty max-pool gradient is done (true) without a call', () => {
    for (const o of [{ batchSize: 0 }, { outHeight: 0 }, { outWidth: 0 }, { filterHeight: 0 }]) {
      const r = recording();
      expect(r.simd.maxPoolGrad(0, 0, 0, 0, geometry(o))).toBe(true);
      expect(r.calls).toEqual([]);
    }
    const r = recording();
    expect(r.simd.maxPoolGrad(0, 0, 0, 0, geometry())).toBe(true);
    expect(r.names()).toEqual(['maxpoolgrad']);
  });

  it('avgPoolGrad divides by the window size', () => {
    const r = recording();
    expect(
      r.simd.avgPoolGrad(8, 16, geometry({ filterHeight: 2, filterWidth: 3, padInfo: { top: 1, left: 2 } })),
    ).toBe(true);
    // dy, dx, [B, H, W, C, HO, WO, KH, KW, sh, sw], top, left, 1 / (KH·KW)
    expect(r.calls).toEqual([['avgpoolgrad', 8, 16, 1, 2, 2, 4, 2, 2, 2, 3, 1, 1, 1, 2, 1 / 6]]);
  });
});

describe('TrainingSimd tile plans', () => {
  /** The tile names and their (x, dy, dw) byte offsets for one call of conv2dBackpropFilter. */
  const convPlan = (ci: number, co: number) => {
    const r = recording();
    expect(r.simd.conv2dBackpropFilter(0, 0, 0, geometry({ inChannels: ci, outChannels: co }))).toBe('done');
    return r.calls.map(([name, x, dy, dw]) => [name, x, dy, dw]);
  };

  it('channels % 4 = 0 in: 4×8 tiles while 8 output channels remain, then 4×4', () => {
    expect(convPlan(4, 12)).toEqual([
      ['t4x8', 0, 0, 0],
      ['t4x4', 0, 32, 32],
    ]);
    expect(convPlan(4, 16)).toEqual([
      ['t4x8', 0, 0, 0],
      ['t4x8', 0, 32, 32],
    ]);
    // Input channels in blocks of 4: the second block starts 4 channels (16 bytes) into x, 4 rows into dW.
    expect(convPlan(8, 8)).toEqual([
      ['t4x8', 0, 0, 0],
      ['t4x8', 16, 0, 4 * 4 * 8],
    ]);
  });

  it('other input channel counts: 1×16 tiles while 16 output channels remain, then 1×4', () => {
    expect(convPlan(3, 20)).toEqual([
      ['t1x16', 0, 0, 0],
      ['t1x4', 0, 64, 64],
      ['t1x16', 4, 0, 80],
      ['t1x4', 4, 64, 80 + 64],
      ['t1x16', 8, 0, 160],
      ['t1x4', 8, 64, 160 + 64],
    ]);
    expect(convPlan(1, 32).map((c) => c[0])).toEqual(['t1x16', 't1x16']);
  });

  it('depthwise: 16 channels a tile, then 4', () => {
    for (const [c, want] of [
      [16, ['dw16']],
      [20, ['dw16', 'dw4']],
      [32, ['dw16', 'dw16']],
      [8, ['dw4', 'dw4']],
    ] as const) {
      const r = recording();
      expect(r.simd.depthwiseBackpropFilter(0, 0, 0, geometry({ inChannels: c, outChannels: c }))).toBe(
        'done',
      );
      expect(r.names()).toEqual(want);
    }
  });

  it('a tap that meets no output position is handed the x base (an in-bounds pointer) and 0 rows', () => {
    // 1×1 input, 3×3 filter, 'same' padding: only the centre tap meets the one output position.
    const r = recording();
    const g = geometry({
      inHeight: 1,
      inWidth: 1,
      outHeight: 1,
      outWidth: 1,
      filterHeight: 3,
      filterWidth: 3,
      padInfo: { top: 1, left: 1 },
    });
    expect(r.simd.conv2dBackpropFilter(1000, 2000, 3000, g)).toBe('done');
    expect(r.calls).toHaveLength(9);
    r.calls.forEach(([, x, , , , nr, nc], tap) => {
      if (tap === 4) expect([x, nr, nc]).toEqual([1000, 1, 1]);
      else {
        expect(x).toBe(1000);
        expect((nr ?? 0) * (nc ?? 0)).toBe(0);
      }
    });
  });
});

describe('TrainingSimd blocks of the batch and of rows (512 KiB of input a pass)', () => {
  it('the filter gradient takes as many images a pass as fit', () => {
    // 64×64×4 x and dy: 64 KiB each, 128 KiB an image → 4 images a pass; 9 images → 4, 4, 1.
    const g = geometry({ batchSize: 9, inHeight: 64, inWidth: 64, outHeight: 64, outWidth: 64 });
    const r = recording();
    r.simd.conv2dBackpropFilter(0, 0, 0, g);
    const perImage = 4 * 64 * 64 * 4;
    expect(r.calls.map(([, x, , , nb]) => [x, nb])).toEqual([
      [0, 4],
      [4 * perImage, 4],
      [8 * perImage, 1],
    ]);
  });

  it('an image larger than a block still goes one at a time', () => {
    const g = geometry({ batchSize: 2, inHeight: 256, inWidth: 256, outHeight: 256, outWidth: 256 });
    const r = recording();
    r.simd.depthwiseBackpropFilter(0, 0, 0, g);
    expect(r.calls.map(([, , , , nb]) => nb)).toEqual([1, 1]);
  });

  it('column sums go 512 KiB of rows at a time', () => {
    const r = recording();
    // 4 columns: 16 bytes a row, 32768 rows a block.
    expect(r.simd.columnSums(100, 200, 70000, 4)).toBe(true);
    expect(r.calls).toEqual([
      ['colsum', 100, 200, 32768, 4],
      ['colsum', 100 + 16 * 32768, 200, 32768, 4],
      ['colsum', 100 + 16 * 65536, 200, 70000 - 65536, 4],
    ]);
    const one = recording();
    expect(one.simd.columnSums(100, 200, 3, 8)).toBe(true);
    expect(one.calls).toEqual([['colsum', 100, 200, 3, 8]]);
  });
});
