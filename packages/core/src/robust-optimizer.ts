import type { NamedTensorMap, Tensor, Variable } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { addMany } from './add-many';
import { type AnchorOption, type Anchors, resolveAnchors } from './anchors';
import { invalidArgument, RobustFtError } from './errors';
import type { NamedTensor } from './named-tensors';
import { getOptimizerFactory, type JsonObject } from './optimizer-registry';
import { isSchedule, type LearningRate, learningRateAt } from './schedules';
import {
  collectTensors,
  decodeNumberWords,
  disposeStateExcept,
  emptyPaths,
  encodeNumber,
  ensurePath,
  flattenState,
  isTensor,
  mergeState,
  renameKey,
  type StateTree,
  unflattenState,
} from './state-tree';
import type { AnyTransformation, TransformContext } from './transformation';
import { assertNonNegative, sameShape, shapeToString } from './validate';

/** What to do when a gradient holds NaN or ±Inf. */
export type NonFinitePolicy = 'error' | 'skip' | 'guard' | 'off';

export interface RobustOptimizerOptions {
  transformation: AnyTransformation;
  learningRate: LearningRate;
  /** Where the anchor comes from: `'initial'` (default), `'zero'`, a shared `Anchors`, or explicit tensors. */
  anchor?: AnchorOption;
  /**
   * `'error'`: throw `NON_FINITE` before anything is mutated (costs one host sync per step);
   * `'skip'`: leave the step out and count it in `skippedSteps` (one host sync too);
   * `'guard'`: no host sync — the step is computed and then masked on the device, so a non-finite
   * step leaves parameters and tensor state unchanged (only step counters advance); count such steps
   * with `await nonFiniteSteps()`; `'off'`: no check.
   * Default: `'guard'` on WebGPU (synchronous reads there are slow, and unreliable on software
   * adapters), `'error'` elsewhere.
   */
  nonFinite?: NonFinitePolicy;
  /** How `getConfig`/`fromConfig` rebuild this optimizer: a registered factory and its JSON options. */
  factory?: { name: string; options: JsonObject };
}

/** The adapter's whole state: one tree, so checkpoints are uniform. */
interface AdapterState extends StateTree {
  step: number;
  seen: Record<string, number>;
  inner: StateTree;
}

const TFJS_UNIQUE_SUFFIX = /_\d+$/;

/**
 * The adapter from a gradient transformation to `tf.Optimizer`: every robust-ft optimizer is one of
 * these, so it works with `model.compile({optimizer})`, `model.fit`, `minimize` and `applyGradients`.
 *
 * A step validates everything first (known variables, shapes, finite gradients, anchors), computes the
 * new state and updates in `tf.tidy`, and only then assigns variables and swaps state: a failed step
 * mutates nothing.
 */
export class RobustOptimizer extends tf.Optimizer {
  static className = 'RobustFtOptimizer';

  readonly transformation: AnyTransformation;
  readonly anchors: Anchors;
  private readonly nonFiniteOption: NonFinitePolicy | undefined;
  private readonly ownsAnchors: boolean;
  private readonly factory: { name: string; options: JsonObject } | undefined;
  private lr: LearningRate;
  private adapterState: AdapterState = { step: 0, seen: {}, inner: {} };
  /** Names restored by `setWeights` that no gradient has claimed yet (see `claimRenamed`). */
  private unclaimed = new Set<string>();
  private encodedNumbers: Tensor[] = [];
  private skipped = 0;
  /** Device-side count of steps masked under the 'guard' policy (read asynchronously). */
  private guardedBad: Tensor | undefined;

