import {
  type AnyTransformation,
  type GradientTransformation,
  type NameSelector,
  nameMatcher,
  RobustFtError,
  type StateTree,
  type TransformContext,
  type UpdateResult,
} from '@robust-ft/core';
import { carryOver } from '@robust-ft/core/internal';
import type { NamedTensorMap, Tensor } from '@tensorflow/tfjs-core';
import {
  carrySlots,
  emptySlotMaps,
  type MethodDeclaration,
  type MethodSettings,
  type MethodSlots,
  ownNames,
  readWrapped,
  type SlotMaps,
  type SlotSet,
  writeWrapped,
} from '../method';
import { type FusedMethod, hasFusedKernel, registerFusedOptimizerKernels } from './kernels';
import {
  type AdamHyperparameters,
  type FusedAdamItem,
  type FusedAdamResult,
  type FusedAnchoredItem,
  fusedAdamWBatch,
  fusedMethodBatch,
  type GuardFlag,
  kernelsCheckFinite,
  kernelsTakeFiniteFlag,
} from './ops';

/**
 * Drop-in fused versions of the package's composed transformations. Each wrapper keeps the composed
 * transformation's label, `init` and state layout, so state, checkpoints and diagnostics are the same
 * either way; `update` runs one batched fused kernel when the active backend has it and every tensor is
 * float32, and otherwise (or with fused kernels disabled) the composed path, which is the oracle.
 */

type Tensors = Record<string, Tensor>;
type Counts = Record<string, number>;
type AdamLike = {
  mu: Tensors;
  nu: Tensors;
  count: Counts;
};

type AdamOptions = Omit<AdamHyperparameters, 'learningRate'>;

function fusable(method: FusedMethod, groups: (NamedTensorMap | Tensors)[], names: string[]): boolean {
  if (!hasFusedKernel(method)) return false;
  for (const group of groups) {
    for (const n of names) {
      const t = group[n];
      if (t && t.dtype !== 'float32') return false;
    }
  }
  return true;
}

/**
 * How the step's kernels honour the 'guard' policy (then the result says `guarded`, and the adapter
 * does not mask θ, m and v again). With one kernel call on a backend whose kernels check g in the
 * passes that read it: `check`, and the kernel's flag goes back to the adapter (no flag pass at all).
 * Two calls (excluded names under plain AdamW) cannot: a bad batch in the second could not undo the
 * first, so they take the adapter's flag (`ctx.finite`, computed on this read).
 */
function guardOf(ctx: TransformContext, methods: readonly FusedMethod[], calls: number): GuardFlag {
  if (ctx.ownFiniteCheck === true && calls === 1 && kernelsCheckFinite(methods)) return { check: true };
  return kernelsTakeFiniteFlag(methods) && ctx.finite !== undefined ? { finite: ctx.finite } : {};
}

function anchorsOf(names: string[], ctx: TransformContext): Tensors {
  const out: Tensors = {};
  for (const n of names) out[n] = ctx.anchor(n);
  return out;
}

/** Splits names into (excluded, projected) by a selector. */
function split(names: string[], exclude: NameSelector | undefined): [string[], string[]] {
  const excluded = nameMatcher(exclude);
  const plain: string[] = [];
  const rest: string[] = [];
  for (const n of names) (exclude !== undefined && excluded(n) ? plain : rest).push(n);
  return [plain, rest];
}

/**
 * A fresh result set with plain Adam(W) already run for `names` (the names a method leaves to Adam),
 * and the kernel's finite flag when `hp.check` asked for it.
 */
function plainAdam(
  names: string[],
  grads: NamedTensorMap,
  params: NamedTensorMap,
  adam: AdamLike,
  hp: AdamHyperparameters & { weightDecay: number } & GuardFlag,
): { into: AdamInto; finite?: Tensor | undefined } {
  const into = emptyInto();
  if (names.length === 0) return { into };
  const { counts, items } = adamItems(names, grads, params, adam, () => ({}));
  const batch = fusedAdamWBatch(items, hp);
  adamResults(names, batch.results, counts, into);
  return { into, finite: batch.finite };
}

