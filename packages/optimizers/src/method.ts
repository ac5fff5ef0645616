import {
  type AnyTransformation,
  type GradientTransformation,
  type NameSelector,
  nameMatcher,
  RobustFtError,
  type StateTree,
  type TransformContext,
} from '@robust-ft/core';
import { carryOver, isTensor } from '@robust-ft/core/internal';
import type { NamedTensorMap, Tensor } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import type { FusedMethod } from './fused/kernels';
import { findNodes, type StateSource, scalars } from './inspect';
import { type AxisMap, rowShape } from './layout';

/**
 * A method is one declaration: its settings (options with defaults, validated), its per-tensor state
 * slots (name → shape class), and its composed per-tensor step. The generic builders here derive from
 * it the transformation's `init`/`update` (exclusion, carry-over of missing gradients, per-slot shape
 * checks), the placement of its state in the tree, the slot reads and writes of the fused dispatch
 * (by slot name, never by chain position) and the `*Diagnostics()` readers. Checkpoint validation on
 * load derives from `init` (core's `setWeights` checks every slot against it).
 */

/**
 * A slot's shape class: `scalar` (0-d per tensor), `param` (the parameter's shape), `row` (one value
 * per row of the parameter under the declared axis map: FTP's 1/n) or `counter` (a plain number per
 * tensor, e.g. the learning rate DiGraP saw last step).
 */
export type SlotShape = 'scalar' | 'param' | 'row' | 'counter';

export interface SlotSpec {
  readonly shape: SlotShape;
  /** The value `init` gives the slot (and a slot not kept for these settings reads as). Default 0. */
  readonly init?: number;
}

export type SlotSet = Readonly<Record<string, SlotSpec>>;

/** A slot's value for one tensor: a number for counters, else a float32 tensor. */
export type SlotValue<S extends SlotSpec> = S['shape'] extends 'counter' ? number : Tensor;
export type SlotValues<S extends SlotSet> = { [K in keyof S]: SlotValue<S[K]> };
/** A slot's per-tensor map in the state, by parameter name. */
export type SlotMaps<S extends SlotSet> = { [K in keyof S]: Record<string, SlotValue<S[K]>> };

/** What a method's per-tensor step reads. */
export interface MethodTensorInput<S extends SlotSet> {
  name: string;
  param: Tensor;
  /** The raw gradient. */
  grad: Tensor;
  anchor: Tensor;
  /** Projection methods: the inner optimizer's delta (candidate = param + update). */
  update: Tensor;
  /** This tensor's slot values (a slot not kept reads as its `init`, 0-d). */
  slots: SlotValues<S>;
  /** The method's 1-based global step counter (1 without one). */
  t: number;
  learningRate: number;
  /** This tensor's axis map (`declaration.axes`; whole-tensor when not declared). */
  axes: AxisMap;
}

/** What it returns: the new parameter (projection) or the modified gradient (gradient), and every slot. */
export interface MethodTensorOutput<S extends SlotSet> {
  value: Tensor;
  slots: SlotValues<S>;
}

/**
 * What a method's joint hook reads: every own tensor's step input (slots as saved, or their init), and
 * every parameter of the step with the updates before the method (excluded names too).
 */
export interface MethodJointInput<S extends SlotSet> {
  tensors: Readonly<Record<string, MethodTensorInput<S>>>;
  params: NamedTensorMap;
  /** The inner's deltas (projection) or the gradients (gradient method). */
  updates: NamedTensorMap;
  /** The method's 1-based global step counter. */
  t: number;
}

/** The settings every method has: the names it leaves alone. */
export interface MethodSettings {
  exclude?: NameSelector | undefined;
}

