import { RobustFtError } from '@robust-ft/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { assertBackendAlive, backendLoss, explainBackendError, useBestBackend } from '../src/index';
import './browser-setup';
import { WASM_PATH } from './browser-harness';

/**
 * Real losses in headless Chromium (SwiftShader): the WebGL context is lost through
 * WEBGL_lose_context and the WebGPU device through `destroy()`. Each must be reported as DEVICE_LOST,
 * come back through `useBestBackend` without a reload, and leave the other backends computing.
 */
const product = async () => {
  const out = tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.tensor2d([5, 6, 7, 8], [2, 2]));
  try {
    return Array.from(await out.data());
  } finally {
    out.dispose();
  }
};
const EXPECTED = [19, 22, 43, 50];

async function checkOthers(except: string): Promise<void> {
  for (const name of ['webgl', 'webgpu', 'wasm', 'cpu'].filter((n) => n !== except)) {
    const d = await useBestBackend({ force: name, wasmPath: WASM_PATH, logger: null });
    expect(d.name).toBe(name);
    expect(await product(), `${name} after ${except} was lost`).toEqual(EXPECTED);
  }
}

describe('a lost GPU is survivable', () => {
  it('WebGL: the lost context is a typed error, and useBestBackend rebuilds it', async () => {
    await useBestBackend({ force: 'webgl', logger: null });
    expect(await product()).toEqual(EXPECTED);
    const gl = (tf.backend() as unknown as { gpgpu: { gl: WebGL2RenderingContext } }).gpgpu.gl;
    const lost = new Promise((resolve) => gl.canvas.addEventListener('webglcontextlost', resolve));
    gl.getExtension('WEBGL_lose_context')?.loseContext();
    await lost;
    expect(backendLoss('webgl')).toMatchObject({ backend: 'webgl', reason: 'context lost' });
    expect(() => assertBackendAlive()).toThrow(RobustFtError);
    // A read on a lost WebGL context never settles (tfjs polls a fence that never signals), so the
    // error a caller holds is explained without running one.
    expect(explainBackendError(new Error('CONTEXT_LOST_WEBGL'))).toMatchObject({ code: 'DEVICE_LOST' });
    await checkOthers('webgl');
    const again = await useBestBackend({ force: 'webgl', logger: null });
    expect(again.name).toBe('webgl');
    expect(backendLoss('webgl')).toBeNull();
    expect(await product()).toEqual(EXPECTED);
  });

  it('WebGPU: the destroyed device is a typed error, and useBestBackend rebuilds it', async () => {
    await useBestBackend({ force: 'webgpu', logger: null });
    expect(await product()).toEqual(EXPECTED);
    const device = (tf.backend() as unknown as { device: { destroy(): void; lost: Promise<unknown> } })
      .device;
    device.destroy();
    await device.lost;
    await new Promise((r) => setTimeout(r, 0));
    expect(backendLoss('webgpu')).toMatchObject({ backend: 'webgpu', reason: 'destroyed' });
    const thrown = (() => {
      try {
        assertBackendAlive('webgpu');
      } catch (e) {
        return e as RobustFtError;
      }
      return null;
    })();
    expect(thrown?.code).toBe('DEVICE_LOST');
    expect(thrown?.message).toMatch(/WebGPU device was lost \(destroyed/);
    await checkOthers('webgpu');
    const again = await useBestBackend({ force: 'webgpu', logger: null });
    expect(again.name).toBe('webgpu');
    expect(backendLoss('webgpu')).toBeNull();
    expect(await product()).toEqual(EXPECTED);
  });
});
