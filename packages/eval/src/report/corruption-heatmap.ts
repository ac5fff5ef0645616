import type { EvaluationReport } from '../evaluate';
import { escapeXml } from './svg';

/** One row of the heat map: a model's accuracy per corruption family and severity. */
export interface CorruptionPlotRow {
  label: string;
  /** family → accuracy in [0, 1] per severity, in the order of `CorruptionPlotData.severities`. */
  accuracy: Readonly<Record<string, readonly number[]>>;
  /** Accuracy on the uncorrupted set; when any row has one, a "clean" column leads the map. */
  clean?: number;
}

/** The input of `corruptionAccuracySvg`: one row of accuracies per model, per family and severity. */
export interface CorruptionPlotData {
  title?: string;
  /** Severity of each column within a family group (the labels above the cells). */
  severities: readonly number[];
  /** Family groups, in column order. Default: the families of the first row. */
  families?: readonly string[];
  rows: readonly CorruptionPlotRow[];
  /** Line under the map. Default: how to read the columns and the colour scale. */
  footnote?: string;
}

/** The heat-map data of evaluation reports: one row per model, its clean ID accuracy leading. */
export function corruptionPlotData(reports: readonly EvaluationReport[], title?: string): CorruptionPlotData {
  const withCorruptions = reports.filter((r) => r.corruptions !== null);
  return {
    ...(title === undefined ? {} : { title }),
    severities: withCorruptions[0]?.corruptions?.severities ?? [],
    rows: withCorruptions.map((r) => ({
      label: r.model,
      accuracy: r.corruptions?.accuracy ?? {},
      clean: r.id.accuracy,
    })),
  };
}

/** A viridis-like ramp from dark blue (0) to yellow (1): ordered in lightness, readable in grey-scale. */
function heat(v: number): string {
  const stops = [
    [68, 1, 84],
    [59, 82, 139],
    [33, 145, 140],
    [94, 201, 98],
    [253, 231, 37],
  ];
  const t = Math.min(Math.max(v, 0), 1) * (stops.length - 1);
  const i = Math.min(Math.floor(t), stops.length - 2);
  const f = t - i;
  const a = stops[i] ?? [0, 0, 0];
  const b = stops[i + 1] ?? [0, 0, 0];
  const c = a.map((x, k) => Math.round(x + ((b[k] ?? 0) - x) * f));
  return `rgb(${c.join(',')})`;
}

function toPlotData(
  input: CorruptionPlotData | EvaluationReport | readonly EvaluationReport[],
  title: string | undefined,
): CorruptionPlotData {
  if ('rows' in input) return input;
  return corruptionPlotData('model' in input ? [input] : input, title);
}

/**
 * Heat map of accuracy per corruption family and severity: one row per model, one column group per
 * family, the value (%) written in each cell. Accepts plain data, or evaluation reports (converted by
 * `corruptionPlotData`, `title` then naming the plot). A missing value is drawn as a grey "–" cell.
 */
export function corruptionAccuracySvg(
  input: CorruptionPlotData | EvaluationReport | readonly EvaluationReport[],
  title?: string,
): string {
  const data = toPlotData(input, title);
  const sevs = data.severities;
  const fams = data.families ?? Object.keys(data.rows[0]?.accuracy ?? {});
  const hasClean = data.rows.some((r) => r.clean !== undefined);
  // Cells widen when there are few severities so that each family's label fits above its group.
  const cell = Math.max(30, Math.ceil(110 / Math.max(sevs.length, 1)));
  const gap = 4;
  const rowH = 30;
  const labelChars = Math.max(0, ...data.rows.map((r) => r.label.length));
  const left = Math.max(170, 20 + 6.5 * labelChars);
  const top = 100;
  const groups = [
    ...(hasClean ? [{ name: 'clean', width: cell }] : []),
    ...fams.map((f) => ({ name: f, width: sevs.length * cell })),
  ];
  const groupX: number[] = [];
  let x = left;
  for (const g of groups) {
    groupX.push(x);
    x += g.width + gap;
  }
  const W = Math.max(x + 16, 760);
  const H = top + data.rows.length * rowH + 40;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="10" y="22" font-size="14" font-weight="bold">${escapeXml(
      data.title ?? `Accuracy (%) per corruption and severity (${sevs.join(', ')})`,
    )}</text>`,
  ];
  groups.forEach((g, gi) => {
    const gx = groupX[gi] ?? 0;
    out.push(
      `<text x="${gx + g.width / 2}" y="${top - 28}" text-anchor="middle">${escapeXml(g.name.replace(/_/g, ' '))}</text>`,
    );
    if (hasClean && gi === 0) return;
    sevs.forEach((s, si) => {
      out.push(`<text x="${gx + si * cell + cell / 2}" y="${top - 8}" text-anchor="middle" fill="#666">${s}</text>`);
    });
  });
  const drawCell = (cx: number, y: number, v: number | undefined) => {
    const known = v !== undefined && Number.isFinite(v);
    out.push(
      `<rect x="${cx}" y="${y}" width="${cell - 1}" height="${rowH - 1}" fill="${known ? heat(v) : '#ddd'}"/>`,
      `<text x="${cx + cell / 2 - 0.5}" y="${y + rowH / 2 + 4}" text-anchor="middle" fill="${known && v < 0.55 ? '#fff' : '#000'}">${known ? Math.round(100 * v) : '–'}</text>`,
    );
  };
  data.rows.forEach((r, ri) => {
    const y = top + ri * rowH;
    out.push(`<text x="${left - 8}" y="${y + rowH / 2 + 4}" text-anchor="end">${escapeXml(r.label)}</text>`);
    if (hasClean) drawCell(groupX[0] ?? left, y, r.clean);
    fams.forEach((f, fi) => {
      const gx = groupX[fi + (hasClean ? 1 : 0)] ?? 0;
      sevs.forEach((_, si) => {
        drawCell(gx + si * cell, y, r.accuracy[f]?.[si]);
      });
    });
  });
  out.push(
    `<text x="10" y="${H - 12}" fill="#666">${escapeXml(
      data.footnote ??
        'Columns: severity within each corruption family; colour from 0 % (dark) to 100 % (light).',
    )}</text>`,
    '</svg>',
  );
  return out.join('\n');
}
