import { CONFORMANCE_CASES, runConformance } from '@robust-ft/core/testing';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { type NodeBackendDescription, useBestBackend } from '../src/index';
import { uninstallNodeWebGpu } from '../src/testing';
import './setup-backends';

/**
 * WebGPU in Node through Dawn (`webgpu@0.6.2`), started the way users start it: `useBestBackend` with
 * the `webgpu` candidate forced. Without a GPU (CI, this machine) it runs on the SwiftShader Vulkan
 * driver that Debian's chromium package ships (Dawn rejects Mesa lavapipe), allowed explicitly. Software
 * WebGPU takes seconds per op, so only a handful of cases run. Without any adapter the test is reported
 * as skipped, with the reason.
 */
// What a user gets here with no options: logged so the report can say what Node picks on this machine.
const auto = await useBestBackend({ env: {}, logger: null });
console.log(`[webgpu-node] useBestBackend() picks '${auto.name}'; skipped ${JSON.stringify(auto.reasons)}`);
let started: NodeBackendDescription | null = null;
let skipReason: string | null = null;
try {
  started = await useBestBackend({ force: 'webgpu', allowSoftwareGpu: true, logger: null });
} catch (e) {
  skipReason = (e as Error).message;
  console.warn(`[webgpu-node] SKIPPED: ${skipReason}`);
}
await tf.setBackend('cpu');

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
    // Dawn keeps the process alive while a GPU object is reachable.
    uninstallNodeWebGpu();
  });

  it.skipIf(skipReason !== null)('matches cpu on a small subset', { timeout: 180_000 }, async () => {
    expect(started).toMatchObject({ name: 'webgpu', tfBackend: 'webgpu', forced: true });
    expect(await tf.setBackend('webgpu')).toBe(true);
    const cases = CONFORMANCE_CASES.filter((c) => SUBSET.includes(c.name));
    expect(cases).toHaveLength(SUBSET.length);
    const results = await runConformance('webgpu', { cases });
    for (const r of results) expect(r.ok, `${r.name}: ${r.detail}`).toBe(true);
  });
});
