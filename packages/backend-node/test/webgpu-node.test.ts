import { CONFORMANCE_CASES, runConformance } from '@robust-ft/core/testing';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { installNodeWebGpu } from '../src/testing';
import './setup-backends';

/**
 * Optional: WebGPU in Node through Dawn (`webgpu@0.6.2`) on the SwiftShader Vulkan driver that
 * Debian's chromium package ships (Dawn rejects Mesa lavapipe). Software WebGPU takes seconds per op,
 * so only a handful of cases run. Without the driver the test is reported as skipped, with the reason.
 */
const skipReason = await installNodeWebGpu(() => import('webgpu'));
if (skipReason !== null) console.warn(`[webgpu-node] SKIPPED: ${skipReason}`);

const SUBSET = [
  'conv2d 3x3 stride 2 same (asymmetric padding, unread rows)',
  'depthwiseConv2d 3x3 stride 2 same, multiplier 2',
  'matMul transposeB',
  'maxPool 3x3 stride 2 same, all negative',
  'logSoftmax',
  'gather rows (embedding, repeated indices)',
];

describe('conformance on WebGPU in Node (Dawn + SwiftShader)', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
    const nav = (globalThis as { navigator?: { gpu?: unknown } }).navigator;
    // Dawn keeps the process alive while a GPU object is reachable.
    if (nav) delete nav.gpu;
  });

  it.skipIf(skipReason !== null)('matches cpu on a small subset', { timeout: 180_000 }, async () => {
    await import('@tensorflow/tfjs-backend-webgpu');
    expect(await tf.setBackend('webgpu')).toBe(true);
    const cases = CONFORMANCE_CASES.filter((c) => SUBSET.includes(c.name));
    expect(cases).toHaveLength(SUBSET.length);
    const results = await runConformance('webgpu', { cases });
    for (const r of results) expect(r.ok, `${r.name}: ${r.detail}`).toBe(true);
  });
});
