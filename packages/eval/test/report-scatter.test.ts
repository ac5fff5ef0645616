import { describe, expect, it } from 'vitest';
import { type BaselineFit, idOodScatterSvg, predictedOod } from '../src/index';
import { PALETTE } from '../src/report/svg';
import { num, oneElementPerLine, svgElements } from './svg-elements';

/*
 * Geometry worked out by hand for two labelled points a = (0.6, 0.3) and b = (0.8, 0.5): span 0.2 on
 * both axes → step 0.05 (0.2/0.05 = 4 ≤ 6, 0.2/0.02 = 10 > 6), padded by a fifth of a step and snapped:
 * x ∈ [0.55, 0.85], y ∈ [0.25, 0.55]. Legend column: 40 + 7·1 px → W = 497, H = 440 (the minimum), plot
 * box x 60…450 (390 px = 0.3), y 390…40 (350 px = 0.3).
 */
const a = { id: 0.6, ood: 0.3, label: 'a' };
const b = { id: 0.8, ood: 0.5, label: 'b' };
/** Accuracies at pixel (px, py) of that plot. */
const at = (px: number, py: number) => ({
  id: 0.55 + ((px - 60) * 0.3) / 390,
  ood: 0.25 + ((390 - py) * 0.3) / 350,
});
const texts = (svg: string) => svgElements(svg, 'text').map((t) => t.text);

