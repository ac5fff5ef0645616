import { describe, expect, it } from 'vitest';
import {
  type CorruptionPlotData,
  corruptionAccuracySvg,
  corruptionPlotData,
  type EvaluationReport,
} from '../src/index';
import { num, oneElementPerLine, svgElements } from './svg-elements';

/*
 * Hand-derived layout for 3 severities: cells max(30, ⌈110/3⌉) = 37 px, label column 170 px, groups
 * 'clean' (37 px), gaussian_noise and contrast (111 px each) 4 px apart: x = 170, 211, 326; rows of
 * 30 px from y = 100; W = max(441 + 16, 760) = 760, H = 100 + 2·30 + 40 = 200.
 */
const data: CorruptionPlotData = {
  severities: [1, 3, 5],
  rows: [
    {
      label: 'm1',
      accuracy: { gaussian_noise: [0, 0.5, 1], contrast: [0.125, 0.9, Number.NaN] },
      clean: 0.54,
    },
    { label: 'm2', accuracy: { gaussian_noise: [0.55] } },
  ],
};
const cells = (svg: string) =>
  svgElements(svg, 'rect')
    .filter((r) => r.attrs.x !== undefined)
    .map((r) => [...num(r, 'x', 'y', 'width', 'height'), r.attrs.fill]);
const values = (svg: string) =>
  svgElements(svg, 'text')
    .filter((t) => t.attrs['text-anchor'] === 'middle' && t.attrs.y !== '72' && t.attrs.y !== '92')
    .map((t) => [...num(t, 'x', 'y'), t.attrs.fill, t.text]);

