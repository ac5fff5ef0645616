import { wasmTrainingSimdInUse } from '@robust-ft/core/kernels';
import {
  type CaseValues,
  CONFORMANCE_CASES,
  type ConformanceCase,
  casesFor,
  compareCase,
  computeCase,
} from '@robust-ft/core/testing';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import './browser-setup';
import { activate, GPU_AND_WASM, type TestedBackend } from './browser-harness';

// The project's one conformance suite (@robust-ft/core/testing), run in Chromium; cpu in the same page
// is the oracle, computed once per case.
const oracle = new Map<string, CaseValues>();

beforeAll(async () => {
  await activate('cpu');
  for (const c of CONFORMANCE_CASES) oracle.set(c.name, await computeCase(c, 'cpu'));
});

describe.each(GPU_AND_WASM)('conformance on %s (cpu is the oracle)', (backend: TestedBackend) => {
  beforeAll(() => activate(backend));

  it.each(casesFor(backend).map((c) => [c.name, c] as const))('%s', async (_name, c: ConformanceCase) => {
    const actual = await computeCase(c, backend);
    expect(tf.getBackend()).toBe(backend);
    const result = compareCase(c, oracle.get(c.name)!, actual, backend);
    expect(
      result.ok,
      `${backend} ${c.name}: worst ${result.worst.toFixed(2)}× tolerance at ${result.detail}`,
    ).toBe(true);
  });
});

describe('robust-ft SIMD training kernels on wasm in Chromium', () => {
  // The wasm cases above must have run through them (filter gradients, max-pool gradient, bias Sum/Add).
  it('link to the wasm backend heap', async () => {
    await activate('wasm');
    expect(wasmTrainingSimdInUse(tf.backend())).toBe(true);
  });
});