  constructor(options: RobustOptimizerOptions) {
    super();
    if (!options || typeof options.transformation?.update !== 'function') {
      throw invalidArgument('options.transformation', 'a gradient transformation ({ init, update })');
    }
    validateLearningRate('options.learningRate', options.learningRate);
    const policy = options.nonFinite;
    if (policy !== undefined && !['error', 'skip', 'guard', 'off'].includes(policy)) {
      throw invalidArgument('options.nonFinite', "'error', 'skip', 'guard' or 'off'", policy);
    }
    this.transformation = options.transformation;
    this.lr = options.learningRate;
    this.nonFiniteOption = policy;
    this.factory = options.factory;
    const { anchors, owned } = resolveAnchors(options.anchor);
    this.anchors = anchors;
    this.ownsAnchors = owned;
  }

  /** The learning rate of the next step (a schedule is evaluated at the current step count). */
  get learningRate(): number {
    return learningRateAt(this.lr, this.adapterState.step);
  }

  /** Sets a constant learning rate (or a schedule) from the next step on. */
  set learningRate(value: LearningRate) {
    validateLearningRate('learningRate', value);
    this.lr = value;
  }

  /** Steps applied so far. */
  get step(): number {
    return this.adapterState.step;
  }

  /** The policy in force for the next step (the default depends on the backend). */
  get nonFinite(): NonFinitePolicy {
    return this.nonFiniteOption ?? (tf.getBackend() === 'webgpu' ? 'guard' : 'error');
  }

  /** Steps left out under `nonFinite: 'skip'`. */
  get skippedSteps(): number {
    return this.skipped;
  }

  /** Steps whose gradients were not finite: skipped ones plus those masked under 'guard'. */
  async nonFiniteSteps(): Promise<number> {
    const guarded = this.guardedBad ? (await this.guardedBad.data())[0]! : 0;
    return this.skipped + guarded;
  }

  /** The transformation's current state (read-only view, for diagnostics such as FTP's γ). */
  get state(): Readonly<StateTree> {
    return this.adapterState.inner;
  }

