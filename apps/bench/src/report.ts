import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchReport, MethodResult } from './bench';

// TODO(@robust-ft/eval): switch to its JSON/Markdown/SVG report renderers once they are exported; these
// local ones exist because eval did not ship them when the bench was written.

const pct = (v: number) => (100 * v).toFixed(1);
const signed = (v: number) => `${v >= 0 ? '+' : ''}${(100 * v).toFixed(1)}`;

const SHIFT_LABELS: Record<string, string> = { mnist: 'MNIST', fonts: 'Fonts', corruptions: 'Corrupt.' };
const shiftLabel = (s: string) => SHIFT_LABELS[s] ?? s;

/** The console/Markdown table: ID, OOD per shift, OOD average, effective robustness, ECE, wall time. */
export function tableRows(r: BenchReport): string[][] {
  const header = ['Method', 'ID', ...r.shifts.map(shiftLabel), 'OOD avg', 'Eff. rob.', 'ECE', 'Time (s)'];
  const rows = r.methods.map((m) => [
    m.label,
    pct(m.id),
    ...r.shifts.map((s) => pct(m.ood[s] ?? Number.NaN)),
    pct(m.oodAvg),
    signed(m.effectiveRobustness),
    pct(m.ece),
    m.wallSeconds.toFixed(1),
  ]);
  return [header, ...rows];
}