describe('corruptionAccuracySvg', () => {
  it('lays out a clean column and one group per family, cells coloured on the viridis-like ramp', () => {
    const svg = corruptionAccuracySvg(data);
    const root = svgElements(svg, 'svg')[0];
    expect(num(root, 'width', 'height')).toEqual([760, 200]);
    expect(root?.attrs.viewBox).toBe('0 0 760 200');
    expect(oneElementPerLine(svg)).toBe(true);
    expect(svgElements(svg, 'rect')[0]?.attrs).toEqual({ width: '760', height: '200', fill: '#fff' });
    const groupLabels = svgElements(svg, 'text').filter((t) => t.attrs.y === '72');
    expect(groupLabels.map((t) => [Number(t.attrs.x), t.text])).toEqual([
      [188.5, 'clean'],
      [266.5, 'gaussian noise'],
      [381.5, 'contrast'],
    ]);
    const sevLabels = svgElements(svg, 'text').filter((t) => t.attrs.y === '92');
    expect(sevLabels.map((t) => [Number(t.attrs.x), t.text])).toEqual([
      [229.5, '1'],
      [266.5, '3'],
      [303.5, '5'],
      [344.5, '1'],
      [381.5, '3'],
      [418.5, '5'],
    ]);
    expect(sevLabels.every((t) => t.attrs.fill === '#666')).toBe(true);
    expect(cells(svg)).toEqual([
      [170, 100, 36, 29, 'rgb(43,154,133)'], // 0.54: between stops 2 and 3, f = 0.16
      [211, 100, 36, 29, 'rgb(68,1,84)'], // 0: first stop
      [248, 100, 36, 29, 'rgb(33,145,140)'], // 0.5: middle stop
      [285, 100, 36, 29, 'rgb(253,231,37)'], // 1: last stop
      [326, 100, 36, 29, 'rgb(64,42,112)'], // 0.125: halfway between stops 0 and 1
      [363, 100, 36, 29, 'rgb(189,219,61)'], // 0.9: f = 0.6 between stops 3 and 4
      [400, 100, 36, 29, '#ddd'], // NaN
      [170, 130, 36, 29, '#ddd'], // no clean accuracy
      [211, 130, 36, 29, 'rgb(45,156,132)'], // 0.55
      [248, 130, 36, 29, '#ddd'],
      [285, 130, 36, 29, '#ddd'],
      [326, 130, 36, 29, '#ddd'],
      [363, 130, 36, 29, '#ddd'],
      [400, 130, 36, 29, '#ddd'],
    ]);
    // Values in %, white on dark cells (< 55 %), black otherwise; '–' where there is none.
    expect(values(svg)).toEqual([
      [188, 119, '#fff', '54'],
      [229, 119, '#fff', '0'],
      [266, 119, '#fff', '50'],
      [303, 119, '#000', '100'],
      [344, 119, '#fff', '13'],
      [381, 119, '#000', '90'],
      [418, 119, '#000', '–'],
      [188, 149, '#000', '–'],
      [229, 149, '#000', '55'],
      [266, 149, '#000', '–'],
      [303, 149, '#000', '–'],
      [344, 149, '#000', '–'],
      [381, 149, '#000', '–'],
      [418, 149, '#000', '–'],
    ]);
    const rowLabels = svgElements(svg, 'text').filter((t) => t.attrs['text-anchor'] === 'end');
    expect(rowLabels.map((t) => [...num(t, 'x', 'y'), t.text])).toEqual([
      [162, 119, 'm1'],
      [162, 149, 'm2'],
    ]);
    const title = svgElements(svg, 'text')[0];
    expect([...num(title, 'x', 'y'), title?.text]).toEqual([
      10,
      22,
      'Accuracy (%) per corruption and severity (1, 3, 5)',
    ]);
    const foot = svgElements(svg, 'text').at(-1);
    expect([...num(foot, 'x', 'y'), foot?.text]).toEqual([
      10,
      188,
      'Columns: severity within each corruption family; colour from 0 % (dark) to 100 % (light).',
    ]);
    expect(svg.endsWith('</svg>')).toBe(true);
  });

  it('clamps the colour ramp below 0 and above 1', () => {
    const svg = corruptionAccuracySvg({
      severities: [1, 2],
      rows: [{ label: 'x', accuracy: { fog: [-0.2, 1.3] } }],
    });
    expect(cells(svg).map((c) => c[4])).toEqual(['rgb(68,1,84)', 'rgb(253,231,37)']);
    expect(values(svg).map((v) => v[3])).toEqual(['-20', '130']);
  });

  it('widens cells for few severities, the label column for long labels, the plot for many families', () => {
    const width = (d: CorruptionPlotData) => {
      const c = cells(corruptionAccuracySvg(d));
      return [c[0]?.[0], c[0]?.[2]];
    };
    const row = (label: string, n: number) => ({
      label,
      accuracy: { fog: Array.from({ length: n }, () => 0.5) },
    });
    expect(width({ severities: [3], rows: [row('x', 1)] })).toEqual([170, 109]); // one severity: 110 px cells
    expect(width({ severities: [1, 2, 3, 4, 5], rows: [row('x', 5)] })).toEqual([170, 29]); // ⌈110/5⌉ = 22 → 30
    expect(width({ severities: [1, 2, 3, 4], rows: [row('x', 4)] })).toEqual([170, 29]); // ⌈110/4⌉ = 28 → 30
    expect(width({ severities: [1, 2, 3, 4, 5], rows: [row('a label of thirty characters..', 5)] })).toEqual([
      215, 29,
    ]);
    // No severities: the clean column alone, 110 px wide (0.7: f = 0.8 between stops 2 and 3).
    const onlyClean = corruptionAccuracySvg({
      severities: [],
      rows: [{ label: 'x', accuracy: {}, clean: 0.7 }],
    });
    expect(cells(onlyClean)).toEqual([[170, 100, 109, 29, 'rgb(82,190,106)']]);
    // 15 families × 5 severities: 170 + 15·(150 + 4) + 16 px.
    const fams = Object.fromEntries(
      Array.from({ length: 15 }, (_, i) => [`f${i}`, [0.1, 0.2, 0.3, 0.4, 0.5]]),
    );
    const wide = corruptionAccuracySvg({
      severities: [1, 2, 3, 4, 5],
      rows: [{ label: 'x', accuracy: fams }],
    });
    expect(num(svgElements(wide, 'svg')[0], 'width')).toEqual([2496]);
    expect(cells(wide)).toHaveLength(75);
  });

  it('takes families (order and selection) from the option, else from the first row', () => {
    const rows: CorruptionPlotData['rows'] = [
      { label: 'x', accuracy: { fog: [0.1], snow: [0.2], frost: [0.3] } },
      { label: 'y', accuracy: { snow: [0.4], fog: [0.5] } },
    ];
    const groupNames = (svg: string) =>
      svgElements(svg, 'text')
        .filter((t) => t.attrs.y === '72')
        .map((t) => t.text);
    expect(groupNames(corruptionAccuracySvg({ severities: [1], rows }))).toEqual(['fog', 'snow', 'frost']);
    const picked = corruptionAccuracySvg({ severities: [1], rows, families: ['snow', 'fog'] });
    expect(groupNames(picked)).toEqual(['snow', 'fog']);
    expect(values(picked).map((v) => v[3])).toEqual(['20', '10', '40', '50']);
    expect(cells(corruptionAccuracySvg({ severities: [1], rows: [] }))).toEqual([]);
  });

  it('uses the given title and footnote, escaped, and writes every underscore of a family as a space', () => {
    const svg = corruptionAccuracySvg({
      title: 'a & b',
      footnote: 'x < y',
      severities: [1],
      rows: [{ label: '<m>', accuracy: { elastic_transform_x: [0.5] } }],
    });
    const t = svgElements(svg, 'text').map((e) => e.text);
    expect(t[0]).toBe('a &amp; b');
    expect(t.at(-1)).toBe('x &lt; y');
    expect(t).toContain('elastic transform x');
    expect(t).toContain('&lt;m&gt;');
  });
});

