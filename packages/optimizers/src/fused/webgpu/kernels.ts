import type { KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
import { DIGRAP_SCALAR_ROLES } from '../../digrap-keys';
import { HYPER } from '../../hyper-adam';
import { adamAttrs, checkSameSize, ftpGeometry, input, num, numAt, sizeOf } from '../args';
import { kernelError } from '../errors';
import { KEPT_INPUTS } from '../keep';
import type { FusedMethod } from '../kernels';
import type { AdamConstants } from '../loops';
import { type GpuBufferBinding, webgpuInternals } from './backend';
import { groupsFor, partsFor, type ScratchRegion, StepRecorder } from './recorder';
import {
  ADAMW,
  type CheckedSource,
  DIGRAP_ADAM,
  DIGRAP_SCALARS,
  DIGRAP_STATE,
  DIGRAP_SUMS,
  F,
  FINITE_FINAL,
  FINITE_GROUP,
  FINITE_INIT,
  FLOAT_BASE_BYTES,
  FTP_ADAM,
  FTP_PROJECT,
  FTP_ROW_SUMS,
  FTP_SCALARS,
  finiteCheck,
  ITEMS_PER_THREAD,
  L2SP,
  PUBLISH_SEEN,
  REDUCE_WORKGROUP,
  RESTORE_GROUPS,
  RESTORE_PAIRS,
  restore,
  type ShaderSource,
  SLOT_BYTES,
  SPD_DECAY,
  SPD_SCALARS,
  SPD_SUMS,
} from './shaders';

/**
 * The fused steps as WGSL kernels (same inputs, attributes and outputs as the cpu/wasm kernels). Every
 * scalar decision (SPD's condition, FTP's γ, DiGraP's strengths) is taken on the device from on-device
 * sums and reaches the next pass through a buffer copy into its uniform slot, so a step never waits on
 * the host. Bytes per parameter (floor of spec §7 in brackets): AdamW 28 [28], L2-SP 32 [32], SPD 44,
 * +12 where it decays [32/44], FTP 56 [48], DiGraP 72 [60]. The excess is what the default limit of 8
 * storage buffers per shader costs: the sums cannot share a pass with a full Adam pass.
 */

type Attrs = NamedAttrMap | undefined;

interface Call {
  rec: StepRecorder;
  count: number;
  /** Attribute `checkFinite`: the passes check g themselves and the call returns its flag (`finishCall`). */
  check: boolean;
  constants: (i: number, weightDecay?: number) => AdamConstants;
  /** Tensors whose g a check pass tests before their own passes (`precheck`): never restored. */
  prechecked: Set<number>;
  /** Input `${role}${i}`. */
  at(role: string, i: number): TensorInfo;
  /** Optional input `${role}${i}`. */
  opt(role: string, i: number): TensorInfo | undefined;
}

function begin(backend: unknown, inputs: NamedTensorInfoMap, attrs: Attrs, roles: readonly string[]): Call {
  const b = webgpuInternals(backend);
  if (!b) throw kernelError('BACKEND_UNAVAILABLE', 'the active backend is not a tfjs-webgpu backend');
  const count = num(attrs, 'n');
  const constants = adamAttrs(attrs);
  const at = (role: string, i: number) => input(inputs, `${role}${i}`);
  const opt = (role: string, i: number) => inputs[`${role}${i}`];
  // Validate the whole batch before anything is allocated: a failed call leaves nothing behind.
  for (let i = 0; i < count; i++) {
    constants(i);
    checkSameSize(
      at('param', i),
      roles.map((role) => (role.endsWith('?') ? opt(role.slice(0, -1), i) : at(role, i))),
    );
  }
  const check = attrs?.checkFinite === true;
  return { rec: new StepRecorder(b, count), count, check, prechecked: new Set(), constants, at, opt };
}

/**
 * Largest tensor (elements) whose g is tested before its pass under `checkFinite` (`precheck`). A
 * restore dispatch has a fixed cost (0.2–0.6 ms on SwiftShader, BENCHMARKS.md run H) and covers
 * RESTORE_PAIRS outputs, a third of a tensor's; a check pass costs ~14 ns an element there (run J's
 * finite flag alone): about even at 2^14 elements. Real models have many such tensors (biases, norms).
 */
export const PRECHECK_MAX = 1 << 14;

/**
 * AdamW, L2-SP and FTP (the methods whose Adam pass checks g, SPD aside: its decay pass rewrites θ after
 * the Adam pass, so it restores θ anyway).
 * Under `checkFinite`, tests the g of every tensor of 1…PRECHECK_MAX elements in check passes of up to
 * FINITE_GROUP gradients each (phase 0, before any Adam pass), storing into the call's flag as the
 * passes' own checks do. Those tensors' Adam passes then run after every check and keep on the flag
 * themselves (`afterCheck`), so a good step pays ⌈small/7⌉ check dispatches instead of
 * ⌈3·small/RESTORE_PAIRS⌉ (FTP: 2·small) empty restores.
 */
function precheck(c: Call): void {
  if (!c.check) return;
  const sizes = Array.from({ length: c.count }, (_, i) => sizeOf(c.at('param', i).shape));
  for (const group of precheckGroups(sizes)) {
    const grads = group.map((i) => c.at('grad', i));
    recordCheck(c.rec, c.rec.addSlot(), grads, 'callFlag');
    for (const i of group) c.prechecked.add(i);
  }
}

/**
 * Records one check pass (phase 0, slot `slot`) over `xs` (≤ FINITE_GROUP tensors) with their
 * workgroups end to end: tensor t's first one, then the total (see finiteCheck); `extra` after them.
 */
function recordCheck(
  rec: StepRecorder,
  slot: number,
  xs: readonly TensorInfo[],
  into: 'flag' | 'callFlag',
  extra: readonly GpuBufferBinding[] = [],
): void {
  const sizes = xs.map((x) => sizeOf(x.shape));
  const starts: number[] = [];
  let parts = 0;
  for (const size of sizes) {
    starts.push(parts);
    parts += partsFor(size);
  }
  rec.setSlot(slot, { n: sizes.reduce((a, b) => a + b, 0), parts }, {});
  rec.setWords(slot, 0, sizes);
  rec.setWords(slot, FINITE_GROUP, starts);
  rec.dispatch(0, finiteCheck(xs.length, into), slot, [...xs.map((x) => rec.bind(x)), ...extra], parts);
}

/** The tensors `precheck` tests, by index, in check passes of up to FINITE_GROUP (tensor sizes in). */
export function precheckGroups(sizes: readonly number[]): number[][] {
  const small = sizes.flatMap((n, i) => (n > 0 && n <= PRECHECK_MAX ? [i] : []));
  const groups: number[][] = [];
  for (let k = 0; k < small.length; k += FINITE_GROUP) groups.push(small.slice(k, k + FINITE_GROUP));
  return groups;
}

/** A pass of a call: under `checkFinite` its variant that checks g or keeps on the call's flag. */
function variant(c: Call, source: CheckedSource): ShaderSource {
  return c.check ? source.checked : source;
}

/**
 * Under `checkFinite`, the passes after a call's every g check (one pass per tensor, in dispatch
 * order) are recorded once every check is: `later` runs `record` then, or at once otherwise.
 */
function later(c: Call, deferred: (() => void)[], record: () => void): void {
  if (c.check) deferred.push(record);
  else record();
}

/**
 * Under `checkFinite`, after the last pass that checks g (phase 0): PUBLISH_SEEN, then the passes
 * `later` deferred, which keep on what it published.
 */
function afterChecks(c: Call, deferred: readonly (() => void)[] = []): void {
  // Nothing deferred (AdamW with no small tensor): no pass reads `seen`.
  if (c.check && deferred.length > 0) c.rec.dispatch(0, PUBLISH_SEEN, 0, [c.rec.seen()], 1);
  for (const record of deferred) record();
}

/**
 * Per method, the outputs (by their KEPT_INPUTS role) that a bad step restores under `checkFinite`:
 * those written by the pass that checks g, before a later tensor's check can have seen a NaN/±Inf.
 * Every other kept output is written by a pass that runs after all the checks and keeps it itself on
 * the call's flag (the `checked` variants reading it), so a good step records one empty indirect
 * restore dispatch per RESTORE_PAIRS of these alone. DiGraP checks g in its sums pass, before any
 * output is written: nothing to restore. SPD restores θ too: keeping it in its decay pass would add a
 * read of θ to every good step on SwiftShader, which runs both sides of a branch (masked), and
 * measured a median of +17.7 % of SPD's kernel against +6.9 % with the restore (BENCHMARKS.md run H).
 */
const RESTORED: Record<FusedMethod, readonly string[]> = {
  adamw: ['param', 'm', 'v'],
  l2sp: ['param', 'm', 'v'],
  spd: ['param', 'm', 'v'],
  ftp: ['m', 'v'],
  digrap: [],
};

/**
 * Records the end of a call and submits. Under `checkFinite` ('guard' inside the kernel, batch-wide
 * as on cpu/wasm): after every pass, FINITE_FINAL writes the call's flag (the last output, 1.0 when
 * no pass saw a NaN/±Inf) and, on a bad step, RESTORE gives each output of a RESTORED role that
 * KEPT_INPUTS maps to a present input that input's value (bit-identical: outputs are fresh buffers and
 * the inputs are alive until the kernel returns); the passes keep the other outputs themselves. The
 * restores are indirect dispatches whose counts FINITE_FINAL zeroes on a good step, so a good step
 * pays one one-workgroup dispatch and ⌈restored pairs / RESTORE_PAIRS⌉ empty ones, no element work.
 */
function finishCall(c: Call, outs: TensorInfo[], method: FusedMethod): TensorInfo[] {
  if (!c.check) {
    c.rec.finish();
    return outs;
  }
  const keep = KEPT_INPUTS[method];
  if (outs.length !== c.count * keep.length)
    throw kernelError('UNSUPPORTED', `${method}: ${outs.length} outputs do not match its kept inputs`);
  const restored = RESTORED[method];
  const pairs: { from: TensorInfo; to: TensorInfo; n: number }[] = [];
  for (let i = 0; i < c.count; i++) {
    keep.forEach((role, j) => {
      const from =
        role === null || !restored.includes(role) || c.prechecked.has(i) ? undefined : c.opt(role, i);
      const to = outs[i * keep.length + j]!;
      const n = sizeOf(to.shape);
      if (from && n > 0) pairs.push({ from, to, n });
    });
  }
  // Largest first, so the pairs sharing a dispatch (and its count) are of similar sizes.
  pairs.sort((a, b) => b.n - a.n);
  const chunks: (typeof pairs)[] = [];
  for (let k = 0; k < pairs.length; k += RESTORE_PAIRS) chunks.push(pairs.slice(k, k + RESTORE_PAIRS));
  // Nothing to restore (DiGraP): FINITE_FINAL zeroes no count and gets a scratch word to bind.
  const args = chunks.length
    ? c.rec.indirectArgs(chunks.map((ch) => [Math.min(groupsFor(ch[0]!.n), RESTORE_GROUPS), 1, 1] as const))
    : c.rec.scratchRegions([1])[0]!.binding;
  const flag = c.rec.output([]);
  const p = c.rec.lastPhase + 1;
  const final = c.rec.addSlot();
  c.rec.setSlot(final, { n: chunks.length }, {});
  c.rec.dispatch(p, FINITE_FINAL, final, [args, c.rec.bind(flag)], 1);
  chunks.forEach((ch, k) => {
    const slot = c.rec.addSlot();
    c.rec.setSlot(slot, { n: 0 }, {});
    c.rec.setWords(
      slot,
      0,
      ch.map((x) => x.n),
    );
    const bindings = ch.flatMap((x) => [c.rec.bind(x.from), c.rec.bind(x.to)]);
    c.rec.dispatchIndirect(p, restore(ch.length), slot, bindings, 12 * k);
  });
  c.rec.finish();
  return [...outs, flag];
}

function adamFloats(k: AdamConstants): Record<number, number> {
  return {
    [F.b1]: k.b1,
    [F.c1]: k.c1,
    [F.b2]: k.b2,
    [F.c2]: k.c2,
    [F.rs2]: k.rs2,
    [F.e]: k.e,
    [F.sk]: k.sk,
    [F.dk]: k.dk,
  };
}

/** The scalar hyper-Adam's flags and bias corrections at the method's step t. */
function hyperFloats(t: number, usePrev: boolean, hasScalars: boolean): Record<number, number> {
  return {
    [F.first]: t <= 1 ? 1 : 0,
    [F.usePrev]: usePrev ? 1 : 0,
    [F.hasScalars]: hasScalars ? 1 : 0,
    [F.bc1]: 1 - HYPER.beta1 ** t,
    [F.bc2]: 1 - HYPER.beta2 ** t,
  };
}

/** Byte offset of float `f` of slot `slot` in the uniform buffer. */
function uniformOffset(slot: number, f: number): number {
  return slot * SLOT_BYTES + FLOAT_BASE_BYTES + 4 * f;
}

/** Copies the 0-d inputs `roles` of tensor i into its `sin` region (before phase 0); false if any is absent. */
function copyScalarsIn(c: Call, i: number, roles: readonly string[], sin: ScratchRegion): boolean {
  const ts = roles.map((role) => c.opt(role, i));
  if (ts.some((t) => t === undefined)) return false;
  ts.forEach((t, j) => {
    c.rec.bind(t!);
    c.rec.copy(0, c.rec.bufferOf(t!), 0, sin.binding.buffer, sin.offset + 4 * j, 4);
  });
  return true;
}

/** Copies device scalars coef[from…] of tensor i to the 0-d outputs `outs` (before phase 1). */
function copyScalarsOut(c: Call, coef: ScratchRegion, from: number, outs: readonly TensorInfo[]): void {
  outs.forEach((o, j) => {
    c.rec.copy(1, coef.binding.buffer, coef.offset + 4 * (from + j), c.rec.bufferOf(o), 0, 4);
  });
}

/**
 * FTP's row-sum pass on the host side (ROW_GEOMETRY in shaders.ts): segments of L threads (1 for ≥ 64
 * strided rows), 64/L rows per workgroup, cpr chunks per row; `parts` workgroups, `partials` = rows·cpr.
 */
function ftpRowGeometry(rows: number, rowLen: number, inner: number): { parts: number; partials: number } {
  const perThread = Math.max(Math.ceil(rowLen / ITEMS_PER_THREAD), 1);
  const seg =
    inner === 1 && rows >= REDUCE_WORKGROUP
      ? 1
      : Math.min(REDUCE_WORKGROUP, 2 ** Math.ceil(Math.log2(perThread)));
  const cpr = Math.ceil(rowLen / (seg * ITEMS_PER_THREAD));
  return { parts: Math.ceil(rows / (REDUCE_WORKGROUP / seg)) * cpr, partials: rows * cpr };
}

const ADAM_ROLES = ['grad', 'm', 'v'] as const;
const ANCHORED_ROLES = [...ADAM_ROLES, 'anchor'] as const;

/**
 * Records tensor i's Adam pass `source` through `record`: for a tensor `precheck` tested, its
 * `afterCheck` variant once every check is recorded (`deferred`, see `later`); for any other, its own
 * variant now. A prechecked tensor is never restored, so a pass without `afterCheck` cannot take one.
 */
function recordAdamPass(
  c: Call,
  i: number,
  source: CheckedSource,
  deferred: (() => void)[],
  record: (pass: ShaderSource) => void,
): void {
  if (!c.prechecked.has(i)) {
    record(variant(c, source));
    return;
  }
  const after = source.afterCheck;
  if (!after) throw kernelError('UNSUPPORTED', `${source.key} has no pass for a prechecked gradient`);
  deferred.push(() => record(after));
}

/** Tensor i's Adam pass (θ', m', v'), recorded as `recordAdamPass` says. */
function adamLike(
  c: Call,
  i: number,
  source: CheckedSource,
  extra: readonly TensorInfo[],
  floats: Record<number, number>,
  deferred: (() => void)[] = [],
): TensorInfo[] {
  const p = c.at('param', i);
  const n = sizeOf(p.shape);
  const outs = [c.rec.output(p.shape), c.rec.output(p.shape), c.rec.output(p.shape)];
  const [tho, mo, vo] = outs as [TensorInfo, TensorInfo, TensorInfo];
  c.rec.setSlot(i, { n }, floats);
  const ins = [p, c.at('grad', i), c.at('m', i), c.at('v', i), ...extra];
  recordAdamPass(c, i, source, deferred, (pass) =>
    c.rec.dispatch(
      0,
      pass,
      i,
      [...ins, mo, vo, tho].map((t) => c.rec.bind(t)),
      groupsFor(n),
    ),
  );
  return outs;
}

/**
 * The 'guard' policy's finite flag (input `finite`, 0-d): copied on the device into slot i's F.finite
 * before phase 0, with F.guard set, so every pass of tensor i keeps θ and the state when it is 0 (see
 * KEPT in shaders.ts). No flag: {}.
 */
function guardFloats(c: Call, inputs: NamedTensorInfoMap, i: number): Record<number, number> {
  const flag = inputs.finite;
  if (!flag) return {};
  c.rec.bind(flag);
  c.rec.copy(0, c.rec.bufferOf(flag), 0, 'uniforms', uniformOffset(i, F.finite), 4);
  return { [F.guard]: 1 };
}

export const webgpuAdamWKernel: KernelFunc = ({ inputs, backend, attrs }) => {
  const c = begin(backend, inputs, attrs, ADAM_ROLES);
  const wd = num(attrs, 'weightDecay');
  precheck(c);
  const outs: TensorInfo[] = [];
  const deferred: (() => void)[] = [];
  for (let i = 0; i < c.count; i++) {
    const floats = { ...adamFloats(c.constants(i, wd)), ...guardFloats(c, inputs, i) };
    outs.push(...adamLike(c, i, ADAMW, [], floats, deferred));
  }
  afterChecks(c, deferred);
  return finishCall(c, outs, 'adamw');
};

export const webgpuL2spKernel: KernelFunc = ({ inputs, backend, attrs }) => {
  const c = begin(backend, inputs, attrs, ANCHORED_ROLES);
  const alpha = num(attrs, 'alpha');
  precheck(c);
  const outs: TensorInfo[] = [];
  const deferred: (() => void)[] = [];
  for (let i = 0; i < c.count; i++) {
    const floats = { ...adamFloats(c.constants(i)), [F.hyper]: alpha, ...guardFloats(c, inputs, i) };
    outs.push(...adamLike(c, i, L2SP, [c.at('anchor', i)], floats, deferred));
  }
  afterChecks(c, deferred);
  return finishCall(c, outs, 'l2sp');
};

/** Outputs per tensor: θ', m', v', κ, r. Adam writes q into θ'; sums and the decision on the device; decay in place. */
export const webgpuSpdKernel: KernelFunc = ({ inputs, backend, attrs }) => {
  const c = begin(backend, inputs, attrs, ANCHORED_ROLES);
  const lambda = num(attrs, 'lambda');
  const sizes = Array.from({ length: c.count }, (_, i) => sizeOf(c.at('param', i).shape));
  const parts = c.rec.scratchRegions(sizes.map((n) => 3 * partsFor(n)));
  const coefs = c.rec.scratchRegions(sizes.map(() => 4));
  const outs: TensorInfo[] = [];
  for (let i = 0; i < c.count; i++) {
    const n = sizes[i]!;
    const floats = { ...adamFloats(c.constants(i)), [F.hyper]: lambda, ...guardFloats(c, inputs, i) };
    const [q, mo, vo] = adamLike(c, i, ADAMW, [], floats) as [TensorInfo, TensorInfo, TensorInfo];
    c.rec.setSlot(i, { n, parts: partsFor(n) }, {});
    const p = c.at('param', i);
    const an = c.at('anchor', i);
    const part = parts[i]!;
    const coef = coefs[i]!;
    c.rec.dispatch(
      0,
      SPD_SUMS,
      i,
      [p, c.at('grad', i), an, q].map((t) => c.rec.bind(t)).concat(part.binding),
      partsFor(n),
    );
    c.rec.dispatch(0, SPD_SCALARS, i, [part.binding, coef.binding], 1);
    const cond = c.rec.output([]);
    const ratio = c.rec.output([]);
    copyScalarsOut(c, coef, 0, [cond, ratio]);
    c.rec.copy(1, coef.binding.buffer, coef.offset + 8, 'uniforms', uniformOffset(i, F.coef + 2), 4);
    c.rec.dispatch(1, SPD_DECAY, i, [c.rec.bind(an), c.rec.bind(q)], groupsFor(n));
    outs.push(q, mo, vo, cond, ratio);
  }
  return finishCall(c, outs, 'spd');
};

const FTP_SCALAR_ROLES = ['gamma', 'gammaM', 'gammaV'] as const;

/** Outputs per tensor: θ', m', v', c, 1/n (row-shaped), γ, m_γ, v_γ (0-d). */
export const webgpuFtpKernel: KernelFunc = ({ inputs, backend, attrs }) => {
  const c = begin(backend, inputs, attrs, [...ANCHORED_ROLES, 'cPrev?']);
  const wd = num(attrs, 'weightDecay');
  const t = num(attrs, 't');
  const anneal = num(attrs, 'k');
  const shapes = Array.from({ length: c.count }, (_, i) => [...c.at('param', i).shape]);
  const geometry = shapes.map((shape, i) => {
    // Rows = output units by the layout rule (attribute rowSpans), contiguous or strided.
    const { outer, rows, inner, rowShape } = ftpGeometry(attrs, i, shape);
    const n = sizeOf(shape);
    const rowLen = outer * inner;
    return { n, rows, rowLen, inner, rowShape, ...ftpRowGeometry(rows, rowLen, inner) };
  });
  for (let i = 0; i < c.count; i++) {
    const rPrev = c.opt('rPrev', i);
    if (rPrev && sizeOf(rPrev.shape) !== geometry[i]!.rows)
      throw kernelError('STATE_MISMATCH', 'FTP row state does not match its parameter', 'inputs.rPrev');
  }
  precheck(c);
  const parts = c.rec.scratchRegions(geometry.map((g) => 2 * g.partials));
  const sins = c.rec.scratchRegions(geometry.map(() => 4));
  const coefs = c.rec.scratchRegions(geometry.map(() => 4));
  const outs: TensorInfo[] = [];
  const deferred: (() => void)[] = [];
  for (let i = 0; i < c.count; i++) {
    const geo = geometry[i]!;
    const shape = shapes[i]!;
    const cPrev = c.opt('cPrev', i);
    const rPrev = c.opt('rPrev', i);
    const usePrev = t > 1 && cPrev !== undefined && rPrev !== undefined;
    const sin = sins[i]!;
    const has = copyScalarsIn(c, i, FTP_SCALAR_ROLES, sin);
    const p = c.at('param', i);
    const g = c.at('grad', i);
    const an = c.at('anchor', i);
    const [tho, mo, vo, co] = [0, 1, 2, 3].map(() => c.rec.output(shape)) as TensorInfo[];
    const ro = c.rec.output(geo.rowShape);
    const scalars = [c.rec.output([]), c.rec.output([]), c.rec.output([])];
    c.rec.setSlot(
      i,
      { n: geo.n, rows: geo.rows, rowLen: geo.rowLen, parts: geo.parts, inner: geo.inner },
      {
        ...adamFloats(c.constants(i, wd)),
        ...hyperFloats(t, usePrev, has),
        [F.anneal]: anneal,
        ...guardFloats(c, inputs, i),
        [F.keepA]: rPrev ? 1 : 0,
        [F.keepB]: cPrev ? 1 : 0,
      },
    );
    const bind = (ts: (TensorInfo | undefined)[]) => ts.map((x) => c.rec.bind(x!));
    // A small tensor `precheck` tested: its Adam pass too runs after the checks, keeping m and v itself.
    recordAdamPass(c, i, FTP_ADAM, deferred, (pass) =>
      c.rec.dispatch(0, pass, i, bind([p, g, c.at('m', i), c.at('v', i), an, mo, vo, co]), groupsFor(geo.n)),
    );
    // Checked: R, γ and θ' (the passes below) keep on the flag once every tensor's Adam pass checked g.
    later(c, deferred, () => {
      const cp = usePrev ? cPrev : g;
      c.rec.dispatch(0, FTP_ROW_SUMS, i, [...bind([co, g, cp]), parts[i]!.binding], geo.parts);
      // Without R_prev the shader never reads `rp` (usePrev = keepA = 0); `sin` stands in as a read-only buffer.
      const rp = rPrev ? c.rec.bind(rPrev) : sin.binding;
      c.rec.dispatch(
        0,
        variant(c, FTP_SCALARS),
        i,
        [parts[i]!.binding, rp, sin.binding, c.rec.bind(ro!), coefs[i]!.binding],
        1,
      );
      copyScalarsOut(c, coefs[i]!, 0, scalars);
      c.rec.copy(1, coefs[i]!.binding.buffer, coefs[i]!.offset, 'uniforms', uniformOffset(i, F.coef), 4);
      // A kept step restores C_prev (the gradient stands in when it is absent: keepB = 0).
      c.rec.dispatch(1, variant(c, FTP_PROJECT), i, bind([an, co, ro, tho, p, cPrev ?? g]), groupsFor(geo.n));
    });
    outs.push(tho!, mo!, vo!, co!, ro!, ...scalars);
  }
  afterChecks(c, deferred);
  return finishCall(c, outs, 'ftp');
};

/** Outputs per tensor: θ', m', v', P, Q, ⟨g,c⟩, then the six strength scalars (0-d). */
export const webgpuDigrapKernel: KernelFunc = ({ inputs, backend, attrs }) => {
  const c = begin(backend, inputs, attrs, [...ANCHORED_ROLES, 'pPrev?', 'qPrev?']);
  const lambda = num(attrs, 'lambda');
  const t = num(attrs, 't');
  const sizes = Array.from({ length: c.count }, (_, i) => sizeOf(c.at('param', i).shape));
  const parts = c.rec.scratchRegions(sizes.map((n) => 5 * partsFor(n)));
  const sins = c.rec.scratchRegions(sizes.map(() => 8));
  const coefs = c.rec.scratchRegions(sizes.map(() => 12));
  const outs: TensorInfo[] = [];
  const deferred: (() => void)[] = [];
  for (let i = 0; i < c.count; i++) {
    const n = sizes[i]!;
    const p = c.at('param', i);
    const shape = [...p.shape];
    const g = c.at('grad', i);
    const an = c.at('anchor', i);
    const pPrev = c.opt('pPrev', i);
    const qPrev = c.opt('qPrev', i);
    const usePrev = t > 1 && pPrev !== undefined && qPrev !== undefined;
    const has = copyScalarsIn(c, i, DIGRAP_SCALAR_ROLES, sins[i]!);
    const [tho, mo, vo, po, qo] = [0, 1, 2, 3, 4].map(() => c.rec.output(shape)) as TensorInfo[];
    const scalars = DIGRAP_SCALAR_ROLES.map(() => c.rec.output([]));
    const dot = c.rec.output([]);
    c.rec.setSlot(
      i,
      { n, parts: partsFor(n) },
      {
        ...adamFloats(c.constants(i)),
        ...hyperFloats(t, usePrev, has),
        [F.hyper]: lambda,
        [F.lrPrev]: numAt(attrs, 'lrPrevs', i),
        ...guardFloats(c, inputs, i),
        [F.keepA]: pPrev ? 1 : 0,
        [F.keepB]: qPrev ? 1 : 0,
      },
    );
    const bind = (ts: (TensorInfo | undefined)[]) => ts.map((x) => c.rec.bind(x!));
    const [pp, qp] = usePrev ? [pPrev, qPrev] : [g, g];
    c.rec.dispatch(
      0,
      variant(c, DIGRAP_SUMS),
      i,
      [...bind([p, g, an, pp, qp]), parts[i]!.binding],
      partsFor(n),
    );
    // Checked: every pass below keeps on the flag once every tensor's sums pass checked g (no restore).
    later(c, deferred, () => {
      c.rec.dispatch(
        0,
        variant(c, DIGRAP_SCALARS),
        i,
        [parts[i]!.binding, sins[i]!.binding, coefs[i]!.binding],
        1,
      );
      copyScalarsOut(c, coefs[i]!, 0, [dot, ...scalars]);
      // gs, cs, α, β (coef[7…10]) into this slot's F(coef + 7…10) in one copy.
      c.rec.copy(
        1,
        coefs[i]!.binding.buffer,
        coefs[i]!.offset + 28,
        'uniforms',
        uniformOffset(i, F.coef + 7),
        16,
      );
      c.rec.dispatch(
        1,
        variant(c, DIGRAP_ADAM),
        i,
        bind([p, g, c.at('m', i), c.at('v', i), an, mo, vo, tho]),
        groupsFor(n),
      );
      c.rec.dispatch(
        1,
        variant(c, DIGRAP_STATE),
        i,
        bind([p, g, an, pPrev ?? g, qPrev ?? g, po, qo]),
        groupsFor(n),
      );
    });
    outs.push(tho!, mo!, vo!, po!, qo!, dot, ...scalars);
  }
  afterChecks(c, deferred);
  return finishCall(c, outs, 'digrap');
};

/**
 * The 'guard' policy's finiteness flag in one call (core's FINITE_FLAG_KERNEL): inputs x0…x(n−1),
 * float32; output 0-d float32, 1 when all are finite. One init dispatch, then one check pass per
 * FINITE_GROUP tensors, each reading its tensors once (one workgroup per REDUCE_SPAN elements of one
 * tensor): a step pays ⌈n/7⌉ + 1 dispatches and 4 B per parameter instead of a tfjs reduction (and its partials) per gradient tensor.
 */
export const webgpuFiniteFlagKernel: KernelFunc = ({ inputs, backend, attrs }) => {
  const b = webgpuInternals(backend);
  if (!b)
    throw kernelError('BACKEND_UNAVAILABLE', 'finite flag: the active backend is not a tfjs-webgpu backend');
  const count = num(attrs, 'n');
  const xs = Array.from({ length: count }, (_, i) => input(inputs, `x${i}`));
  const groups: TensorInfo[][] = [];
  for (let i = 0; i < count; i += FINITE_GROUP) groups.push(xs.slice(i, i + FINITE_GROUP));
  const rec = new StepRecorder(b, Math.max(groups.length, 1));
  const flag = rec.output([]);
  const flagBinding = rec.bind(flag);
  rec.dispatch(0, FINITE_INIT, 0, [flagBinding], 1);
  groups.forEach((group, j) => {
    recordCheck(rec, j, group, 'flag', [flagBinding]);
  });
  rec.finish();
  return flag;
};