  override applyGradients(variableGradients: NamedTensorMap | NamedTensor[]): void {
    const grads = toGradMap(variableGradients);
    const names = Object.keys(grads);
    if (names.length === 0) return;
    for (const name of names) this.claimRenamed(name);

    const vars = resolveVariables(grads);
    const policy = this.nonFinite;
    if ((policy === 'error' || policy === 'skip') && !allFinite(grads)) {
      if (policy === 'skip') {
        this.skipped++;
        return;
      }
      const bad = names.find((n) => !allFinite({ [n]: grads[n]! }))!;
      throw new RobustFtError(
        'NON_FINITE',
        `the gradient of "${bad}" holds NaN or Inf; the step was not applied`,
        {
          argument: `grads["${bad}"]`,
          expected: 'finite values',
        },
      );
    }

    const fresh = names.filter((n) => this.adapterState.seen[n] === undefined);
    const createdAnchors: string[] = [];
    const ok = policy === 'guard' ? tf.keep(finiteFlag(grads)) : undefined;
    let inner = this.adapterState.inner;
    const before = collectTensors(inner);
    try {
      for (const n of fresh) if (this.anchors.ensure(n, vars[n]!)) createdAnchors.push(n);
      if (fresh.length > 0) {
        const freshParams: NamedTensorMap = {};
        for (const n of fresh) freshParams[n] = vars[n]!;
        const init = tf.tidy(() => this.transformation.init(freshParams) as tf.TensorContainer) as StateTree;
        // State outlives any tidy scope the caller runs us in (model.fit steps inside one).
        for (const t of collectTensors(init)) tf.keep(t);
        inner = mergeState(inner, init);
      }
      const ctx: TransformContext = {
        step: this.adapterState.step + 1,
        learningRate: this.learningRate,
        anchor: (n) => this.anchors.get(n),
        ...(ok ? { finite: ok } : {}),
      };
      const params: NamedTensorMap = vars;
      const stepInput = inner;
      const result = tf.tidy(() => {
        const r = this.transformation.update(grads, stepInput, params, ctx);
        return {
          updates: r.updates,
          state: r.state,
          assign: r.assign ?? {},
          guarded: r.guarded === true,
        } as unknown as tf.TensorContainer;
      }) as unknown as {
        updates: NamedTensorMap;
        state: StateTree;
        assign: NamedTensorMap;
        guarded: boolean;
      };
      // A transformation that honoured ctx.finite in its kernels already kept θ and the state.
      const mask = result.guarded ? undefined : ok;
      for (const n of names) {
        const u = result.assign[n] ?? result.updates[n];
        if (!u || !sameShape(u.shape, vars[n]!.shape)) {
          disposeStateExcept(result.state, collectTensors(inner));
          throw new RobustFtError(
            'STATE_MISMATCH',
            `the transformation returned no valid update for "${n}"`,
            { argument: n },
          );
        }
      }
      let nextState = result.state;
      if (mask) {
        const previous = inner;
        const guarded = tf.tidy(
          () => guardState(result.state, previous, mask) as unknown as tf.TensorContainer,
        ) as unknown as StateTree;
        const retained = collectTensors(guarded);
        for (const t of collectTensors(inner)) retained.add(t);
        disposeStateExcept(result.state, retained);
        nextState = guarded;
      }
      // Commit: nothing above mutated a variable or the stored state.
      tf.tidy(() => {
        for (const n of names) {
          const absolute = result.assign[n];
          const next = absolute ?? tf.add(vars[n]!, result.updates[n]!);
          vars[n]!.assign(mask ? tf.where(mask, next, vars[n]!) : next);
        }
        if (ok) {
          const bad = tf.sub(1, tf.cast(ok, 'float32'));
          const total = tf.keep(this.guardedBad ? tf.add(this.guardedBad, bad) : bad);
          this.guardedBad?.dispose();
          this.guardedBad = total;
        }
      });
      const keep = collectTensors(nextState);
      for (const t of keep) tf.keep(t);
      for (const g of Object.values(grads)) keep.add(g);
      for (const [n, u] of [...Object.entries(result.updates), ...Object.entries(result.assign)]) {
        if (!keep.has(u) && u !== vars[n] && !u.isDisposed) u.dispose();
      }
      disposeStateExcept(inner, keep);
      const seen = { ...this.adapterState.seen };
      for (const n of fresh) seen[n] = 1;
      this.adapterState = { step: this.adapterState.step + 1, seen, inner: nextState };
      this.incrementIterations();
    } catch (error) {
      // Undo what this call created: fresh state and first-sight anchors.
      if (inner !== this.adapterState.inner) disposeStateExcept(inner, before);
      for (const n of createdAnchors) this.anchors.forget(n);
      throw error;
    } finally {
      ok?.dispose();
    }
  }