export interface MethodDeclaration<O, T extends MethodSettings, S extends SlotSet> {
  /** The transformation's label (a projection's gets its inner's label in parentheses). */
  readonly label: string;
  /**
   * `gradient`: maps g to a modified gradient to be chained before an optimizer (excluded names pass
   * g through). `projection`: wraps an inner optimizer and maps its candidate to the new parameter
   * (excluded names get the inner's delta).
   */
  readonly kind: 'gradient' | 'projection';
  /** Options → settings: defaults filled in, values validated (typed errors naming the option). */
  settings(options: O): T;
  readonly slots: S;
  /** The slots kept for these settings (default all); the others read as their `init`. */
  kept?(settings: T): readonly (keyof S & string)[];
  /** Slots nest under this key of the method's state (FTP: `ftp`); default: beside the counter. */
  readonly group?: string;
  /** Whether the method keeps a 1-based global step counter `t` (FTP's, DiGraP's hyper-Adam). */
  readonly counter?: boolean;
  /** A gradient method wrapped with an inner optimizer (`wrapInner`): its state's key beside `inner`. */
  readonly wrapKey?: string;
  /** The axis map of a tensor (row slots and the step read it); default whole-tensor. */
  axes?(settings: T, name: string, shape: readonly number[]): AxisMap;
  /** True when the step is the identity for every tensor under these settings (no work, no state change). */
  passThrough?(settings: T): boolean;
  /**
   * A step over all the method's tensors at once, run before the per-tensor step, for what couples
   * tensors (TPGM learns its radii γ on one validation loss of every projected tensor): returns each
   * own tensor's slots to hand the per-tensor `step`, or null to leave the method out of this step
   * (the inner's deltas or the gradients stand; the slots are kept; the counter still advances).
   */
  joint?(input: MethodJointInput<S>, settings: T): Record<string, SlotValues<S>> | null;
  /** The composed per-tensor step: the oracle of any fused kernel. */
  step(input: MethodTensorInput<S>, settings: T): MethodTensorOutput<S>;
  /** The slot whose presence marks this method's state node (for the diagnostics readers). */
  readonly marker?: keyof S & string;
  /** The fused kernel over Adam, when the method has one (see `withFusedMethod` in fused/dispatch.ts). */
  readonly fused?: FusedBinding<T, S>;
}

/** What the fused dispatch needs to build a method's kernel call, by slot name. */
export interface FusedBatch<S extends SlotSet> {
  /** The names the kernel steps, in item order. */
  names: readonly string[];
  /** Their axis maps (`declaration.axes`). */
  axes: Readonly<Record<string, AxisMap>>;
  /** The slot maps before the step. */
  slots: SlotMaps<S>;
  /** The method's global counter before the step. */
  t: number;
  /** The inner AdamW's decoupled decay (FTP's; 0 under SPD and DiGraP). */
  weightDecay: number;
}

export interface FusedBinding<T extends MethodSettings, S extends SlotSet> {
  readonly kernel: FusedMethod;
  /** Slots each item passes as kernel inputs (role = slot name; absent ones are omitted). */
  readonly inputs: readonly (keyof S & string)[];
  /** Slots the kernel writes, in its output order after θ', m', v'. */
  readonly outputs: readonly (keyof S & string)[];
  /** Whether these settings have a kernel at all (DiGraP's fixed strength has none). Default true. */
  enabled?(settings: T): boolean;
  /** The kernel's attributes besides Adam's; null leaves the step to the composed path. */
  attrs(settings: T, batch: FusedBatch<S>): Record<string, number | number[]> | null;
  /** Counter slots the step sets from the learning rate it used (DiGraP's `lrPrev`). */
  readonly learningRateSlots?: readonly (keyof S & string)[];
  /**
   * The method is a stateless element of the same chain as Adam (AdamW, L2-SP), not a wrapper around
   * it: the dispatch finds the Adam slot (by name) in the transformation's own state. Such a method
   * declares no slots. Default false.
   */
  readonly chained?: boolean;
}

/** Declares a method (an identity that infers the option, settings and slot types from the literal). */
export function declareMethod<O, T extends MethodSettings, const S extends SlotSet>(
  decl: MethodDeclaration<O, T, S>,
): MethodDeclaration<O, T, S> {
  return decl;
}

// biome-ignore lint/suspicious/noExplicitAny: settings and option types are erased where declarations are stored.
export type AnyMethod = MethodDeclaration<any, any, SlotSet>;

