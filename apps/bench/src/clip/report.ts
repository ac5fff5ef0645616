/** The clip tier's report files: report.json, report.md, and the three SVG plots. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type PlotPoint, projectionSvg, scatterWithCurvesSvg } from './plots';
import type { ClipMethodResult, ClipReport } from './tier';

const pct = (v: number) => (100 * v).toFixed(1);
const num = (v: number | null, digits = 3) => (v === null ? '—' : v.toFixed(digits));

export function clipTableRows(r: ClipReport): string[][] {
  const header = ['method', 'ID', 'OOD avg', ...r.shifts, 'eff. rob.', 'ECE', 'unif', 'align', 'gap', 'R@1', 'R@5'];
  return [
    header,
    ...r.methods.map((m) => [
      m.method,
      pct(m.id),
      pct(m.oodAvg),
      ...r.shifts.map((s) => pct(m.ood[s] ?? Number.NaN)),
      (100 * m.effectiveRobustness).toFixed(1),
      num(m.ece),
      num(m.uniformity, 2),
      num(m.alignment, 2),
      num(m.modalityGap, 2),
      m.recallAt1 === null ? '—' : pct(m.recallAt1),
      m.recallAt5 === null ? '—' : pct(m.recallAt5),
    ]),
  ];
}

export function clipTextTable(r: ClipReport): string {
  const rows = clipTableRows(r);
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((row) => (row[c] ?? '').length))) ?? [];
  return rows.map((row) => row.map((v, c) => v.padStart(widths[c] ?? 0)).join('  ')).join('\n');
}

export function clipMarkdown(r: ClipReport): string {
  const rows = clipTableRows(r);
  const line = (row: string[]) => `| ${row.join(' | ')} |`;
  return [
    `# clip tier — seed ${r.seed}, backend ${r.backend}, ${r.totalSeconds.toFixed(0)} s on ${r.machine.cpus} × ${r.machine.cpuModel}`,
    '',
    'Accuracies in %; effective robustness in points over the logit-space line through zero-shot, LP and E2E-FT;',
    'embedding metrics on held-out image–caption pairs (— where there is no single embedding space).',
    '',
    line(rows[0] ?? []),
    line((rows[0] ?? []).map(() => '---')),
    ...rows.slice(1).map(line),
    '',
    `WiSE-FT curve (α, ID, OOD avg): ${r.wiseCurve.map((p) => `${p.alpha}: ${pct(p.id)}/${pct(p.oodAvg)}`).join(', ')}`,
    '',
    `OSE curve (α, ID, OOD avg): ${r.oseCurve.map((p) => `${p.alpha}: ${pct(p.id)}/${pct(p.oodAvg)}`).join(', ')}`,
    '',
    ...r.notes.map((n) => `- ${n}`),
    '',
  ].join('\n');
}

function point(m: ClipMethodResult): PlotPoint {
  return { x: m.id, y: m.oodAvg, label: m.method };
}

export function tradeoffSvg(r: ClipReport): string {
  return scatterWithCurvesSvg({
    title: `clip tier: ID vs OOD accuracy (seed ${r.seed})`,
    xLabel: 'ID accuracy (%), UCI digits test',
    yLabel: 'OOD accuracy (%), mean over shifts',
    scale: 100,
    points: r.methods.map(point),
    curves: [
      { label: 'WiSE-FT α (ZS ↔ E2E-FT)', points: r.wiseCurve.map((p) => ({ x: p.id, y: p.oodAvg, alpha: p.alpha })) },
      { label: 'OSE α (ZS + E2E-FT)', points: r.oseCurve.map((p) => ({ x: p.id, y: p.oodAvg, alpha: p.alpha })) },
    ].filter((c) => c.points.length > 1),
  });
}

export function uniformityAlignmentSvg(r: ClipReport): string {
  return scatterWithCurvesSvg({
    title: `clip tier: uniformity vs alignment (lower is better on both; seed ${r.seed})`,
    xLabel: 'uniformity lunif(concat[img, txt])',
    yLabel: 'alignment lalign(img, txt)',
    points: r.methods.flatMap((m) =>
      m.uniformity === null || m.alignment === null ? [] : [{ x: m.uniformity, y: m.alignment, label: m.method }],
    ),
  });
}

export function embeddingsSvg(r: ClipReport): string {
  const labels = Int32Array.from(r.embeddings.labels);
  return projectionSvg(
    r.embeddings.snapshots.map((s) => {
      const gap = r.methods.find((m) => m.method === s.method)?.modalityGap;
      return {
        title: `${s.method}${gap === null || gap === undefined ? '' : ` (gap ${gap.toFixed(2)})`}`,
        image: Float32Array.from(s.image),
        text: Float32Array.from(s.text),
        labels,
        dim: r.embeddings.dim,
      };
    }),
    'Image and caption embeddings before (zero-shot) and after fine-tuning',
  );
}

export function writeClipReport(r: ClipReport, dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'report.json'), `${JSON.stringify(r, null, 1)}\n`);
  writeFileSync(join(dir, 'report.md'), clipMarkdown(r));
  writeFileSync(join(dir, 'id-vs-ood.svg'), tradeoffSvg(r));
  writeFileSync(join(dir, 'uniformity-alignment.svg'), uniformityAlignmentSvg(r));
  writeFileSync(join(dir, 'embeddings.svg'), embeddingsSvg(r));
}
