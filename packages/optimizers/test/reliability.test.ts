import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileSystemHandler, loadOptimizerState, saveOptimizerState } from '@robust-ft/backend-node';
import { Anchors, createRng, type RobustOptimizer } from '@robust-ft/core';
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
} from '@robust-ft/core/testing';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, describe, expect, it } from 'vitest';
import { ftp, spd } from '../src/index';
import { testBackend } from './setup-backend';

/*
 * The reliability suite (issue 14): a generated corpus of damaged checkpoints, a seeded fuzz of byte
 * flips/truncations per artifact, failed steps and PEFT/shared-anchor resume. Every damaged load must be
 * a typed RobustFtError (nothing mutated, nothing leaked) or load bit-identically; "silent" counts a
 * load that succeeded with different values. Runs on cpu and (vitest project reliability-wasm) wasm.
 */

const FUZZ_PER_ARTIFACT = 200;

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'robust-ft-rel-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

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

const X = () =>
  tf.tensor2d(
    Array.from({ length: 8 * 6 }, (_, i) => Math.sin(i * 0.37)),
    [8, 6],
  );
const Y = () =>
  tf.tensor2d(
    Array.from({ length: 8 * 3 }, (_, i) => Math.cos(i * 0.11)),
    [8, 3],
  );

async function train(m: tfl.LayersModel, steps: number): Promise<void> {
  const x = X();
  const y = Y();
  for (let i = 0; i < steps; i++) await m.trainOnBatch(x, y);
  tf.dispose([x, y]);
}

const same = sameSnapshot;
const tally = damageTally;
const attempt = attemptDamagedLoad;

function report(what: string, t: DamageTally): void {
  console.log(damageSummary(`reliability ${what} on ${testBackend}`, t));
  expect(t.failures).toEqual([]);
  expect(t.typed + t.harmless).toBe(t.cases);
}

function fileMatching(dir: string, re: RegExp): string {
  const f = readdirSync(dir).find((n) => re.test(n));
  if (!f) throw new Error(`no file matching ${re} in ${dir}`);
  return f;
}

function copyDir(from: string): string {
  const to = tempDir();
  for (const f of readdirSync(from)) copyFileSync(join(from, f), join(to, f));
  return to;
}

type Json = Record<string, unknown> & {
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
};

/** Rewrites a JSON document and re-seals it: a buggy writer, not damage (the checksums match). */
async function resealed(
  path: string,
  bin: Uint8Array,
  edit: (doc: Record<string, unknown>) => void,
): Promise<void> {
  const doc = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  delete doc[INTEGRITY_KEY];
  edit(doc);
  const specs = (doc.weightsManifest as tf.io.WeightsManifestEntry[]) ?? [];
  writeFileSync(path, JSON.stringify(await sealDocument(doc, specs, bin)));
}

