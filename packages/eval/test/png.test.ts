import { describe, expect, it } from 'vitest';
import { base64, encodePng, pngDataUri } from '../src/report/png';
import { decodePng, pngFromDataUri } from './decode-png';

/** The 8-bit sample a value in [0, 1] should become (by hand: clamp, ×255, round half up). */
const byte = (v: number) => Math.round(Math.min(1, Math.max(0, Number.isFinite(v) ? v : 0)) * 255);

describe('encodePng', () => {
  it('writes a grey PNG whose header, CRCs and zlib stream decode back to the pixels', () => {
    // 3 wide, 2 high: row 0 = 0, 0.5, 1; row 1 = 0.2, 0.6, 0.999.
    const pixels = [0, 0.5, 1, 0.2, 0.6, 0.999];
    const png = decodePng(encodePng(pixels, 3, 2, 1));
    expect(png.chunks.map((c) => c.type)).toEqual(['IHDR', 'IDAT', 'IEND']);
    expect([png.width, png.height, png.bitDepth, png.colorType]).toEqual([3, 2, 8, 0]);
    expect(png.methods).toEqual([0, 0, 0]);
    expect(png.filters).toEqual([0, 0]);
    expect(png.samples).toEqual([0, 128, 255, 51, 153, 255]);
    expect(png.chunks[2]!.data.length).toBe(0);
  });

  it('writes RGB (colour type 2) with the channels interleaved per pixel', () => {
    const pixels = [1, 0, 0, 0, 1, 0, 0, 0, 1, 0.25, 0.5, 0.75];
    const png = decodePng(encodePng(pixels, 2, 2, 3));
    expect([png.width, png.height, png.colorType]).toEqual([2, 2, 2]);
    expect(png.samples).toEqual([255, 0, 0, 0, 255, 0, 0, 0, 255, 64, 128, 191]);
  });

  it('clamps to [0, 1] and writes NaN and ±Infinity as 0', () => {
    const pixels = [-0.5, 1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0.002];
    expect(decodePng(encodePng(pixels, 6, 1, 1)).samples).toEqual([0, 255, 0, 0, 0, 1]);
  });

  it('draws each pixel as a scale×scale block (nearest neighbour); scale defaults to 1', () => {
    const pixels = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]; // 3 wide, 2 high
    const png = decodePng(encodePng(pixels, 3, 2, 1, 2));
    expect([png.width, png.height]).toEqual([6, 4]);
    for (let y = 0; y < 4; y++)
      for (let x = 0; x < 6; x++)
        expect(png.samples[y * 6 + x], `(${x}, ${y})`).toBe(
          byte(pixels[Math.floor(y / 2) * 3 + Math.floor(x / 2)]!),
        );
    expect(encodePng(pixels, 3, 2, 1)).toEqual(encodePng(pixels, 3, 2, 1, 1));
  });

  it('splits more than 65535 bytes into stored blocks, only the last one final', () => {
    // 200×200 RGB scaled ×2: 400 rows of 1 + 1200 bytes = 480400 bytes → 8 stored blocks.
    const w = 200;
    const pixels = Array.from({ length: w * w * 3 }, (_, i) => ((i * 37) % 256) / 255);
    const bytes = encodePng(pixels, w, w, 3, 2);
    const png = decodePng(bytes);
    expect([png.width, png.height]).toEqual([400, 400]);
    for (let y = 0; y < 400; y += 57)
      for (let x = 0; x < 400; x += 41)
        for (let c = 0; c < 3; c++)
          expect(png.samples[(y * 400 + x) * 3 + c]).toBe(
            byte(pixels[(Math.floor(y / 2) * w + Math.floor(x / 2)) * 3 + c]!),
          );
    // Walk the stored blocks by hand: BFINAL, LEN, NLEN.
    const z = png.zlib;
    expect([z[0], z[1]]).toEqual([0x78, 0x01]);
    const total = 400 * (400 * 3 + 1);
    let at = 2;
    const lens: number[] = [];
    const finals: number[] = [];
    while (at < z.length - 4) {
      const len = z[at + 1]! | (z[at + 2]! << 8);
      const nlen = z[at + 3]! | (z[at + 4]! << 8);
      expect(nlen).toBe(~len & 0xffff);
      finals.push(z[at]!);
      lens.push(len);
      at += 5 + len;
    }
    expect(at).toBe(z.length - 4);
    expect(lens.reduce((a, b) => a + b, 0)).toBe(total);
    expect(lens.slice(0, -1).every((l) => l === 65535)).toBe(true);
    expect(lens.at(-1)).toBe(total - 65535 * (lens.length - 1));
    expect(finals).toEqual([...new Array(lens.length - 1).fill(0), 1]);
  });

  it('an exact multiple of 65535 bytes ends on a full final block, with no empty one after it', () => {
    // 1 row of 1 + 65534 grey pixels = 65535 bytes.
    const png = decodePng(encodePng(new Array(65534).fill(0.5), 65534, 1, 1));
    expect(png.zlib.length).toBe(2 + 5 + 65535 + 4);
    expect(png.zlib[2]).toBe(1);
  });

  it('an empty image is one empty final stored block', () => {
    const png = decodePng(encodePng([], 0, 0, 1));
    expect([png.width, png.height]).toEqual([0, 0]);
    expect(Array.from(png.zlib.subarray(2, 7))).toEqual([1, 0, 0, 0xff, 0xff]);
    expect(Array.from(png.zlib.subarray(7))).toEqual([0, 0, 0, 1]); // Adler-32 of nothing
  });
});

describe('base64 and data URIs', () => {
  it('matches Buffer base64 for every padding case', () => {
    const bytes = Uint8Array.from({ length: 64 }, (_, i) => (i * 73 + 11) % 256);
    for (let n = 0; n <= 7; n++) {
      const b = bytes.subarray(0, n);
      expect(base64(b)).toBe(Buffer.from(b).toString('base64'));
    }
    expect(base64(Uint8Array.from({ length: 256 }, (_, i) => i))).toBe(
      Buffer.from(Uint8Array.from({ length: 256 }, (_, i) => i)).toString('base64'),
    );
    expect(base64(new Uint8Array([0xfb, 0xff]))).toBe('+/8=');
  });

  it('pngDataUri is the base64 PNG behind the image/png prefix, scale passed through', () => {
    const pixels = [0.1, 0.9, 0.4, 0.6];
    const uri = pngDataUri(pixels, 2, 2, 1, 3);
    expect(uri.startsWith('data:image/png;base64,iVBORw0KGgo')).toBe(true);
    expect(pngFromDataUri(uri)).toEqual(encodePng(pixels, 2, 2, 1, 3));
    expect(pngFromDataUri(pngDataUri(pixels, 2, 2, 1))).toEqual(encodePng(pixels, 2, 2, 1));
  });
});
