import * as tf from '@tensorflow/tfjs-core';
import { RobustFtError } from '../errors';
import type { Rng } from '../rng';

/**
 * The reliability suites' bookkeeping (Node files and IndexedDB alike): every damaged load must be a
 * typed `RobustFtError` — naming what it should, with nothing changed — or a load equal to the
 * reference (harmless); a load with other values is "silent", anything else "untyped"; a load that
 * changes the live tensor or variable count "leaked".
 */
export type Snapshot = Map<string, string>;

export interface DamageTally {
  cases: number;
  typed: number;
  harmless: number;
  silent: number;
  untyped: number;
  leaked: number;
  failures: string[];
}

export function damageTally(): DamageTally {
  return { cases: 0, typed: 0, harmless: 0, silent: 0, untyped: 0, leaked: 0, failures: [] };
}

/** Values as bytes (hex), so "equal" means bit-identical, NaN included. */
export async function tensorBytes(t: tf.Tensor): Promise<string> {
  const data = await t.data();
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return `${t.dtype}${t.shape}:${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** Optimizer state by entry name; tfjs-layers' per-load `_N` suffixes are normalised away. */
export async function optimizerSnapshot(o: {
  getWeights(): Promise<{ name: string; tensor: tf.Tensor }[]>;
}): Promise<Snapshot> {
  const out: Snapshot = new Map();
  for (const { name, tensor } of await o.getWeights()) {
    out.set(name.replace(/_\d+(?=[/"\\])/g, ''), await tensorBytes(tensor));
  }
  return out;
}

/** A layers model's weights and its optimizer's state (any object with `getWeights()`). */
export async function modelSnapshot(m: {
  getWeights(): tf.Tensor[];
  optimizer?: { getWeights(): Promise<{ name: string; tensor: tf.Tensor }[]> } | null;
}): Promise<Snapshot> {
  const out: Snapshot = new Map();
  for (const [i, w] of m.getWeights().entries()) out.set(`w${i}`, await tensorBytes(w));
  if (m.optimizer) for (const [k, v] of await optimizerSnapshot(m.optimizer)) out.set(`o:${k}`, v);
  return out;
}

export function sameSnapshot(a: Snapshot, b: Snapshot): boolean {
  return a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);
}

function liveCounts(): { tensors: number; variables: number } {
  return { tensors: tf.memory().numTensors, variables: Object.keys(tf.engine().registeredVariables).length };
}

/**
 * One damaged load: a typed error whose message holds every string of `names` and after which
 * `unchanged()` holds, or a successful load equal to `reference`; never a change in live counts.
 */
export async function attemptDamagedLoad(
  t: DamageTally,
  label: string,
  load: () => Promise<Snapshot>,
  reference: Snapshot,
  unchanged: () => Promise<boolean>,
  names: readonly string[] = [],
): Promise<void> {
  t.cases++;
  const before = liveCounts();
  try {
    const got = await load();
    if (sameSnapshot(got, reference)) t.harmless++;
    else {
      t.silent++;
      t.failures.push(`${label}: loaded with different values`);
    }
  } catch (error) {
    if (!RobustFtError.isInstance(error)) {
      t.untyped++;
      t.failures.push(`${label}: untyped ${String(error)}`);
    } else if (!names.every((n) => error.message.includes(n)) || !(await unchanged())) {
      t.untyped++;
      t.failures.push(
        `${label}: ${error.code} without naming ${names.join(', ')} or with state changed: ${error.message}`,
      );
    } else t.typed++;
  }
  const after = liveCounts();
  if (after.tensors !== before.tensors || after.variables !== before.variables) {
    t.leaked++;
    t.failures.push(
      `${label}: leaked ${after.tensors - before.tensors} tensors, ${after.variables - before.variables} variables`,
    );
  }
}

/** One line for logs and READMEs. */
export function damageSummary(what: string, t: DamageTally): string {
  return `${what}: ${t.cases} cases, ${t.typed} typed, ${t.harmless} harmless, ${t.silent} silent, ${t.untyped} untyped, ${t.leaked} leaked`;
}

/** A seeded random damage: bit flip, random bytes, truncation or extension. */
export function mutateBytes(rng: Rng, pristine: Uint8Array): { bytes: Uint8Array; what: string } {
  const kind = rng.int(4);
  if (kind === 0) {
    const bytes = pristine.slice();
    const at = rng.int(bytes.length);
    const bit = rng.int(8);
    bytes[at] = bytes[at]! ^ (1 << bit);
    return { bytes, what: `bit ${bit} of byte ${at} flipped` };
  }
  if (kind === 1) {
    const bytes = pristine.slice();
    const n = 1 + rng.int(8);
    for (let k = 0; k < n; k++) bytes[rng.int(bytes.length)] = rng.int(256);
    return { bytes, what: `${n} random bytes` };
  }
  if (kind === 2) {
    const len = rng.int(pristine.length);
    return { bytes: pristine.slice(0, len), what: `truncated to ${len}` };
  }
  const n = 1 + rng.int(16);
  const bytes = new Uint8Array(pristine.length + n);
  bytes.set(pristine);
  for (let k = 0; k < n; k++) bytes[pristine.length + k] = rng.int(256);
  return { bytes, what: `extended by ${n}` };
}
