import { idOodScatterSvg } from '@robust-ft/eval';
import type { CellResult, CellScores, GuideSummary } from './cells';
import { LOSS_LABELS, OPTIMIZER_LABELS, PROTOCOL_LABELS } from './grid';

const pct = (v: number) => (100 * v).toFixed(1);

/** Sample standard deviation over seeds of one score, in points; '' with one seed. */
function spread(c: CellResult, key: 'clean' | 'linf' | 'l2' | 'l1' | 'corruptions'): string {
  if (c.seeds.length < 2) return '';
  const m = c[key];
  const v = c.seeds.reduce((a, s) => a + (s[key] - m) ** 2, 0) / (c.seeds.length - 1);
  return ` ±${(100 * Math.sqrt(v)).toFixed(1)}`;
}

/** One Markdown table per backbone: rows loss × protocol × optimizer, the five measurements and wall time. */
export function guideTables(r: GuideSummary): string {
  const backbones = [...new Set(r.cells.map((c) => c.backbone))];
  const e = r.epsilons;
  return backbones
    .map((b) => {
      const rows = r.cells.filter((c) => c.backbone === b);
      const head =
        `| Loss | Protocol | Optimizer | Clean | L∞ ${(255 * e.linf).toFixed(0)}/255 | L2 ${e.l2.toFixed(3)} | L1 ${e.l1.toFixed(3)} | Corrupt. | ` +
        `L∞ ×${e.strongFactor} | L2 ×${e.strongFactor} | L1 ×${e.strongFactor} | Sum of 5 | Time/seed (s) |\n` +
        '|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|';
      const zs: CellScores | undefined = r.zeroShot[b];
      const zsRow = zs
        ? `| (pre-trained, no FT) | — | — | ${pct(zs.clean)} | ${pct(zs.linf)} | ${pct(zs.l2)} | ${pct(zs.l1)} | ${pct(zs.corruptions)} | ${pct(zs.linfStrong)} | ${pct(zs.l2Strong)} | ${pct(zs.l1Strong)} | ${pct(zs.clean + zs.linf + zs.l2 + zs.l1 + zs.corruptions)} | — |\n`
        : '';
      const body = rows.map(
        (c) =>
          `| ${LOSS_LABELS[c.loss]} | ${PROTOCOL_LABELS[c.protocol]} | ${OPTIMIZER_LABELS[c.optimizer]} | ` +
          `${pct(c.clean)}${spread(c, 'clean')} | ${pct(c.linf)}${spread(c, 'linf')} | ${pct(c.l2)}${spread(c, 'l2')} | ` +
          `${pct(c.l1)}${spread(c, 'l1')} | ${pct(c.corruptions)}${spread(c, 'corruptions')} | ${pct(c.linfStrong)} | ` +
          `${pct(c.l2Strong)} | ${pct(c.l1Strong)} | ${pct(c.clean + c.linf + c.l2 + c.l1 + c.corruptions)} | ${c.wallSeconds.toFixed(1)} |`,
      );
      return `### ${b}\n\n${head}\n${zsRow}${body.join('\n')}\n`;
    })
    .join('\n');
}

const NORMS = [
  ['linf', 'L∞'],
  ['l2', 'L2'],
  ['l1', 'L1'],
] as const;

/**
 * Clean vs robust accuracy, one plot per norm and budget (`clean-vs-<norm>.svg` at the scaled ε,
 * `clean-vs-<norm>-strong.svg` at the stronger one), one marker per cell (seed means), drawn with eval's scatter.
 */
export function guidePlots(r: GuideSummary): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [norm, label] of NORMS)
    for (const strong of [false, true]) {
      const key = strong ? (`${norm}Strong` as const) : norm;
      const eps = r.epsilons[norm] * (strong ? r.epsilons.strongFactor : 1);
      out[`clean-vs-${norm}${strong ? '-strong' : ''}.svg`] = idOodScatterSvg({
        title: `Clean vs ${label} robust accuracy (ε = ${eps.toFixed(3)}), every backbone`,
        points: [
          ...Object.entries(r.zeroShot).map(([b, zs]) => ({
            id: zs.clean,
            ood: zs[key],
            label: `${b} · pre-trained`,
          })),
          ...r.cells.map((c) => ({
            id: c.clean,
            ood: c[key],
            label: `${c.backbone} · ${LOSS_LABELS[c.loss]} · ${PROTOCOL_LABELS[c.protocol]} · ${OPTIMIZER_LABELS[c.optimizer]}`,
          })),
        ],
        xLabel: 'clean accuracy (%)',
        yLabel: `${label} robust accuracy (%)`,
      });
    }
  return out;
}
