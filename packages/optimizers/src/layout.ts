import { RobustFtError } from '@robust-ft/core';
import { invalidArgument } from '@robust-ft/core/internal';
import type { Tensor } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';

/**
 * How a parameter's axes map to the reference's (torch) layout: the ONE rule every per-row method (FTP's
 * row L1 norms, TPGM's "mars" norms, DiGraP's per-row orthogonalisation) reads. The references work on
 * torch tensors — Linear `[out, in]`, Conv1d `[cout, cin, k]`, Conv2d `[cout, cin, kh, kw]`, depthwise
 * Conv2d `[cin·mult, 1, kh, kw]` — where a "row" is an output unit (axis 0) and `dim=-1` is the last
 * axis. tfjs stores the same weights as Dense `[in, out]`, Conv1D `[k, cin, cout]`, Conv2D
 * `[kh, kw, cin, cout]`, DepthwiseConv2D `…/depthwise_kernel` `[kh, kw, cin, mult]`. Reading tfjs
 * tensors along axis 0 would give one L1 ball per kernel row or input unit instead of per output unit,
 * so each method computes, on a tfjs tensor, exactly the tfjs-layout image of what the reference
 * computes on the same weights in torch layout.
 */
export interface AxisMap {
  /**
   * The axes whose indices together name one output unit (a torch row). Per-row reductions keep these
   * and reduce all others. Empty: the whole tensor is one row (rank ≤ 1, as torch's `sum(dim=())`).
   */
  readonly rowAxes: readonly number[];
  /** The axis torch's `dim=-1` is on this tensor (DiGraP's fixed-strength orth); null for a scalar. */
  readonly lastAxis: number | null;
}

/** How a user reads a tensor whose layout the default rule does not know (or gets wrong). */
export type LayoutFunction = (name: string, shape: readonly number[]) => 'tfjs' | 'torch' | AxisMap;

/**
 * The `layout` option of `ftp`, `tpgm` and `digrap`: `'tfjs'` (default: the rule below, by variable name
 * and rank), `'torch'` (weights already in torch layout: rows along axis 0, as the goldens), or a
 * function of (name, shape) for anything else.
 */
export type LayoutOption = 'tfjs' | 'torch' | LayoutFunction;

export const DEFAULT_LAYOUT: LayoutOption = 'tfjs';

/** tfjs-layers names a DepthwiseConv2D (and SeparableConv2D) kernel `…/depthwise_kernel` (`_N` when uniquified). */
const DEPTHWISE = /depthwise_kernel(_\d+)?$/;
/** tfjs Embedding `[inputDim, outputDim]` is already torch's `[num_embeddings, dim]`: rows stay on axis 0. */
const EMBEDDINGS = /embeddings(_\d+)?$/;

function torchAxes(rank: number): AxisMap {
  if (rank <= 1) return { rowAxes: [], lastAxis: rank === 1 ? 0 : null };
  return { rowAxes: [0], lastAxis: rank - 1 };
}

/**
 * The default tfjs rule. Rows = output units: Dense `[in,out]` → axis 1, Conv1D `[k,cin,cout]` → axis 2,
 * Conv2D `[kh,kw,cin,cout]` → axis 3 (also Conv2DTranspose `[kh,kw,out,in]`, whose torch rows are its
 * input channels), DepthwiseConv2D `[kh,kw,cin,mult]` → axes 2, 3 (torch's cin·mult rows, in the same
 * order). torch's last axis is `in` of a Dense (tfjs axis 0), `k` of a Conv1D (axis 0) and `kw` of a
 * Conv2D or depthwise kernel (axis 1).
 */
function tfjsAxes(name: string, shape: readonly number[]): AxisMap {
  const rank = shape.length;
  if (rank <= 1) return torchAxes(rank);
  if (rank === 2) return EMBEDDINGS.test(name) ? torchAxes(2) : { rowAxes: [1], lastAxis: 0 };
  if (rank === 3) return { rowAxes: [2], lastAxis: 0 };
  if (rank === 4)
    return DEPTHWISE.test(name) ? { rowAxes: [2, 3], lastAxis: 1 } : { rowAxes: [3], lastAxis: 1 };
  throw new RobustFtError(
    'UNSUPPORTED',
    `no default tfjs layout for the rank-${rank} tensor "${name}" [${shape.join(', ')}]: say how to read it`,
    {
      argument: 'options.layout',
      expected: "'torch' or a function (name, shape) => 'tfjs' | 'torch' | { rowAxes, lastAxis }",
    },
  );
}

