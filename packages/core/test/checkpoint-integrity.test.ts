import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  concatBytes,
  entryByteLengths,
  INTEGRITY_KEY,
  type IntegrityRecord,
  parseDocument,
  sealDocument,
  sha256Hex,
  unverifiedCheckpoint,
  verifyData,
  verifyDocument,
} from '../src/checkpoint-integrity';
import './setup-backend';

// The integrity record on its own, in memory: the Node file handler and the IndexedDB store (tested
// end to end in their packages) only move these documents and bytes to and from storage.

const EXPECTED_FORM = 'the checkpoint as it was written (checksums and byte lengths match)';

/** A manifest and its weight bytes, as tfjs encodes them: float32, int32, bool and string entries. */
async function weights(longName = 'f') {
  const tensors = [
    { name: longName, tensor: tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]) },
    { name: 'i', tensor: tf.tensor1d([7, 8], 'int32') },
    { name: 'b', tensor: tf.tensor1d([1, 0, 1], 'bool') },
    { name: 's', tensor: tf.tensor1d(['ab', 'cde']) },
  ];
  const { data, specs } = await tf.io.encodeWeights(tensors);
  tf.dispose(tensors.map((t) => t.tensor));
  return { specs, data: concatBytes([data as ArrayBuffer]) };
}

async function sealed(longName?: string) {
  const { specs, data } = await weights(longName);
  const doc = { modelTopology: { layers: 2 }, weightsManifest: [{ paths: ['w.bin'], weights: specs }] };
  return { doc: await sealDocument(doc, specs, data), plain: doc, specs, data };
}

/** Expects `fn` to reject with CHECKPOINT_CORRUPT, the message `message` and argument `argument`. */
async function expectCorrupt(fn: () => Promise<unknown>, message: string, argument = 'model.json') {
  await expect(fn()).rejects.toMatchObject({
    code: 'CHECKPOINT_CORRUPT',
    message,
    argument,
    expected: EXPECTED_FORM,
  });
}

describe('bytes and hashes', () => {
  it('concatBytes joins buffers and views (honouring their offsets) end to end', () => {
    const view = new Uint8Array([9, 1, 2, 9]).subarray(1, 3);
    const out = concatBytes([new Uint8Array([5]).buffer, view, new Uint8Array(0), new Uint8Array([3])]);
    expect(Array.from(out)).toEqual([5, 1, 2, 3]);
    expect(concatBytes([]).byteLength).toBe(0);
  });

  it('sha256Hex is lowercase hex SHA-256, the same for a string and its UTF-8 bytes', async () => {
    const abc = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
    expect(await sha256Hex('abc')).toBe(abc);
    expect(await sha256Hex(new Uint8Array([0x61, 0x62, 0x63]))).toBe(abc);
    expect(await sha256Hex(new Uint8Array(0))).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
  });

  it('entryByteLengths sizes each dtype, quantized entries by their stored dtype, strings from the data', async () => {
    const { specs, data } = await weights();
    // 6 float32, 2 int32, 3 bool, and two strings each with a 4-byte length prefix.
    expect(entryByteLengths(specs, data)).toEqual([24, 8, 3, 4 + 2 + 4 + 3]);
    const q = (dtype: 'uint8' | 'uint16' | 'float16'): tf.io.WeightsManifestEntry => ({
      name: dtype,
      shape: [2, 2],
      dtype: 'float32',
      quantization: { dtype, scale: 1, min: 0 },
    });
    const c: tf.io.WeightsManifestEntry = { name: 'c', shape: [3], dtype: 'complex64' };
    expect(entryByteLengths([q('uint8'), q('uint16'), q('float16'), c], new Uint8Array(0))).toEqual([
      4, 8, 8, 24,
    ]);
  });
});

describe('sealDocument', () => {
  it('records the hash of the document without itself, the total and each entry in manifest order', async () => {
    const { doc, plain, specs, data } = await sealed();
    // The field's name is part of the file format: files written earlier must keep verifying.
    expect(INTEGRITY_KEY).toBe('robustFtIntegrity');
    const record = doc[INTEGRITY_KEY];
    expect(record.version).toBe(1);
    expect(record.algorithm).toBe('SHA-256');
    expect(record.document).toBe(await sha256Hex(JSON.stringify(plain)));
    expect(record.byteLength).toBe(data.byteLength);
    expect(record.entries.map((e) => [e.name, e.byteLength])).toEqual([
      ['f', 24],
      ['i', 8],
      ['b', 3],
      ['s', 13],
    ]);
    expect(record.entries[1]!.sha256).toBe(await sha256Hex(data.subarray(24, 32)));
    expect(record.entries[3]!.sha256).toBe(await sha256Hex(data.subarray(35, 48)));
    expect(doc.modelTopology).toEqual(plain.modelTopology);
    expect(await verifyDocument(doc, specs, 'model.json')).toEqual(record);
    await verifyData(record, data, 'w.bin');
  });
});

describe('parseDocument', () => {
  it('returns the object, and names the file when the text is not a JSON object', () => {
    expect(parseDocument('{"a":1}', 'model.json')).toEqual({ a: 1 });
    expect(() => parseDocument('{"a":', 'model.json')).toThrow(
      expect.objectContaining({
        code: 'CHECKPOINT_CORRUPT',
        argument: 'model.json',
        message: expect.stringMatching(/^model\.json: is not valid JSON \(.+\)$/),
      }),
    );
    for (const text of ['[1]', 'null', '3', '"x"']) {
      expect(() => parseDocument(text, 'model.json'), text).toThrow(
        expect.objectContaining({ code: 'CHECKPOINT_CORRUPT', message: 'model.json: is not a JSON object' }),
      );
    }
  });
});

