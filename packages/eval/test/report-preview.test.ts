import { RobustFtError } from '@robust-ft/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { CORRUPTION_FAMILIES, corrupt, corruptionPreviewSvg } from '../src/index';
import { decodePng, pngFromDataUri } from './decode-png';
import { num, oneElementPerLine, svgElements } from './svg-elements';
import './setup-backend';

const byte = (v: number) => Math.round(Math.min(1, Math.max(0, v)) * 255);

/** A 6-row × 5-column grey image with distinct values (rows and columns must not be confused). */
const grey65 = () =>
  tf.tensor4d(
    Array.from({ length: 30 }, (_, i) => ((i * 7) % 31) / 30),
    [1, 6, 5, 1],
  );

/** Checks a thumbnail's PNG against `expected` (`[1, h, w, c]`) blown up `scale` times. */
async function expectThumbnail(href: string | undefined, expected: tf.Tensor, scale: number): Promise<void> {
  const [, h, w, c] = expected.shape as [number, number, number, number];
  const want = await expected.data();
  const png = decodePng(pngFromDataUri(href ?? ''));
  expect([png.width, png.height, png.colorType]).toEqual([w * scale, h * scale, c === 1 ? 0 : 2]);
  const samples: number[] = [];
  for (let y = 0; y < h * scale; y++)
    for (let x = 0; x < w * scale; x++)
      for (let k = 0; k < c; k++)
        samples.push(byte(want[(Math.floor(y / scale) * w + Math.floor(x / scale)) * c + k] as number));
  expect(png.samples).toEqual(samples);
}

