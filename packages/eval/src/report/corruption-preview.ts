import { assertInteger, invalidArgument } from '@robust-ft/core/internal';
import * as tf from '@tensorflow/tfjs-core';
import { assertImageBatch } from '../checks';
import { CORRUPTION_FAMILIES, corrupt } from '../corruptions/corrupt';
import type { CorruptionFamily } from '../corruptions/families';
import { pngDataUri } from './png';
import { escapeXml } from './svg';
import { checkEvalOptions } from '../option-schemas';

/** Options of `corruptionPreviewSvg`. */
export interface CorruptionPreviewOptions {
  families?: readonly CorruptionFamily[];
  /** Default 0. */
  seed?: number;
  /** Pixel magnification of each thumbnail. Default max(1, round(84 / H)). */
  scale?: number;
}

/**
 * An SVG sheet of one image (`[1, H, W, C]` or `[H, W, C]`) under every family (rows) × clean and
 * severities 1–5 (columns), with thumbnails embedded as PNG data URIs.
 */
export async function corruptionPreviewSvg(
  image: tf.Tensor,
  options: CorruptionPreviewOptions = {},
): Promise<string> {
  checkEvalOptions('corruptionPreviewSvg', 'corruptionPreviewSvg', options);
  const x = (image.rank === 3 ? tf.expandDims(image, 0) : tf.clone(image)) as tf.Tensor4D;
  try {
    assertImageBatch('image', x);
    if (x.shape[0] !== 1) throw invalidArgument('image', 'a single image [1, H, W, C]', `shape [${x.shape}]`);
    const { families = CORRUPTION_FAMILIES, seed = 0 } = options;
    const [, h, w, c] = x.shape;
    if (c !== 1 && c !== 3) throw invalidArgument('image', '1 or 3 channels', c);
    const scale = options.scale ?? Math.max(1, Math.round(84 / h));
    assertInteger('options.scale', scale, 1);
    const cw = w * scale;
    const ch = h * scale;
    const gap = 6;
    const left = 130;
    const top = 28;
    const width = left + 6 * (cw + gap);
    const height = top + families.length * (ch + gap) + 4;
    const parts: string[] = [
      `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
      `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    ];
    ['clean', 's1', 's2', 's3', 's4', 's5'].forEach((label, j) => {
      parts.push(`<text x="${left + j * (cw + gap) + cw / 2}" y="18" text-anchor="middle">${label}</text>`);
    });
    const cell = async (img: tf.Tensor4D, row: number, col: number) => {
      const uri = pngDataUri(await img.data(), w, h, c as 1 | 3, scale);
      parts.push(`<image x="${left + col * (cw + gap)}" y="${top + row * (ch + gap)}" width="${cw}" height="${ch}" href="${uri}"/>`);
    };
    for (const [row, family] of families.entries()) {
      parts.push(`<text x="${left - 8}" y="${top + row * (ch + gap) + ch / 2 + 4}" text-anchor="end">${escapeXml(family)}</text>`);
      await cell(x, row, 0);
      for (let s = 1; s <= 5; s++) {
        const out = corrupt(x, family, s, seed);
        try {
          await cell(out, row, s);
        } finally {
          out.dispose();
        }
      }
    }
    parts.push('</svg>');
    return parts.join('\n');
  } finally {
    x.dispose();
  }
}
