import { describe, expect, it } from 'vitest';
import { CONFORMANCE_CASES, casesFor } from '../src/testing';

describe('casesFor', () => {
  it('runs every case on cpu and wasm, where robust-ft pins its own kernels', () => {
    expect(casesFor('cpu')).toHaveLength(CONFORMANCE_CASES.length);
    expect(casesFor('wasm')).toHaveLength(CONFORMANCE_CASES.length);
  });

  it("leaves a case out only on backends its 'backends' list does not name", () => {
    const limited = CONFORMANCE_CASES.filter((c) => c.backends !== undefined);
    expect(limited.map((c) => c.name)).toEqual(['maxPool 2x2 stride 2 valid, 4 channels, tied maxima']);
    for (const backend of ['webgl', 'webgpu']) {
      expect(casesFor(backend)).toHaveLength(CONFORMANCE_CASES.length - 1);
      expect(casesFor(backend).some((c) => c.name.includes('tied maxima'))).toBe(false);
    }
  });
});