describe('corruptionPreviewSvg', () => {
  it('lays out a row per family and clean + severities 1–5, each thumbnail the corrupted image', async () => {
    const x = grey65();
    const svg = await corruptionPreviewSvg(x, { families: ['contrast', 'gaussian_noise'], seed: 7 });
    // Default scale round(84 / 6) = 14: thumbnails 70 × 84 px, 6 px apart, after a 130 px label column.
    const root = svgElements(svg, 'svg')[0];
    expect(num(root, 'width', 'height')).toEqual([130 + 6 * 76, 28 + 2 * 90 + 4]);
    expect(root?.attrs.viewBox).toBe(`0 0 ${130 + 6 * 76} ${28 + 2 * 90 + 4}`);
    expect(oneElementPerLine(svg)).toBe(true);
    expect(svgElements(svg, 'rect')[0]?.attrs).toEqual({ width: '586', height: '212', fill: '#ffffff' });
    const heads = svgElements(svg, 'text').filter((t) => t.attrs.y === '18');
    expect(heads.map((t) => [Number(t.attrs.x), t.text])).toEqual(
      ['clean', 's1', 's2', 's3', 's4', 's5'].map((label, j) => [130 + j * 76 + 35, label]),
    );
    const rowLabels = svgElements(svg, 'text').filter((t) => t.attrs['text-anchor'] === 'end');
    expect(rowLabels.map((t) => [...num(t, 'x', 'y'), t.text])).toEqual([
      [122, 28 + 42 + 4, 'contrast'],
      [122, 28 + 90 + 42 + 4, 'gaussian_noise'],
    ]);
    const images = svgElements(svg, 'image');
    expect(images.map((im) => num(im, 'x', 'y', 'width', 'height'))).toEqual(
      [0, 1].flatMap((row) => [0, 1, 2, 3, 4, 5].map((col) => [130 + col * 76, 28 + row * 90, 70, 84])),
    );
    for (const [row, family] of (['contrast', 'gaussian_noise'] as const).entries()) {
      await expectThumbnail(images[row * 6]?.attrs.href, x, 14);
      for (let s = 1; s <= 5; s++) {
        const want = corrupt(x, family, s, 7);
        await expectThumbnail(images[row * 6 + s]?.attrs.href, want, 14);
        want.dispose();
      }
    }
    expect(svg.endsWith('</svg>')).toBe(true);
    x.dispose();
  });

  it('takes [H, W, C] too, all 15 families and seed 0 by default, RGB as colour PNGs', async () => {
    const rgb = tf.tensor4d(
      Array.from({ length: 48 }, (_, i) => ((i * 5) % 17) / 16),
      [1, 4, 4, 3],
    );
    const svg = await corruptionPreviewSvg(tf.squeeze(rgb, [0]));
    const rows = svgElements(svg, 'text').filter((t) => t.attrs['text-anchor'] === 'end');
    expect(rows.map((t) => t.text)).toEqual([...CORRUPTION_FAMILIES]);
    const images = svgElements(svg, 'image');
    expect(images).toHaveLength(15 * 6);
    // Row 0 is gaussian noise: seed 0 by default; scale round(84 / 4) = 21.
    const want = corrupt(rgb, 'gaussian_noise', 3, 0);
    await expectThumbnail(images[3]?.attrs.href, want, 21);
    const seeded = corrupt(rgb, 'gaussian_noise', 3, 1);
    await expectThumbnail(
      svgElements(await corruptionPreviewSvg(rgb, { families: ['gaussian_noise'], seed: 1 }), 'image')[3]
        ?.attrs.href,
      seeded,
      21,
    );
    tf.dispose([rgb, want, seeded]);
  });

  it('honours an explicit scale, and never scales below 1 for tall images', async () => {
    const x = grey65();
    const svg = await corruptionPreviewSvg(x, { families: ['contrast'], scale: 2 });
    expect(num(svgElements(svg, 'image')[0], 'width', 'height')).toEqual([10, 12]);
    await expectThumbnail(svgElements(svg, 'image')[0]?.attrs.href, x, 2);
    // 170 rows: round(84 / 170) = 0 → 1.
    const tall = tf.fill([1, 170, 2, 1], 0.5) as tf.Tensor4D;
    const t = await corruptionPreviewSvg(tall, { families: ['contrast'] });
    expect(num(svgElements(t, 'image')[0], 'width', 'height')).toEqual([2, 170]);
    tf.dispose([x, tall]);
  });

  it('rejects bad input with typed errors, leaking nothing', async () => {
    const x = grey65();
    const two = tf.concat([x, x]);
    const cases: Array<[() => Promise<unknown>, string, string]> = [
      [() => corruptionPreviewSvg(two), 'image', 'a single image [1, H, W, C]'],
      [() => corruptionPreviewSvg(tf.zeros([1, 4, 4, 2])), 'image', '1 or 3 channels'],
      [() => corruptionPreviewSvg(tf.zeros([4, 4])), 'image', ''],
      [() => corruptionPreviewSvg(x, { scale: 0 }), 'options.scale', 'an integer >= 1'],
      [() => corruptionPreviewSvg(x, { scale: 1.5 }), 'options.scale', 'an integer >= 1'],
    ];
    const before = tf.memory().numTensors;
    for (const [fn, argument, expected] of cases) {
      const e = await fn().then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(RobustFtError.isInstance(e), argument).toBe(true);
      expect((e as RobustFtError).argument).toBe(argument);
      if (expected) expect((e as RobustFtError).expected).toBe(expected);
    }
    // The inputs built inside the cases (zeros) stay; nothing the function made does.
    expect(tf.memory().numTensors - before).toBe(2);
    // The messages name what was received, and the function for an unknown option.
    const batch = (await corruptionPreviewSvg(two).then(
      () => undefined,
      (err: unknown) => err,
    )) as Error;
    expect(batch.message).toBe('image must be a single image [1, H, W, C] (received "shape [2,6,5,1]")');
    const e = await corruptionPreviewSvg(x, { sacle: 2 } as never).catch((err: unknown) => err);
    expect(RobustFtError.isInstance(e)).toBe(true);
    expect((e as Error).message.startsWith('corruptionPreviewSvg: unknown option `sacle`')).toBe(true);
    const steady = tf.memory().numTensors;
    await corruptionPreviewSvg(x, { families: ['fog'] });
    expect(tf.memory().numTensors).toBe(steady);
    tf.dispose([x, two]);
  });
});
