import { describe, expect, it } from 'vitest';
import { CONFORMANCE_CASES, casesFor } from '../src/testing';

describe('casesFor', () => {
  it('runs every case on cpu and wasm, where robust-ft pins its own kernels', () => {
    expect(casesFor('cpu')).toHaveLength(CONFORMANCE_CASES.length);
    expect(casesFor('wasm')).toHaveLength(CONFORMANCE_CASES.length);
  });

  it("leaves a case out only on backends its 'backends' list does not name", () => {
    const limited = CONFORMANCE_CASES.filter((c) => c.backends !== undefined);
    expect(limited.map((c) => c.name)).toEqual([
      'maxPool 2x2 stride 2 valid, 4 channels, tied maxima',
      'maxPool 2x2 stride 2, 4 channels, every kind of tied maximum',
      'relu and relu6 gradients at 0, 6, ±Infinity and NaN',
    ]);
    for (const c of limited) expect(c.backends).toEqual(['cpu', 'wasm']);
    for (const backend of ['webgl', 'webgpu']) {
      expect(casesFor(backend)).toHaveLength(CONFORMANCE_CASES.length - limited.length);
      expect(casesFor(backend).some((c) => limited.includes(c))).toBe(false);
    }
  });
});
