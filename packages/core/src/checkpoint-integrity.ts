import type * as tf from '@tensorflow/tfjs-core';
import { RobustFtError } from './errors';

/**
 * Integrity records for checkpoints, shared by the Node file handler and the IndexedDB store.
 *
 * A checkpoint is a JSON document (topology, weight manifest, optimizer header) plus weight bytes. The
 * document gains one field, `robustFtIntegrity`: the SHA-256 of the document without that field, and
 * for every weight entry (in manifest order) its byte length and SHA-256. Loading checks the document
 * before it is used and the bytes before anything is decoded, so a truncated, extended, bit-flipped or
 * reshaped checkpoint is a `CHECKPOINT_CORRUPT` naming the file and the entry — never a silent change,
 * never an untyped tfjs error half-way through building tensors. tfjs ignores the extra field, so the
 * files still load with tfjs's own handlers. Hashing uses WebCrypto (Node ≥ 19 and every browser).
 */
export const INTEGRITY_KEY = 'robustFtIntegrity';

export interface IntegrityEntry {
  name: string;
  byteLength: number;
  sha256: string;
}

export interface IntegrityRecord {
  version: 1;
  algorithm: 'SHA-256';
  /** SHA-256 of `JSON.stringify(document without this field)`. */
  document: string;
  /** Total bytes of the weight data. */
  byteLength: number;
  entries: IntegrityEntry[];
}

export type Sealed<T> = T & { [INTEGRITY_KEY]: IntegrityRecord };

/** The bytes of several buffers, end to end (a checkpoint's weight data is one buffer). */
export function concatBytes(parts: readonly (ArrayBuffer | Uint8Array)[]): Uint8Array {
  const views = parts.map((p) => (p instanceof Uint8Array ? p : new Uint8Array(p)));
  const out = new Uint8Array(views.reduce((n, v) => n + v.byteLength, 0));
  let offset = 0;
  for (const v of views) {
    out.set(v, offset);
    offset += v.byteLength;
  }
  return out;
}

/** Lowercase hex SHA-256 of `bytes`. */
export async function sha256Hex(bytes: Uint8Array | string): Promise<string> {
  const data = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes;
  const digest = await globalThis.crypto.subtle.digest('SHA-256', data as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

const BYTES: Record<string, number> = {
  float32: 4,
  int32: 4,
  bool: 1,
  complex64: 8,
  uint8: 1,
  uint16: 2,
  float16: 2,
};

/** Bytes a manifest entry occupies (strings are length-prefixed, so they are measured in `data`). */
export function entryByteLengths(specs: readonly tf.io.WeightsManifestEntry[], data: Uint8Array): number[] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out: number[] = [];
  let offset = 0;
  for (const spec of specs) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    let n: number;
    if (spec.dtype === 'string') {
      n = 0;
      for (let i = 0; i < size; i++) n += 4 + view.getUint32(offset + n, true);
    } else n = size * (BYTES[spec.quantization?.dtype ?? spec.dtype] ?? 4);
    out.push(n);
    offset += n;
  }
  return out;
}

/** The byte length a (non-string) entry must have according to its manifest spec. */
function expectedByteLength(spec: tf.io.WeightsManifestEntry): number | undefined {
  if (spec.dtype === 'string') return undefined;
  const size = spec.shape.reduce((a, b) => a * b, 1);
  return size * (BYTES[spec.quantization?.dtype ?? spec.dtype] ?? 4);
}

/** Adds the integrity record to `document` (which must not hold one yet). */
export async function sealDocument<T extends object>(
  document: T,
  specs: readonly tf.io.WeightsManifestEntry[],
  data: Uint8Array,
): Promise<Sealed<T>> {
  const lengths = entryByteLengths(specs, data);
  const entries: IntegrityEntry[] = [];
  let offset = 0;
  for (const [i, spec] of specs.entries()) {
    const n = lengths[i]!;
    entries.push({
      name: spec.name,
      byteLength: n,
      sha256: await sha256Hex(data.subarray(offset, offset + n)),
    });
    offset += n;
  }
  const record: IntegrityRecord = {
    version: 1,
    algorithm: 'SHA-256',
    document: await sha256Hex(JSON.stringify(document)),
    byteLength: data.byteLength,
    entries,
  };
  return { ...document, [INTEGRITY_KEY]: record };
}

