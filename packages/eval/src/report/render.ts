import type { EvaluationReport } from '../evaluate';
import type { AccuracyPoint, BaselineFit } from '../metrics/effective-robustness';
import { predictedOod } from '../metrics/effective-robustness';
import { escapeXml, PALETTE, r2 } from './svg';

const pct = (v: number) => `${(v * 100).toFixed(1)}`;

export function reportToJson(reports: EvaluationReport | readonly EvaluationReport[]): string {
  return `${JSON.stringify(reports, null, 2)}\n`;
}

/** One table row per model (ID, top-k, ECE, mCA, relative robustness, each attack and OOD set), in %. */
export function reportToMarkdown(reports: readonly EvaluationReport[]): string {
  const attackNames = [...new Set(reports.flatMap((r) => Object.keys(r.attacks)))];
  const oodNames = [...new Set(reports.flatMap((r) => Object.keys(r.ood)))];
  const header = ['model', 'ID acc', 'top-k', 'ECE', 'mCA', 'rel. rob.', ...attackNames.map((a) => `adv: ${a}`), ...oodNames.map((o) => `OOD: ${o}`)];
  const rows = reports.map((r) => [
    r.model,
    pct(r.id.accuracy),
    r.id.topK ? `${pct(r.id.topK.accuracy)} (k=${r.id.topK.k})` : '–',
    pct(r.id.ece),
    r.corruptions ? pct(r.corruptions.meanCorruptionAccuracy) : '–',
    r.corruptions ? r.corruptions.relativeRobustness.toFixed(3) : '–',
    ...attackNames.map((a) => (a in r.attacks ? pct(r.attacks[a] as number) : '–')),
    ...oodNames.map((o) => (o in r.ood ? pct(r.ood[o] as number) : '–')),
  ]);
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  const out = [line(header), line(header.map(() => '---')), ...rows.map(line)];
  for (const r of reports) {
    if (!r.corruptions) continue;
    out.push('', `**${r.model}: accuracy (%) per corruption and severity**`, '');
    const sev = r.corruptions.severities.map((s) => `s${s}`);
    out.push(line(['family', ...sev]), line(['---', ...sev.map(() => '---')]));
    for (const [family, accs] of Object.entries(r.corruptions.accuracy)) out.push(line([family, ...accs.map(pct)]));
  }
  return `${out.join('\n')}\n`;
}

interface Axes {
  width: number;
  height: number;
  left: number;
  top: number;
  plotW: number;
  plotH: number;
}

function axesFrame(a: Axes, title: string, xLabel: string, yLabel: string, xTicks: number[], yTicks: number[], xs: (v: number) => number, ys: (v: number) => number): string[] {
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${a.width}" height="${a.height}" viewBox="0 0 ${a.width} ${a.height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${a.width}" height="${a.height}" fill="#ffffff"/>`,
    `<text x="${a.width / 2}" y="18" text-anchor="middle" font-size="14">${escapeXml(title)}</text>`,
    `<rect x="${a.left}" y="${a.top}" width="${a.plotW}" height="${a.plotH}" fill="none" stroke="#333"/>`,
    `<text x="${a.left + a.plotW / 2}" y="${a.height - 8}" text-anchor="middle">${escapeXml(xLabel)}</text>`,
    `<text transform="translate(14 ${a.top + a.plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(yLabel)}</text>`,
  ];
  for (const t of xTicks) {
    out.push(`<line x1="${r2(xs(t))}" y1="${a.top + a.plotH}" x2="${r2(xs(t))}" y2="${a.top}" stroke="#eee"/>`);
    out.push(`<text x="${r2(xs(t))}" y="${a.top + a.plotH + 16}" text-anchor="middle">${r2(t)}</text>`);
  }
  for (const t of yTicks) {
    out.push(`<line x1="${a.left}" y1="${r2(ys(t))}" x2="${a.left + a.plotW}" y2="${r2(ys(t))}" stroke="#eee"/>`);
    out.push(`<text x="${a.left - 6}" y="${r2(ys(t)) + 4}" text-anchor="end">${r2(t)}</text>`);
  }
  return out;
}

const ticks = (lo: number, hi: number, n = 5) => Array.from({ length: n + 1 }, (_, i) => lo + ((hi - lo) * i) / n);

export interface IdOodPlotData {
  title?: string;
  /** Single models (fine-tuned, zero-shot, baselines...). Accuracies in [0, 1]. */
  points: readonly AccuracyPoint[];
  /** WiSE-FT curve: (ID, OOD) per α, drawn as a line with α labels. */
  curve?: readonly (AccuracyPoint & { alpha: number })[];
  /** Baseline fit, drawn dashed (in its own space, mapped back to accuracy). */
  baseline?: BaselineFit;
  xLabel?: string;
  yLabel?: string;
}

