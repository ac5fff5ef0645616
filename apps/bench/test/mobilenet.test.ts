import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/backend';
import { buildTail, loadMobilenet } from '../src/tiers/mobilenetv2';

describe('mobilenetv2 tier: model surgery on the nsfwjs MobileNetV2', () => {
  beforeAll(async () => {
    await selectBackend('wasm', true);
  });

  it('loads offline at 64 px; the trunk ends at 4×4×96 and the tail reproduces block_13_expand_relu', async () => {
    const full = await loadMobilenet(64);
    expect(full.countParams()).toBeGreaterThan(2_500_000);
    const trunk = tf.model({
      inputs: full.inputs,
      outputs: full.getLayer('block_12_add').output as tf.SymbolicTensor,
    });
    const reference = tf.model({
      inputs: full.inputs,
      outputs: full.getLayer('block_13_expand_relu').output as tf.SymbolicTensor,
    });
    expect(trunk.outputs[0]?.shape).toEqual([null, 4, 4, 96]);
    const tail = buildTail(full, [4, 4, 96], 1);
    // The tail's first three layers must compute exactly what the original network computes there.
    const tailRelu = tf.model({ inputs: tail.inputs, outputs: tail.layers[3]?.output as tf.SymbolicTensor });
    const x = tf.randomUniform([2, 64, 64, 3], 0, 1, 'float32', 3);
    const a = reference.predict(x) as tf.Tensor;
    const b = tailRelu.predict(trunk.predict(x) as tf.Tensor) as tf.Tensor;
    expect(a.shape).toEqual([2, 4, 4, 576]);
    const diff = tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] ?? Number.NaN;
    expect(diff).toBeLessThan(1e-4);
    expect((tail.predict(trunk.predict(x) as tf.Tensor) as tf.Tensor).shape).toEqual([2, 10]);
    tf.dispose([x, a, b]);
    full.dispose();
  });
});
