/** Shared SVG helpers for the report plots. */
export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * Marker colours in series order (15 before they repeat); grey first because the first series is
 * usually the reference model.
 */
export const PALETTE = [
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
];

/** Rounds to 2 decimals for compact coordinates. */
export const r2 = (v: number) => Math.round(v * 100) / 100;
