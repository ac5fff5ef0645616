import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

/** A parsed IDX file (the MNIST container): unsigned bytes with their shape. */
export interface IdxArray {
  shape: number[];
  data: Uint8Array;
}

/** Reads an IDX file of unsigned bytes (type 0x08), gzipped or not (decided by the magic bytes). */
export function readIdx(path: string): IdxArray {
  const raw: Uint8Array = readFileSync(path);
  return parseIdx(raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw);
}

export function parseIdx(buf: Uint8Array): IdxArray {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (view.getUint16(0) !== 0 || view.getUint8(2) !== 0x08) {
    throw new Error('not an unsigned-byte IDX file');
  }
  const dims = view.getUint8(3);
  const shape: number[] = [];
  for (let i = 0; i < dims; i++) shape.push(view.getUint32(4 + 4 * i));
  const offset = 4 + 4 * dims;
  const size = shape.reduce((a, b) => a * b, 1);
  if (buf.byteLength < offset + size)
    throw new Error(`truncated IDX file: ${buf.byteLength} < ${offset + size}`);
  return { shape, data: buf.subarray(offset, offset + size) };
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