const report = (model: string, corruptions: EvaluationReport['corruptions']): EvaluationReport => ({
  model,
  id: { accuracy: 0.91, topK: null, ece: 0.05, n: 10 },
  corruptions,
  attacks: {},
  ood: {},
});
const withC = report('robust', {
  accuracy: { fog: [0.8, 0.6], snow: [0.7, 0.4] },
  severities: [2, 4],
  meanCorruptionAccuracy: 0.625,
  relativeRobustness: 0.69,
});

describe('corruptionPlotData', () => {
  it('keeps the reports with corruptions, their clean accuracy leading, severities from the first', () => {
    const plain = report('plain', null);
    const other = report('other', { ...withC.corruptions!, severities: [1, 5] });
    expect(corruptionPlotData([plain, withC, other])).toEqual({
      severities: [2, 4],
      rows: [
        { label: 'robust', accuracy: withC.corruptions?.accuracy, clean: 0.91 },
        { label: 'other', accuracy: withC.corruptions?.accuracy, clean: 0.91 },
      ],
    });
    expect('title' in corruptionPlotData([withC])).toBe(false);
    expect(corruptionPlotData([withC], 'T').title).toBe('T');
    expect(corruptionPlotData([plain])).toEqual({ severities: [], rows: [] });
  });

  it('corruptionAccuracySvg converts one report or a list, the title naming the plot', () => {
    const one = corruptionAccuracySvg(withC, 'My & title');
    expect(svgElements(one, 'text')[0]?.text).toBe('My &amp; title');
    expect(cells(one).map((c) => c[4])).toHaveLength(1 + 4);
    expect(values(one)[0]?.[3]).toBe('91');
    const list = corruptionAccuracySvg([withC, report('b', withC.corruptions)]);
    expect(svgElements(list, 'text')[0]?.text).toBe('Accuracy (%) per corruption and severity (2, 4)');
    expect(cells(list)).toHaveLength(2 * 5);
  });
});
