import { RobustFtError } from '@robust-ft/core';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { unpatchCpuBackend, unpatchWasmBackend, useBestBackend } from '../src/index';
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

  it('sets PROD unless told not to', async () => {
    tf.env().set('PROD', false);
    await useBestBackend({ env: {}, logger: null, candidates: ['cpu'] });
    expect(tf.env().getBool('PROD')).toBe(true);
  });
});
