import { createRng, type RobustOptimizer } from '@robust-ft/core';
import { INTEGRITY_KEY, sealDocument } from '@robust-ft/core/internal';
import {
  attemptDamagedLoad,
  type DamageTally,
  damageSummary,
  damageTally,
  modelSnapshot,
  mutateBytes,
  optimizerSnapshot,
  type Snapshot,
  sameSnapshot,
  tensorBytes,
} from '@robust-ft/core/testing';
import { ftp, spd } from '@robust-ft/optimizers';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  inTransaction,
  readStored,
  request,
  type StoredCheckpoint,
  writeStored,
} from '../src/checkpoint-store';
import { loadCheckpoint, saveCheckpoint } from '../src/index';
import './browser-setup';
import { activate, values } from './browser-harness';

/*
 * The reliability suite on the IndexedDB path (issue 14): a corpus of damaged checkpoints and a seeded
 * fuzz of the stored record's two artifacts (the sealed document and the weight bytes). Every damaged
 * load must be a typed RobustFtError with nothing changed and nothing leaked, or load bit-identically.
 */
const FUZZ_PER_ARTIFACT = 200;

function buildModel(optimizer: tf.Optimizer, units = 8): tfl.LayersModel {
  const m = tfl.sequential({
    layers: [
      tfl.layers.dense({
        inputShape: [6],
        units,
        activation: 'relu',
        kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }),
      }),
      tfl.layers.dense({ units: 3, kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
  m.compile({ optimizer, loss: 'meanSquaredError' });
  return m;
}

async function train(m: tfl.LayersModel, steps: number): Promise<void> {
  const x = tf.tensor2d(values(8 * 6, 5), [8, 6]);
  const y = tf.tensor2d(values(8 * 3, 6), [8, 3]);
  for (let i = 0; i < steps; i++) await m.trainOnBatch(x, y);
  tf.dispose([x, y]);
}

function report(what: string, t: DamageTally): void {
  console.log(damageSummary(`reliability ${what} on IndexedDB (Chromium)`, t));
  for (const f of t.failures.slice(0, 6)) console.log(`  ${f.slice(0, 400)}`);
  expect(t.failures).toEqual([]);
  expect(t.typed + t.harmless).toBe(t.cases);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

describe('reliability of IndexedDB checkpoints in Chromium (wasm)', () => {
  let pristine: StoredCheckpoint;
  let reference: Snapshot;
  let loopReference: Snapshot;
  let liveVar: tf.Variable;
  let liveOpt: RobustOptimizer;
  let liveSnapshot: Snapshot;
  let liveState: { name: string; tensor: tf.Tensor }[];
  let liveValue: tf.Tensor;

  beforeAll(async () => {
    await activate('wasm');
    // One checkpoint with everything: a layers model with FTP, a custom-loop variable and its own FTP.
    const m = buildModel(ftp({ learningRate: 0.01 }));
    await train(m, 3);
    const v = tf.variable(tf.tensor1d(values(5, 7)), true, 'rel-web/w');
    const opt = ftp({ learningRate: 0.05 });
    for (let i = 0; i < 3; i++) opt.minimize(() => tf.sum(tf.square(v)) as tf.Scalar, false, [v]);
    await saveCheckpoint('rel', { model: m, variables: { w: v }, optimizer: opt, metadata: { epoch: 3 } });
    pristine = (await readStored('rel'))!;
    reference = await modelSnapshot(m);
    loopReference = new Map([['w', await tensorBytes(v)], ...(await optimizerSnapshot(opt))]);
    // The live target of restores: the same variable one step further on.
    opt.minimize(() => tf.sum(tf.square(v)) as tf.Scalar, false, [v]);
    liveVar = v;
    liveOpt = opt;
    liveValue = tf.keep(tf.clone(v));
    liveState = (await opt.getWeights()).map(({ name, tensor }) => ({
      name,
      tensor: tf.keep(tf.clone(tensor)),
    }));
    liveSnapshot = new Map([['w', await tensorBytes(v)], ...(await optimizerSnapshot(opt))]);
    // An SPD run over the same variable name, for "state of another optimizer".
    const s = spd({ learningRate: 0.05 });
    const other = tf.variable(tf.zeros([5]), true, 'rel-web/other');
    s.minimize(() => tf.sum(tf.square(tf.sub(other, 1))) as tf.Scalar, false, [other]);
    await saveCheckpoint('rel-spd', { variables: { w: other }, optimizer: s });
    other.dispose();
    s.dispose();
    m.dispose();
  }, 120_000);

  const loadAll = async (): Promise<Snapshot> => {
    const loaded = await loadCheckpoint('damaged', {
      variables: { w: liveVar },
      optimizer: liveOpt,
      loadModel: (url) => tfl.loadLayersModel(url),
    });
    const out: Snapshot = new Map([['w', await tensorBytes(liveVar)], ...(await optimizerSnapshot(liveOpt))]);
    const model = loaded.model as tfl.LayersModel;
    for (const [k, v] of await modelSnapshot(model)) out.set(`model:${k}`, v);
    model.optimizer?.dispose();
    model.dispose();
    // Back to the live state for the next case.
    await liveOpt.setWeights(liveState);
    liveVar.assign(liveValue);
    return out;
  };
  const fullReference = (): Snapshot => {
    const out = new Map(loopReference);
    for (const [k, v] of reference) out.set(`model:${k}`, v);
    return out;
  };
  const unchanged = async () =>
    sameSnapshot(
      new Map([['w', await tensorBytes(liveVar)], ...(await optimizerSnapshot(liveOpt))]),
      liveSnapshot,
    );

  async function store(document: string, data: ArrayBuffer): Promise<void> {
    await writeStored({ name: 'damaged', document, data });
  }

  it('the undamaged checkpoint restores model, variables and optimizer bit-identically, leak-free', async () => {
    const t = damageTally();
    await store(pristine.document, pristine.data);
    await attemptDamagedLoad(t, 'pristine', loadAll, fullReference(), unchanged);
    expect(t.failures).toEqual([]);
    expect(t).toMatchObject({ cases: 1, harmless: 1, leaked: 0 });
    // The live state differs from the saved one, so "unchanged" after a failure means something.
    expect(sameSnapshot(liveSnapshot, loopReference)).toBe(false);
  });

  it('every corpus case is a typed error naming the checkpoint, or harmless', async () => {
    const t = damageTally();
    const bytes = new Uint8Array(pristine.data);
    const doc = () =>
      JSON.parse(pristine.document) as Record<string, unknown> & {
        stateSpecs: tf.io.WeightsManifestEntry[];
        model: { weightSpecs: tf.io.WeightsManifestEntry[]; modelTopology: unknown };
      };
    const run = async (
      label: string,
      document: string,
      data: Uint8Array | ArrayBuffer,
      names = ['checkpoint "damaged"'],
    ) => {
      await store(document, data instanceof Uint8Array ? (data.slice().buffer as ArrayBuffer) : data);
      await attemptDamagedLoad(t, label, loadAll, fullReference(), unchanged, names);
    };
    const flip = (offsets: number[]) => {
      const c = bytes.slice();
      for (const o of offsets) c[o % c.length] = c[o % c.length]! ^ 0x5a;
      return c;
    };
    const edited = (fn: (d: ReturnType<typeof doc>) => void) => {
      const d = doc();
      fn(d);
      return JSON.stringify(d);
    };
    const D = pristine.document;
    await run('data truncated by 1 byte', D, bytes.slice(0, bytes.length - 1), ['(data)']);
    await run('data truncated by half', D, bytes.slice(0, bytes.length >> 1), ['(data)']);
    await run('data truncated to 0 bytes', D, new Uint8Array(0), ['(data)']);
    await run('data extended by 1 byte', D, new Uint8Array([...bytes, 0]), ['(data)']);
    await run('data extended by 64 bytes', D, new Uint8Array([...bytes, ...new Uint8Array(64)]), ['(data)']);
    await run('1 byte flipped in the variables', D, flip([2]), ['(data)']);
    await run('1 byte flipped in the model weights', D, flip([bytes.length - 7]), ['(data)']);
    await run('16 bytes flipped', D, flip(Array.from({ length: 16 }, (_, i) => 5 + i * 37)), ['(data)']);
    await run('data not an ArrayBuffer', D, 'bytes' as unknown as ArrayBuffer, ['(data)']);
    await run('document truncated', D.slice(0, D.length >> 1), bytes, ['(document)']);
    await run('document emptied', '', bytes, ['(document)']);
    await run('document with trailing bytes', `${D}xx`, bytes, ['(document)']);
    await run(
      'model manifest shape swapped',
      edited((d) => {
        d.model.weightSpecs[0]!.shape = [...d.model.weightSpecs[0]!.shape].reverse();
      }),
      bytes,
      ['(document)'],
    );
    await run(
      'state manifest dtype changed',
      edited((d) => {
        d.stateSpecs[0]!.dtype = 'int32';
      }),
      bytes,
      ['(document)'],
    );
    await run(
      'state entry renamed',
      edited((d) => {
        d.stateSpecs[0]!.name = 'v:other';
      }),
      bytes,
      ['(document)'],
    );
    await run(
      'model entry removed',
      edited((d) => {
        d.model.weightSpecs.splice(1, 1);
      }),
      bytes,
      ['(document)'],
    );
    await run(
      'topology changed (units)',
      edited((d) => {
        d.model.modelTopology = JSON.parse(
          JSON.stringify(d.model.modelTopology).replace('"units":8', '"units":9'),
        );
      }),
      bytes,
      ['(document)'],
    );
    await run(
      'integrity record removed',
      edited((d) => {
        delete d[INTEGRITY_KEY];
      }),
      bytes,
      ['(document)', 'allowUnverified'],
    );
    await run(
      'document checksum altered',
      edited((d) => {
        (d[INTEGRITY_KEY] as { document: string }).document = '0'.repeat(64);
      }),
      bytes,
      ['(document)'],
    );
    await run(
      'entry checksum altered',
      edited((d) => {
        (d[INTEGRITY_KEY] as { entries: { sha256: string }[] }).entries[0]!.sha256 = '0'.repeat(64);
      }),
      bytes,
      ['(data)'],
    );
    // A buggy writer (re-sealed, checksums match): the optimizer's own validation must refuse NaN.
    const nanDoc = doc();
    delete nanDoc[INTEGRITY_KEY];
    const nanBytes = bytes.slice();
    const i = nanDoc.stateSpecs.findIndex((s) => s.name.includes('"nu"'));
    let offset = 0;
    for (let j = 0; j < i; j++) offset += nanDoc.stateSpecs[j]!.shape.reduce((a, b) => a * b, 1) * 4;
    new DataView(nanBytes.buffer).setFloat32(offset, Number.NaN, true);
    const allSpecs = [...nanDoc.stateSpecs, ...nanDoc.model.weightSpecs];
    await run(
      'NaN in the optimizer state (re-sealed)',
      JSON.stringify(await sealDocument(nanDoc, allSpecs, nanBytes)),
      nanBytes,
      [],
    );
    // SPD state into FTP: a whole other checkpoint under this name.
    const spdStored = (await readStored('rel-spd'))!;
    await store(spdStored.document, spdStored.data);
    await attemptDamagedLoad(
      t,
      'SPD state into FTP',
      async () => {
        await loadCheckpoint('damaged', { variables: { w: liveVar }, optimizer: liveOpt });
        return new Map();
      },
      new Map([['never', '']]),
      unchanged,
      ['robust-ft/spd'],
    );
    report('corpus', t);
  }, 120_000);

  it('a seeded fuzz of the document and the data finds no silent change and no leak', async () => {
    const t = damageTally();
    const rng = createRng(1414);
    const docBytes = encoder.encode(pristine.document);
    const data = new Uint8Array(pristine.data);
    for (const artifact of ['document', 'data'] as const) {
      for (let i = 0; i < FUZZ_PER_ARTIFACT; i++) {
        const { bytes, what } = mutateBytes(rng, artifact === 'document' ? docBytes : data);
        if (artifact === 'document') await store(decoder.decode(bytes), pristine.data);
        else await store(pristine.document, bytes.slice().buffer as ArrayBuffer);
        await attemptDamagedLoad(t, `${artifact}: ${what}`, loadAll, fullReference(), unchanged);
      }
    }
    report('fuzz', t);
    expect(t.cases).toBe(2 * FUZZ_PER_ARTIFACT);
  }, 300_000);

  it('a save that fails inside its transaction leaves the previous checkpoint whole', async () => {
    await store(pristine.document, pristine.data);
    const crash = inTransaction('readwrite', async (s) => {
      await request(s.put({ name: 'damaged', document: '{}', data: new ArrayBuffer(3) }));
      throw new Error('crash mid-save');
    });
    await expect(crash).rejects.toThrow('crash mid-save');
    const t = damageTally();
    await attemptDamagedLoad(t, 'after a failed save', loadAll, fullReference(), unchanged);
    expect(t).toMatchObject({ cases: 1, harmless: 1, leaked: 0 });
  });
});