describe(`reliability on ${testBackend}`, () => {
  let modelDir: string;
  let optDir: string;
  let spdDir: string;
  let otherModelDir: string;
  let otherOptDir: string;
  let reference: Snapshot;
  let optReference: Snapshot;
  let original: tfl.LayersModel;
  let live: tfl.LayersModel;
  let liveOpt: RobustOptimizer;
  let liveState: { name: string; tensor: tf.Tensor }[];
  let liveSnapshot: Snapshot;
  let liveWeights: Snapshot;

  // Built by the first test that needs it rather than in beforeAll: code run in a hook counts as
  // Stryker's "static" coverage, which made 1,235 mutants of the step path rerun the whole suite each.
  let ready: Promise<void> | undefined;
  const setUp = () => {
    ready ??= build();
    return ready;
  };
  async function build(): Promise<void> {
    original = buildModel(ftp({ learningRate: 0.01 }));
    await train(original, 3);
    modelDir = tempDir();
    optDir = tempDir();
    await original.save(fileSystemHandler(modelDir), { includeOptimizer: true });
    await saveOptimizerState(original.optimizer, optDir);
    reference = await modelSnapshot(original);
    optReference = await optimizerSnapshot(original.optimizer);

    const s = buildModel(spd({ learningRate: 0.01, weightDecay: 0.1 }));
    await train(s, 2);
    spdDir = tempDir();
    await saveOptimizerState(s.optimizer, spdDir);
    const other = buildModel(ftp({ learningRate: 0.01 }), 5);
    await train(other, 2);
    otherModelDir = tempDir();
    otherOptDir = tempDir();
    await other.save(fileSystemHandler(otherModelDir), { includeOptimizer: true });
    await saveOptimizerState(other.optimizer, otherOptDir);

    // The target of optimizer loads: a loaded copy one step further on, so a no-op is visible.
    live = await tfl.loadLayersModel(fileSystemHandler(modelDir));
    await train(live, 1);
    liveOpt = live.optimizer as RobustOptimizer;
    liveState = (await liveOpt.getWeights()).map(({ name, tensor }) => ({
      name,
      tensor: tf.keep(tf.clone(tensor)),
    }));
    liveSnapshot = await optimizerSnapshot(liveOpt);
    // Leak checks compare counts per load; getWeights keeps its encoded numbers until its next call.
    liveWeights = await modelSnapshot(live);
  }

  const loadModel =
    (dir: string, options = {}) =>
    async () => {
      const m = await tfl.loadLayersModel(fileSystemHandler(dir, options));
      const snap = await modelSnapshot(m);
      m.optimizer?.dispose();
      m.dispose();
      return snap;
    };
  const loadOpt =
    (dir: string, options = {}) =>
    async () => {
      await loadOptimizerState(liveOpt, dir, options);
      const snap = await optimizerSnapshot(liveOpt);
      await liveOpt.setWeights(liveState); // back to the live state for the next case
      return snap;
    };
  const liveUnchanged = async () =>
    same(await optimizerSnapshot(liveOpt), liveSnapshot) && same(await modelSnapshot(live), liveWeights);
  const nothing = async () => true;

  it('the undamaged checkpoint loads bit-identically and leak-free (the baseline)', async () => {
    await setUp();
    const t = tally();
    await attempt(t, 'model', loadModel(modelDir), reference, nothing);
    await attempt(t, 'optimizer', loadOpt(optDir), optReference, liveUnchanged);
    await attempt(t, 'model again', loadModel(modelDir), reference, nothing);
    expect(t.failures).toEqual([]);
    expect(t).toMatchObject({ cases: 3, harmless: 3, leaked: 0 });
  });

  it("a fresh optimizer given another model's state refuses the first step; nothing changes", async () => {
    await setUp();
    const m = await tfl.loadLayersModel(fileSystemHandler(modelDir));
    const opt = ftp({ learningRate: 0.01 });
    m.compile({ optimizer: opt, loss: 'meanSquaredError' });
    await loadOptimizerState(opt, otherOptDir);
    const before = await modelSnapshot(m);
    const x = X();
    const y = Y();
    await expect(m.trainOnBatch(x, y)).rejects.toMatchObject({ code: 'STATE_MISMATCH' });
    expect(same(await modelSnapshot(m), before)).toBe(true);
    tf.dispose([x, y]);
    opt.dispose();
    m.dispose();
  });

  it('every case of the damaged-checkpoint corpus is a typed error naming the file, or harmless', async () => {
    await setUp();
    const t = tally();
    const W = fileMatching(modelDir, /^weights-.*\.bin$/);
    const B = fileMatching(optDir, /^optimizer-.*\.bin$/);
    const wBytes = readFileSync(join(modelDir, W));
    const bBytes = readFileSync(join(optDir, B));
    const modelCase = async (
      label: string,
      names: string[],
      damage: (dir: string) => void | Promise<void>,
      options = {},
    ) => {
      const dir = copyDir(modelDir);
      await damage(dir);
      await attempt(
        t,
        label,
        loadModel(dir, options),
        reference,
        nothing,
        names.map((n) => join(dir, n)),
      );
    };
    const optCase = async (
      label: string,
      names: string[],
      damage: (dir: string) => void | Promise<void>,
      options = {},
    ) => {
      const dir = copyDir(optDir);
      await damage(dir);
      await attempt(
        t,
        label,
        loadOpt(dir, options),
        optReference,
        liveUnchanged,
        names.map((n) => join(dir, n)),
      );
    };
    const edit = (file: string, fn: (b: Buffer) => Buffer) => (dir: string) =>
      writeFileSync(join(dir, file), fn(readFileSync(join(dir, file))));
    const flip = (offsets: number[]) => (b: Buffer) => {
      const c = Buffer.from(b);
      for (const o of offsets) c[o % c.length] = c[o % c.length]! ^ 0x5a;
      return c;
    };
    const json = (file: string, fn: (doc: Json) => void) => (dir: string) => {
      const doc = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Json;
      fn(doc);
      writeFileSync(join(dir, file), JSON.stringify(doc));
    };
    const specs = (doc: Json) => doc.weightsManifest[0]!.weights;
    const optSpecs = (doc: Json) => doc.weightsManifest as unknown as tf.io.WeightsManifestEntry[];

    // The model checkpoint: model.json + its weights file (model and optimizer weights).
    await modelCase(
      'weights truncated by 1 byte',
      [W],
      edit(W, (b) => b.subarray(0, b.length - 1)),
    );
    await modelCase(
      'weights truncated by half',
      [W],
      edit(W, (b) => b.subarray(0, b.length >> 1)),
    );
    await modelCase(
      'weights truncated to 0 bytes',
      [W],
      edit(W, () => Buffer.alloc(0)),
    );
    await modelCase(
      'weights extended by 1 byte',
      [W],
      edit(W, (b) => Buffer.concat([b, Buffer.from([0])])),
    );
    await modelCase(
      'weights extended by 64 bytes',
      [W],
      edit(W, (b) => Buffer.concat([b, Buffer.alloc(64, 7)])),
    );
    await modelCase('1 byte flipped in the first weight', [W], edit(W, flip([3])));
    await modelCase('1 byte flipped in the optimizer part', [W], edit(W, flip([wBytes.length - 5])));
    await modelCase(
      '16 bytes flipped in the weights',
      [W],
      edit(W, flip(Array.from({ length: 16 }, (_, i) => 7 + i * 41))),
    );
    await modelCase('weights file deleted', [W], (dir) => unlinkSync(join(dir, W)));
    await modelCase('weights of another model (same name)', [W], (dir) =>
      writeFileSync(
        join(dir, W),
        readFileSync(join(otherModelDir, fileMatching(otherModelDir, /^weights-/))),
      ),
    );
    await modelCase('model.json deleted', ['model.json'], (dir) => unlinkSync(join(dir, 'model.json')));
    await modelCase(
      'model.json truncated',
      ['model.json'],
      edit('model.json', (b) => b.subarray(0, b.length >> 1)),
    );
    await modelCase(
      'model.json emptied',
      ['model.json'],
      edit('model.json', () => Buffer.alloc(0)),
    );
    await modelCase(
      'model.json with trailing bytes',
      ['model.json'],
      edit('model.json', (b) => Buffer.concat([b, Buffer.from('xx')])),
    );
    await modelCase(
      'manifest shape swapped',
      ['model.json'],
      json('model.json', (d) => {
        specs(d)[0]!.shape = [...specs(d)[0]!.shape].reverse();
      }),
    );
    await modelCase(
      'manifest dtype changed',
      ['model.json'],
      json('model.json', (d) => {
        specs(d)[0]!.dtype = 'int32';
      }),
    );
    await modelCase(
      'manifest entry renamed',
      ['model.json'],
      json('model.json', (d) => {
        specs(d)[1]!.name = 'dense_renamed/bias';
      }),
    );
    await modelCase(
      'manifest entry removed',
      ['model.json'],
      json('model.json', (d) => {
        specs(d).splice(1, 1);
      }),
    );
    await modelCase(
      'optimizer entry reshaped in the manifest',
      ['model.json'],
      json('model.json', (d) => {
        const e = specs(d).find((s) => s.group === 'optimizer' && s.shape.length === 2)!;
        e.shape = [e.shape[1]!, e.shape[0]!];
      }),
    );
    await modelCase(
      'manifest points at a missing file',
      ['model.json'],
      json('model.json', (d) => {
        d.weightsManifest[0]!.paths = ['elsewhere.bin'];
      }),
    );
    await modelCase(
      'topology changed (units)',
      ['model.json'],
      json('model.json', (d) => {
        const text = JSON.stringify(d.modelTopology).replace('"units":8', '"units":9');
        d.modelTopology = JSON.parse(text);
      }),
    );
    await modelCase(
      'integrity record removed (an old checkpoint)',
      ['model.json'],
      json('model.json', (d) => {
        delete d[INTEGRITY_KEY];
      }),
    );
    await modelCase(
      'integrity record removed, loaded with allowUnverified',
      [],
      json('model.json', (d) => {
        delete d[INTEGRITY_KEY];
      }),
      { allowUnverified: true },
    );
    await modelCase(
      'document checksum altered',
      ['model.json'],
      json('model.json', (d) => {
        (d[INTEGRITY_KEY] as { document: string }).document = '0'.repeat(64);
      }),
    );
    await modelCase(
      'entry checksum altered',
      [W],
      json('model.json', (d) => {
        (d[INTEGRITY_KEY] as { entries: { sha256: string }[] }).entries[2]!.sha256 = '0'.repeat(64);
      }),
    );

    // The optimizer state: optimizer.json + its weights file, loaded into a live FTP optimizer.
    await optCase(
      'state truncated by 1 byte',
      [B],
      edit(B, (b) => b.subarray(0, b.length - 1)),
    );
    await optCase(
      'state truncated to 0 bytes',
      [B],
      edit(B, () => Buffer.alloc(0)),
    );
    await optCase(
      'state extended by 4 bytes',
      [B],
      edit(B, (b) => Buffer.concat([b, Buffer.alloc(4)])),
    );
    await optCase('1 byte flipped in the state', [B], edit(B, flip([bBytes.length >> 1])));
    await optCase(
      '16 bytes flipped in the state',
      [B],
      edit(B, flip(Array.from({ length: 16 }, (_, i) => 11 + i * 29))),
    );
    await optCase('state file deleted', [B], (dir) => unlinkSync(join(dir, B)));
    await optCase('optimizer.json deleted', ['optimizer.json'], (dir) =>
      unlinkSync(join(dir, 'optimizer.json')),
    );
    await optCase(
      'optimizer.json truncated',
      ['optimizer.json'],
      edit('optimizer.json', (b) => b.subarray(0, b.length - 9)),
    );
    await optCase(
      'state manifest reshaped',
      ['optimizer.json'],
      json('optimizer.json', (d) => {
        const e = optSpecs(d).find((s) => s.shape.length === 2)!;
        e.shape = [e.shape[1]!, e.shape[0]!];
      }),
    );
    await optCase(
      'class name changed',
      ['optimizer.json'],
      json('optimizer.json', (d) => {
        d.className = 'Adam';
      }),
    );
    await optCase(
      'old state file (no checksums)',
      ['optimizer.json'],
      json('optimizer.json', (d) => {
        delete d[INTEGRITY_KEY];
      }),
    );
    await optCase(
      'old state file loaded with allowUnverified',
      [],
      json('optimizer.json', (d) => {
        delete d[INTEGRITY_KEY];
      }),
      { allowUnverified: true },
    );
    // Buggy writers (checksums re-sealed): setWeights' own validation must catch these.
    const resealedCase = (label: string, fn: (doc: Json, bin: Uint8Array) => Uint8Array | undefined) =>
      optCase(label, ['optimizer.json'], async (dir) => {
        const path = join(dir, 'optimizer.json');
        const doc = JSON.parse(readFileSync(path, 'utf8')) as Json;
        let bin: Uint8Array = readFileSync(join(dir, B));
        bin = fn(doc, bin) ?? bin;
        writeFileSync(join(dir, B), bin);
        await resealed(path, bin, (d) => Object.assign(d, { ...doc, [INTEGRITY_KEY]: undefined }));
      });
    await resealedCase('a γ of shape [3] (re-sealed)', (d, bin) => {
      const list = optSpecs(d);
      const i = list.findIndex((s) => s.name.includes('"gamma"'));
      let offset = 0;
      for (let j = 0; j < i; j++) offset += list[j]!.shape.reduce((a, b) => a * b, 1) * 4;
      list[i]!.shape = [3];
      return Buffer.concat([bin.subarray(0, offset), Buffer.alloc(12), bin.subarray(offset + 4)]);
    });
    await resealedCase('int32 moments (re-sealed)', (d) => {
      for (const s of optSpecs(d)) if (s.name.includes('"mu"')) s.dtype = 'int32';
      return undefined;
    });
    await resealedCase('a missing slot (re-sealed)', (d, bin) => {
      const list = optSpecs(d);
      const i = list.findIndex((s) => s.name.includes('"cPrev"'));
      let offset = 0;
      for (let j = 0; j < i; j++) offset += list[j]!.shape.reduce((a, b) => a * b, 1) * 4;
      const n = list[i]!.shape.reduce((a, b) => a * b, 1) * 4;
      list.splice(i, 1);
      return Buffer.concat([bin.subarray(0, offset), bin.subarray(offset + n)]);
    });
    await resealedCase('NaN in the moments (re-sealed)', (d, bin) => {
      const list = optSpecs(d);
      const i = list.findIndex((s) => s.name.includes('"nu"') && s.shape.length === 2);
      let offset = 0;
      for (let j = 0; j < i; j++) offset += list[j]!.shape.reduce((a, b) => a * b, 1) * 4;
      const c = Buffer.from(bin);
      c.writeFloatLE(Number.NaN, offset + 4);
      return c;
    });
    await optCase('SPD state into FTP', [], (dir) => {
      for (const f of readdirSync(dir)) unlinkSync(join(dir, f));
      for (const f of readdirSync(spdDir)) copyFileSync(join(spdDir, f), join(dir, f));
    });
    await optCase('state of another model (other shapes)', [], (dir) => {
      for (const f of readdirSync(dir)) unlinkSync(join(dir, f));
      for (const f of readdirSync(otherOptDir)) copyFileSync(join(otherOptDir, f), join(dir, f));
    });
    report('corpus', t);
  }, 120_000);

  it('a fuzz of byte flips and truncations per artifact finds no silent change and no leak', async () => {
    await setUp();
    const t = tally();
    const rng = createRng(14);
    const artifacts: {
      dir: string;
      file: string;
      load: (dir: string) => () => Promise<Snapshot>;
      ref: Snapshot;
      unchanged: () => Promise<boolean>;
    }[] = [
      { dir: modelDir, file: 'model.json', load: (d) => loadModel(d), ref: reference, unchanged: nothing },
      {
        dir: modelDir,
        file: fileMatching(modelDir, /^weights-/),
        load: (d) => loadModel(d),
        ref: reference,
        unchanged: nothing,
      },
      {
        dir: optDir,
        file: 'optimizer.json',
        load: (d) => loadOpt(d),
        ref: optReference,
        unchanged: liveUnchanged,
      },
      {
        dir: optDir,
        file: fileMatching(optDir, /^optimizer-/),
        load: (d) => loadOpt(d),
        ref: optReference,
        unchanged: liveUnchanged,
      },
    ];
    for (const a of artifacts) {
      const dir = copyDir(a.dir);
      const path = join(dir, a.file);
      const pristine = readFileSync(path);
      for (let i = 0; i < FUZZ_PER_ARTIFACT; i++) {
        const { bytes, what } = mutateBytes(rng, pristine);
        writeFileSync(path, bytes);
        await attempt(t, `${a.file}: ${what}`, a.load(dir), a.ref, a.unchanged);
      }
      writeFileSync(path, pristine);
    }
    report('fuzz', t);
    expect(t.cases).toBe(4 * FUZZ_PER_ARTIFACT);
  }, 300_000);
});