function checkAxisMap(name: string, rank: number, map: AxisMap): AxisMap {
  const argument = `options.layout("${name}")`;
  const expected = `{ rowAxes: distinct increasing axes in [0, ${rank}), lastAxis: an axis in [0, ${rank}) or null }`;
  const axes = map?.rowAxes;
  const ok =
    Array.isArray(axes) &&
    axes.every((a, i) => Number.isInteger(a) && a >= 0 && a < rank && (i === 0 || a > axes[i - 1]!)) &&
    (map.lastAxis === null || (Number.isInteger(map.lastAxis) && map.lastAxis >= 0 && map.lastAxis < rank)) &&
    (map.lastAxis !== null || rank === 0);
  if (!ok) throw invalidArgument(argument, expected, map);
  return { rowAxes: [...axes], lastAxis: map.lastAxis };
}

/** Validates a `layout` option (before anything runs). */
export function checkLayout(layout: unknown): LayoutOption {
  if (layout === undefined) return DEFAULT_LAYOUT;
  if (layout === 'tfjs' || layout === 'torch' || typeof layout === 'function') return layout as LayoutOption;
  throw invalidArgument('options.layout', "'tfjs', 'torch' or a function (name, shape) => layout", layout);
}

/** The axis map of parameter `name` of `shape` under `layout` (default `'tfjs'`). */
export function axisMap(layout: LayoutOption, name: string, shape: readonly number[]): AxisMap {
  const chosen = typeof layout === 'function' ? layout(name, shape) : layout;
  if (chosen === 'torch') return torchAxes(shape.length);
  if (chosen === 'tfjs') return tfjsAxes(name, shape);
  return checkAxisMap(name, shape.length, chosen);
}

/** The axes a per-row reduction sums over (all but the row axes). */
function reducedAxes(rank: number, map: AxisMap): number[] {
  return Array.from({ length: rank }, (_, i) => i).filter((a) => !map.rowAxes.includes(a));
}

/**
 * Per-row L1 norm: sums |x| over every axis but the row axes, keeping dims so it broadcasts against x.
 * With no row axes (rank ≤ 1) the whole tensor gives one 0-d norm, as the references do for a bias.
 */
export function rowL1(x: Tensor, map: AxisMap): Tensor {
  if (map.rowAxes.length === 0) return tf.sum(tf.abs(x));
  return tf.sum(tf.abs(x), reducedAxes(x.rank, map), true);
}

/** The shape `rowL1` returns for a tensor of `shape`. */
export function rowShape(shape: readonly number[], map: AxisMap): number[] {
  if (map.rowAxes.length === 0) return [];
  return shape.map((d, i) => (map.rowAxes.includes(i) ? d : 1));
}

/** Σ over torch's last axis (`dim=-1`, keepdim), the whole tensor for a scalar. */
export function lastAxisSum(x: Tensor, map: AxisMap): Tensor {
  return map.lastAxis === null ? tf.sum(x) : tf.sum(x, map.lastAxis, true);
}

/**
 * The row axes as one contiguous block [first, end) of axes ([0, 0) for the whole tensor), or null when
 * they are not contiguous (the fused kernels then leave the step to the composed ops).
 */
export function rowSpan(map: AxisMap): [number, number] | null {
  const axes = map.rowAxes;
  if (axes.length === 0) return [0, 0];
  const first = axes[0]!;
  const end = axes[axes.length - 1]! + 1;
  return end - first === axes.length ? [first, end] : null;
}

export interface RowGeometry {
  /** The tensor is [outer, rows, inner]: element e is in row ⌊e / inner⌋ mod rows. */
  outer: number;
  rows: number;
  inner: number;
  /** The shape of the per-row values (`rowShape`). */
  rowShape: number[];
}

/**
 * The geometry the fused kernels reduce by, from a row span: torch layout is outer = 1 (each row a
 * contiguous run of `inner`), every tfjs default is inner = 1 (row = e mod rows: a strided, column-wise
 * reduction over the leading axes). An empty span is the whole tensor as one row (a 0-d row shape); a
 * single row of any span is read as one contiguous run too.
 */
export function spanGeometry(shape: readonly number[], span: readonly [number, number]): RowGeometry {
  const [first, end] = span;
  const prod = (a: number, b: number) => shape.slice(a, b).reduce((x, y) => x * y, 1);
  if (first === end) return { outer: 1, rows: 1, inner: prod(0, shape.length), rowShape: [] };
  const rowShape = shape.map((d, i) => (i >= first && i < end ? d : 1));
  const rows = prod(first, end);
  // One row is the whole tensor, in any layout: one contiguous run.
  if (rows === 1) return { outer: 1, rows, inner: prod(0, shape.length), rowShape };
  return { outer: prod(0, first), rows, inner: prod(end, shape.length), rowShape };
}

/** The `layout` of a factory record (absent in records written before the option existed: the default). */
export function layoutFromJson(o: Record<string, unknown>): { layout?: LayoutOption } {
  const v = o.layout;
  if (v === undefined || v === null) return {};
  if (v === 'tfjs' || v === 'torch') return { layout: v };
  throw invalidArgument('options.layout', "'tfjs' or 'torch' in a saved config", v);
}
