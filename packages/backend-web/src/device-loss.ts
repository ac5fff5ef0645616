import { RobustFtError } from '@robust-ft/core';
import * as tf from '@tensorflow/tfjs-core';

/**
 * Surviving a lost GPU. A WebGPU device can be lost (driver reset, GPU process crash, `destroy()`)
 * and so can a WebGL context; tfjs then fails with unrelated-looking errors (`AbortError … mapAsync`,
 * `CONTEXT_LOST_WEBGL`, `Failed to link vertex and fragment shaders`) until the page is reloaded,
 * because `tf.setBackend` keeps handing back the dead instance. Here a loss is detected, reported as a
 * typed `DEVICE_LOST` error, and the backend is rebuilt from its registered factory without a reload;
 * each backend is watched and rebuilt on its own, so one's loss never breaks another.
 */

/** What was lost and why, as the browser reported it. */
export interface DeviceLoss {
  backend: 'webgpu' | 'webgl';
  /** WebGPU's `GPUDeviceLostInfo.reason` ('destroyed' | 'unknown'), or 'context lost' for WebGL. */
  reason: string;
  message: string;
}

type GpuBackendName = DeviceLoss['backend'];

interface WebGpuLike {
  device?: { lost?: Promise<{ reason?: string; message?: string }> };
}
interface WebGlLike {
  gpgpu?: { gl?: { isContextLost?: () => boolean; canvas?: unknown } };
}

/** Losses seen, per backend instance (an instance that was rebuilt is a new key). */
const losses = new WeakMap<object, DeviceLoss>();
const watched = new WeakSet<object>();

function isGpuBackend(name: string): name is GpuBackendName {
  return name === 'webgpu' || name === 'webgl';
}

/**
 * Starts watching the current `name` instance for a lost device (WebGPU: `device.lost`) or context
 * (WebGL: `webglcontextlost`). Idempotent; a no-op for cpu and wasm or before the backend exists.
 * `useBestBackend` calls it for the backend it activates.
 */
export function watchDeviceLoss(name: string): void {
  if (!isGpuBackend(name)) return;
  const backend = tf.findBackend(name) as object | null;
  if (backend === null || watched.has(backend)) return;
  watched.add(backend);
  if (name === 'webgpu') {
    void (backend as WebGpuLike).device?.lost?.then((info) => {
      losses.set(backend, {
        backend: 'webgpu',
        reason: info?.reason ?? 'unknown',
        message: info?.message ?? '',
      });
    });
  } else {
    const canvas = (backend as WebGlLike).gpgpu?.gl?.canvas as EventTarget | undefined;
    canvas?.addEventListener?.('webglcontextlost', () => {
      losses.set(backend, { backend: 'webgl', reason: 'context lost', message: 'webglcontextlost' });
    });
  }
}

/** The loss of the current `name` instance, or null while it is alive (or never started). */
export function backendLoss(name: string = tf.getBackend()): DeviceLoss | null {
  if (!isGpuBackend(name)) return null;
  const backend = tf.findBackend(name) as object | null;
  if (backend === null) return null;
  const seen = losses.get(backend);
  if (seen) return seen;
  // A WebGL context can be lost before the listener was attached: ask the context itself.
  if (name === 'webgl' && (backend as WebGlLike).gpgpu?.gl?.isContextLost?.() === true) {
    const loss: DeviceLoss = { backend: 'webgl', reason: 'context lost', message: 'isContextLost()' };
    losses.set(backend, loss);
    return loss;
  }
  return null;
}

function lostError(loss: DeviceLoss, cause?: unknown): RobustFtError {
  const what = loss.backend === 'webgpu' ? 'WebGPU device' : 'WebGL context';
  return new RobustFtError(
    'DEVICE_LOST',
    `the ${what} was lost (${loss.reason}${loss.message ? `: ${loss.message}` : ''}); tensors on '${loss.backend}' are gone. Call useBestBackend() (or reinitialiseBackend('${loss.backend}')) to start it again without reloading, and recreate the model and data`,
    { argument: 'backend', ...(cause === undefined ? {} : { cause }) },
  );
}

/** Throws a `DEVICE_LOST` RobustFtError when the backend `name` (default: the active one) was lost. */
export function assertBackendAlive(name: string = tf.getBackend()): void {
  const loss = backendLoss(name);
  if (loss) throw lostError(loss);
}

/**
 * Turns whatever a lost device made tfjs throw into the `DEVICE_LOST` error that says what happened
 * (with the original as `cause`); any other error, or one on a live backend, is returned unchanged.
 */
export function explainBackendError(error: unknown, name: string = tf.getBackend()): unknown {
  if (RobustFtError.isInstance(error) && error.code === 'DEVICE_LOST') return error;
  const loss = backendLoss(name);
  return loss ? lostError(loss, error) : error;
}

/**
 * Drops the current instance of `name` (lost or not) and registers its factory again, so the next
 * `tf.setBackend(name)` builds a fresh device or context. Other backends are untouched. Returns false
 * when `name` has no registered factory.
 */
export function reinitialiseBackend(name: string): boolean {
  const entry = (
    tf.engine() as unknown as {
      registryFactory: Record<
        string,
        { factory: () => tf.KernelBackend | Promise<tf.KernelBackend>; priority: number }
      >;
    }
  ).registryFactory[name];
  if (entry === undefined) return false;
  const { factory, priority } = entry;
  try {
    tf.removeBackend(name);
  } catch {
    // Disposing a dead device's buffers can throw midway: drop what removeBackend did not.
    const engine = tf.engine() as unknown as {
      registry: Record<string, unknown>;
      registryFactory: Record<string, unknown>;
      backendName: string | null;
      backendInstance: unknown;
    };
    delete engine.registry[name];
    delete engine.registryFactory[name];
    if (engine.backendName === name) {
      engine.backendName = null;
      engine.backendInstance = null;
    }
  }
  tf.registerBackend(name, factory, priority);
  return true;
}
