/**
 * A minimal PNG encoder (8-bit grey or RGB, uncompressed "stored" deflate blocks) and base64, in plain
 * TypeScript so reports can embed images in SVG without canvas or zlib. Files are larger than compressed
 * PNGs, which is fine for thumbnails.
 */

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = (CRC_TABLE[(c ^ b) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function adler32(bytes: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (const v of bytes) {
    a = (a + v) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

const u32 = (v: number) => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];

function chunk(type: string, data: Uint8Array): number[] {
  const body = new Uint8Array(4 + data.length);
  for (let i = 0; i < 4; i++) body[i] = type.charCodeAt(i);
  body.set(data, 4);
  return [...u32(data.length), ...body, ...u32(crc32(body))];
}

/**
 * Encodes `pixels` (row-major, values in [0, 1], `channels` 1 or 3 per pixel) as a PNG, each pixel drawn
 * as a `scale`×`scale` block (nearest neighbour, so small images stay crisp when viewed).
 */
export function encodePng(pixels: ArrayLike<number>, width: number, height: number, channels: 1 | 3, scale = 1): Uint8Array {
  const w = width * scale;
  const h = height * scale;
  const rowBytes = w * channels + 1;
  const raw = new Uint8Array(rowBytes * h);
  for (let y = 0; y < h; y++) {
    raw[y * rowBytes] = 0;
    const sy = Math.floor(y / scale);
    for (let x = 0; x < w; x++) {
      const sx = Math.floor(x / scale);
      for (let c = 0; c < channels; c++) {
        const v = pixels[(sy * width + sx) * channels + c] as number;
        raw[y * rowBytes + 1 + x * channels + c] = Math.round(Math.min(1, Math.max(0, Number.isFinite(v) ? v : 0)) * 255);
      }
    }
  }
  const blocks: number[] = [0x78, 0x01];
  for (let off = 0; off < raw.length || off === 0; off += 65535) {
    const len = Math.min(65535, raw.length - off);
    const last = off + len >= raw.length ? 1 : 0;
    blocks.push(last, len & 255, len >>> 8, ~len & 255, (~len >>> 8) & 255);
    for (let i = 0; i < len; i++) blocks.push(raw[off + i] as number);
    if (last) break;
  }
  blocks.push(...u32(adler32(raw)));
  const header = new Uint8Array([...u32(w), ...u32(h), 8, channels === 1 ? 0 : 2, 0, 0, 0]);
  return new Uint8Array([
    137, 80, 78, 71, 13, 10, 26, 10,
    ...chunk('IHDR', header),
    ...chunk('IDAT', new Uint8Array(blocks)),
    ...chunk('IEND', new Uint8Array(0)),
  ]);
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

export function base64(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i] as number;
    const b = bytes[i + 1];
    const c = bytes[i + 2];
    const n = (a << 16) | ((b ?? 0) << 8) | (c ?? 0);
    out += B64[(n >>> 18) & 63];
    out += B64[(n >>> 12) & 63];
    out += b === undefined ? '=' : B64[(n >>> 6) & 63];
    out += c === undefined ? '=' : B64[n & 63];
  }
  return out;
}

export function pngDataUri(pixels: ArrayLike<number>, width: number, height: number, channels: 1 | 3, scale = 1): string {
  return `data:image/png;base64,${base64(encodePng(pixels, width, height, channels, scale))}`;
}
