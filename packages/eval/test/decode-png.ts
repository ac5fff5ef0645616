import { crc32, inflateSync } from 'node:zlib';
import { expect } from 'vitest';

/** One PNG chunk as read from the file, its CRC already checked against node:zlib's. */
export interface PngChunk {
  type: string;
  data: Uint8Array;
}

export interface DecodedPng {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  /** Compression, filter and interlace methods (all 0 for a baseline PNG). */
  methods: [number, number, number];
  chunks: PngChunk[];
  /** The zlib stream of the IDAT chunks, concatenated. */
  zlib: Uint8Array;
  /** Filter byte of each row. */
  filters: number[];
  /** Row-major samples without the filter bytes. */
  samples: number[];
}

const be32 = (b: Uint8Array, at: number) =>
  ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;

/**
 * A test-side PNG reader independent of src/report/png.ts: checks the signature and every chunk's CRC
 * (node:zlib), and inflates the IDAT stream with node:zlib (which also checks the Adler-32 trailer).
 */
export function decodePng(png: Uint8Array): DecodedPng {
  expect(Array.from(png.subarray(0, 8))).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
  const chunks: PngChunk[] = [];
  let at = 8;
  while (at < png.length) {
    const length = be32(png, at);
    const typeAndData = png.subarray(at + 4, at + 8 + length);
    const type = String.fromCharCode(...typeAndData.subarray(0, 4));
    expect(be32(png, at + 8 + length), `CRC of ${type}`).toBe(crc32(typeAndData));
    chunks.push({ type, data: typeAndData.subarray(4) });
    at += 12 + length;
  }
  expect(at).toBe(png.length);
  const ihdr = chunks[0]!;
  expect(ihdr.type).toBe('IHDR');
  expect(ihdr.data.length).toBe(13);
  const width = be32(ihdr.data, 0);
  const height = be32(ihdr.data, 4);
  const colorType = ihdr.data[9]!;
  const zlib = Buffer.concat(chunks.filter((c) => c.type === 'IDAT').map((c) => c.data));
  const raw = inflateSync(zlib);
  const channels = colorType === 2 ? 3 : 1;
  const rowBytes = width * channels + 1;
  expect(raw.length).toBe(rowBytes * height);
  const filters: number[] = [];
  const samples: number[] = [];
  for (let y = 0; y < height; y++) {
    filters.push(raw[y * rowBytes]!);
    samples.push(...raw.subarray(y * rowBytes + 1, (y + 1) * rowBytes));
  }
  return {
    width,
    height,
    bitDepth: ihdr.data[8]!,
    colorType,
    methods: [ihdr.data[10]!, ihdr.data[11]!, ihdr.data[12]!],
    chunks,
    zlib,
    filters,
    samples,
  };
}

/** The PNG bytes of a `data:image/png;base64,…` URI. */
export function pngFromDataUri(uri: string): Uint8Array {
  expect(uri.startsWith('data:image/png;base64,')).toBe(true);
  return new Uint8Array(Buffer.from(uri.slice('data:image/png;base64,'.length), 'base64'));
}
