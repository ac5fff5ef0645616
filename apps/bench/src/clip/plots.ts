/**
 * The clip tier's plots as standalone SVG strings: a scatter with α curves (the VRF paper's ID–OOD
 * trade-off figure; also the uniformity–alignment plane) and 2-D projections of image and text
 * embeddings before and after fine-tuning, where the modality gap is visible.
 */
/** eval keeps its SVG helpers internal; these few lines are the plots' own. */
const escapeXml = (t: string) =>
  t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const r2 = (v: number) => Math.round(v * 100) / 100;
/** Tableau-10 plus greys: method markers cycle through it; digits use entries 1–10. */
const PALETTE =
  '#444444 #1f77b4 #ff7f0e #2ca02c #d62728 #9467bd #8c564b #e377c2 #7f7f7f #bcbd22 #17becf #aec7e8 #ffbb78 #98df8a #ff9896 #c5b0d5 #c49c94'.split(
    ' ',
  );

export interface PlotPoint {
  x: number;
  y: number;
  label: string;
}

export interface PlotCurve {
  label: string;
  points: readonly { x: number; y: number; alpha: number }[];
}

export interface ScatterData {
  title: string;
  xLabel: string;
  yLabel: string;
  points: readonly PlotPoint[];
  curves?: readonly PlotCurve[];
  /** Multiply values by this for the axis ticks (100 for accuracies shown in %). Default 1. */
  scale?: number;
}

function range(values: readonly number[]): [number, number] {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const pad = Math.max((hi - lo) * 0.08, 1e-3);
  return [lo - pad, hi + pad];
}

const CURVE_COLORS = ['#d62728', '#1f77b4', '#2ca02c'];

