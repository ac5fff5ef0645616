import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { saveCheckpoint } from '../src/checkpoint';
import './setup-backend';

// The checkpoint codec itself (pack/unpack, assignment checks) is tested in @robust-ft/core's
// test/checkpoint-format.test.ts; here only what backend-web adds outside a browser.
describe('saveCheckpoint outside a browser', () => {
  it('outside a browser, saving says IndexedDB needs a browser (UNSUPPORTED), and bad input names the argument', async () => {
    const v = tf.variable(tf.ones([1]), true, 'node-v');
    await expect(saveCheckpoint('c', { variables: [v] })).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    await expect(saveCheckpoint('', { variables: [v] })).rejects.toMatchObject({ argument: 'name' });
    await expect(saveCheckpoint('c', {})).rejects.toMatchObject({ argument: 'parts' });
    v.dispose();
  });
});