// The adapter's failed-step cases (int32 variables, empty variable lists, NaN batches in a catching loop,
// NaN or misshapen anchors) are core's behaviour: packages/core/test/adapter-refusals.test.ts.

describe(`PEFT and shared-anchor resume on ${testBackend}`, () => {
  /** Trains 3 steps, checkpoints, trains 2 more; a resumed copy must land on the same bits. */
  async function resumeIsBitIdentical(makeOptimizer: () => RobustOptimizer): Promise<void> {
    const m = buildModel(makeOptimizer());
    await train(m, 3);
    const dir = tempDir();
    mkdirSync(dir, { recursive: true });
    await m.save(fileSystemHandler(dir));
    await saveOptimizerState(m.optimizer, dir);
    await train(m, 2);
    const expected = (await modelSnapshot(m)).get('w0');

    const resumed = await tfl.loadLayersModel(fileSystemHandler(dir));
    const opt = makeOptimizer();
    resumed.compile({ optimizer: opt, loss: 'meanSquaredError' });
    await loadOptimizerState(opt, dir);
    await train(resumed, 2);
    expect((await modelSnapshot(resumed)).get('w0')).toBe(expected);
    m.dispose();
    resumed.dispose();
  }

  it("ftp({ anchor: 'zero' }) resumes bit-identically (zero anchors are re-created on demand)", async () => {
    await resumeIsBitIdentical(() => ftp({ learningRate: 0.01, anchor: 'zero' }));
  });

  it('spd with a shared Anchors resumes bit-identically once a fresh store is re-attached', async () => {
    await resumeIsBitIdentical(() =>
      spd({ learningRate: 0.01, weightDecay: 0.5, anchor: Anchors.initial() }),
    );
  });
});
