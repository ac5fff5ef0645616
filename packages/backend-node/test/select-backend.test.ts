import { RobustFtError } from '@robust-ft/core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import {
  NODE_BACKENDS,
  nodeCandidates,
  selectBackend,
  unpatchCpuBackend,
  unpatchWasmBackend,
  useBestBackend,
} from '../src/index';
import { uninstallNodeWebGpu } from '../src/testing';
import './setup-backends';

afterAll(async () => {
  unpatchCpuBackend();
  unpatchWasmBackend();
  await tf.setBackend('cpu');
});

const missing = (specifier: string) => {
  const error = new Error(`Cannot find package '${specifier}'`) as Error & { code: string };
  error.code = 'ERR_MODULE_NOT_FOUND';
  return Promise.reject(error);
};

function recorder() {
  const lines: string[] = [];
  return { lines, logger: { info: (m: string) => lines.push(m) } };
}

describe('useBestBackend', () => {
  it('falls through absent and broken optional peers to patched wasm, and says why', async () => {
    const { lines, logger } = recorder();
    const d = await useBestBackend({
      env: {},
      logger,
      importModule: (s) =>
        s === '@tensorflow/tfjs-node'
          ? Promise.reject(new Error('libtensorflow.so.2: cannot open shared object file'))
          : missing(s),
    });
    expect(d.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(d.forced).toBe(false);
    expect(d.reasons['tfjs-node-gpu']).toBe('not installed');
    expect(d.reasons['tfjs-node']).toMatch(/libtensorflow/);
    expect(d.patchedKernels).toEqual(
      expect.arrayContaining(['Conv2DBackpropFilter', 'MaxPoolGrad', 'BatchMatMul']),
    );
    expect(d.gradients).toBe(true);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /using backend 'wasm'.*skipped tfjs-node-gpu: not installed; tfjs-node: libtensorflow/,
    );
  });

  it('logs a given choice only once', async () => {
    const { lines, logger } = recorder();
    const options = { env: {}, logger, candidates: ['cpu'] as const };
    await useBestBackend(options);
    await useBestBackend(options);
    expect(lines).toHaveLength(1);
    expect(tf.getBackend()).toBe('cpu');
  });

  it('ROBUST_FT_BACKEND forces a backend, and fails loudly when it cannot start', async () => {
    const d = await useBestBackend({ env: { ROBUST_FT_BACKEND: 'cpu' }, logger: null });
    expect(d).toMatchObject({ name: 'cpu', forced: true, tfBackend: 'cpu' });
    expect(d.patchedKernels).toContain('Conv2DBackpropFilter');
    const failure = await useBestBackend({
      env: { ROBUST_FT_BACKEND: 'tfjs-node' },
      logger: null,
      importModule: missing,
    }).catch((e: unknown) => e);
    expect(RobustFtError.isInstance(failure)).toBe(true);
    expect(failure).toMatchObject({ code: 'BACKEND_UNAVAILABLE', argument: 'ROBUST_FT_BACKEND' });
    expect((failure as Error).message).toMatch(/tfjs-node.*not installed/);
  });

  it('rejects an unknown ROBUST_FT_BACKEND naming the variable', async () => {
    await expect(useBestBackend({ env: { ROBUST_FT_BACKEND: 'tpu' }, logger: null })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      argument: 'ROBUST_FT_BACKEND',
    });
  });

  it('throws BACKEND_UNAVAILABLE when no candidate starts', async () => {
    await expect(
      useBestBackend({
        env: {},
        logger: null,
        candidates: ['tfjs-node-gpu', 'tfjs-node'],
        importModule: missing,
      }),
    ).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
  });

  it('selects from nodeCandidates, the same candidates, through the shared selectBackend', async () => {
    const candidates = nodeCandidates({ env: {}, importModule: missing });
    expect(candidates.map((c) => c.name)).toEqual([...NODE_BACKENDS]);
    // The caller orders and filters them (cpu before wasm here) and the shared selector picks.
    const order = ['tfjs-node', 'cpu', 'wasm'];
    const mine = order.map((n) => candidates.find((c) => c.name === n)!);
    const choice = await selectBackend(mine, { logger: null });
    expect(choice).toMatchObject({ name: 'cpu', reasons: { 'tfjs-node': 'not installed' } });
    expect(tf.getBackend()).toBe('cpu');
    expect(choice.patchedKernels).toContain('Conv2DBackpropFilter');
    // patch: false leaves cpu unpatched.
    unpatchCpuBackend();
    const unpatched = await selectBackend(
      nodeCandidates({ env: {}, patch: false }).filter((c) => c.name === 'cpu'),
      { logger: null },
    );
    expect(unpatched.patchedKernels).toEqual([]);
  });

  it('nodeCandidates takes the loading options only, strictly', () => {
    expect(() => nodeCandidates({ logger: null } as never)).toThrowError(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    expect(() => nodeCandidates({ threads: 0 })).toThrowError(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });

  it('sets PROD unless told not to', async () => {
    tf.env().set('PROD', false);
    await useBestBackend({ env: {}, logger: null, candidates: ['cpu'] });
    expect(tf.env().getBool('PROD')).toBe(true);
  });
});

/**
 * The `webgpu` candidate with a stand-in Dawn (this machine has no GPU): `webgpu` resolves to a module
 * whose one adapter is described by `info`, and tfjs-backend-webgpu's import registers a 'webgpu'
 * backend that is really cpu, so the selection logic runs end to end.
 */
function fakeDawn(info: Record<string, unknown> | null) {
  return (specifier: string): Promise<unknown> => {
    if (specifier === 'webgpu')
      return Promise.resolve({
        create: () => ({ requestAdapter: async () => (info === null ? null : { info }) }),
        globals: {},
      });
    if (specifier === '@tensorflow/tfjs-backend-webgpu') {
      if (tf.findBackendFactory('webgpu') === null) tf.registerBackend('webgpu', () => new MathBackendCPU());
      return Promise.resolve({});
    }
    return missing(specifier);
  };
}

const HARDWARE = { vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H200' };
const SOFTWARE = {
  vendor: 'google',
  architecture: 'swiftshader',
  description: 'SwiftShader driver 5.0.0',
  isFallbackAdapter: true,
};

describe('useBestBackend: WebGPU through Dawn', () => {
  afterAll(() => {
    if (tf.findBackendFactory('webgpu') !== null) tf.removeBackend('webgpu');
    uninstallNodeWebGpu();
  });

  it('is tried after tfjs-node and before wasm', () => {
    expect(NODE_BACKENDS).toEqual(['tfjs-node-gpu', 'tfjs-node', 'webgpu', 'wasm', 'cpu']);
  });

  it('picks a hardware adapter and names it once in the log', async () => {
    const { lines, logger } = recorder();
    const d = await useBestBackend({ env: {}, logger, importModule: fakeDawn(HARDWARE) });
    expect(d).toMatchObject({ name: 'webgpu', tfBackend: 'webgpu', forced: false });
    expect(d.adapter).toEqual({ description: 'nvidia hopper NVIDIA H200', software: false });
    expect(d.reasons).toEqual({ 'tfjs-node-gpu': 'not installed', 'tfjs-node': 'not installed' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /using backend 'webgpu'; skipped tfjs-node-gpu: not installed; tfjs-node: not installed$/,
    );
  });

  it('skips a software adapter unless allowSoftwareGpu (or ROBUST_FT_ALLOW_SOFTWARE_GPU=1) is set', async () => {
    const skipped = await useBestBackend({ env: {}, logger: null, importModule: fakeDawn(SOFTWARE) });
    expect(skipped.name).toBe('wasm');
    expect(skipped.reasons.webgpu).toBe(
      'only a software adapter (google swiftshader SwiftShader driver 5.0.0); set allowSoftwareGpu to use it',
    );
    const allowed = await useBestBackend({
      env: {},
      logger: null,
      allowSoftwareGpu: true,
      importModule: fakeDawn(SOFTWARE),
    });
    expect(allowed).toMatchObject({ name: 'webgpu', adapter: { software: true } });
    const byEnv = await useBestBackend({
      env: { ROBUST_FT_ALLOW_SOFTWARE_GPU: '1' },
      logger: null,
      importModule: fakeDawn(SOFTWARE),
    });
    expect(byEnv.name).toBe('webgpu');
    // A description alone marks a software rasteriser too (older Dawn builds have no isFallbackAdapter).
    const llvmpipe = await useBestBackend({
      env: {},
      logger: null,
      importModule: fakeDawn({ vendor: 'mesa', description: 'llvmpipe (LLVM 15.0.6, 256 bits)' }),
    });
    expect(llvmpipe.reasons.webgpu).toMatch(/^only a software adapter/);
  });

  it('ROBUST_FT_BACKEND=webgpu forces it and fails loudly without a usable adapter', async () => {
    const forced = await useBestBackend({
      env: { ROBUST_FT_BACKEND: 'webgpu' },
      logger: null,
      importModule: fakeDawn(HARDWARE),
    });
    expect(forced).toMatchObject({ name: 'webgpu', forced: true });
    for (const info of [SOFTWARE, null]) {
      const failure = await useBestBackend({
        env: { ROBUST_FT_BACKEND: 'dawn' },
        logger: null,
        importModule: fakeDawn(info),
      }).catch((e: unknown) => e);
      expect(failure).toMatchObject({ code: 'BACKEND_UNAVAILABLE', argument: 'ROBUST_FT_BACKEND' });
      expect((failure as Error).message).toMatch(
        /'webgpu' was forced by ROBUST_FT_BACKEND but cannot start: (only a software|no hardware GPU)/,
      );
    }
  });

  it('without the webgpu package installed, skips it as not installed', async () => {
    const d = await useBestBackend({ env: {}, logger: null, importModule: missing });
    expect(d.reasons.webgpu).toBe('not installed');
    expect(d.name).toBe('wasm');
  });
});