  override async getWeights(): Promise<NamedTensor[]> {
    for (const t of this.encodedNumbers) t.dispose();
    this.encodedNumbers = [];
    const out: NamedTensor[] = [];
    for (const { path, value } of flattenState(this.adapterState)) {
      if (isTensor(value)) out.push({ name: JSON.stringify(['t', ...path]), tensor: value });
      else {
        const tensor = encodeNumber(value);
        this.encodedNumbers.push(tensor);
        out.push({ name: JSON.stringify(['n', ...path]), tensor });
      }
    }
    // Empty maps carry structure (a transformation may index into them) but no leaves: mark them.
    for (const path of emptyPaths(this.adapterState)) {
      const tensor = encodeNumber(0);
      this.encodedNumbers.push(tensor);
      out.push({ name: JSON.stringify(['e', ...path]), tensor });
    }
    if (this.ownsAnchors) {
      const snap = this.anchors.snapshot();
      for (const name of Object.keys(snap).sort())
        out.push({ name: JSON.stringify(['a', name]), tensor: snap[name]! });
    }
    return out;
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const leaves: { path: string[]; value: Tensor | number }[] = [];
    const anchors: [string, Tensor][] = [];
    const empties: string[][] = [];
    for (const { name, tensor } of weightValues) {
      const parsed = parseWeightName(name);
      if (parsed === null) continue; // foreign entries such as tfjs's "iter"
      const [kind, ...path] = parsed;
      // Read asynchronously: synchronous reads are unreliable on WebGPU.
      if (kind === 'n') leaves.push({ path, value: decodeNumberWords(tensor.dtype, await tensor.data()) });
      else if (kind === 't') leaves.push({ path, value: tf.keep(tf.clone(tensor)) });
      else if (kind === 'a' && path.length === 1) anchors.push([path[0]!, tensor]);
      else if (kind === 'e') empties.push(path);
      else
        throw new RobustFtError('STATE_MISMATCH', `unrecognised optimizer weight "${name}"`, {
          argument: 'weightValues',
        });
    }
    const tree = unflattenState(leaves) as Partial<AdapterState>;
    for (const path of empties) ensurePath(tree as StateTree, path);
    if (typeof tree.step !== 'number') {
      for (const l of leaves) if (isTensor(l.value)) l.value.dispose();
      throw new RobustFtError(
        'STATE_MISMATCH',
        'the weights hold no robust-ft optimizer state (missing step)',
        {
          argument: 'weightValues',
          expected: 'the output of getWeights() of a robust-ft optimizer',
        },
      );
    }
    disposeStateExcept(this.adapterState.inner, new Set());
    for (const [name, t] of anchors) if (this.ownsAnchors) this.anchors.restore(name, tf.clone(t));
    this.adapterState = {
      step: tree.step,
      seen: (tree.seen as Record<string, number>) ?? {},
      inner: (tree.inner as StateTree) ?? {},
    };
    this.iterations_ = tree.step;
    this.unclaimed = new Set(Object.keys(this.adapterState.seen));
  }

  override getConfig(): tf.serialization.ConfigDict {
    if (!this.factory) {
      throw new RobustFtError(
        'UNSUPPORTED',
        'this optimizer was built without a registered factory and cannot be serialised',
        {
          argument: 'options.factory',
        },
      );
    }
    return { factory: this.factory.name, options: JSON.stringify(this.factory.options) };
  }

  static override fromConfig<T extends tf.serialization.Serializable>(
    _cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    const name = config.factory;
    const options = config.options;
    if (typeof name !== 'string' || typeof options !== 'string') {
      throw new RobustFtError(
        'STATE_MISMATCH',
        'optimizer config must hold { factory: string, options: JSON string }',
        {
          argument: 'config',
        },
      );
    }
    return getOptimizerFactory(name)(JSON.parse(options) as JsonObject) as T;
  }

  override dispose(): void {
    disposeStateExcept(this.adapterState, new Set());
    this.adapterState = { step: 0, seen: {}, inner: {} };
    for (const t of this.encodedNumbers) t.dispose();
    this.encodedNumbers = [];
    this.guardedBad?.dispose();
    this.guardedBad = undefined;
    if (this.ownsAnchors) this.anchors.dispose();
    super.dispose();
  }

  /**
   * tfjs-layers makes variable names unique per process (`dense/kernel` → `dense/kernel_1` when a saved
   * model is reloaded beside the original). A restored optimizer therefore re-keys its state to a new
   * name when exactly one restored, not yet claimed name has the same base name.
   */
  private claimRenamed(name: string): void {
    if (this.unclaimed.size === 0) return;
    if (this.unclaimed.delete(name)) return;
    if (this.adapterState.seen[name] !== undefined) return;
    const base = name.replace(TFJS_UNIQUE_SUFFIX, '');
    const candidates = [...this.unclaimed].filter((c) => c.replace(TFJS_UNIQUE_SUFFIX, '') === base);
    if (candidates.length !== 1) return;
    const from = candidates[0]!;
    this.unclaimed.delete(from);
    this.adapterState = renameKey(this.adapterState, from, name) as AdapterState;
    this.anchors.rename(from, name);
  }
}

tf.serialization.registerClass(RobustOptimizer);

function validateLearningRate(argument: string, lr: unknown): asserts lr is LearningRate {
  if (isSchedule(lr)) return;
  assertNonNegative(argument, lr);
}