describe('verifyDocument', () => {
  it('returns undefined for a document written before checksums existed', async () => {
    const { plain, specs } = await sealed();
    expect(await verifyDocument(plain, specs, 'model.json')).toBeUndefined();
  });

  it('refuses an unreadable record', async () => {
    const { doc, specs } = await sealed();
    const record = doc[INTEGRITY_KEY];
    const broken: unknown[] = [
      null,
      'x',
      { ...record, version: 2 },
      { ...record, document: 5 },
      { ...record, byteLength: '48' },
      { ...record, entries: {} },
    ];
    for (const raw of broken) {
      await expectCorrupt(
        () => verifyDocument({ ...doc, [INTEGRITY_KEY]: raw }, specs, 'model.json'),
        'model.json: has an unreadable integrity record',
      );
    }
  });

  it('refuses a changed document, a changed manifest and inconsistent lengths, naming the entry', async () => {
    const { doc, specs } = await sealed();
    const record = doc[INTEGRITY_KEY];
    await expectCorrupt(
      () => verifyDocument({ ...doc, modelTopology: { layers: 3 } }, specs, 'model.json'),
      'model.json: failed its SHA-256 check (the topology, manifest or header was changed)',
    );
    await expectCorrupt(
      () => verifyDocument(doc, specs.slice(0, 3), 'model.json'),
      'model.json: lists 3 weight entries, its integrity record 4',
    );
    await expectCorrupt(
      () => verifyDocument(doc, undefined, 'model.json'),
      'model.json: lists 0 weight entries, its integrity record 4',
    );
    const reshaped = specs.map((s) => (s.name === 'i' ? { ...s, shape: [3] } : s));
    await expectCorrupt(
      () => verifyDocument(doc, reshaped, 'model.json'),
      'model.json: weight entry "i" (int32[3]) does not match its recorded 8 bytes',
      'model.json["i"]',
    );
    const renamed = specs.map((s) => (s.name === 'b' ? { ...s, name: 'b2' } : s));
    await expectCorrupt(
      () => verifyDocument(doc, renamed, 'model.json'),
      'model.json: weight entry "b2" (bool[3]) does not match its recorded 3 bytes',
      'model.json["b2"]',
    );
    // A record edited consistently with itself but not with its total (re-hashed, so only the sum is off).
    const { [INTEGRITY_KEY]: _r, ...rest } = doc;
    const offTotal = {
      ...record,
      byteLength: record.byteLength + 1,
      document: await sha256Hex(JSON.stringify(rest)),
    };
    await expectCorrupt(
      () => verifyDocument({ ...rest, [INTEGRITY_KEY]: offTotal }, specs, 'model.json'),
      'model.json: entry byte lengths do not add up to the recorded total',
    );
  });

  it('takes a string entry at its recorded length (strings are measured in the data)', async () => {
    const { doc, specs } = await sealed();
    const record = doc[INTEGRITY_KEY];
    const longer = record.entries.map((e) => (e.name === 's' ? { ...e, byteLength: 20 } : e));
    const { [INTEGRITY_KEY]: _r, ...rest } = doc;
    const edited = { ...record, entries: longer, byteLength: record.byteLength + 7 };
    const out = await verifyDocument({ ...rest, [INTEGRITY_KEY]: edited }, specs, 'model.json');
    expect(out?.byteLength).toBe(record.byteLength + 7);
  });
});

describe('verifyData', () => {
  it('names truncated and extended data with both lengths', async () => {
    const { doc, data } = await sealed();
    const record = doc[INTEGRITY_KEY];
    await expectCorrupt(
      () => verifyData(record, data.subarray(0, 47), 'w.bin'),
      'w.bin: is truncated: 47 bytes, 48 were written',
      'w.bin',
    );
    await expectCorrupt(
      () => verifyData(record, concatBytes([data, new Uint8Array(2)]), 'w.bin'),
      'w.bin: is extended: 50 bytes, 48 were written',
      'w.bin',
    );
  });

  it('names the entry whose bytes changed; a long name is shortened to 93 characters and "..."', async () => {
    const long = 'optimizer/'.repeat(12);
    const { doc, data } = await sealed(long);
    const record: IntegrityRecord = doc[INTEGRITY_KEY];
    for (const [at, name] of [
      [0, `${long.slice(0, 93)}...`],
      [25, 'i'],
      [34, 'b'],
      [47, 's'],
    ] as const) {
      const flipped = data.slice();
      flipped[at] = flipped[at]! ^ 1;
      await expectCorrupt(
        () => verifyData(record, flipped, 'w.bin'),
        `w.bin: weight entry "${name}" failed its SHA-256 check`,
        `w.bin["${name}"]`,
      );
    }
    // A name of exactly 96 characters is kept whole.
    const { doc: doc96, data: data96 } = await sealed('n'.repeat(96));
    const flipped = data96.slice();
    flipped[0] = flipped[0]! ^ 1;
    await expectCorrupt(
      () => verifyData(doc96[INTEGRITY_KEY], flipped, 'w.bin'),
      `w.bin: weight entry "${'n'.repeat(96)}" failed its SHA-256 check`,
      `w.bin["${'n'.repeat(96)}"]`,
    );
  });
});

describe('unverifiedCheckpoint', () => {
  it('names the file and the option that would load it', () => {
    const e = unverifiedCheckpoint('ckpt/model.json', 'allowUnverified');
    expect(e.code).toBe('CHECKPOINT_CORRUPT');
    expect(e.argument).toBe('ckpt/model.json');
    expect(e.expected).toBe('a checkpoint with checksums, or { allowUnverified: true }');
    expect(e.message).toBe(
      'ckpt/model.json has no integrity record (written before checkpoints carried checksums, or edited); pass { allowUnverified: true } to load it unverified',
    );
  });
});