/** A labelled scatter with optional α curves (dashed, α written beside each dot) and a legend. */
export function scatterWithCurvesSvg(data: ScatterData): string {
  const curves = data.curves ?? [];
  const scale = data.scale ?? 1;
  const all = [...data.points, ...curves.flatMap((c) => c.points)];
  const [x0, x1] = range(all.map((p) => p.x));
  const [y0, y1] = range(all.map((p) => p.y));
  const legend = [...data.points.map((p) => p.label), ...curves.map((c) => c.label)];
  const longest = Math.max(10, ...legend.map((l) => l.length));
  const m = { l: 64, r: 40 + 7 * longest, t: 40, b: 50 };
  const W = 460 + m.r;
  const H = Math.max(440, m.t + 20 + legend.length * 18 + m.b);
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const X = (v: number) => r2(m.l + ((v - x0) / (x1 - x0)) * pw);
  const Y = (v: number) => r2(m.t + ph - ((v - y0) / (y1 - y0)) * ph);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${m.l}" y="22" font-size="14" font-weight="bold">${escapeXml(data.title)}</text>`,
    `<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const vx = x0 + ((x1 - x0) * i) / 5;
    const vy = y0 + ((y1 - y0) * i) / 5;
    out.push(
      `<text x="${X(vx)}" y="${m.t + ph + 16}" text-anchor="middle">${(vx * scale).toFixed(scale === 1 ? 2 : 1)}</text>`,
      `<text x="${m.l - 6}" y="${Y(vy) + 4}" text-anchor="end">${(vy * scale).toFixed(scale === 1 ? 2 : 1)}</text>`,
    );
  }
  out.push(
    `<text x="${m.l + pw / 2}" y="${H - 12}" text-anchor="middle">${escapeXml(data.xLabel)}</text>`,
    `<text transform="translate(16,${m.t + ph / 2}) rotate(-90)" text-anchor="middle">${escapeXml(data.yLabel)}</text>`,
  );
  let row = 0;
  const legendRow = (color: string, label: string, dashed: boolean) => {
    const ly = m.t + 10 + row * 18;
    const lx = m.l + pw + 16;
    out.push(
      dashed
        ? `<line x1="${lx}" y1="${ly}" x2="${lx + 16}" y2="${ly}" stroke="${color}" stroke-dasharray="4 3" stroke-width="2"/>`
        : `<circle cx="${lx + 8}" cy="${ly}" r="5" fill="${color}"/>`,
      `<text x="${lx + 22}" y="${ly + 4}">${escapeXml(label)}</text>`,
    );
    row++;
  };
  curves.forEach((c, i) => {
    const color = CURVE_COLORS[i % CURVE_COLORS.length] ?? '#d62728';
    const sorted = [...c.points].sort((a, b) => a.alpha - b.alpha);
    out.push(
      `<polyline fill="none" stroke="${color}" stroke-width="1.5" stroke-dasharray="5 3" points="${sorted.map((p) => `${X(p.x)},${Y(p.y)}`).join(' ')}"/>`,
    );
    for (const p of sorted) {
      out.push(
        `<circle cx="${X(p.x)}" cy="${Y(p.y)}" r="2.5" fill="${color}"/>`,
        `<text x="${X(p.x) + 4}" y="${Y(p.y) - 4}" font-size="9" fill="${color}">${p.alpha}</text>`,
      );
    }
    legendRow(color, c.label, true);
  });
  data.points.forEach((p, i) => {
    const color = PALETTE[i % PALETTE.length] ?? '#444';
    out.push(
      `<circle cx="${X(p.x)}" cy="${Y(p.y)}" r="5" fill="${color}" stroke="white"><title>${escapeXml(p.label)}</title></circle>`,
    );
    legendRow(color, p.label, false);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/**
 * Two orthonormal axes for rows `x` (N×d): the given `fixed` unit axes first, then the top principal
 * axes of the covariance orthogonal to them (power iteration with deflation).
 */
export function principalAxes(
  x: Float32Array,
  d: number,
  fixed: readonly Float64Array[] = [],
): { mean: Float64Array; axes: Float64Array[] } {
  const n = x.length / d;
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] = (mean[j] ?? 0) + (x[i * d + j] ?? 0) / n;
  const cov = new Float64Array(d * d);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < d; a++) {
      const va = (x[i * d + a] ?? 0) - (mean[a] ?? 0);
      for (let b = 0; b < d; b++)
        cov[a * d + b] = (cov[a * d + b] ?? 0) + (va * ((x[i * d + b] ?? 0) - (mean[b] ?? 0))) / n;
    }
  }
  const axes: Float64Array[] = [...fixed];
  while (axes.length < 2) {
    // A fixed start vector keeps the projection deterministic.
    let v = Float64Array.from({ length: d }, (_, j) => 1 / Math.sqrt(d) + j * 1e-3);
    for (let it = 0; it < 200; it++) {
      const w = new Float64Array(d);
      for (let a = 0; a < d; a++)
        for (let b = 0; b < d; b++) w[a] = (w[a] ?? 0) + (cov[a * d + b] ?? 0) * (v[b] ?? 0);
      for (const u of axes) {
        const dot = w.reduce((s, val, j) => s + val * (u[j] ?? 0), 0);
        for (let j = 0; j < d; j++) w[j] = (w[j] ?? 0) - dot * (u[j] ?? 0);
      }
      const norm = Math.sqrt(w.reduce((s, val) => s + val * val, 0)) || 1;
      v = w.map((val) => val / norm);
    }
    axes.push(v);
  }
  return { mean, axes };
}

export interface ProjectionPanel {
  title: string;
  image: Float32Array;
  text: Float32Array;
  labels: Int32Array;
  dim: number;
}

/**
 * Side-by-side projections (each panel its own axes: the gap direction and the top principal axis orthogonal to it):
 * images as dots, captions as crosses, coloured by digit; the two centroids are joined by a line, which
 * lies along x and whose length is the modality gap.
 */
export function projectionSvg(panels: readonly ProjectionPanel[], title: string): string {
  const size = 300;
  const gap = 30;
  const W = panels.length * (size + gap) + gap;
  const H = size + 110;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${gap}" y="22" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  panels.forEach((p, k) => {
    const n = p.labels.length;
    const both = new Float32Array(2 * n * p.dim);
    both.set(p.image);
    both.set(p.text, n * p.dim);
    // x: the direction from the caption centroid to the image centroid (the modality gap lies along
    // it); y: the top principal axis orthogonal to it.
    const gapDir = new Float64Array(p.dim);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < p.dim; j++)
        gapDir[j] = (gapDir[j] ?? 0) + ((p.image[i * p.dim + j] ?? 0) - (p.text[i * p.dim + j] ?? 0)) / n;
    const gapNorm = Math.hypot(...gapDir);
    const fixed = gapNorm > 1e-9 ? [gapDir.map((v) => v / gapNorm)] : [];
    const { mean, axes } = principalAxes(both, p.dim, fixed);
    const proj = (src: Float32Array, i: number) =>
      axes.map((ax) => {
        let s = 0;
        for (let j = 0; j < p.dim; j++) s += ((src[i * p.dim + j] ?? 0) - (mean[j] ?? 0)) * (ax[j] ?? 0);
        return s;
      }) as [number, number];
    const pi = Array.from({ length: n }, (_, i) => proj(p.image, i));
    const pt = Array.from({ length: n }, (_, i) => proj(p.text, i));
    const lim = Math.max(1e-6, ...[...pi, ...pt].flatMap(([a, b]) => [Math.abs(a), Math.abs(b)])) * 1.05;
    const ox = gap + k * (size + gap);
    const oy = 40;
    const X = (v: number) => r2(ox + ((v + lim) / (2 * lim)) * size);
    const Y = (v: number) => r2(oy + size - ((v + lim) / (2 * lim)) * size);
    out.push(
      `<rect x="${ox}" y="${oy}" width="${size}" height="${size}" fill="none" stroke="#999"/>`,
      `<text x="${ox + size / 2}" y="${oy + size + 18}" text-anchor="middle" font-weight="bold">${escapeXml(p.title)}</text>`,
    );
    const color = (i: number) => PALETTE[((p.labels[i] ?? 0) % 10) + 1] ?? '#444';
    pi.forEach(([a, b], i) => {
      out.push(`<circle cx="${X(a)}" cy="${Y(b)}" r="2" fill="${color(i)}" fill-opacity="0.6"/>`);
    });
    pt.forEach(([a, b], i) => {
      out.push(
        `<path d="M${X(a) - 3},${Y(b) - 3}L${X(a) + 3},${Y(b) + 3}M${X(a) - 3},${Y(b) + 3}L${X(a) + 3},${Y(b) - 3}" stroke="${color(i)}" stroke-width="1.2"/>`,
      );
    });
    const centroid = (pts: [number, number][]) =>
      pts.reduce((s, [a, b]) => [s[0] + a / n, s[1] + b / n], [0, 0]) as [number, number];
    const ci = centroid(pi);
    const ct = centroid(pt);
    out.push(
      `<line x1="${X(ci[0])}" y1="${Y(ci[1])}" x2="${X(ct[0])}" y2="${Y(ct[1])}" stroke="black" stroke-width="2"/>`,
      `<circle cx="${X(ci[0])}" cy="${Y(ci[1])}" r="5" fill="none" stroke="black" stroke-width="2"/>`,
      `<rect x="${X(ct[0]) - 4}" y="${Y(ct[1]) - 4}" width="8" height="8" fill="none" stroke="black" stroke-width="2"/>`,
    );
  });
  out.push(
    `<text x="${gap}" y="${H - 30}">dots: image embeddings · crosses: caption embeddings · colour: digit · black ○—□: image and caption centroids</text>`,
    `<text x="${gap}" y="${H - 12}">each panel: x = caption→image centroid direction, y = top principal axis orthogonal to it (held-out ID test images and captions)</text>`,
    '</svg>',
  );
  return `${out.join('\n')}\n`;
}
