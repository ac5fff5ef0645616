import * as tf from '@tensorflow/tfjs-core';
import type { LayoutOption } from '../../src/index';

/**
 * The replay's two layouts. The golden files are in the references' torch layout (Linear [out,in],
 * Conv1d [cout,cin,k], Conv2d [cout,cin,kh,kw]). `torch` replays them as they are, with
 * `layout: 'torch'`. `tfjs` moves every rank-2/3/4 tensor of a file's inputs to tfjs layout (rank 2:
 * [1,0] → Dense [in,out]; rank 3: [2,1,0] → Conv1D [k,cin,cout]; rank 4: [2,3,1,0] → Conv2D
 * [kh,kw,cin,cout]), runs the optimizers with their DEFAULT options (no `layout`: the name + rank rule
 * is what is exercised), and moves the outputs back before comparing.
 *
 * Names: a golden tensor is called `w2d`, `b1d`, …, which the default rule would read by rank alone. In
 * the tfjs layout the replay gives each the name tfjs-layers would (`w2d/kernel` for rank ≥ 2,
 * `b1d/bias` for rank ≤ 1) so the variables look like a real model's and the rule is exercised on
 * them as it is on a model (none of the goldens is a depthwise or embedding tensor; those readings are
 * checked by test/layout.test.ts and the fused kernel tests). Exclude lists are renamed the same way.
 */
export type GoldenLayout = 'torch' | 'tfjs';

const TO_TFJS: Record<number, number[]> = { 2: [1, 0], 3: [2, 1, 0], 4: [2, 3, 1, 0] };
const FROM_TFJS: Record<number, number[]> = { 2: [1, 0], 3: [2, 1, 0], 4: [3, 2, 0, 1] };

/** The layouts to replay: `$ROBUST_FT_GOLDEN_LAYOUT` = torch | tfjs, unset (or empty) = both. */
export function goldenLayouts(): GoldenLayout[] {
  const v = process.env.ROBUST_FT_GOLDEN_LAYOUT;
  if (v === undefined || v === '') return ['torch', 'tfjs'];
  if (v === 'torch' || v === 'tfjs') return [v];
  throw new Error(`ROBUST_FT_GOLDEN_LAYOUT must be torch or tfjs (or unset for both), got "${v}"`);
}

/** Moves a file's tensors into one layout and back, and names them there. */
export interface LayoutView {
  layout: GoldenLayout;
  /** The `layout` option to pass: 'torch' in torch layout, nothing (the default) in tfjs layout. */
  option: { layout?: LayoutOption };
  /** A golden name's local (variable) name. */
  local(name: string): string;
  /** The golden name of a local name. */
  golden(local: string): string;
  /** A golden tensor's values (torch layout, flat) as a local-layout tensor. */
  tensor(name: string, values: number[]): tf.Tensor;
  /** A local-layout tensor of golden name `name` back in torch layout, flat. */
  values(name: string, t: tf.Tensor): Promise<number[]>;
}

export function layoutView(layout: GoldenLayout, shapes: Record<string, number[]>): LayoutView {
  const rank = (name: string) => shapes[name]!.length;
  const toLocal: Record<string, string> = {};
  const toGolden: Record<string, string> = {};
  for (const n of Object.keys(shapes)) {
    const local = layout === 'torch' ? n : `${n}/${rank(n) >= 2 ? 'kernel' : 'bias'}`;
    toLocal[n] = local;
    toGolden[local] = n;
  }
  const moved = (name: string) => layout === 'tfjs' && TO_TFJS[rank(name)] !== undefined;
  return {
    layout,
    option: layout === 'torch' ? { layout: 'torch' } : {},
    local: (n) => {
      const l = toLocal[n];
      if (l === undefined) throw new Error(`no golden tensor named ${n}`);
      return l;
    },
    golden: (l) => toGolden[l] ?? l,
    tensor(name, values) {
      const t = tf.tensor(values, shapes[name]!, 'float32');
      if (!moved(name)) return t;
      const out = tf.transpose(t, TO_TFJS[rank(name)]);
      t.dispose();
      return out;
    },
    async values(name, t) {
      if (!moved(name)) return Array.from(await t.data());
      const back = tf.transpose(t, FROM_TFJS[rank(name)]);
      const out = Array.from(await back.data());
      back.dispose();
      return out;
    },
  };
}
