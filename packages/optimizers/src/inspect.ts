import type { RobustOptimizer, StateTree } from '@robust-ft/core';
import { isTensor } from '@robust-ft/core/internal';
import type { Tensor } from '@tensorflow/tfjs-core';

/**
 * Typed read access to the diagnostics an optimizer keeps in its state (FTP's γ, SPD's ratio, ...).
 * The state is a plain tree; these helpers find the node a transformation of this package wrote (by its
 * marker key, so they also work when the transformation sits inside a chain) and read it to numbers
 * with `await data()` (synchronous reads return zeros on WebGPU), so every reader here is async.
 */
export type StateSource = RobustOptimizer | Readonly<StateTree>;

function rootOf(source: StateSource): Readonly<StateTree> {
  return 'transformation' in source && 'state' in source
    ? (source as RobustOptimizer).state
    : (source as Readonly<StateTree>);
}

function isTree(v: unknown): v is StateTree {
  return typeof v === 'object' && v !== null && !isTensor(v);
}

/** All nodes of the tree that carry `marker` as a key (depth-first, in key order). */
export function findNodes(source: StateSource, marker: string): StateTree[] {
  const out: StateTree[] = [];
  const visit = (node: Readonly<StateTree>) => {
    if (marker in node) out.push(node as StateTree);
    for (const v of Object.values(node)) if (isTree(v)) visit(v);
  };
  visit(rootOf(source));
  return out;
}

/** Reads a name → (0-d tensor | number) map to name → number; the tensor reads run concurrently. */
export async function scalars(node: unknown): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  if (!isTree(node)) return out;
  await Promise.all(
    Object.entries(node).map(async ([name, v]) => {
      if (typeof v === 'number') out[name] = v;
      else if (isTensor(v)) out[name] = (await (v as Tensor).data())[0]!;
    }),
  );
  return out;
}

/** Per-parameter Adam step counts (torch's `state['step']`), from any Adam core in the state. */
export async function adamStepCounts(source: StateSource): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const node of findNodes(source, 'nu')) if ('mu' in node) Object.assign(out, await scalars(node.count));
  return out;
}