/** The items of `names` (param, grad, moments, next count) plus `extra(n)` each, and those counts. */
function adamItems<X extends object>(
  names: string[],
  grads: NamedTensorMap,
  params: NamedTensorMap,
  adam: AdamLike,
  extra: (n: string) => X,
): { counts: number[]; items: (FusedAdamItem & X)[] } {
  const counts = names.map((n) => (adam.count[n] ?? 0) + 1);
  const items = names.map((n, i) => ({
    param: params[n]!,
    grad: grads[n]!,
    m: adam.mu[n]!,
    v: adam.nu[n]!,
    count: counts[i]!,
    ...extra(n),
  }));
  return { counts, items };
}

/** `adamItems` with each name's anchor. */
function anchoredItems<X extends object>(
  names: string[],
  grads: NamedTensorMap,
  params: NamedTensorMap,
  adam: AdamLike,
  anchors: Tensors,
  extra: (n: string) => X,
): { counts: number[]; items: (FusedAnchoredItem & X)[] } {
  return adamItems(names, grads, params, adam, (n) => ({ anchor: anchors[n]!, ...extra(n) }));
}

function adamResults(names: string[], results: FusedAdamResult[], counts: number[], into: AdamInto): void {
  results.forEach((r, i) => {
    const n = names[i]!;
    into.assign[n] = r.param;
    into.mu[n] = r.m;
    into.nu[n] = r.v;
    into.count[n] = counts[i]!;
  });
}

interface AdamInto {
  assign: NamedTensorMap;
  mu: Tensors;
  nu: Tensors;
  count: Counts;
}

function emptyInto(): AdamInto {
  return { assign: {}, mu: {}, nu: {}, count: {} };
}

function carriedAdam(prev: AdamLike, next: AdamInto, grads: NamedTensorMap): AdamLike {
  return {
    mu: carryOver(prev.mu, next.mu, grads),
    nu: carryOver(prev.nu, next.nu, grads),
    count: carryOver(prev.count, next.count, grads),
  };
}

/**
 * The Adam moments inside a chain's state, found by their slot names (`mu`, `nu`, `count`) and not by
 * the chain position, so a chain built in another order still reads and writes its Adam slot. Null (the
 * composed path runs) when there is no such slot or more than one.
 */
export function adamSlot(tree: StateTree | undefined): { key: string; adam: AdamLike } | null {
  let found: { key: string; adam: AdamLike } | null = null;
  for (const [key, value] of Object.entries(tree ?? {})) {
    if (!isAdamLike(value)) continue;
    if (found) return null;
    found = { key, adam: value };
  }
  return found;
}

function isAdamLike(value: unknown): value is AdamLike {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<Record<keyof AdamLike, unknown>>;
  return [v.mu, v.nu, v.count].every((m) => typeof m === 'object' && m !== null);
}

/** `tree` with its Adam slot replaced by the carried-over moments. */
function withAdam(
  tree: StateTree,
  key: string,
  prev: AdamLike,
  next: AdamInto,
  grads: NamedTensorMap,
): StateTree {
  return { ...tree, [key]: carriedAdam(prev, next, grads) };
}

function wrap<S extends StateTree>(
  composed: GradientTransformation<S>,
  fused: (
    grads: NamedTensorMap,
    state: S,
    params: NamedTensorMap,
    ctx: TransformContext,
  ) => UpdateResult<S> | null,
): GradientTransformation<S> {
  // Building a fused transformation is where its kernels get registered (idempotent), never a query.
  registerFusedOptimizerKernels();
  return {
    label: composed.label,
    init: (params) => composed.init(params),
    update: (grads, state, params, ctx) =>
      fused(grads, state, params, ctx) ?? composed.update(grads, state, params, ctx),
  };
}

/**
 * Where the generic dispatch finds the Adam slot and the method's slots. A wrapper (SPD, FTP, DiGraP:
 * `{inner, ...slots}` or `{[wrapKey]: slots, inner}`) keeps Adam under `inner`; a chained method (AdamW,
 * L2-SP: a stateless element of the same chain as Adam) has no slots, and the Adam slot sits in the
 * transformation's own state. Either way the Adam slot is found by its slot names, never by position.
 */
function methodState<S extends SlotSet>(
  decl: MethodDeclaration<unknown, MethodSettings, S>,
  state: StateTree,
): {
  inner: StateTree;
  slots: MethodSlots<S>;
  write: (inner: StateTree, slots: MethodSlots<S>) => StateTree;
} {
  if (decl.fused?.chained)
    return { inner: state, slots: { maps: emptySlotMaps(decl), t: 1 }, write: (inner) => inner };
  const { inner, slots } = readWrapped(decl, state);
  return { inner, slots, write: (i, s) => writeWrapped(decl, i, s) };
}

