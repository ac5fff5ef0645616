import type { AccuracyPoint, BaselineFit } from '../metrics/effective-robustness';
import { predictedOod } from '../metrics/effective-robustness';
import { escapeXml, PALETTE, r2 } from './svg';

/** The input of `idOodScatterSvg`. */
export interface IdOodPlotData {
  title?: string;
  /** One marker per model (fine-tuned, zero-shot, baselines...), accuracies in [0, 1]; labelled ones get a legend entry. */
  points: readonly AccuracyPoint[];
  /** WiSE-FT curve: (ID, OOD) per mixing coefficient α, drawn as a dashed line through small dots. */
  curve?: readonly (AccuracyPoint & { alpha: number })[];
  /** Legend entry of the curve. Default 'WiSE-FT α sweep'. */
  curveLabel?: string;
  /** Writes `α=…` beside each curve dot that has room for it. Default true. */
  alphaLabels?: boolean;
  /** Baseline fit (effective robustness is measured against it), drawn dashed grey across the plot. */
  baseline?: BaselineFit;
  /** Legend entry of the baseline. Default 'baseline fit'. */
  baselineLabel?: string;
  /** Axis titles. Default 'ID accuracy (%)' and 'OOD accuracy (%)'. */
  xLabel?: string;
  yLabel?: string;
}

const CURVE_COLOR = '#d62728';
const BASELINE_COLOR = '#888888';

/**
 * An axis range around [lo, hi] snapped to a round step of 1, 2, 5, 10 or 20 accuracy points, with that
 * step: round ticks read as percentages, and a fifth of a step of padding keeps markers off the frame.
 */
function niceRange(lo: number, hi: number): [number, number, number] {
  const span = Math.max(hi - lo, 0.01);
  const step = [0.01, 0.02, 0.05, 0.1, 0.2].find((s) => span / s <= 6) ?? 0.2;
  const a = Math.max(0, Math.floor((lo - 0.2 * step) / step) * step);
  const b = Math.min(1, Math.ceil((hi + 0.2 * step) / step) * step);
  return [a, b, step];
}

/**
 * ID-vs-OOD accuracy scatter (axes in %): one marker per point with a legend on the right, the WiSE-FT
 * α-curve and the baseline fit when given. Pure string building; returns a standalone SVG document.
 */
