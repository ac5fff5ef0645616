import * as coreKernels from '@robust-ft/core/kernels';
import { CONFORMANCE_CASES, runConformance } from '@robust-ft/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import {
  patchCpuBackend,
  patchedKernels,
  patchWasmBackend,
  registerCpuTrainingKernels,
  registerWasmTrainingKernels,
  unpatchCpuBackend,
  unpatchWasmBackend,
} from '../src/index';
import './setup-backends';

// The kernels themselves (every conformance case on patched wasm with and without SIMD, and on patched
// cpu) are tested in @robust-ft/core's test/kernels-conformance.test.ts; here only what backend-node adds:
// it re-exports them, loads the backend packages and patches them, and its dist build runs them in Node.
afterAll(() => {
  unpatchCpuBackend();
  unpatchWasmBackend();
});

describe("backend-node's training kernels", () => {
  it("are core's, re-exported rather than copied", () => {
    expect(registerWasmTrainingKernels).toBe(coreKernels.registerWasmTrainingKernels);
    expect(registerCpuTrainingKernels).toBe(coreKernels.registerCpuTrainingKernels);
    expect(patchedKernels).toBe(coreKernels.patchedKernels);
  });

  it('patchWasmBackend and patchCpuBackend load the backends and return what they patched', async () => {
    unpatchWasmBackend();
    unpatchCpuBackend();
    const wasm = await patchWasmBackend();
    expect(wasm).toEqual(patchedKernels('wasm'));
    expect(wasm).toContain('Conv2DBackpropFilter');
    expect(wasm).toContain('MaxPoolGrad');
    expect(await patchCpuBackend()).toEqual(['Conv2DBackpropFilter']);
    unpatchCpuBackend();
  });

  it('a patched-wasm filter gradient matches stock cpu through the built packages', async () => {
    await patchWasmBackend();
    const cases = CONFORMANCE_CASES.filter((c) => c.name.startsWith('conv2d 3x3 stride 1'));
    expect(cases.length).toBeGreaterThan(0);
    for (const r of await runConformance('wasm', { cases }))
      expect(r.ok, `${r.name}: ${r.detail}`).toBe(true);
  });
});