/**
 * A declared method over Adam (`declaration.fused`), its state read and written by slot name
 * (`readWrapped`/`writeWrapped`, or the chain's own state for a chained method), never by chain
 * position: excluded names, and every name when the method passes through (AdamW; L2-SP with α = 0),
 * get plain AdamW (with `weightDecay`, the inner's own decay), the others one batched call of the
 * method's kernel. Null (the composed path runs) when the backend lacks a kernel, a tensor is not
 * float32, the declaration's `attrs` declines, or the state has no single Adam slot.
 */
export function withFusedMethod<O, T extends MethodSettings, S extends SlotSet>(
  decl: MethodDeclaration<O, T, S>,
  composed: AnyTransformation,
  options: O,
  inner: AdamOptions & { weightDecay: number },
): GradientTransformation<StateTree> {
  const binding = decl.fused;
  const settings = decl.settings(options);
  if (!binding || binding.enabled?.(settings) === false) return composed;
  if (binding.chained && Object.keys(decl.slots).length > 0) {
    throw new RobustFtError('UNSUPPORTED', `${decl.label}: a chained fused method keeps no slots`, {
      argument: 'declaration.fused.chained',
    });
  }
  const passThrough = decl.passThrough?.(settings) === true;
  const { weightDecay, ...adamOptions } = inner;
  return wrap<StateTree>(composed, (grads, state, params, ctx) => {
    const { inner: innerState, slots, write } = methodState(decl, state);
    const slot = adamSlot(innerState);
    if (!slot) return null;
    const { key, adam } = slot;
    const names = Object.keys(grads);
    const [plain, own] = passThrough ? [names, []] : split(names, settings.exclude);
    const anchors = anchorsOf(own, ctx);
    if (!fusable('adamw', [grads, params, adam.mu, adam.nu, anchors], names)) return null;
    if (own.length > 0 && !hasFusedKernel(binding.kernel)) return null;
    const axes = ownNames(decl, settings, slots, grads);
    const attrs = binding.attrs(settings, { names: own, axes, slots: slots.maps, t: slots.t, weightDecay });
    if (!attrs) return null;
    const calls = Number(plain.length > 0) + Number(own.length > 0);
    const guard = guardOf(ctx, passThrough ? ['adamw'] : ['adamw', binding.kernel], calls);
    const hp = { ...adamOptions, learningRate: ctx.learningRate, ...guard };
    const { into, finite: plainFinite } = plainAdam(plain, grads, params, adam, { ...hp, weightDecay });
    let finite = plainFinite;
    const next = emptySlotMaps(decl) as Record<string, Record<string, Tensor | number>>;
    if (own.length > 0) {
      const maps = slots.maps as Record<string, Record<string, Tensor | number>>;
      const { counts, items } = anchoredItems(own, grads, params, adam, anchors, (n) =>
        Object.fromEntries(binding.inputs.map((k) => [k, maps[k]![n] ?? null])),
      );
      const batch = fusedMethodBatch(binding.kernel, items, binding.inputs, binding.outputs, hp, attrs);
      const results = batch.results;
      finite ??= batch.finite;
      adamResults(own, results, counts, into);
      results.forEach((r, i) => {
        const n = own[i]!;
        for (const k of binding.outputs) next[k]![n] = r[k];
        for (const k of binding.learningRateSlots ?? []) next[k]![n] = ctx.learningRate;
      });
    }
    const carried = carrySlots(decl, slots.maps, next as SlotMaps<S>, grads);
    return {
      updates: {},
      assign: into.assign,
      state: write(withAdam(innerState, key, adam, into, grads), { maps: carried, t: slots.t + 1 }),
      guarded: guard.finite !== undefined || guard.check === true,
      ...(finite ? { finite } : {}),
    };
  });
}

/** `withFusedMethod` when the method runs over the AdamW chain (`inner: 'adam'`); any other inner stays composed. */
export function withFusedMethodOverAdam<O, T extends MethodSettings, S extends SlotSet>(
  decl: MethodDeclaration<O, T, S>,
  composed: AnyTransformation,
  options: O,
  inner: { kind: string; adam: AdamOptions },
  weightDecay: number,
): AnyTransformation {
  return inner.kind === 'adam'
    ? withFusedMethod(decl, composed, options, { ...inner.adam, weightDecay })
    : composed;
}