/** ID-vs-OOD accuracy scatter with an optional WiSE-FT α-curve and the baseline fit (accuracy in %). */
export function idOodScatterSvg(data: IdOodPlotData): string {
  const all = [...data.points, ...(data.curve ?? [])];
  const lo = (k: 'id' | 'ood') => Math.max(0, Math.floor(Math.min(...all.map((p) => p[k])) * 10) / 10 - 0.05);
  const hi = (k: 'id' | 'ood') => Math.min(1, Math.ceil(Math.max(...all.map((p) => p[k])) * 10) / 10 + 0.05);
  const [x0, x1, y0, y1] = all.length ? [lo('id'), hi('id'), lo('ood'), hi('ood')] : [0, 1, 0, 1];
  const a: Axes = { width: 560, height: 420, left: 60, top: 32, plotW: 470, plotH: 340 };
  const xs = (v: number) => a.left + ((v - x0) / (x1 - x0 || 1)) * a.plotW;
  const ys = (v: number) => a.top + a.plotH - ((v - y0) / (y1 - y0 || 1)) * a.plotH;
  const out = axesFrame(a, data.title ?? 'ID vs OOD accuracy', data.xLabel ?? 'ID accuracy', data.yLabel ?? 'OOD accuracy', ticks(x0, x1), ticks(y0, y1), xs, ys);
  if (data.baseline) {
    const pts = ticks(x0, x1, 40).map((v) => `${r2(xs(v))},${r2(ys(Math.min(y1, Math.max(y0, predictedOod(data.baseline as BaselineFit, v)))))}`);
    out.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="#888" stroke-dasharray="5 4"/>`);
  }
  if (data.curve && data.curve.length > 0) {
    const c = data.curve;
    out.push(`<polyline points="${c.map((p) => `${r2(xs(p.id))},${r2(ys(p.ood))}`).join(' ')}" fill="none" stroke="${PALETTE[1]}" stroke-width="2"/>`);
    for (const p of c) {
      out.push(`<circle cx="${r2(xs(p.id))}" cy="${r2(ys(p.ood))}" r="3" fill="${PALETTE[1]}"/>`);
      out.push(`<text x="${r2(xs(p.id)) + 5}" y="${r2(ys(p.ood)) - 5}" font-size="10" fill="${PALETTE[1]}">α=${p.alpha}</text>`);
    }
  }
  data.points.forEach((p, i) => {
    const color = PALETTE[(i + 2) % PALETTE.length];
    out.push(`<rect x="${r2(xs(p.id)) - 4}" y="${r2(ys(p.ood)) - 4}" width="8" height="8" fill="${color}"/>`);
    if (p.label) out.push(`<text x="${r2(xs(p.id)) + 7}" y="${r2(ys(p.ood)) + 14}" font-size="11">${escapeXml(p.label)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

/** Accuracy per corruption family (x) with one line per severity, for one report. */
export function corruptionAccuracySvg(report: EvaluationReport, title?: string): string {
  const c = report.corruptions;
  const families = c ? Object.keys(c.accuracy) : [];
  const a: Axes = { width: Math.max(560, 80 + families.length * 52), height: 440, left: 60, top: 32, plotW: 0, plotH: 300 };
  a.plotW = a.width - a.left - 20;
  const xs = (i: number) => a.left + ((i + 0.5) / Math.max(1, families.length)) * a.plotW;
  const ys = (v: number) => a.top + a.plotH - v * a.plotH;
  const out = axesFrame(a, title ?? `${report.model}: accuracy under corruption`, '', 'accuracy', [], ticks(0, 1), xs, ys);
  families.forEach((f, i) => {
    out.push(`<text transform="translate(${r2(xs(i))} ${a.top + a.plotH + 10}) rotate(40)" font-size="11">${escapeXml(f)}</text>`);
  });
  out.push(`<line x1="${a.left}" y1="${r2(ys(report.id.accuracy))}" x2="${a.left + a.plotW}" y2="${r2(ys(report.id.accuracy))}" stroke="#000" stroke-dasharray="4 3"/>`);
  out.push(`<text x="${a.left + a.plotW - 4}" y="${r2(ys(report.id.accuracy)) - 4}" text-anchor="end" font-size="11">clean</text>`);
  (c?.severities ?? []).forEach((s, j) => {
    const color = PALETTE[j % PALETTE.length];
    const pts = families.map((f, i) => `${r2(xs(i))},${r2(ys((c?.accuracy[f] ?? [])[j] ?? 0))}`);
    out.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${color}" stroke-width="1.5"/>`);
    for (const pt of pts) {
      const [px, py] = pt.split(',');
      out.push(`<circle cx="${px}" cy="${py}" r="2.5" fill="${color}"/>`);
    }
    out.push(`<rect x="${a.left + 8 + j * 48}" y="${a.top + 6}" width="10" height="10" fill="${color}"/><text x="${a.left + 22 + j * 48}" y="${a.top + 15}" font-size="11">s${s}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}