function toGradMap(input: NamedTensorMap | NamedTensor[]): NamedTensorMap {
  if (Array.isArray(input)) {
    const out: NamedTensorMap = {};
    for (const { name, tensor } of input) if (tensor != null) out[name] = tensor;
    return out;
  }
  if (typeof input !== 'object' || input === null)
    throw invalidArgument('variableGradients', 'a name → tensor map or NamedTensor[]', input);
  const out: NamedTensorMap = {};
  for (const [name, t] of Object.entries(input)) if (t != null) out[name] = t;
  return out;
}

function resolveVariables(grads: NamedTensorMap): Record<string, Variable> {
  const registry = tf.engine().registeredVariables;
  const vars: Record<string, Variable> = {};
  for (const [name, g] of Object.entries(grads)) {
    if (!isTensor(g)) throw invalidArgument(`grads["${name}"]`, 'a tf.Tensor', g);
    const v = registry[name];
    if (!v) {
      throw new RobustFtError('UNKNOWN_VARIABLE', `no variable named "${name}" is registered`, {
        argument: `grads["${name}"]`,
        expected: 'a gradient keyed by the name of a registered tf.Variable',
      });
    }
    if (!sameShape(g.shape, v.shape)) {
      throw new RobustFtError(
        'SHAPE_MISMATCH',
        `the gradient of "${name}" has shape ${shapeToString(g.shape)}, the variable ${shapeToString(v.shape)}`,
        { argument: `grads["${name}"]`, expected: `shape ${shapeToString(v.shape)}` },
      );
    }
    vars[name] = v;
  }
  return vars;
}

/**
 * A boolean scalar on the device: every gradient entry is finite. One reduction pass per tensor: a sum
 * is NaN/±Inf whenever an entry is; a sum that overflows float32 (|Σ| > 3.4e38, a step that would be
 * ruinous anyway) also counts as non-finite.
 */
function finiteFlag(grads: NamedTensorMap): Tensor {
  return tf.tidy(() => tf.isFinite(addMany(Object.values(grads).map((g) => tf.sum(g)))));
}

/**
 * `where(ok, next, previous)` for every tensor of the new state that replaces one of the same shape
 * (fresh entries and numbers pass through): a masked step leaves tensor state as it was.
 */
function guardState(next: StateTree, previous: StateTree | undefined, ok: Tensor): StateTree {
  const out: StateTree = {};
  for (const [k, v] of Object.entries(next)) {
    const p = previous?.[k];
    if (isTensor(v)) {
      out[k] = isTensor(p) && p !== v && sameShape(p.shape, v.shape) ? tf.where(ok, v, p) : v;
    } else if (typeof v === 'object') {
      out[k] = guardState(v, isTensor(p) || typeof p !== 'object' ? undefined : p, ok);
    } else out[k] = v;
  }
  return out;
}

/**
 * One host sync for all gradients. The fast test reads the sum of all entries (one pass per tensor);
 * only when that is not finite does the exact per-entry test run, so an overflowing but finite sum is
 * never mistaken for a NaN.
 */
function allFinite(grads: NamedTensorMap): boolean {
  const quick = finiteFlag(grads);
  const ok = quick.dataSync()[0] === 1;
  quick.dispose();
  if (ok) return true;
  const bad = tf.tidy(() =>
    addMany(Object.values(grads).map((g) => tf.sum(tf.cast(tf.logicalNot(tf.isFinite(g)), 'float32')))),
  );
  const n = bad.dataSync()[0]!;
  bad.dispose();
  return n === 0;
}

function parseWeightName(name: string): string[] | null {
  if (!name.startsWith('[')) return null;
  try {
    const parsed: unknown = JSON.parse(name);
    if (Array.isArray(parsed) && parsed.every((p) => typeof p === 'string') && parsed.length >= 2)
      return parsed as string[];
  } catch {
    // not ours
  }
  return null;
}
