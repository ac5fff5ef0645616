import { execFileSync } from 'node:child_process';
import { RobustFtError } from '@robust-ft/core';
import { expectNoTensorLeaks } from '@robust-ft/core/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  corruptionAccuracySvg,
  type EvaluationProgress,
  evaluate,
  fgsm,
  fitBaseline,
  idOodScatterSvg,
  type LogitsModel,
  reportToJson,
  reportToMarkdown,
} from '../src/index';
import './setup-backend';

// A "model" that classifies 8×8 images by which half is brighter: class 0 top, 1 bottom.
const model: LogitsModel = (x) =>
  tf.tidy(() => {
    const top = tf.mean(tf.slice(x, [0, 0, 0, 0], [-1, 4, -1, -1]), [1, 2, 3]);
    const bottom = tf.mean(tf.slice(x, [0, 4, 0, 0], [-1, 4, -1, -1]), [1, 2, 3]);
    return tf.mul(tf.stack([top, bottom], 1), 20);
  });
const rows = (cls: number, v: number) =>
  Array.from({ length: 64 }, (_, i) => (Math.floor(i / 8) < 4 === (cls === 0) ? v : 0.1));
const X = tf.keep(
  tf.tensor4d([...rows(0, 0.8), ...rows(1, 0.7), ...rows(0, 0.35), ...rows(1, 0.9)], [4, 8, 8, 1]),
);
const Y = [0, 1, 0, 1];

/** Valid SVG: rsvg-convert, when installed, must be able to render it to a PNG. */
function expectRendersIfRsvg(svg: string): void {
  try {
    execFileSync('rsvg-convert', ['--version']);
  } catch {
    return;
  }
  const png = execFileSync('rsvg-convert', ['-f', 'png'], { input: svg });
  expect(png.subarray(1, 4).toString()).toBe('PNG');
}

describe('evaluate', () => {
  const suites = {
    id: { x: X, y: Y },
    corruptions: { families: ['gaussian_noise', 'contrast'] as const, severities: [1, 5] },
    attacks: {
      fgsm: (m: LogitsModel, x: tf.Tensor, y: readonly number[] | tf.Tensor | Int32Array) =>
        fgsm(m, x, y, { epsilon: 0.3 }),
    },
    ood: { flipped: { x: X, y: [1, 0, 1, 0] } },
  };

  it('runs ID, corruption, attack and OOD suites with progress and a typed report', async () => {
    const progress: EvaluationProgress[] = [];
    const report = await evaluate(model, suites, { name: 'halves', onProgress: (p) => progress.push(p) });
    expect(report.id.accuracy).toBe(1);
    expect(report.id.topK).toBeNull();
    expect(report.ood.flipped).toBe(0);
    expect(Object.keys(report.corruptions?.accuracy ?? {})).toEqual(['gaussian_noise', 'contrast']);
    expect(report.attacks.fgsm).toBeLessThanOrEqual(report.id.accuracy);
    expect(progress.map((p) => p.done)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(progress.every((p) => p.total === 7)).toBe(true);
    const md = reportToMarkdown([report]);
    expect(md).toContain('| halves | 100.0 |');
    expect(JSON.parse(reportToJson(report)).model).toBe('halves');
    // Heat map from the report: a clean cell plus 2 families × 2 severities, the clean cell reading 100 %.
    const heat = corruptionAccuracySvg(report);
    expect(heat.match(/<rect x=/g)).toHaveLength(1 + 2 * 2);
    expect(heat).toContain('>contrast</text>');
    expect(heat).toMatch(/>100<\/text>/);
    await expectNoTensorLeaks(() => evaluate(model, suites), { repeats: 1 });
  });

  it('rejects an empty ID set', async () => {
    await expect(
      evaluate(model, { id: { x: tf.zeros([0, 8, 8, 1]) as tf.Tensor4D, y: [] } }),
    ).rejects.toSatisfy((e: unknown) => RobustFtError.isInstance(e) && e.argument === 'suites.id.x');
  });

  it('draws an ID-vs-OOD scatter with the α-curve and baseline', () => {
    const points = [
      { id: 0.6, ood: 0.3, label: 'a' },
      { id: 0.7, ood: 0.38, label: 'b' },
      { id: 0.8, ood: 0.47, label: 'c' },
    ];
    const svg = idOodScatterSvg({
      points,
      curve: [0, 0.5, 1].map((alpha) => ({
        alpha,
        id: 0.7 + 0.1 * alpha,
        ood: 0.5 + 0.1 * Math.sin(Math.PI * alpha),
      })),
      baseline: fitBaseline(points),
    });
    expect(svg.match(/α=/g)).toHaveLength(3);
    expect(svg).toContain('stroke-dasharray');
    // Legend: the three labelled points, the curve and the baseline.
    for (const entry of [
      '>a</text>',
      '>b</text>',
      '>c</text>',
      '>WiSE-FT α sweep</text>',
      '>baseline fit</text>',
    ])
      expect(svg).toContain(entry);
    expectRendersIfRsvg(svg);
  });

  it('draws the corruption heat map from plain data, a cell per family and severity', () => {
    const svg = corruptionAccuracySvg({
      title: 'two models & <three> severities',
      severities: [1, 3, 5],
      rows: [
        { label: 'zero-shot', accuracy: { gaussian_noise: [0.82, 0.56, 0.34], contrast: [0.9, 0.5, 0.1] } },
        { label: 'fine-tuned', accuracy: { gaussian_noise: [0.96, 0.77], contrast: [0.96, 0.57, 0.15] } },
      ],
    });
    expect(svg.match(/<rect x=/g)).toHaveLength(2 * 2 * 3);
    expect(svg).toContain('two models &amp; &lt;three&gt; severities');
    expect(svg).toContain('>gaussian noise</text>');
    expect(svg).toContain('>82</text>');
    // The missing severity-5 value of the second row is a grey dash, not a zero.
    expect(svg.match(/>–<\/text>/g)).toHaveLength(1);
    expect(svg).not.toContain('clean');
    expectRendersIfRsvg(svg);
  });
});
