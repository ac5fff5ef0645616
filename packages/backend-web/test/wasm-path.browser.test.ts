import { RobustFtError } from '@robust-ft/core';
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { useBestBackend } from '../src/index';
import './browser-setup';

// A wasm backend whose binaries cannot be fetched is unusable for the rest of the page, so this file
// runs in its own iframe and covers both outcomes in order.
it('a wasm path that serves no binaries falls through to cpu, and fails loudly when wasm is forced', async () => {
  const lines: string[] = [];
  const d = await useBestBackend({
    candidates: ['wasm', 'cpu'],
    wasmPath: '/no-such-dir/',
    logger: { info: (m) => lines.push(m) },
  });
  expect(d.name).toBe('cpu');
  expect(tf.getBackend()).toBe('cpu');
  expect(d.reasons.wasm).toBeDefined();
  expect(lines[0]).toMatch(
    /^robust-ft: using backend 'cpu' with training kernels \[Conv2DBackpropFilter\]; skipped wasm: /,
  );

  const error = await useBestBackend({ force: 'wasm', logger: null }).catch((e: unknown) => e);
  expect(RobustFtError.isInstance(error) && error.code).toBe('BACKEND_UNAVAILABLE');
  expect((error as Error).message).toContain("'wasm' was forced by options.force");
});