describe('idOodScatterSvg geometry', () => {
  it('places markers, ticks, frame and axis titles on the hand-derived scales', () => {
    const svg = idOodScatterSvg({ points: [a, b] });
    const root = svgElements(svg, 'svg')[0];
    expect(num(root, 'width', 'height')).toEqual([497, 440]);
    expect(root?.attrs.viewBox).toBe('0 0 497 440');
    expect(svgElements(svg, 'rect')[0]?.attrs).toEqual({ width: '497', height: '440', fill: '#fff' });
    expect(oneElementPerLine(svg)).toBe(true);
    const lines = svgElements(svg, 'line');
    const vertical = lines.filter((l) => l.attrs.x1 === l.attrs.x2);
    const horizontal = lines.filter((l) => l.attrs.y1 === l.attrs.y2);
    expect(vertical.map((l) => Number(l.attrs.x1))).toEqual([60, 125, 190, 255, 320, 385, 450]);
    expect(vertical.every((l) => l.attrs.y1 === '40' && l.attrs.y2 === '390')).toBe(true);
    expect(horizontal.map((l) => Number(l.attrs.y1))).toEqual([390, 331.67, 273.33, 215, 156.67, 98.33, 40]);
    expect(horizontal.every((l) => l.attrs.x1 === '60' && l.attrs.x2 === '450')).toBe(true);
    const tickTexts = svgElements(svg, 'text').filter((t) => /^\d+$/.test(t.text));
    expect(tickTexts.map((t) => t.text)).toEqual([
      '55',
      '60',
      '65',
      '70',
      '75',
      '80',
      '85',
      '25',
      '30',
      '35',
      '40',
      '45',
      '50',
      '55',
    ]);
    expect(num(tickTexts[1], 'x', 'y')).toEqual([125, 406]);
    expect(tickTexts[1]?.attrs['text-anchor']).toBe('middle');
    expect(num(tickTexts[8], 'x', 'y')).toEqual([54, 335.67]);
    expect(tickTexts[8]?.attrs['text-anchor']).toBe('end');
    const frame = svgElements(svg, 'rect').find((r) => r.attrs.fill === 'none');
    expect(num(frame, 'x', 'y', 'width', 'height')).toEqual([60, 40, 390, 350]);
    const title = svgElements(svg, 'text')[0];
    expect(title?.text).toBe('ID vs OOD accuracy');
    expect(num(title, 'x', 'y')).toEqual([60, 22]);
    const xTitle = svgElements(svg, 'text').find((t) => t.text === 'ID accuracy (%)');
    expect(num(xTitle, 'x', 'y')).toEqual([255, 428]);
    const yTitle = svgElements(svg, 'text').find((t) => t.text === 'OOD accuracy (%)');
    expect(yTitle?.attrs.transform).toBe('translate(16 215) rotate(-90)');
    // Markers (r 5) at the points, then legend entries at x = W − 47 + 16, rows 18 px apart from y = 54.
    const circles = svgElements(svg, 'circle');
    expect(circles.map((c) => num(c, 'cx', 'cy', 'r'))).toEqual([
      [125, 331.67, 5],
      [466, 50, 5],
      [385, 98.33, 5],
      [466, 68, 5],
    ]);
    expect(circles.map((c) => c.attrs.fill)).toEqual([PALETTE[0], PALETTE[0], PALETTE[1], PALETTE[1]]);
    const legend = svgElements(svg, 'text').filter((t) => t.text === 'a' || t.text === 'b');
    expect(legend.map((t) => num(t, 'x', 'y'))).toEqual([
      [476, 54],
      [476, 72],
    ]);
    expect(svg).not.toContain('<path');
    expect(svg).not.toContain('<polyline');
    expect(svg.endsWith('</svg>')).toBe(true);
  });

  it('snaps axes to steps of 1, 2, 5, 10 or 20 points within [0, 1]', () => {
    const ticks = (lo: number, hi: number) => {
      const svg = idOodScatterSvg({
        points: [
          { id: lo, ood: 0.5 },
          { id: hi, ood: 0.5 },
        ],
      });
      return svgElements(svg, 'text')
        .filter((t) => t.attrs['text-anchor'] === 'middle' && /^\d+$/.test(t.text))
        .map((t) => Number(t.text));
    };
    expect(ticks(0.5, 0.5)).toEqual([49, 50, 51]); // span floored at 1 point, step 1
    expect(ticks(0, 0.06)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]); // exactly 6 steps of 1 still fit
    expect(ticks(0.5, 0.555)).toEqual([49, 50, 51, 52, 53, 54, 55, 56]); // 5.5 steps of 1
    expect(ticks(0.5, 0.57)).toEqual([48, 50, 52, 54, 56, 58]); // 7 steps of 1 are too many: 2
    expect(ticks(0.5, 0.61)).toEqual([48, 50, 52, 54, 56, 58, 60, 62]); // 5.5 steps of 2
    expect(ticks(0.1, 0.25)).toEqual([5, 10, 15, 20, 25, 30]); // 7.5 steps of 2 are too many: 5
    expect(ticks(0.5, 0.75)).toEqual([45, 50, 55, 60, 65, 70, 75, 80]);
    expect(ticks(0.4, 0.9)).toEqual([30, 40, 50, 60, 70, 80, 90, 100]); // 10 steps of 5: 10
    expect(ticks(0.02, 0.98)).toEqual([0, 20, 40, 60, 80, 100]); // clamped to [0, 1]
    expect(ticks(0.003, 0.007)).toEqual([0, 1]);
  });

  it('with no points draws 0–100 % axes in steps of 20 and a 20 px right margin', () => {
    const svg = idOodScatterSvg({ points: [], title: 'empty' });
    expect(num(svgElements(svg, 'svg')[0], 'width', 'height')).toEqual([470, 440]);
    expect(texts(svg).filter((t) => /^\d+$/.test(t))).toEqual([
      ...['0', '20', '40', '60', '80', '100'],
      ...['0', '20', '40', '60', '80', '100'],
    ]);
    const frame = svgElements(svg, 'rect').find((r) => r.attrs.fill === 'none');
    expect(num(frame, 'x', 'y', 'width', 'height')).toEqual([60, 40, 390, 350]);
    expect(svgElements(svg, 'circle')).toHaveLength(0);
  });

  it('sizes the legend column from its longest entry and grows the height with many entries', () => {
    const width = (svg: string) => Number(svgElements(svg, 'svg')[0]?.attrs.width);
    const height = (svg: string) => Number(svgElements(svg, 'svg')[0]?.attrs.height);
    expect(width(idOodScatterSvg({ points: [{ ...a, label: 'twelve chars' }, b] }))).toBe(450 + 40 + 7 * 12);
    // Unlabelled points get a marker but no legend entry (and no legend column).
    const plain = idOodScatterSvg({
      points: [
        { id: 0.6, ood: 0.3 },
        { id: 0.8, ood: 0.5 },
      ],
    });
    expect(width(plain)).toBe(470);
    expect(svgElements(plain, 'circle')).toHaveLength(2);
    const curve = [
      { alpha: 0, id: 0.6, ood: 0.3 },
      { alpha: 1, id: 0.8, ood: 0.5 },
    ];
    const fit: BaselineFit = { space: 'linear', slope: 1, intercept: -0.3 };
    expect(width(idOodScatterSvg({ points: [a, b], curve, curveLabel: 'a 20-character label' }))).toBe(
      450 + 40 + 7 * 20,
    );
    expect(width(idOodScatterSvg({ points: [a, b], baseline: fit, baselineLabel: 'fifteen chars..' }))).toBe(
      450 + 40 + 7 * 15,
    );
    // The default labels: 'WiSE-FT α sweep' (15) and 'baseline fit' (12).
    expect(width(idOodScatterSvg({ points: [a, b], curve }))).toBe(450 + 40 + 7 * 15);
    expect(width(idOodScatterSvg({ points: [a, b], baseline: fit }))).toBe(450 + 40 + 7 * 12);
    // A one-point curve draws no line and has no legend entry.
    const lone = idOodScatterSvg({
      points: [a, b],
      curve: [{ alpha: 0.5, id: 0.7, ood: 0.4 }],
      curveLabel: 'x'.repeat(30),
    });
    expect(width(lone)).toBe(497);
    expect(lone).not.toContain('<path');
    expect(texts(lone)).not.toContain('x'.repeat(30));
    // Nor does it open a legend column when nothing else is in the legend.
    const loneOnly = idOodScatterSvg({
      points: [{ id: 0.6, ood: 0.3 }],
      curve: [{ alpha: 0.5, id: 0.7, ood: 0.4 }],
    });
    expect(width(loneOnly)).toBe(470);
    // 25 labelled points: 40 + 14 + 25·18 + 50 = 554 px; a curve and a baseline add a row each.
    const many = Array.from({ length: 25 }, (_, i) => ({ id: 0.5 + i / 100, ood: 0.4, label: `m${i}` }));
    expect(height(idOodScatterSvg({ points: many }))).toBe(554);
    expect(height(idOodScatterSvg({ points: many, curve }))).toBe(572);
    expect(height(idOodScatterSvg({ points: many, curve, baseline: fit }))).toBe(590);
  });

  it('colours markers from the palette in order, repeating after 15', () => {
    const points = Array.from({ length: 17 }, (_, i) => ({ id: 0.5 + i / 100, ood: 0.4, label: `m${i}` }));
    const markers = svgElements(idOodScatterSvg({ points }), 'circle').filter((c) => c.attrs.r === '5');
    const fills = markers.filter((_, i) => i % 2 === 0).map((c) => c.attrs.fill);
    expect(fills).toEqual([...PALETTE, PALETTE[0], PALETTE[1]]);
    // Grey first (the reference model), then matplotlib's tab10 order and its light variants.
    expect(PALETTE).toEqual([
      '#444444',
      '#8c564b',
      '#d62728',
      '#ff7f0e',
      '#2ca02c',
      '#1f77b4',
      '#9467bd',
      '#17becf',
      '#e377c2',
      '#bcbd22',
      '#7f7f7f',
      '#aec7e8',
      '#98df8a',
      '#ffbb78',
      '#c5b0d5',
    ]);
  });

  it('escapes the title, axis titles and labels', () => {
    const svg = idOodScatterSvg({
      points: [{ ...a, label: 'A<B & "C"' }, b],
      title: 'T>1',
      xLabel: 'id & x',
      yLabel: 'ood <y>',
    });
    for (const s of [
      '>A&lt;B &amp; &quot;C&quot;</text>',
      '>T&gt;1</text>',
      '>id &amp; x</text>',
      '>ood &lt;y&gt;</text>',
    ])
      expect(svg).toContain(s);
  });
});

