import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { type IdxArray, parseIdx } from './mapping';

export { type IdxArray, parseIdx } from './mapping';

/** Reads an IDX file of unsigned bytes (type 0x08), gzipped or not (decided by the magic bytes). */
export function readIdx(path: string): IdxArray {
  const raw: Uint8Array = readFileSync(path);
  return parseIdx(raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw);
}

/** Encodes unsigned bytes as IDX (used by the font-digit generator). */
export function encodeIdx(shape: number[], data: Uint8Array): Uint8Array {
  const header = new Uint8Array(4 + 4 * shape.length);
  const view = new DataView(header.buffer);
  view.setUint8(2, 0x08);
  view.setUint8(3, shape.length);
  shape.forEach((d, i) => {
    view.setUint32(4 + 4 * i, d);
  });
  const out = new Uint8Array(header.length + data.length);
  out.set(header, 0);
  out.set(data, header.length);
  return out;
}
