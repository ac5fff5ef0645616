import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/backend';
import { parseRunName, runName, zeroShotBackbone } from '../src/guide/cells';
import { planShards } from '../src/guide/shards';
import { loadPretrained, saveModel } from '../src/model';
import { ATTENTION_ARCH, buildAttentionNet } from '../src/model-attention';
import { guide } from '../src/tiers/guide';

describe('guide tier parts', () => {
  beforeAll(async () => {
    await selectBackend('wasm', true);
  });

  it('run names carry the backbone as a prefix, except for the digits CNN', () => {
    const cell = { backbone: 'mobilenetv2', loss: 'trades', protocol: 'lp', optimizer: 'spd' } as const;
    expect(runName(cell, 0)).toBe('mobilenetv2:trades/lp/spd/s0');
    expect(runName({ ...cell, backbone: 'digits-cnn' }, 2)).toBe('trades/lp/spd/s2');
    expect(parseRunName('mobilenetv2:trades/lp/spd/s0')).toEqual({ ...cell, seed: 0 });
    expect(parseRunName('at/fft-long/adamw/s1')?.backbone).toBe('digits-cnn');
    expect(parseRunName('mobilenetv2:zero-shot')).toBeUndefined();
    expect(zeroShotBackbone('zero-shot')).toBe('digits-cnn');
    expect(zeroShotBackbone('digits-attention:zero-shot')).toBe('digits-attention');
    expect(zeroShotBackbone('ce/lp/adamw/s0')).toBeUndefined();
  });

  it('plans shards longest first onto the least-loaded process', () => {
    const g = (name: string, cost: number) => ({ methods: [name], cost });
    expect(planShards([g('a', 90), g('b', 90), g('c', 90), g('m', 200), g('v', 100)], 2)).toEqual([
      ['m', 'c'],
      ['v', 'a', 'b'],
    ]);
    expect(planShards([g('a', 1)], 4)).toEqual([['a']]);
    expect(planShards([g('a', 1), g('b', 2)], 1)).toEqual([['b', 'a']]);
  });

  it('the registered tier runs two processes by default and validates its option', async () => {
    expect(guide.defaults.tierOptions).toEqual({ jobs: '2' });
    expect(guide.methodNames.filter((m) => zeroShotBackbone(m) !== undefined)).toEqual([
      'zero-shot',
      'mobilenetv2:zero-shot',
      'digits-attention:zero-shot',
    ]);
    // 27 cells × 3 seeds on the CNN, 27 × 1 on the others, plus three zero-shot rows.
    expect(guide.methodNames).toHaveLength(81 + 27 + 27 + 3);
    const base = { methods: ['ce/lp/adamw/s0'] } as never;
    await expect(guide.run({ ...(base as object), tierOptions: { jobs: '0' } } as never)).rejects.toThrow(
      'jobs=0',
    );
    await expect(guide.run({ ...(base as object), tierOptions: { job: '2' } } as never)).rejects.toThrow(
      'job',
    );
  });

  it('the attention model is attention-only after its patch embedding and survives save/load', async () => {
    const m = buildAttentionNet(3);
    const convs = m.layers.filter((l) => l.getClassName().startsWith('Conv'));
    expect(convs.map((l) => l.name)).toEqual(['patch']);
    expect(m.layers.filter((l) => l.getClassName() === 'RobustFtSelfAttention')).toHaveLength(
      ATTENTION_ARCH.blocks,
    );
    expect(m.countParams()).toBe(20650);
    const dir = mkdtempSync(join(tmpdir(), 'attention-'));
    await saveModel(m, dir, 'test');
    const back = await loadPretrained(dir);
    const x = tf.randomUniform([3, 28, 28, 1], 0, 1, 'float32', 5);
    const a = m.predict(x) as tf.Tensor;
    const b = back.predict(x) as tf.Tensor;
    expect(tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]).toBeLessThan(1e-6);
    tf.dispose([x, a, b]);
    m.dispose();
    back.dispose();
  });
});
