import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import './browser-setup';
import { activate, GPU_AND_WASM, maxRelError, type TestedBackend, values } from './browser-harness';
import { LOCAL_CASES, type LocalCase } from './local-cases';

interface Result {
  forward: Float32Array;
  grads: Float32Array[];
}

/** Forward value and the gradient of sum(y · r) for a fixed random r, on the active backend. */
async function evaluate(c: LocalCase): Promise<Result> {
  const xs = c.shapes.map((s, i) => tf.tensor(values(tf.util.sizeFromShape(s), 17 + i), s));
  const y = c.fn(...xs);
  const r = tf.tensor(values(y.size, 99), y.shape);
  const grads = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(c.fn(...a), r)))(xs);
  const out = {
    forward: (await y.data()) as Float32Array,
    grads: await Promise.all(grads.map(async (g) => (await g.data()) as Float32Array)),
  };
  tf.dispose([...xs, y, r, ...grads]);
  return out;
}

const oracle = new Map<string, Result>();

beforeAll(async () => {
  await activate('cpu');
  for (const c of LOCAL_CASES) oracle.set(c.name, await evaluate(c));
});

describe.each(GPU_AND_WASM)('conformance on %s (cpu is the oracle)', (backend: TestedBackend) => {
  beforeAll(() => activate(backend));

  it.each(LOCAL_CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    expect(tf.getBackend()).toBe(backend);
    const got = await evaluate(c);
    const want = oracle.get(c.name)!;
    expect(maxRelError(got.forward, want.forward)).toBeLessThanOrEqual(c.tolerance);
    expect(got.grads).toHaveLength(want.grads.length);
    got.grads.forEach((g, i) => {
      expect(maxRelError(g, want.grads[i]!), `gradient of input ${i}`).toBeLessThanOrEqual(c.tolerance);
    });
  });
});