describe('idOodScatterSvg curve and α labels', () => {
  it('draws the curve as a dashed path through its points, dots at each α', () => {
    const curve = [
      { alpha: 0, ...at(125, 331.67) },
      { alpha: 0.5, ...at(255, 200) },
      { alpha: 1, ...at(385, 98.33) },
    ];
    const svg = idOodScatterSvg({ points: [a, b], curve });
    const path = svgElements(svg, 'path');
    expect(path).toHaveLength(1);
    expect(path[0]?.attrs.d).toBe('M125,331.67 L255,200 L385,98.33');
    expect(path[0]?.attrs.stroke).toBe('#d62728');
    expect(path[0]?.attrs['stroke-dasharray']).toBe('4 3');
    const dots = svgElements(svg, 'circle').filter((c) => c.attrs.r === '2');
    expect(dots.map((c) => num(c, 'cx', 'cy'))).toEqual([
      [125, 331.67],
      [255, 200],
      [385, 98.33],
    ]);
    // The end points sit on the markers a and b: only α = 0.5 is labelled, above-left of its dot.
    const labels = svgElements(svg, 'text').filter((t) => t.text.startsWith('α='));
    expect(labels.map((t) => [t.text, ...num(t, 'x', 'y')])).toEqual([['α=0.5', 250, 194]]);
    expect(labels[0]?.attrs.fill).toBe('#d62728');
    // Third legend row (y = 40 + 14 + 2·18 = 90): a dashed red line 4 px above it, the default label.
    const legendLine = svgElements(svg, 'line').find((l) => l.attrs.stroke === '#d62728');
    expect(num(legendLine, 'x1', 'y1', 'x2', 'y2')).toEqual([458, 86, 474, 86]);
    const curveEntry = svgElements(svg, 'text').find((t) => t.text === 'WiSE-FT α sweep');
    expect(num(curveEntry, 'x', 'y')).toEqual([476, 90]);
    const noLabels = idOodScatterSvg({ points: [a, b], curve, alphaLabels: false });
    expect(noLabels).not.toContain('α=');
    expect(svgElements(noLabels, 'circle').filter((c) => c.attrs.r === '2')).toHaveLength(3);
  });

  it('leaves out a label that would overlap a marker or an earlier label, and only those', () => {
    // Four extra markers; around each, a dot whose label box (30 × 10 px for 'α=0.x', ending 5 px
    // left of and above the dot) just touches the marker's 12 × 12 box (drawn) or overlaps it by 1 px.
    const m = [at(160, 150), at(300, 150), at(160, 260), at(300, 260)];
    const curve = [
      { alpha: 0.1, ...at(200, 150) }, // left edge 165 < marker's right edge 166: overlap
      { alpha: 0.2, ...at(201, 150) }, // left edge 166 = 166: touching
      { alpha: 0.3, ...at(300, 150) }, // right edge 295 > marker's left edge 294: overlap
      { alpha: 0.4, ...at(299, 150) }, // right edge 294 = 294: touching
      { alpha: 0.5, ...at(160, 280) }, // top 265 < marker's bottom 266: overlap
      { alpha: 0.6, ...at(160, 281) }, // top 266 = 266: touching
      { alpha: 0.7, ...at(300, 260) }, // bottom 255 > marker's top 254: overlap
      { alpha: 0.8, ...at(300, 259) }, // bottom 254 = 254: touching
      { alpha: 0.9, ...at(201, 151) }, // overlaps the label of α = 0.2
    ];
    const svg = idOodScatterSvg({ points: [a, b, ...m], curve });
    const labels = svgElements(svg, 'text').filter((t) => t.text.startsWith('α='));
    expect(labels.map((t) => [t.text, ...num(t, 'x', 'y')])).toEqual([
      ['α=0.2', 196, 144],
      ['α=0.4', 294, 144],
      ['α=0.6', 155, 275],
      ['α=0.8', 295, 253],
    ]);
  });
});