/** The part of a declaration that places and shapes its state (what the state readers need). */
export type SlotLayout<S extends SlotSet> = Pick<
  MethodDeclaration<unknown, MethodSettings, S>,
  'slots' | 'group' | 'counter' | 'marker'
>;

const WHOLE: AxisMap = { rowAxes: [], lastAxis: null };

function slotNames<S extends SlotSet>(decl: SlotLayout<S>): (keyof S & string)[] {
  return Object.keys(decl.slots) as (keyof S & string)[];
}

function keptSlots<T extends MethodSettings, S extends SlotSet>(
  decl: MethodDeclaration<unknown, T, S>,
  settings: T,
): (keyof S & string)[] {
  return decl.kept ? [...decl.kept(settings)] : slotNames(decl);
}

function axesOf<T extends MethodSettings, S extends SlotSet>(
  decl: MethodDeclaration<unknown, T, S>,
  settings: T,
  name: string,
  shape: readonly number[],
): AxisMap {
  return decl.axes ? decl.axes(settings, name, shape) : WHOLE;
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !isTensor(v);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** The method's slots and counter, read by slot name from its own state node. */
export interface MethodSlots<S extends SlotSet> {
  maps: SlotMaps<S>;
  t: number;
}

/**
 * Reads the slot maps of a method's state node by name. A checkpoint drops empty maps (it stores
 * leaves only), so a missing map reads as `{}`.
 */
export function readSlots<S extends SlotSet>(
  decl: SlotLayout<S>,
  node: Readonly<StateTree> | undefined,
): MethodSlots<S> {
  const holder = decl.group === undefined ? node : node?.[decl.group];
  const maps = {} as Record<string, unknown>;
  for (const k of slotNames(decl)) {
    const m = isMap(holder) ? holder[k] : undefined;
    maps[k] = isMap(m) ? m : {};
  }
  const t = node?.t;
  return { maps: maps as SlotMaps<S>, t: typeof t === 'number' ? t : 1 };
}

/** A method's state node from its slot maps and counter (the layout `readSlots` reads). */
export function writeSlots<S extends SlotSet>(decl: SlotLayout<S>, slots: MethodSlots<S>): StateTree {
  const maps: StateTree = slots.maps;
  const node: StateTree = decl.group === undefined ? { ...maps } : { [decl.group]: maps };
  if (decl.counter) node.t = slots.t;
  return node;
}

/** Fresh per-name maps for every slot. */
export function emptySlotMaps<S extends SlotSet>(decl: SlotLayout<S>): SlotMaps<S> {
  return Object.fromEntries(slotNames(decl).map((k) => [k, {}])) as SlotMaps<S>;
}

/** Each slot's new map: the step's values, and the previous ones of names without a gradient. */
export function carrySlots<S extends SlotSet>(
  decl: SlotLayout<S>,
  previous: SlotMaps<S>,
  next: SlotMaps<S>,
  grads: NamedTensorMap,
): SlotMaps<S> {
  const out = {} as Record<string, unknown>;
  for (const k of slotNames(decl))
    out[k] = carryOver(previous[k] as Record<string, unknown>, next[k] as Record<string, unknown>, grads);
  return out as SlotMaps<S>;
}

function initValue(spec: SlotSpec, param: Tensor, axes: AxisMap): Tensor | number {
  const v = spec.init ?? 0;
  switch (spec.shape) {
    case 'counter':
      return v;
    case 'scalar':
      return tf.scalar(v);
    case 'param':
      return v === 0 ? tf.zerosLike(param) : tf.fill(param.shape, v);
    case 'row':
      return tf.fill(rowShape(param.shape, axes), v);
  }
}

/** The method's own state node for `params`: every kept slot at its `init`, counter 1. */
function initSlots<T extends MethodSettings, S extends SlotSet>(
  decl: MethodDeclaration<unknown, T, S>,
  settings: T,
  params: NamedTensorMap,
): StateTree {
  const excluded = nameMatcher(settings.exclude);
  const kept = keptSlots(decl, settings);
  const maps = emptySlotMaps(decl) as Record<string, Record<string, Tensor | number>>;
  for (const [name, p] of Object.entries(params)) {
    if (excluded(name)) continue;
    const axes = axesOf(decl, settings, name, p.shape);
    for (const k of kept) maps[k]![name] = initValue(decl.slots[k]!, p, axes);
  }
  return writeSlots(decl, { maps: maps as SlotMaps<S>, t: 1 });
}

/** The expected shape of a kept tensor slot, or null for counters. */
function expectedShape(spec: SlotSpec, shape: readonly number[], axes: AxisMap): readonly number[] | null {
  if (spec.shape === 'counter') return null;
  if (spec.shape === 'scalar') return [];
  if (spec.shape === 'param') return shape;
  return rowShape(shape, axes);
}

/**
 * A restored slot must have the shape its class gives for this parameter (a row slot saved under
 * another layout would broadcast against the wrong axes): `STATE_MISMATCH` naming the slot, before
 * anything is computed.
 */
export function checkSlot<S extends SlotSet>(
  decl: SlotLayout<S>,
  slot: keyof S & string,
  name: string,
  value: unknown,
  shape: readonly number[],
  axes: AxisMap,
): void {
  if (value === undefined) return;
  const want = expectedShape(decl.slots[slot]!, shape, axes);
  if (want === null ? typeof value === 'number' : isTensor(value) && sameShape(value.shape, want)) return;
  const got = isTensor(value) ? `shape [${value.shape.join(', ')}]` : typeof value;
  const expected = want === null ? 'a number' : `shape [${want.join(', ')}]`;
  const hint =
    decl.slots[slot]!.shape === 'row'
      ? ': restored from state saved with another layout (before rows were output units they were read ' +
        'along axis 0)? Use that layout, or start from fresh state'
      : '';
  throw new RobustFtError(
    'STATE_MISMATCH',
    `the ${decl.slots[slot]!.shape} state ${slot} of "${name}" has ${got}, not ${expected}${hint}`,
    { argument: `state.${slot}["${name}"]`, expected },
  );
}

/** Checks every kept slot of `names` against its shape class; returns each name's axis map. */
export function checkSlots<T extends MethodSettings, S extends SlotSet>(
  decl: MethodDeclaration<unknown, T, S>,
  settings: T,
  maps: SlotMaps<S>,
  grads: NamedTensorMap,
  names: readonly string[],
): Record<string, AxisMap> {
  const kept = keptSlots(decl, settings);
  const axes: Record<string, AxisMap> = {};
  for (const name of names) {
    const shape = grads[name]!.shape;
    axes[name] = axesOf(decl, settings, name, shape);
    for (const k of kept) checkSlot(decl, k, name, maps[k][name], shape, axes[name]);
  }
  return axes;
}

/** The names the method steps (not excluded), with their axis maps, slots checked by shape class. */
export function ownNames<T extends MethodSettings, S extends SlotSet>(
  decl: MethodDeclaration<unknown, T, S>,
  settings: T,
  prev: MethodSlots<S>,
  grads: NamedTensorMap,
): Record<string, AxisMap> {
  const excluded = nameMatcher(settings.exclude);
  const own = Object.keys(grads).filter((n) => !excluded(n));
  return checkSlots(decl, settings, prev.maps, grads, own);
}

/** Runs the declared step on the names of `axes` (see `ownNames`). */
function stepAll<T extends MethodSettings, S extends SlotSet>(
  decl: MethodDeclaration<unknown, T, S>,
  settings: T,
  prev: MethodSlots<S>,
  axes: Record<string, AxisMap>,
  grads: NamedTensorMap,
  params: NamedTensorMap,
  ctx: TransformContext,
  updates: NamedTensorMap | undefined,
): { values: NamedTensorMap; slots: MethodSlots<S> } {
  const own = Object.keys(axes);
  const kept = new Set<string>(keptSlots(decl, settings));
  const next = emptySlotMaps(decl) as Record<string, Record<string, Tensor | number>>;
  const values: NamedTensorMap = {};
  const inputs: Record<string, MethodTensorInput<S>> = {};
  for (const name of own) {
    const slots = {} as Record<string, Tensor | number>;
    for (const k of slotNames(decl)) {
      const spec = decl.slots[k]!;
      const saved = kept.has(k) ? (prev.maps[k] as Record<string, Tensor | number>)[name] : undefined;
      slots[k] = saved ?? (spec.shape === 'counter' ? (spec.init ?? 0) : tf.scalar(spec.init ?? 0));
    }
    inputs[name] = {
      name,
      param: params[name]!,
      grad: grads[name]!,
      anchor: ctx.anchor(name),
      update: updates?.[name] ?? grads[name]!,
      slots: slots as SlotValues<S>,
      t: prev.t,
      learningRate: ctx.learningRate,
      axes: axes[name]!,
    };
  }
  if (decl.joint && own.length > 0) {
    const joint = decl.joint({ tensors: inputs, params, updates: updates ?? grads, t: prev.t }, settings);
    if (joint === null) return { values, slots: { maps: prev.maps, t: prev.t + 1 } };
    for (const name of own) inputs[name]!.slots = joint[name]!;
  }
  for (const name of own) {
    const out = decl.step(inputs[name]!, settings);
    values[name] = out.value;
    for (const k of kept) next[k]![name] = out.slots[k] as Tensor | number;
  }
  return {
    values,
    slots: { maps: carrySlots(decl, prev.maps, next as SlotMaps<S>, grads), t: prev.t + 1 },
  };
}

/**
 * A gradient method as a transformation: updates are the modified gradient (g itself for excluded
 * names); state `{...slots, t?}` (slots under `group` when declared).
 */
export function gradientTransformation<O, T extends MethodSettings, S extends SlotSet>(
  decl: MethodDeclaration<O, T, S>,
  options: O,
): GradientTransformation<StateTree> {
  const settings = decl.settings(options);
  return {
    label: decl.label,
    init: (params) => initSlots(decl, settings, params),
    update(grads, state, params, ctx) {
      if (decl.passThrough?.(settings)) return { updates: grads, state };
      const prev = readSlots(decl, state);
      const axes = ownNames(decl, settings, prev, grads);
      const r = stepAll(decl, settings, prev, axes, grads, params, ctx, undefined);
      const updates: NamedTensorMap = { ...grads, ...r.values };
      return { updates, state: writeSlots(decl, r.slots) };
    },
  };
}

/**
 * A projection method around any inner transformation that returns deltas: the method's step maps
 * each candidate θ + update to the new θ (assigned); excluded names get the inner's delta. State
 * `{inner, ...the method's node}`.
 */
export function projectionTransformation<O, T extends MethodSettings, S extends SlotSet>(
  decl: MethodDeclaration<O, T, S>,
  inner: AnyTransformation,
  options: O,
): GradientTransformation<StateTree> {
  const settings = decl.settings(options);
  return {
    label: `${decl.label}(${inner.label})`,
    init: (params) => ({ inner: inner.init(params) as StateTree, ...initSlots(decl, settings, params) }),
    update(grads, state, params, ctx) {
      const prev = readSlots(decl, state);
      const axes = ownNames(decl, settings, prev, grads);
      const r = inner.update(grads, innerOf(state), params, ctx);
      if (r.assign) {
        throw new RobustFtError(
          'UNSUPPORTED',
          `${decl.label}'s inner transformation ${inner.label} must return deltas`,
          { argument: 'inner' },
        );
      }
      const s = stepAll(decl, settings, prev, axes, grads, params, ctx, r.updates);
      const updates: NamedTensorMap = {};
      for (const name of Object.keys(grads)) if (!(name in s.values)) updates[name] = r.updates[name]!;
      return {
        updates,
        assign: s.values,
        state: { inner: r.state as StateTree, ...writeSlots(decl, s.slots) },
      };
    },
  };
}

/**
 * A gradient method chained before an inner transformation, the two states under `decl.wrapKey` and
 * `inner` (names, not chain positions).
 */
export function wrapInner<O, T extends MethodSettings, S extends SlotSet>(
  decl: MethodDeclaration<O, T, S>,
  inner: AnyTransformation,
  options: O,
): GradientTransformation<StateTree> {
  const key = decl.wrapKey ?? decl.label;
  const gradient = gradientTransformation(decl, options);
  return {
    label: `${key}(${inner.label})`,
    init: (params) => ({ [key]: gradient.init(params), inner: inner.init(params) as StateTree }),
    update(grads, state, params, ctx) {
      const own = state[key];
      const d = gradient.update(grads, isMap(own) ? (own as StateTree) : {}, params, ctx);
      const r = inner.update(d.updates, innerOf(state), params, ctx);
      // Not `guarded`: the method's own state is not masked by an inner kernel's finite flag.
      const next = { [key]: d.state, inner: r.state as StateTree };
      return r.assign
        ? { updates: r.updates, assign: r.assign, state: next }
        : { updates: r.updates, state: next };
    },
  };
}

/** A wrapper's state (projection, or gradient method + inner) read by name: inner state and slots. */
export function readWrapped<S extends SlotSet>(
  decl: SlotLayout<S> & Pick<AnyMethod, 'kind' | 'wrapKey'>,
  state: Readonly<StateTree>,
): { inner: StateTree; slots: MethodSlots<S> } {
  return { inner: innerOf(state), slots: readSlots(decl, methodNode(decl, state)) };
}

/** The inverse of `readWrapped`: the wrapper's state from its inner state and slots. */
export function writeWrapped<S extends SlotSet>(
  decl: SlotLayout<S> & Pick<AnyMethod, 'kind' | 'wrapKey'>,
  inner: StateTree,
  slots: MethodSlots<S>,
): StateTree {
  const node = writeSlots(decl, slots);
  if (decl.kind === 'projection' || decl.wrapKey === undefined) return { inner, ...node };
  return { [decl.wrapKey]: node, inner };
}

/** The `inner` subtree of a wrapper's state (`{}` when a checkpoint dropped it for being empty). */
export function innerOf(state: Readonly<StateTree>): StateTree {
  const inner = state.inner;
  return isMap(inner) ? (inner as StateTree) : {};
}

/**
 * The method's own state node inside a wrapper's state (a projection's is the root; a wrapped
 * gradient method's sits under its `wrapKey`).
 */
export function methodNode(
  decl: Pick<AnyMethod, 'kind' | 'wrapKey'>,
  state: Readonly<StateTree>,
): Readonly<StateTree> {
  if (decl.kind === 'projection' || decl.wrapKey === undefined) return state;
  const node = state[decl.wrapKey];
  return isMap(node) ? (node as StateTree) : {};
}

/** Per-tensor slot values (read as numbers) and the counter, as the `*Diagnostics()` inspectors return. */
export interface SlotDiagnostics<K extends string> {
  tensors: Record<string, Record<K, number>>;
  t: number;
}

/**
 * Reads `slots` of every state node this method wrote (found by its marker, so also inside chains)
 * with `await data()` (synchronous reads return zeros on WebGPU).
 */
export async function readDiagnostics<S extends SlotSet, K extends keyof S & string>(
  decl: SlotLayout<S>,
  source: StateSource,
  slots: readonly K[],
): Promise<SlotDiagnostics<K>> {
  const tensors: Record<string, Record<K, number>> = {};
  let t = 1;
  const marker = decl.group ?? decl.marker;
  if (marker === undefined) return { tensors, t };
  for (const node of findNodes(source, marker)) {
    const { maps, t: counter } = readSlots(decl, node);
    if (decl.counter) t = counter;
    const values = await Promise.all(slots.map((k) => scalars(maps[k])));
    const first: Record<string, number> = values[0] ?? {};
    for (const name of Object.keys(first)) {
      const row = {} as Record<K, number>;
      slots.forEach((k: K, i: number) => {
        row[k] = values[i]![name]!;
      });
      tensors[name] = row;
    }
  }
  return { tensors, t };
}