export function textTable(r: BenchReport): string {
  const rows = tableRows(r);
  const widths = (rows[0] ?? []).map((_, c) => Math.max(...rows.map((row) => (row[c] ?? '').length)));
  const line = (row: string[]) =>
    row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join('  ');
  const [head, ...body] = rows;
  return [line(head ?? []), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

export function markdown(r: BenchReport): string {
  const rows = tableRows(r);
  const [head, ...body] = rows;
  const md = (row: string[]) => `| ${row.join(' | ')} |`;
  const best = [...r.methods].filter((m) => m.method !== 'zero-shot').sort((a, b) => b.oodAvg - a.oodAvg)[0];
  const adamw = r.methods.find((m) => m.method === 'adamw');
  const corrRows = r.methods.map((m) => {
    const fams = Object.keys(m.corruptions);
    return md([
      m.label,
      ...fams.map((f) =>
        Object.values(m.corruptions[f] ?? {})
          .map(pct)
          .join(' / '),
      ),
    ]);
  });
  const fams = Object.keys(r.methods[0]?.corruptions ?? {});
  const sevs = Object.keys(r.methods[0]?.corruptions[fams[0] ?? ''] ?? {});
  return [
    `# robust-ft benchmark: ${r.tier} tier`,
    '',
    `Seed ${r.seed}, backend ${r.backend}, ${r.machine.cpus} × ${r.machine.cpuModel}, Node ${r.machine.node}. Total ${r.totalSeconds.toFixed(0)} s.`,
    '',
    (r.tier === 'digits'
      ? `ID: UCI handwritten digits (fine-tune ${r.data.idTrain}, validation ${r.data.idVal}, test ${r.data.idTest}). ` +
        `OOD: MNIST test (first ${r.data.mnistTest}; the pre-training domain), ${r.data.fontDigits} printed font digits, and ` +
        `the ID test set under ${r.data.corruptions}. `
      : `Model: ${r.data.model}. ID: Fashion-MNIST (fine-tune ${r.data.idTrain}, validation ${r.data.idVal}, test ${r.data.idTest}). ` +
        `OOD: the ID test set under ${r.data.corruptions}. ${r.notes.join(' ')} `) +
      `Accuracies in %; OOD avg = mean of the ${r.shifts.length} shift column(s); ` +
      `effective robustness = OOD avg minus the logit-space line through ${r.baseline.points.join(', ') || '(not enough baseline points)'}; ECE on the ID test set (15 bins).`,
    '',
    md(head ?? []),
    md((head ?? []).map((_, i) => (i === 0 ? '---' : '---:'))),
    ...body.map(md),
    '',
    best && adamw
      ? `Best OOD average: **${best.label}** (${pct(best.oodAvg)} vs AdamW ${pct(adamw.oodAvg)}, ID ${pct(best.id)} vs ${pct(adamw.id)}).`
      : '',
    '',
    '![ID vs OOD](id-vs-ood.svg)',
    '',
    '![Accuracy per corruption and severity](corruptions.svg)',
    '',
    `## Accuracy per corruption (severities ${sevs.join(' / ')})`,
    '',
    md(['Method', ...fams]),
    md(['---', ...fams.map(() => '---:')]),
    ...corrRows,
    '',
    '## WiSE-FT curve (AdamW run)',
    '',
    md(['α', 'ID', 'OOD avg', ...r.shifts.map(shiftLabel)]),
    md(['---:', '---:', '---:', ...r.shifts.map(() => '---:')]),
    ...r.wiseCurve.map((p) =>
      md([p.alpha.toFixed(1), pct(p.id), pct(p.oodAvg), ...r.shifts.map((s) => pct(p.ood[s] ?? Number.NaN))]),
    ),
    '',
    '## Hyper-parameters',
    '',
    ...r.methods.map(
      (m) =>
        `- **${m.label}**: ${Object.entries(m.hyperparameters)
          .map(([k, v]) => `${k}=${v}`)
          .join(', ')}`,
    ),
    '',
  ].join('\n');
}

const PALETTE = [
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
];
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** ID vs average OOD accuracy, one point per method, with the WiSE-FT α curve through the AdamW run. */
export function scatterSvg(r: BenchReport): string {
  const W = 640;
  const H = 440;
  const m = { l: 60, r: 190, t: 40, b: 50 };
  const pts = [...r.methods.map((x) => ({ id: x.id, ood: x.oodAvg })), ...r.wiseCurve];
  const ids = pts.map((p) => p.id);
  const oods = pts.map((p) => ('oodAvg' in p ? p.oodAvg : p.ood));
  const [x0, x1, xStep] = niceRange(Math.min(...ids), Math.max(...ids));
  const [y0, y1, yStep] = niceRange(Math.min(...oods), Math.max(...oods));
  const sx = (v: number) => m.l + ((v - x0) / (x1 - x0)) * (W - m.l - m.r);
  const sy = (v: number) => H - m.b - ((v - y0) / (y1 - y0)) * (H - m.t - m.b);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${m.l}" y="22" font-size="14" font-weight="bold">ID vs average OOD accuracy (${r.tier} tier, seed ${r.seed})</text>`,
  ];
  for (let xv = x0; xv <= x1 + 1e-9; xv += xStep) {
    out.push(
      `<line x1="${sx(xv)}" y1="${m.t}" x2="${sx(xv)}" y2="${H - m.b}" stroke="#eee"/>`,
      `<text x="${sx(xv)}" y="${H - m.b + 16}" text-anchor="middle">${Math.round(100 * xv)}</text>`,
    );
  }
  for (let yv = y0; yv <= y1 + 1e-9; yv += yStep) {
    out.push(
      `<line x1="${m.l}" y1="${sy(yv)}" x2="${W - m.r}" y2="${sy(yv)}" stroke="#eee"/>`,
      `<text x="${m.l - 6}" y="${sy(yv) + 4}" text-anchor="end">${Math.round(100 * yv)}</text>`,
    );
  }
  out.push(
    `<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#999"/>`,
    `<text x="${(m.l + W - m.r) / 2}" y="${H - 12}" text-anchor="middle">ID accuracy, ${r.tier === 'digits' ? 'UCI digits' : 'Fashion-MNIST'} test (%)</text>`,
    `<text transform="translate(16 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">average OOD accuracy (%)</text>`,
  );
  if (r.wiseCurve.length > 1) {
    const path = r.wiseCurve
      .map((p, i) => `${i === 0 ? 'M' : 'L'}${sx(p.id).toFixed(1)},${sy(p.oodAvg).toFixed(1)}`)
      .join(' ');
    out.push(`<path d="${path}" fill="none" stroke="#d62728" stroke-dasharray="4 3" stroke-width="1.5"/>`);
    for (const p of r.wiseCurve)
      out.push(`<circle cx="${sx(p.id)}" cy="${sy(p.oodAvg)}" r="2" fill="#d62728"/>`);
  }
  r.methods.forEach((meth, i) => {
    const c = PALETTE[i % PALETTE.length];
    const x = sx(meth.id);
    const y = sy(meth.oodAvg);
    out.push(`<circle cx="${x}" cy="${y}" r="5" fill="${c}" stroke="#000" stroke-width="0.5"/>`);
    const ly = m.t + 14 + i * 18;
    out.push(
      `<circle cx="${W - m.r + 16}" cy="${ly - 4}" r="5" fill="${c}" stroke="#000" stroke-width="0.5"/>`,
      `<text x="${W - m.r + 26}" y="${ly}">${esc(meth.label)}</text>`,
    );
  });
  const ly = m.t + 14 + r.methods.length * 18;
  out.push(
    `<line x1="${W - m.r + 8}" y1="${ly - 4}" x2="${W - m.r + 24}" y2="${ly - 4}" stroke="#d62728" stroke-dasharray="4 3" stroke-width="1.5"/>`,
    `<text x="${W - m.r + 26}" y="${ly}">WiSE-FT α sweep</text>`,
    '</svg>',
  );
  return out.join('\n');
}

/** An axis range padded and snapped to a round step (1, 2, 5 or 10 points), with that step. */
function niceRange(lo: number, hi: number): [number, number, number] {
  const span = Math.max(hi - lo, 0.01);
  const step = [0.01, 0.02, 0.05, 0.1, 0.2].find((s) => span / s <= 6) ?? 0.2;
  const a = Math.max(0, Math.floor((lo - 0.2 * step) / step) * step);
  const b = Math.min(1, Math.ceil((hi + 0.2 * step) / step) * step);
  return [a, b, step];
}

/** Heat map: methods × (corruption, severity), accuracy in each cell. */
export function corruptionSvg(r: BenchReport): string {
  const fams = Object.keys(r.methods[0]?.corruptions ?? {});
  const sevs = Object.keys(r.methods[0]?.corruptions[fams[0] ?? ''] ?? {});
  // Cells widen when there are few severities so that each family's label fits above its group.
  const cell = Math.max(30, Math.ceil(110 / Math.max(sevs.length, 1)));
  const rowH = 30;
  const left = 170;
  const top = 100;
  const cols = fams.length * sevs.length;
  const W = Math.max(left + cols * cell + fams.length * 4 + 20, 760);
  const H = top + r.methods.length * rowH + 40;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="10" y="22" font-size="14" font-weight="bold">Accuracy (%) on the corrupted ID test set, per corruption and severity (${sevs.join(', ')})</text>`,
  ];
  fams.forEach((f, fi) => {
    const x = left + fi * (sevs.length * cell + 4);
    out.push(
      `<text x="${x + (sevs.length * cell) / 2}" y="${top - 28}" text-anchor="middle">${esc(f.replace(/_/g, ' '))}</text>`,
    );
    sevs.forEach((s, si) => {
      out.push(
        `<text x="${x + si * cell + cell / 2}" y="${top - 8}" text-anchor="middle" fill="#666">${s}</text>`,
      );
    });
  });
  r.methods.forEach((m: MethodResult, mi) => {
    const y = top + mi * rowH;
    out.push(`<text x="${left - 8}" y="${y + rowH / 2 + 4}" text-anchor="end">${esc(m.label)}</text>`);
    fams.forEach((f, fi) => {
      sevs.forEach((s, si) => {
        const v = m.corruptions[f]?.[s] ?? 0;
        const x = left + fi * (sevs.length * cell + 4) + si * cell;
        out.push(
          `<rect x="${x}" y="${y}" width="${cell - 1}" height="${rowH - 1}" fill="${heat(v)}"/>`,
          `<text x="${x + cell / 2 - 0.5}" y="${y + rowH / 2 + 4}" text-anchor="middle" fill="${v < 0.55 ? '#fff' : '#000'}">${Math.round(100 * v)}</text>`,
        );
      });
    });
  });
  out.push(
    `<text x="10" y="${H - 12}" fill="#666">Columns: severity within each corruption family; colour from 0 % (dark) to 100 % (light).</text>`,
    '</svg>',
  );
  return out.join('\n');
}

/** A viridis-like ramp from dark blue (0) to yellow (1). */
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

export function html(r: BenchReport): string {
  const rows = tableRows(r);
  const [head, ...body] = rows;
  return `<!doctype html><html><head><meta charset="utf-8"><title>robust-ft benchmark (${r.tier})</title>
<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}td,th{padding:4px 8px;border-bottom:1px solid #ddd;text-align:right}td:first-child,th:first-child{text-align:left}</style></head><body>
<h1>robust-ft benchmark: ${r.tier} tier</h1>
<p>Seed ${r.seed}, backend ${esc(r.backend)}, ${r.machine.cpus} × ${esc(r.machine.cpuModel)}, total ${r.totalSeconds.toFixed(0)} s. Accuracies in %.</p>
<table><tr>${(head ?? []).map((h) => `<th>${esc(h)}</th>`).join('')}</tr>
${body.map((row) => `<tr>${row.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('\n')}</table>
${scatterSvg(r)}
${corruptionSvg(r)}
</body></html>
`;
}

export function writeReport(r: BenchReport, dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'report.json'), `${JSON.stringify(r, null, 2)}\n`);
  writeFileSync(join(dir, 'report.md'), markdown(r));
  writeFileSync(join(dir, 'id-vs-ood.svg'), scatterSvg(r));
  writeFileSync(join(dir, 'corruptions.svg'), corruptionSvg(r));
  writeFileSync(join(dir, 'index.html'), html(r));
}