export function idOodScatterSvg(data: IdOodPlotData): string {
  const curve = data.curve ?? [];
  const labelled = data.points.filter((p) => p.label !== undefined);
  const legendRows = labelled.length + (curve.length > 1 ? 1 : 0) + (data.baseline ? 1 : 0);
  const curveLabel = data.curveLabel ?? 'WiSE-FT α sweep';
  const baselineLabel = data.baselineLabel ?? 'baseline fit';
  // The legend column is sized from its longest entry (about 7 px per character at 12 px sans-serif).
  const longest = Math.max(
    0,
    ...labelled.map((p) => (p.label ?? '').length),
    ...(curve.length > 1 ? [curveLabel.length] : []),
    ...(data.baseline ? [baselineLabel.length] : []),
  );
  const m = { l: 60, r: legendRows > 0 ? 40 + 7 * longest : 20, t: 40, b: 50 };
  const W = 450 + m.r;
  const H = Math.max(440, m.t + 14 + legendRows * 18 + m.b);
  const all = [...data.points, ...curve];
  const [x0, x1, xStep] = all.length ? niceRange(Math.min(...all.map((p) => p.id)), Math.max(...all.map((p) => p.id))) : [0, 1, 0.2];
  const [y0, y1, yStep] = all.length ? niceRange(Math.min(...all.map((p) => p.ood)), Math.max(...all.map((p) => p.ood))) : [0, 1, 0.2];
  const sx = (v: number) => r2(m.l + ((v - x0) / (x1 - x0)) * (W - m.l - m.r));
  const sy = (v: number) => r2(H - m.b - ((v - y0) / (y1 - y0)) * (H - m.t - m.b));
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${m.l}" y="22" font-size="14" font-weight="bold">${escapeXml(data.title ?? 'ID vs OOD accuracy')}</text>`,
  ];
  // Ticks are stepped by index so that accumulated floating-point error never drops the last one.
  for (let i = 0; x0 + i * xStep <= x1 + 1e-9; i++) {
    const v = x0 + i * xStep;
    out.push(
      `<line x1="${sx(v)}" y1="${m.t}" x2="${sx(v)}" y2="${H - m.b}" stroke="#eee"/>`,
      `<text x="${sx(v)}" y="${H - m.b + 16}" text-anchor="middle">${Math.round(100 * v)}</text>`,
    );
  }
  for (let i = 0; y0 + i * yStep <= y1 + 1e-9; i++) {
    const v = y0 + i * yStep;
    out.push(
      `<line x1="${m.l}" y1="${sy(v)}" x2="${W - m.r}" y2="${sy(v)}" stroke="#eee"/>`,
      `<text x="${m.l - 6}" y="${sy(v) + 4}" text-anchor="end">${Math.round(100 * v)}</text>`,
    );
  }
  out.push(
    `<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#999"/>`,
    `<text x="${(m.l + W - m.r) / 2}" y="${H - 12}" text-anchor="middle">${escapeXml(data.xLabel ?? 'ID accuracy (%)')}</text>`,
    `<text transform="translate(16 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(data.yLabel ?? 'OOD accuracy (%)')}</text>`,
  );
  if (data.baseline) {
    const fit = data.baseline;
    // Sampled, not a straight segment: the fit is linear in logit space, curved in accuracy. Where it
    // leaves the plotted range it is cut (one polyline per visible run), not pinned to the frame.
    const runs: string[][] = [[]];
    for (let i = 0; i <= 160; i++) {
      const v = x0 + ((x1 - x0) * i) / 160;
      const o = predictedOod(fit, v);
      if (o >= y0 && o <= y1) runs[runs.length - 1]?.push(`${sx(v)},${sy(o)}`);
      else if (runs[runs.length - 1]?.length) runs.push([]);
    }
    for (const run of runs)
      if (run.length > 1)
        out.push(`<polyline points="${run.join(' ')}" fill="none" stroke="${BASELINE_COLOR}" stroke-dasharray="6 4"/>`);
  }
  if (curve.length > 1) {
    const path = curve.map((p, i) => `${i === 0 ? 'M' : 'L'}${sx(p.id)},${sy(p.ood)}`).join(' ');
    out.push(`<path d="${path}" fill="none" stroke="${CURVE_COLOR}" stroke-dasharray="4 3" stroke-width="1.5"/>`);
  }
  // α labels sit above-left of their dot; one that would overlap a marker or an earlier label is left
  // out, since close α values (and the end points on their models) otherwise print on top of each other.
  const taken = data.points.map((p) => ({ x0: sx(p.id) - 6, x1: sx(p.id) + 6, y0: sy(p.ood) - 6, y1: sy(p.ood) + 6 }));
  for (const p of curve) {
    out.push(`<circle cx="${sx(p.id)}" cy="${sy(p.ood)}" r="2" fill="${CURVE_COLOR}"/>`);
    if (!(data.alphaLabels ?? true)) continue;
    const text = `α=${p.alpha}`;
    const box = { x0: sx(p.id) - 5 - 6 * text.length, x1: sx(p.id) - 5, y0: sy(p.ood) - 15, y1: sy(p.ood) - 5 };
    if (taken.some((b) => box.x0 < b.x1 && b.x0 < box.x1 && box.y0 < b.y1 && b.y0 < box.y1)) continue;
    taken.push(box);
    out.push(
      `<text x="${box.x1}" y="${box.y1 - 1}" text-anchor="end" font-size="10" fill="${CURVE_COLOR}">${text}</text>`,
    );
  }
  const legendX = W - m.r + 16;
  let row = 0;
  const legendY = () => m.t + 14 + row++ * 18;
  data.points.forEach((p, i) => {
    const c = PALETTE[i % PALETTE.length];
    out.push(`<circle cx="${sx(p.id)}" cy="${sy(p.ood)}" r="5" fill="${c}" stroke="#000" stroke-width="0.5"/>`);
    if (p.label === undefined) return;
    const y = legendY();
    out.push(
      `<circle cx="${legendX}" cy="${y - 4}" r="5" fill="${c}" stroke="#000" stroke-width="0.5"/>`,
      `<text x="${legendX + 10}" y="${y}">${escapeXml(p.label)}</text>`,
    );
  });
  if (curve.length > 1) {
    const y = legendY();
    out.push(
      `<line x1="${legendX - 8}" y1="${y - 4}" x2="${legendX + 8}" y2="${y - 4}" stroke="${CURVE_COLOR}" stroke-dasharray="4 3" stroke-width="1.5"/>`,
      `<text x="${legendX + 10}" y="${y}">${escapeXml(curveLabel)}</text>`,
    );
  }
  if (data.baseline) {
    const y = legendY();
    out.push(
      `<line x1="${legendX - 8}" y1="${y - 4}" x2="${legendX + 8}" y2="${y - 4}" stroke="${BASELINE_COLOR}" stroke-dasharray="6 4"/>`,
      `<text x="${legendX + 10}" y="${y}">${escapeXml(baselineLabel)}</text>`,
    );
  }
  out.push('</svg>');
  return out.join('\n');
}
