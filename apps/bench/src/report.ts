import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { corruptionAccuracySvg, idOodScatterSvg } from '@robust-ft/eval';
import { type BenchReport, baselineFitOf } from './results';
import type { TierReport } from './tier';

// The plots come from @robust-ft/eval; the tables stay here because their columns (shifts, effective
// robustness, the WiSE-FT sweep, hyper-parameters) are this benchmark's own report shape. What differs
// between tiers (the data paragraph, extra metric columns, sections and files) comes from the tier's
// `TierReport` hooks.

const pct = (v: number) => (100 * v).toFixed(1);
const signed = (v: number) => `${v >= 0 ? '+' : ''}${(100 * v).toFixed(1)}`;

const SHIFT_LABELS: Record<string, string> = { mnist: 'MNIST', fonts: 'Fonts', corruptions: 'Corrupt.' };
const shiftLabel = (s: string) => SHIFT_LABELS[s] ?? s;

/**
 * The console/Markdown table: ID, OOD per shift, OOD average, effective robustness, ECE, the tier's
 * metric columns, wall time.
 */
export function tableRows(r: BenchReport, tier: TierReport): string[][] {
  const extra = tier.metricColumns ?? [];
  const header = [
    'Method',
    'ID',
    ...r.shifts.map(shiftLabel),
    'OOD avg',
    'Eff. rob.',
    'ECE',
    ...extra.map((c) => c.label),
    'Time (s)',
  ];
  const rows = r.methods.map((m) => [
    m.label,
    pct(m.id),
    ...r.shifts.map((s) => pct(m.ood[s] ?? Number.NaN)),
    pct(m.oodAvg),
    signed(m.effectiveRobustness),
    pct(m.ece),
    ...extra.map((c) => (c.format ?? pct)(m.metrics?.[c.key] ?? Number.NaN)),
    m.wallSeconds.toFixed(1),
  ]);
  return [header, ...rows];
}

export function textTable(r: BenchReport, tier: TierReport): string {
  const rows = tableRows(r, tier);
  const widths = (rows[0] ?? []).map((_, c) => Math.max(...rows.map((row) => (row[c] ?? '').length)));
  const line = (row: string[]) =>
    row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join('  ');
  const [head, ...body] = rows;
  return [line(head ?? []), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

export function markdown(r: BenchReport, tier: TierReport): string {
  const rows = tableRows(r, tier);
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
    `${tier.describe(r)} ` +
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
    ...(r.wiseCurve.length === 0
      ? []
      : [
          `## WiSE-FT curve (${wiseLabel(r)})`,
          '',
          md(['α', 'ID', 'OOD avg', ...r.shifts.map(shiftLabel)]),
          md(['---:', '---:', '---:', ...r.shifts.map(() => '---:')]),
          ...r.wiseCurve.map((p) =>
            md([
              p.alpha.toFixed(1),
              pct(p.id),
              pct(p.oodAvg),
              ...r.shifts.map((s) => pct(p.ood[s] ?? Number.NaN)),
            ]),
          ),
          '',
        ]),
    ...(tier.sections?.(r) ?? []),
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

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The WiSE-FT row's endpoints ("zero-shot → adamw"), from its recorded hyper-parameters. */
function wiseLabel(r: BenchReport): string {
  const h = r.methods.find((m) => m.method === 'wise-ft')?.hyperparameters;
  return h?.from !== undefined && h.to !== undefined ? `${h.from} → ${h.to}` : 'α sweep';
}

/** ID vs average OOD accuracy, one point per method, with the WiSE-FT α curve between its endpoints. */
export function scatterSvg(r: BenchReport, tier: TierReport): string {
  const baseline = baselineFitOf(r.methods, r.baseline.points);
  return idOodScatterSvg({
    title: `ID vs average OOD accuracy (${r.tier} tier, seed ${r.seed})`,
    points: r.methods.map((m) => ({ id: m.id, ood: m.oodAvg, label: m.label })),
    curve: r.wiseCurve.map((p) => ({ alpha: p.alpha, id: p.id, ood: p.oodAvg })),
    curveLabel: 'WiSE-FT α sweep',
    ...(baseline
      ? {
          baseline,
          baselineLabel: `baseline (${r.baseline.space} fit)`,
        }
      : {}),
    xLabel: `ID accuracy, ${tier.idLabel} test (%)`,
    yLabel: 'average OOD accuracy (%)',
  });
}

/** Heat map: methods × (corruption, severity), accuracy in each cell. */
export function corruptionSvg(r: BenchReport): string {
  // The report keys severities by their string; the plot wants them as ordered columns.
  const families = Object.keys(r.methods[0]?.corruptions ?? {});
  const severities = Object.keys(r.methods[0]?.corruptions[families[0] ?? ''] ?? {});
  return corruptionAccuracySvg({
    title: `Accuracy (%) on the corrupted ID test set, per corruption and severity (${severities.join(', ')})`,
    severities: severities.map(Number),
    families,
    rows: r.methods.map((m) => ({
      label: m.label,
      accuracy: Object.fromEntries(
        families.map((f) => [f, severities.map((s) => m.corruptions[f]?.[s] ?? Number.NaN)]),
      ),
    })),
  });
}

/**
 * The report page: the table, then the two plots `writeReport` writes beside it (referenced, not
 * inlined, so each plot is stored once).
 */
export function html(r: BenchReport, tier: TierReport): string {
  const rows = tableRows(r, tier);
  const [head, ...body] = rows;
  return `<!doctype html><html><head><meta charset="utf-8"><title>robust-ft benchmark (${r.tier})</title>
<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}td,th{padding:4px 8px;border-bottom:1px solid #ddd;text-align:right}td:first-child,th:first-child{text-align:left}</style></head><body>
<h1>robust-ft benchmark: ${r.tier} tier</h1>
<p>Seed ${r.seed}, backend ${esc(r.backend)}, ${r.machine.cpus} × ${esc(r.machine.cpuModel)}, total ${r.totalSeconds.toFixed(0)} s. Accuracies in %.</p>
<table><tr>${(head ?? []).map((h) => `<th>${esc(h)}</th>`).join('')}</tr>
${body.map((row) => `<tr>${row.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('\n')}</table>
<p><img src="id-vs-ood.svg" alt="ID vs average OOD accuracy"></p>
<p><img src="corruptions.svg" alt="Accuracy per corruption and severity"></p>
</body></html>
`;
}

/** Writes report.json, report.md, the two plots, index.html and the tier's own files into `dir`. */
export function writeReport(r: BenchReport, dir: string, tier: TierReport): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'report.json'), `${JSON.stringify(r, null, 2)}\n`);
  writeFileSync(join(dir, 'report.md'), markdown(r, tier));
  writeFileSync(join(dir, 'id-vs-ood.svg'), scatterSvg(r, tier));
  writeFileSync(join(dir, 'corruptions.svg'), corruptionSvg(r));
  writeFileSync(join(dir, 'index.html'), html(r, tier));
  for (const [file, text] of Object.entries(tier.files?.(r) ?? {})) writeFileSync(join(dir, file), text);
}
