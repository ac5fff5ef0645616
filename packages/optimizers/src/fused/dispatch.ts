import {
  type GradientTransformation,
  type NameSelector,
  nameMatcher,
  type StateTree,
  type TransformContext,
  type UpdateResult,
} from '@robust-ft/core';
import { carryOver } from '@robust-ft/core/internal';
import type { NamedTensorMap, Tensor } from '@tensorflow/tfjs-core';
import { DIGRAP_TENSOR_KEYS, type DigrapKey } from '../digrap-keys';
import { axisMap, checkRowState, DEFAULT_LAYOUT, type LayoutOption, rowSpan } from '../layout';
import { withMaps } from '../state-maps';
import { type FusedMethod, hasFusedKernel } from './kernels';
import {
  type AdamHyperparameters,
  type FusedAdamItem,
  type FusedAdamResult,
  type FusedAnchoredItem,
  fusedAdamWStep,
  fusedDigrapStep,
  fusedFtpStep,
  fusedL2spStep,
  fusedSpdStep,
  type GuardFlag,
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
interface AdamLike {
  mu: Tensors;
  nu: Tensors;
  count: Counts;
}

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
 * The 'guard' policy's finite flag for the kernels, when the active backend's kernels take it (then
 * the result says `guarded`, and the adapter does not mask θ, m and v again).
 */
function guardOf(ctx: TransformContext, methods: readonly FusedMethod[]): GuardFlag {
  return ctx.finite !== undefined && kernelsTakeFiniteFlag(methods) ? { finite: ctx.finite } : {};
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

/** A fresh result set with plain Adam(W) already run for `names` (the names a method leaves to Adam). */
function plainAdam(
  names: string[],
  grads: NamedTensorMap,
  params: NamedTensorMap,
  adam: AdamLike,
  hp: AdamHyperparameters & { weightDecay: number } & GuardFlag,
): AdamInto {
  const into = emptyInto();
  if (names.length === 0) return into;
  const { counts, items } = adamItems(names, grads, params, adam, () => ({}));
  adamResults(names, fusedAdamWStep(items, hp), counts, into);
  return into;
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

/**
 * Splits `grads`' names by `exclude` into (plain Adam, the method's own) and takes the anchors of the
 * latter; null when the method's kernel or the AdamW kernel is missing or a tensor is not float32.
 */
function splitFusable(
  method: FusedMethod,
  grads: NamedTensorMap,
  params: NamedTensorMap,
  adam: AdamLike,
  exclude: NameSelector | undefined,
  ctx: TransformContext,
): { plain: string[]; own: string[]; anchors: Tensors } | null {
  const names = Object.keys(grads);
  const [plain, own] = split(names, exclude);
  const anchors = anchorsOf(own, ctx);
  if (!fusable(method, [grads, params, adam.mu, adam.nu, anchors], names) || !hasFusedKernel('adamw'))
    return null;
  return { plain, own, anchors };
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
  return { ...tree, [key]: carriedAdam(prev, next, grads) as unknown as StateTree };
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
  return {
    label: composed.label,
    init: (params) => composed.init(params),
    update: (grads, state, params, ctx) =>
      fused(grads, state, params, ctx) ?? composed.update(grads, state, params, ctx),
  };
}

/** AdamW as `chain(scaleByAdam, addDecayedWeights, scaleByLearningRate)`: the Adam slot found by name. */
export function withFusedAdamW(
  composed: GradientTransformation<StateTree>,
  options: AdamOptions & { weightDecay: number },
): GradientTransformation<StateTree> {
  return wrap(composed, (grads, state, params, ctx) => {
    const slot = adamSlot(state);
    if (!slot) return null;
    const { key, adam } = slot;
    const names = Object.keys(grads);
    if (!fusable('adamw', [grads, params, adam.mu, adam.nu], names)) return null;
    const guard = guardOf(ctx, ['adamw']);
    const into = plainAdam(names, grads, params, adam, {
      ...options,
      learningRate: ctx.learningRate,
      ...guard,
    });
    return {
      updates: {},
      assign: into.assign,
      state: withAdam(state, key, adam, into, grads),
      guarded: guard.finite !== undefined,
    };
  });
}

/** L2-SP as `chain(addL2spGradient, scaleByAdam, scaleByLearningRate)`: the Adam slot found by name. */
export function withFusedL2sp(
  composed: GradientTransformation<StateTree>,
  options: AdamOptions & { alpha: number; exclude?: NameSelector },
): GradientTransformation<StateTree> {
  const { alpha, exclude, ...adamOptions } = options;
  return wrap(composed, (grads, state, params, ctx) => {
    const slot = adamSlot(state);
    if (!slot) return null;
    const { key, adam } = slot;
    const names = Object.keys(grads);
    const [plain, pulled] = alpha === 0 ? [names, []] : split(names, exclude);
    const anchors = anchorsOf(pulled, ctx);
    if (!fusable('adamw', [grads, params, adam.mu, adam.nu, anchors], names)) return null;
    if (pulled.length > 0 && !hasFusedKernel('l2sp')) return null;
    const guard = guardOf(ctx, ['adamw', 'l2sp']);
    const hp = { ...adamOptions, learningRate: ctx.learningRate, ...guard };
    const into = plainAdam(plain, grads, params, adam, { ...hp, weightDecay: 0 });
    if (pulled.length > 0) {
      const { counts, items } = anchoredItems(pulled, grads, params, adam, anchors, () => ({}));
      adamResults(pulled, fusedL2spStep(items, { ...hp, alpha }), counts, into);
    }
    return {
      updates: {},
      assign: into.assign,
      state: withAdam(state, key, adam, into, grads),
      guarded: guard.finite !== undefined,
    };
  });
}

interface SpdLike {
  inner: StateTree;
  spdCondition: Tensors;
  spdRatio: Tensors;
}

/**
 * SPD over the Adam chain (`spdTransformation(adamwTransformation({weightDecay: 0}))`, the reference
 * AdamSPD): state `{inner: {…, adam}, spdCondition, spdRatio}`; excluded names get plain Adam.
 */
export function withFusedSpd<S extends StateTree>(
  composed: GradientTransformation<S>,
  options: AdamOptions & { weightDecay: number; exclude?: NameSelector },
): GradientTransformation<S> {
  const { weightDecay: lambda, exclude, ...adamOptions } = options;
  return wrap(composed, (grads, state, params, ctx) => {
    const s = withMaps(state as unknown as SpdLike, ['inner', 'spdCondition', 'spdRatio']);
    const slot = adamSlot(s.inner);
    if (!slot) return null;
    const { key, adam } = slot;
    const parts = splitFusable('spd', grads, params, adam, exclude, ctx);
    if (!parts) return null;
    const { plain, own: decayed, anchors } = parts;
    const guard = guardOf(ctx, ['adamw', 'spd']);
    const hp = { ...adamOptions, learningRate: ctx.learningRate, ...guard };
    const into = plainAdam(plain, grads, params, adam, { ...hp, weightDecay: 0 });
    const spdCondition: Tensors = {};
    const spdRatio: Tensors = {};
    if (decayed.length > 0) {
      const { counts, items } = anchoredItems(decayed, grads, params, adam, anchors, () => ({}));
      const results = fusedSpdStep(items, { ...hp, lambda });
      adamResults(decayed, results, counts, into);
      results.forEach((r, i) => {
        spdCondition[decayed[i]!] = r.condition;
        spdRatio[decayed[i]!] = r.ratio;
      });
    }
    const next: SpdLike = {
      inner: withAdam(s.inner, key, adam, into, grads),
      spdCondition: carryOver(s.spdCondition, spdCondition, grads),
      spdRatio: carryOver(s.spdRatio, spdRatio, grads),
    };
    return {
      updates: {},
      assign: into.assign,
      state: next as unknown as S,
      guarded: guard.finite !== undefined,
    };
  });
}

interface FtpLike {
  inner: StateTree;
  ftp: { gamma: Tensors; gammaM: Tensors; gammaV: Tensors; cPrev: Tensors; rPrev: Tensors };
  t: number;
}

/**
 * FTP over the AdamW chain (`ftpTransformation(adamwTransformation(...))`, the reference AdamP): state
 * `{inner: {0: adam, 1, 2}, ftp: {gamma, gammaM, gammaV, cPrev, rPrev}, t}`.
 */
export function withFusedFtp<S extends StateTree>(
  composed: GradientTransformation<S>,
  options: AdamOptions & { weightDecay: number; k: number; exclude?: NameSelector; layout?: LayoutOption },
): GradientTransformation<S> {
  const { weightDecay, k, exclude, layout = DEFAULT_LAYOUT, ...adamOptions } = options;
  return wrap(composed, (grads, state, params, ctx) => {
    const s = state as unknown as FtpLike;
    const slot = adamSlot(s.inner);
    if (!slot) return null;
    const { key, adam } = slot;
    const parts = splitFusable('ftp', grads, params, adam, exclude, ctx);
    if (!parts) return null;
    const { plain, own: projected, anchors } = parts;
    // Rows by the same layout rule as the composed step; row axes that are not one contiguous block
    // (only a custom layout function gives those) leave the step to the composed path.
    const spans: Record<string, [number, number]> = {};
    for (const n of projected) {
      const map = axisMap(layout, n, grads[n]!.shape);
      checkRowState(n, s.ftp.rPrev[n], grads[n]!.shape, map);
      const span = rowSpan(map);
      if (!span) return null;
      spans[n] = span;
    }
    const guard = guardOf(ctx, ['adamw', 'ftp']);
    const hp = { ...adamOptions, learningRate: ctx.learningRate, weightDecay, ...guard };
    const into = plainAdam(plain, grads, params, adam, hp);
    const next = { gamma: {}, gammaM: {}, gammaV: {}, cPrev: {}, rPrev: {} } as FtpLike['ftp'];
    if (projected.length > 0) {
      const f = s.ftp;
      const { counts, items } = anchoredItems(projected, grads, params, adam, anchors, (n) => ({
        rowSpan: spans[n]!,
        cPrev: f.cPrev[n] ?? null,
        rPrev: f.rPrev[n] ?? null,
        gamma: f.gamma[n] ?? null,
        gammaM: f.gammaM[n] ?? null,
        gammaV: f.gammaV[n] ?? null,
      }));
      const results = fusedFtpStep(items, { ...hp, k, t: s.t });
      adamResults(projected, results, counts, into);
      results.forEach((r, i) => {
        const n = projected[i]!;
        next.gamma[n] = r.gamma;
        next.gammaM[n] = r.gammaM;
        next.gammaV[n] = r.gammaV;
        next.cPrev[n] = r.cPrev;
        next.rPrev[n] = r.rPrev;
      });
    }
    const ftp = {
      gamma: carryOver(s.ftp.gamma, next.gamma, grads),
      gammaM: carryOver(s.ftp.gammaM, next.gammaM, grads),
      gammaV: carryOver(s.ftp.gammaV, next.gammaV, grads),
      cPrev: carryOver(s.ftp.cPrev, next.cPrev, grads),
      rPrev: carryOver(s.ftp.rPrev, next.rPrev, grads),
    };
    const out: FtpLike = {
      inner: withAdam(s.inner, key, adam, into, grads),
      ftp,
      t: s.t + 1,
    };
    return {
      updates: {},
      assign: into.assign,
      state: out as unknown as S,
      guarded: guard.finite !== undefined,
    };
  });
}

type DigrapLike = Record<DigrapKey, Tensors> & { lrPrev: Counts; t: number };

/**
 * DiGraP with trainable strengths over the Adam chain (`digrapTransformation(adamwTransformation(
 * {weightDecay: 0}))`): state `{digrap: {digrapDot, lossStrength, …, lrPrev, t}, inner: {…, adam}}`. The
 * fixed-strength mode has no fused kernel: pass `trainableStrength: false` and the composed path always runs.
 */
export function withFusedDigrap<S extends StateTree>(
  composed: GradientTransformation<S>,
  options: AdamOptions & { weightDecay: number; trainableStrength: boolean; exclude?: NameSelector },
): GradientTransformation<S> {
  const { weightDecay: lambda, trainableStrength, exclude, ...adamOptions } = options;
  if (!trainableStrength) return composed;
  return wrap(composed, (grads, state, params, ctx) => {
    const { digrap, inner } = withMaps(state as unknown as { digrap: DigrapLike; inner: StateTree }, [
      'inner',
    ]);
    const d = withMaps(digrap, ['lrPrev', ...DIGRAP_TENSOR_KEYS]);
    const slot = adamSlot(inner);
    if (!slot) return null;
    const { key, adam } = slot;
    const parts = splitFusable('digrap', grads, params, adam, exclude, ctx);
    if (!parts) return null;
    const { plain, own: projected, anchors } = parts;
    const guard = guardOf(ctx, ['adamw', 'digrap']);
    const hp = { ...adamOptions, learningRate: ctx.learningRate, ...guard };
    const into = plainAdam(plain, grads, params, adam, { ...hp, weightDecay: 0 });
    const next = Object.fromEntries(DIGRAP_TENSOR_KEYS.map((k) => [k, {}])) as Record<DigrapKey, Tensors>;
    const lrPrev: Counts = {};
    if (projected.length > 0) {
      const { counts, items } = anchoredItems(projected, grads, params, adam, anchors, (n) => ({
        pPrev: d.pPrev[n] ?? null,
        qPrev: d.qPrev[n] ?? null,
        lossStrength: d.lossStrength[n] ?? null,
        regStrength: d.regStrength[n] ?? null,
        lossM: d.lossM[n] ?? null,
        lossV: d.lossV[n] ?? null,
        regM: d.regM[n] ?? null,
        regV: d.regV[n] ?? null,
        lrPrev: d.lrPrev[n] ?? 0,
      }));
      const results = fusedDigrapStep(items, { ...hp, lambda, t: d.t });
      adamResults(projected, results, counts, into);
      results.forEach((r, i) => {
        const n = projected[i]!;
        next.digrapDot[n] = r.dot;
        for (const k of DIGRAP_TENSOR_KEYS) if (k !== 'digrapDot') next[k][n] = r[k];
        lrPrev[n] = ctx.learningRate;
      });
    }
    const out = {
      digrap: {
        ...Object.fromEntries(DIGRAP_TENSOR_KEYS.map((k) => [k, carryOver(d[k], next[k], grads)])),
        lrPrev: carryOver(d.lrPrev, lrPrev, grads),
        t: d.t + 1,
      },
      inner: withAdam(inner, key, adam, into, grads),
    };
    return {
      updates: {},
      assign: into.assign,
      state: out as unknown as S,
      guarded: guard.finite !== undefined,
    };
  });
}

/** `withFusedFtp` when FTP runs over the AdamW chain (`inner: 'adam'`); any other inner stays composed. */
export function withFusedFtpWhenAdam<S extends StateTree>(
  overAdam: boolean,
  composed: GradientTransformation<S>,
  options: AdamOptions & { weightDecay: number; k: number; exclude?: NameSelector; layout?: LayoutOption },
): GradientTransformation<S> {
  return overAdam ? withFusedFtp(composed, options) : composed;
}
