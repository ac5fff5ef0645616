import { RobustFtError } from '@robust-ft/core';
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import { useBestBackend } from '../src/index';
import './browser-setup';
import { registerWasmTrainingKernels, unpatchWasmBackend } from '@robust-ft/core/kernels';
import { WASM_PATH } from './browser-harness';

function recorder() {
  const lines: string[] = [];
  return { lines, logger: { info: (m: string) => lines.push(m) } };
}

const originalUrl = location.href;
afterEach(() => history.replaceState(null, '', originalUrl));

// These expectations describe the CI browser: headless Chromium whose only GPU is SwiftShader.
describe('useBestBackend in headless Chromium (SwiftShader only)', () => {
  it('skips both software GPUs by default and lands on wasm, saying why; unpatched wasm is flagged', async () => {
    const { lines, logger } = recorder();
    unpatchWasmBackend();
    const d = await useBestBackend({ wasmPath: WASM_PATH, logger, patch: false });
    expect(d.name).toBe('wasm');
    expect(d.tfBackend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(d.forced).toBe(false);
    expect(d.gradients).toBe(true);
    expect(d.reasons.webgpu).toMatch(/software adapter/);
    expect(d.reasons.webgl).toMatch(/software renderer.*SwiftShader/);
    expect(lines[0]).toMatch(/^robust-ft: using backend 'wasm'; skipped webgpu: .*; webgl: /);
    // Stock wasm cannot train CNNs; with patch: false the user is told so.
    expect(lines.slice(1)).toEqual([expect.stringMatching(/wasm backend has no training kernels/)]);
  });

  it('registers the wasm training kernels by default', async () => {
    unpatchWasmBackend();
    const { lines, logger } = recorder();
    const d = await useBestBackend({ wasmPath: WASM_PATH, logger });
    expect(d.name).toBe('wasm');
    expect(d.patchedKernels).toEqual(expect.arrayContaining(['Conv2DBackpropFilter', 'MaxPoolGrad']));
    expect(lines).toHaveLength(1);
  });

  it('with allowSoftwareGpu, takes WebGPU first', async () => {
    const d = await useBestBackend({ wasmPath: WASM_PATH, allowSoftwareGpu: true, logger: null });
    expect(d).toMatchObject({ name: 'webgpu', tfBackend: 'webgpu', reasons: {}, forced: false });
  });

  it('honours the candidate order', async () => {
    const d = await useBestBackend({ candidates: ['webgl', 'cpu'], allowSoftwareGpu: true, logger: null });
    expect(d.name).toBe('webgl');
    expect(tf.getBackend()).toBe('webgl');
  });

  it('?backend=cpu in the page URL forces cpu', async () => {
    history.replaceState(null, '', `${location.pathname}?backend=cpu`);
    const { lines, logger } = recorder();
    const d = await useBestBackend({ wasmPath: WASM_PATH, logger });
    expect(d).toMatchObject({ name: 'cpu', forced: true, reasons: {} });
    expect(lines).toEqual([
      "robust-ft: using backend 'cpu' (forced by ?backend=) with training kernels [Conv2DBackpropFilter]",
    ]);
  });

  it('a forced software GPU is used even without allowSoftwareGpu', async () => {
    const d = await useBestBackend({ force: 'webgl', logger: null });
    expect(d).toMatchObject({ name: 'webgl', forced: true });
  });

  it('an unknown ?backend= value is an INVALID_ARGUMENT naming the parameter', async () => {
    history.replaceState(null, '', `${location.pathname}?backend=metal`);
    const error = await useBestBackend({ logger: null }).catch((e: unknown) => e);
    expect(RobustFtError.isInstance(error) && error.code).toBe('INVALID_ARGUMENT');
    expect((error as RobustFtError).argument).toBe('?backend=');
  });

  it('prepare() registers kernels, they are reported, and the wasm warning goes away', async () => {
    const { lines, logger } = recorder();
    const before = tf.memory().numTensors;
    const d = await useBestBackend({
      force: 'wasm',
      wasmPath: WASM_PATH,
      prepare: registerWasmTrainingKernels,
      logger,
    });
    expect(tf.memory().numTensors).toBe(before); // the smoke test cleans up after itself
    expect(d.patchedKernels).toEqual(expect.arrayContaining(['Conv2DBackpropFilter', 'MaxPoolGrad']));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^robust-ft: using backend 'wasm' \(forced by options.force\) with training kernels \[/,
    );
  });
});