describe('idOodScatterSvg baseline', () => {
  const visiblePoints = (svg: string) =>
    svgElements(svg, 'polyline').map((p) =>
      (p.attrs.points ?? '').split(' ').map((xy) => xy.split(',').map(Number)),
    );

  it('samples the fit at 161 ids across the x range and cuts it where it leaves the y range', () => {
    // ood = id − 0.28 on x ∈ [0.55, 0.85]: inside y ≤ 0.55 while id ≤ 0.83, i.e. samples 0…149.
    const svg = idOodScatterSvg({
      points: [a, b],
      baseline: { space: 'linear', slope: 1, intercept: -0.28 },
    });
    const runs = visiblePoints(svg);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toHaveLength(150);
    expect(runs[0]?.[0]).toEqual([60, 366.67]);
    expect(runs[0]?.[1]).toEqual([62.44, 364.48]);
    expect(runs[0]?.[149]).toEqual([423.19, 40.73]);
    const line = svgElements(svg, 'polyline')[0];
    expect(line?.attrs.stroke).toBe('#888888');
    expect(line?.attrs['stroke-dasharray']).toBe('6 4');
    const legendLine = svgElements(svg, 'line').find((l) => l.attrs.stroke === '#888888');
    expect(num(legendLine, 'x1', 'y1', 'x2', 'y2')).toEqual([458, 86, 474, 86]);
    const entry = svgElements(svg, 'text').find((t) => t.text === 'baseline fit');
    expect(num(entry, 'x', 'y')).toEqual([476, 90]);
  });

  it('follows a logit-space fit (curved in accuracy) point by point', () => {
    const fit: BaselineFit = { space: 'logit', slope: 1.3, intercept: -0.9 };
    const runs = visiblePoints(idOodScatterSvg({ points: [a, b], baseline: fit }));
    expect(runs).toHaveLength(1);
    for (const [px, py] of runs[0] ?? []) {
      const { id, ood } = at(px as number, py as number);
      expect(ood).toBeCloseTo(predictedOod(fit, id), 4);
    }
    expect(runs[0]!.length).toBeGreaterThan(50);
  });

  it('draws no line for a fit that is visible at a single sample, and keeps the legend entry', () => {
    // ood = id − 0.5995 is above y0 = 0.25 only at the last sample (id 0.85 → 0.2505).
    const svg = idOodScatterSvg({
      points: [a, b],
      baseline: { space: 'linear', slope: 1, intercept: -0.5995 },
    });
    expect(svgElements(svg, 'polyline')).toHaveLength(0);
    expect(texts(svg)).toContain('baseline fit');
    // A fit lying exactly on the bottom or top edge of the range (0.25, 0.55) is drawn in full.
    for (const edge of [0.25, 0.55]) {
      const flat = idOodScatterSvg({
        points: [a, b],
        baseline: { space: 'linear', slope: 0, intercept: edge },
      });
      expect(
        visiblePoints(flat).map((r) => r.length),
        `ood ${edge}`,
      ).toEqual([161]);
    }
    const below = idOodScatterSvg({
      points: [a, b],
      baseline: { space: 'linear', slope: 1, intercept: -0.5975 },
    });
    expect(visiblePoints(below).map((r) => r.length)).toEqual([2]);
  });
});