/** Entry names can be long (optimizer headers); messages show their start. */
function short(name: string): string {
  return name.length > 96 ? `${name.slice(0, 93)}...` : name;
}

function corrupt(file: string, message: string, entry?: string): RobustFtError {
  return new RobustFtError('CHECKPOINT_CORRUPT', `${file}: ${message}`, {
    argument: entry === undefined ? file : `${file}["${entry}"]`,
    expected: 'the checkpoint as it was written (checksums and byte lengths match)',
  });
}

/** Parses a checkpoint document; unreadable JSON is `CHECKPOINT_CORRUPT` naming the file. */
export function parseDocument(text: string, file: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw corrupt(file, `is not valid JSON (${cause instanceof Error ? cause.message : String(cause)})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw corrupt(file, 'is not a JSON object');
  }
  return parsed as Record<string, unknown>;
}

/**
 * Checks the document against its own record and the manifest against the recorded entries. Returns
 * the record, or `undefined` for a document written before checksums existed (the caller decides).
 */
export async function verifyDocument(
  document: Record<string, unknown>,
  specs: readonly tf.io.WeightsManifestEntry[] | undefined,
  file: string,
): Promise<IntegrityRecord | undefined> {
  if (!(INTEGRITY_KEY in document)) return undefined;
  const { [INTEGRITY_KEY]: raw, ...rest } = document;
  const record = raw as Partial<IntegrityRecord> | null;
  if (
    typeof record !== 'object' ||
    record === null ||
    record.version !== 1 ||
    typeof record.document !== 'string' ||
    typeof record.byteLength !== 'number' ||
    !Array.isArray(record.entries)
  ) {
    throw corrupt(file, 'has an unreadable integrity record');
  }
  if ((await sha256Hex(JSON.stringify(rest))) !== record.document) {
    throw corrupt(file, 'failed its SHA-256 check (the topology, manifest or header was changed)');
  }
  const list = specs ?? [];
  if (list.length !== record.entries.length) {
    throw corrupt(file, `lists ${list.length} weight entries, its integrity record ${record.entries.length}`);
  }
  let total = 0;
  for (const [i, spec] of list.entries()) {
    const entry = record.entries[i]!;
    const want = expectedByteLength(spec);
    if (entry.name !== spec.name || (want !== undefined && want !== entry.byteLength)) {
      throw corrupt(
        file,
        `weight entry "${short(spec.name)}" (${spec.dtype}[${spec.shape}]) does not match its recorded ${entry.byteLength} bytes`,
        short(spec.name),
      );
    }
    total += entry.byteLength;
  }
  if (total !== record.byteLength)
    throw corrupt(file, 'entry byte lengths do not add up to the recorded total');
  return record as IntegrityRecord;
}

/** Checks the weight bytes (length, then every entry's SHA-256) before anything is decoded. */
export async function verifyData(record: IntegrityRecord, data: Uint8Array, file: string): Promise<void> {
  if (data.byteLength !== record.byteLength) {
    const how = data.byteLength < record.byteLength ? 'truncated' : 'extended';
    throw corrupt(file, `is ${how}: ${data.byteLength} bytes, ${record.byteLength} were written`);
  }
  let offset = 0;
  for (const entry of record.entries) {
    const bytes = data.subarray(offset, offset + entry.byteLength);
    if ((await sha256Hex(bytes)) !== entry.sha256) {
      throw corrupt(file, `weight entry "${short(entry.name)}" failed its SHA-256 check`, short(entry.name));
    }
    offset += entry.byteLength;
  }
}

/** The typed error for a checkpoint written without an integrity record, when those are refused. */
export function unverifiedCheckpoint(file: string, option: string): RobustFtError {
  return new RobustFtError(
    'CHECKPOINT_CORRUPT',
    `${file} has no integrity record (written before checkpoints carried checksums, or edited); pass { ${option}: true } to load it unverified`,
    { argument: file, expected: `a checkpoint with checksums, or { ${option}: true }` },
  );
}
