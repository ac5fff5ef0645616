import { RobustFtError } from '@robust-ft/core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import {
  assertBackendAlive,
  backendLoss,
  explainBackendError,
  reinitialiseBackend,
  watchDeviceLoss,
} from '../src/index';
import './setup-backend';

/**
 * Node has no GPU: 'webgl' and 'webgpu' are registered here as cpu backends carrying the one part of
 * the real ones the loss detection reads (WebGL: gpgpu.gl's canvas and isContextLost; WebGPU:
 * device.lost). Real losses in Chromium are covered by test/device-loss.browser.test.ts.
 */
let built = { webgl: 0, webgpu: 0 };
let contextLost = false;
let loseDevice: (info: { reason: string; message: string }) => void = () => {};

function fakeWebGl(): tf.KernelBackend {
  built.webgl++;
  const backend = new MathBackendCPU() as MathBackendCPU & { gpgpu: unknown };
  backend.gpgpu = { gl: { canvas: new EventTarget(), isContextLost: () => contextLost } };
  return backend;
}

function fakeWebGpu(): tf.KernelBackend {
  built.webgpu++;
  const backend = new MathBackendCPU() as MathBackendCPU & { device: unknown };
  backend.device = { lost: new Promise((resolve) => (loseDevice = resolve)) };
  return backend;
}

const square = async () => Array.from(await tf.square(tf.tensor1d([3])).data());

describe('device loss', () => {
  tf.registerBackend('webgl', fakeWebGl, 0);
  tf.registerBackend('webgpu', fakeWebGpu, 0);
  for (const backendName of ['webgl', 'webgpu'])
    tf.registerKernel({ ...(tf.getKernel('Square', 'cpu') as tf.KernelConfig), backendName });
  afterAll(async () => {
    await tf.setBackend('cpu');
    tf.removeBackend('webgl');
    tf.removeBackend('webgpu');
    for (const backendName of ['webgl', 'webgpu']) tf.unregisterKernel('Square', backendName);
  });

  it('a lost WebGL context is reported as DEVICE_LOST and rebuilt without touching the other backends', async () => {
    built = { webgl: 0, webgpu: 0 };
    expect(await tf.setBackend('webgl')).toBe(true);
    watchDeviceLoss('webgl');
    watchDeviceLoss('webgl'); // idempotent: one listener
    expect(backendLoss()).toBeNull();
    expect(() => assertBackendAlive()).not.toThrow();

    const gl = (tf.backend() as unknown as { gpgpu: { gl: { canvas: EventTarget } } }).gpgpu.gl;
    gl.canvas.dispatchEvent(new Event('webglcontextlost'));
    expect(backendLoss('webgl')).toEqual({
      backend: 'webgl',
      reason: 'context lost',
      message: 'webglcontextlost',
    });
    const thrown = (() => {
      try {
        assertBackendAlive();
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(RobustFtError.isInstance(thrown) && thrown.code).toBe('DEVICE_LOST');
    expect((thrown as Error).message).toMatch(/the WebGL context was lost \(context lost/);
    const original = new Error('CONTEXT_LOST_WEBGL: loseContext: context lost');
    const explained = explainBackendError(original) as RobustFtError;
    expect(explained.code).toBe('DEVICE_LOST');
    expect(explained.cause).toBe(original);
    // Other backends: not lost, and still compute.
    expect(backendLoss('cpu')).toBeNull();
    expect(explainBackendError(original, 'cpu')).toBe(original);
    await tf.setBackend('cpu');
    expect(await square()).toEqual([9]);

    expect(reinitialiseBackend('webgl')).toBe(true);
    expect(await tf.setBackend('webgl')).toBe(true);
    expect(built.webgl).toBe(2);
    expect(backendLoss('webgl')).toBeNull();
    expect(await square()).toEqual([9]);
  });

  it('a context lost before anyone listened is still seen (isContextLost)', async () => {
    reinitialiseBackend('webgl');
    await tf.setBackend('webgl');
    contextLost = true;
    try {
      expect(backendLoss('webgl')?.message).toBe('isContextLost()');
    } finally {
      contextLost = false;
    }
  });

  it('a lost WebGPU device reports its reason; reinitialising builds a new device', async () => {
    reinitialiseBackend('webgl');
    await tf.setBackend('webgl');
    built = { webgl: 0, webgpu: 0 };
    await tf.setBackend('webgpu');
    watchDeviceLoss('webgpu');
    loseDevice({ reason: 'destroyed', message: 'Device was destroyed.' });
    await new Promise((r) => setTimeout(r, 0));
    expect(backendLoss('webgpu')).toEqual({
      backend: 'webgpu',
      reason: 'destroyed',
      message: 'Device was destroyed.',
    });
    expect(() => assertBackendAlive('webgpu')).toThrow(
      /the WebGPU device was lost \(destroyed: Device was destroyed\.\)/,
    );
    // WebGL is a different backend: its instance is not affected.
    expect(backendLoss('webgl')).toBeNull();
    expect(reinitialiseBackend('webgpu')).toBe(true);
    await tf.setBackend('webgpu');
    expect(built.webgpu).toBe(2);
    expect(backendLoss('webgpu')).toBeNull();
    expect(await square()).toEqual([9]);
  });

  it('cpu and wasm are never watched; an unknown backend cannot be reinitialised', () => {
    watchDeviceLoss('cpu');
    expect(backendLoss('cpu')).toBeNull();
    expect(reinitialiseBackend('tpu')).toBe(false);
  });
});
