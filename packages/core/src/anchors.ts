import type { NamedTensorMap, Tensor } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { invalidArgument, RobustFtError } from './errors';
import { type NamedTensorSource, toNamedTensorMap } from './named-tensors';
import { isTensor } from './state-tree';
import { assertShape } from './validate';

/** Where an `Anchors` store's tensors come from: captured at first use, given explicitly, or zeros (PEFT). */
export type AnchorMode = 'initial' | 'explicit' | 'zero';

/**
 * The frozen pre-trained weights, by parameter name. One `Anchors` object can be shared by several
 * optimizers, an L2-SP penalty and WiSE-FT, so the copy exists once.
 *
 * - `initial` (default): the value of each parameter the first time it is seen.
 * - `explicit`: tensors given up front (cloned once; the caller may dispose its own).
 * - `zero`: θ₀ = 0, the PEFT mode of SPD and FTP (one cached zeros tensor per shape).
 */
export class Anchors {
  readonly mode: AnchorMode;
  private readonly byName = new Map<string, Tensor>();
  private readonly zerosByShape = new Map<string, Tensor>();

  private constructor(mode: AnchorMode) {
    this.mode = mode;
  }

  static initial(): Anchors {
    return new Anchors('initial');
  }

  static zero(): Anchors {
    return new Anchors('zero');
  }

  /** Anchors from explicit tensors: a map, named tensors, or a layers model's current trainable weights. */
  static from(source: NamedTensorSource): Anchors {
    const a = new Anchors('explicit');
    const map = toNamedTensorMap(source);
    for (const [name, t] of Object.entries(map)) a.byName.set(name, tf.keep(tf.clone(t)));
    return a;
  }

  has(name: string): boolean {
    return this.mode === 'zero' || this.byName.has(name);
  }

  /** Whether a real (captured, given or restored) anchor is held for `name`; zero anchors never are. */
  hasCaptured(name: string): boolean {
    return this.mode !== 'zero' && this.byName.has(name);
  }

  /** The anchor of `name`; throws MISSING_ANCHOR when it was never captured or given. */
  get(name: string): Tensor {
    const t = this.byName.get(name);
    if (t) return t;
    throw new RobustFtError('MISSING_ANCHOR', `no anchor for parameter "${name}" (mode ${this.mode})`, {
      argument: name,
      expected: 'an anchor captured at first sight or given explicitly',
    });
  }

  /**
   * Makes sure `name` has an anchor compatible with `current`. In `initial` mode a missing one is
   * snapshotted from `current`. Returns whether a new tensor was created (so a failed step can undo it).
   */
  ensure(name: string, current: Tensor): boolean {
    const existing = this.byName.get(name);
    if (existing) {
      assertShape(`anchor["${name}"]`, existing, current.shape);
      return false;
    }
    if (this.mode === 'initial') {
      this.byName.set(name, tf.keep(tf.clone(current)));
      return true;
    }
    if (this.mode === 'zero') {
      const key = `${current.dtype}:${current.shape.join('x')}`;
      let z = this.zerosByShape.get(key);
      if (!z) {
        z = tf.keep(tf.zerosLike(current));
        this.zerosByShape.set(key, z);
      }
      this.byName.set(name, z);
      return false;
    }
    throw this.missing(name);
  }

  /** Removes an anchor created by `ensure` (used to undo a failed first step). */
  forget(name: string): void {
    const t = this.byName.get(name);
    this.byName.delete(name);
    if (t && this.mode !== 'zero') t.dispose();
  }

  /** Re-keys an anchor (used when a restored optimizer meets renamed variables). */
  rename(from: string, to: string): void {
    const t = this.byName.get(from);
    if (!t || this.byName.has(to)) return;
    this.byName.delete(from);
    this.byName.set(to, t);
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  /** The captured/given tensors (not the shared zeros), for checkpoints. */
  snapshot(): NamedTensorMap {
    if (this.mode === 'zero') return {};
    return Object.fromEntries(this.byName);
  }

  /** Replaces the anchor of `name` with `value` (kept; the store owns it afterwards). */
  restore(name: string, value: Tensor): void {
    const old = this.byName.get(name);
    if (old && old !== value) old.dispose();
    this.byName.set(name, tf.keep(value));
  }

  dispose(): void {
    if (this.mode !== 'zero') for (const t of this.byName.values()) t.dispose();
    for (const t of this.zerosByShape.values()) t.dispose();
    this.byName.clear();
    this.zerosByShape.clear();
  }

  private missing(name: string): RobustFtError {
    return new RobustFtError('MISSING_ANCHOR', `no explicit anchor was given for parameter "${name}"`, {
      argument: `anchor["${name}"]`,
      expected: 'an anchor tensor for every optimised parameter',
    });
  }
}

/** What optimizer factories accept as their `anchor` option. */
export type AnchorOption = 'initial' | 'zero' | Anchors | NamedTensorMap;

export function resolveAnchors(option: AnchorOption | undefined): { anchors: Anchors; owned: boolean } {
  const problem = anchorOptionProblem(option);
  if (problem !== undefined) throw invalidArgument('options.anchor', problem, option);
  if (option === undefined || option === 'initial') return { anchors: Anchors.initial(), owned: true };
  if (option === 'zero') return { anchors: Anchors.zero(), owned: true };
  if (option instanceof Anchors) return { anchors: option, owned: false };
  return { anchors: Anchors.from(option), owned: true };
}

/**
 * The option check of `anchor` (an `OptionSpec`): `'initial'`, `'zero'`, an `Anchors`, or a map of
 * tensors. Shapes and finiteness are checked against the parameters at first use (the adapter's step).
 */
export function anchorOptionProblem(value: unknown): string | undefined {
  if (value === undefined || value === 'initial' || value === 'zero' || value instanceof Anchors)
    return undefined;
  const expected = "'initial', 'zero', an Anchors, or a map of name → tf.Tensor";
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return expected;
  return Object.values(value).every((t) => isTensor(t)) ? undefined : expected;
}
