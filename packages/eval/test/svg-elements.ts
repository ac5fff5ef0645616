/** One SVG element of a rendered plot: its attributes and, for `<text>`, its content. */
export interface SvgElement {
  attrs: Record<string, string>;
  text: string;
}

/** The `<tag …>` elements of `svg`, in document order (a flat reader for the report plots' output). */
export function svgElements(svg: string, tag: string): SvgElement[] {
  const out: SvgElement[] = [];
  for (const m of svg.matchAll(new RegExp(`<${tag}\\s([^>]*?)/?>(?:([^<]*)</${tag}>)?`, 'g'))) {
    const attrs: Record<string, string> = {};
    for (const a of (m[1] ?? '').matchAll(/([\w:-]+)="([^"]*)"/g)) attrs[a[1] as string] = a[2] as string;
    out.push({ attrs, text: m[2] ?? '' });
  }
  return out;
}

/** Numeric attributes of an element, e.g. `num(e, 'x', 'y')`. */
export const num = (e: SvgElement | undefined, ...names: string[]): number[] =>
  names.map((n) => Number(e?.attrs[n]));

/** True when `svg` has one element per line (the plots are written to be diffable). */
export const oneElementPerLine = (svg: string): boolean =>
  svg.includes('\n') && svg.split('\n').every((line) => /^<[^<]+(?:<\/\w+>)?$/.test(line));
