import type { EvaluationReport } from '../evaluate';

const pct = (v: number) => `${(v * 100).toFixed(1)}`;

/** Evaluation reports as indented JSON (with a final newline). */
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
