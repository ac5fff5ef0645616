import type { NamedTensorMap, Tensor, Variable } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { type AnchorOption, type Anchors, anchorOptionProblem, resolveAnchors } from './anchors';
import { checkOptions, type OptionSchema } from './check-options';
import { invalidArgument, RobustFtError } from './errors';
import { finiteFlag } from './finite-flag';
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
import { assertNonNegative, assertShape, sameShape, shapeToString } from './validate';

/** What to do when a gradient holds NaN or ±Inf. */
export type NonFinitePolicy = 'error' | 'skip' | 'guard' | 'off';

/**
 * How a `RobustOptimizer` runs its transformation: the learning rate, anchors, non-finite policy and
 * the factory that rebuilds it when a saved model is loaded.
 */
export interface RobustOptimizerOptions {
  transformation: AnyTransformation;
  learningRate: LearningRate;
  /** Where the anchor comes from: `'initial'` (default), `'zero'`, a shared `Anchors`, or explicit tensors. */
  anchor?: AnchorOption;
  /**
   * `'error'`: throw `NON_FINITE` before anything is mutated (costs one host sync per step);
   * `'skip'`: leave the step out and count it in `skippedSteps` (one host sync too);
   * `'guard'`: no host sync — the step is computed and then masked on the device (fused kernels keep
   * θ and the state themselves: on cpu and wasm they check g in the passes that read it, on webgpu they
   * take a flag computed in one kernel call), so a
   * non-finite step leaves parameters and tensor state unchanged (only step counters advance); count
   * such steps with `await nonFiniteSteps()`; `'off'`: no check.
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

const NON_FINITE_POLICIES = ['error', 'skip', 'guard', 'off'] as const;

const ADAPTER_OPTIONS: OptionSchema<RobustOptimizerOptions> = {
  transformation: 'object',
  learningRate: (v) =>
    isSchedule(v) || (typeof v === 'number' && v >= 0) ? undefined : 'a number >= 0 or a schedule',
  anchor: anchorOptionProblem,
  nonFinite: NON_FINITE_POLICIES,
  factory: 'object',
};

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
  /** Names restored by `setWeights` that no gradient has claimed yet (see `planRenames`). */
  private unclaimed = new Set<string>();
  /** Each parameter's shape, recorded at first sight or restored from a checkpoint's header. */
  private paramShapes = new Map<string, readonly number[]>();
  /** Parameters whose anchor passed the shape and finiteness check (given anchors are checked once). */
  private verifiedAnchors = new Set<string>();
  /** False from a `setWeights` until a step has used some of the restored state. */
  private claimedSinceRestore = true;
  private encodedNumbers: Tensor[] = [];
  private skipped = 0;
  /** Device-side count of steps masked under the 'guard' policy (read asynchronously). */
  private guardedBad: Tensor | undefined;

  constructor(options: RobustOptimizerOptions) {
    super();
    if (!options || typeof options.transformation?.update !== 'function') {
      throw invalidArgument('options.transformation', 'a gradient transformation ({ init, update })');
    }
    checkOptions('RobustOptimizer', options, ADAPTER_OPTIONS);
    validateLearningRate('options.learningRate', options.learningRate);
    // checkOptions has refused any other value of nonFinite (NON_FINITE_POLICIES).
    const policy = options.nonFinite;
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

  /**
   * Applies one step. Every check (names, dtypes, shapes, restored state, anchors, finiteness) runs
   * before the first assignment, so a failed step changes no variable, no state and no anchor. The
   * gradients stay the caller's (they are never disposed here); `minimize` disposes its own.
   */
  override applyGradients(variableGradients: NamedTensorMap | NamedTensor[]): void {
    const grads = toGradMap(variableGradients);
    const names = Object.keys(grads);
    if (names.length === 0) {
      throw new RobustFtError('INVALID_ARGUMENT', 'applyGradients got no gradients (empty variable list)', {
        argument: 'variableGradients',
        expected: 'at least one gradient keyed by a trainable float32 variable name',
      });
    }
    // Renames are planned, not applied: a failing step must leave the restored keys as they were.
    const renames = this.planRenames(names);
    if (this.unclaimed.size > 0 && !this.claimedSinceRestore) {
      // Restored state that none of the first step's variables claims was saved for another model;
      // starting fresh beside it would silently drop the checkpoint.
      if (!names.some((n) => this.unclaimed.has(n) || renames.has(n))) {
        const saved = [...this.unclaimed].slice(0, 3).join('", "');
        throw new RobustFtError(
          'STATE_MISMATCH',
          `the restored optimizer state is for other variables ("${saved}"…), none of this step's ("${names.slice(0, 3).join('", "')}"…): was it saved for another model?`,
          { argument: 'variableGradients', expected: 'gradients of the variables the state was saved for' },
        );
      }
    }
    const vars = resolveVariables(grads);
    for (const n of names) this.checkParamShape(renames.get(n) ?? n, n, vars[n]!);
    let stateNow = this.adapterState;
    for (const [to, from] of renames) stateNow = renameKey(stateNow, from, to) as AdapterState;
    const anchorName = (n: string) => renames.get(n) ?? n;
    const policy = this.nonFinite;
    const fresh = names.filter((n) => stateNow.seen[n] === undefined);
    // Anchors given from outside (explicit tensors, a shared store) are checked before first use.
    const unverified = names.filter(
      (n) => !this.verifiedAnchors.has(n) && this.anchors.hasCaptured(anchorName(n)),
    );
    for (const n of unverified) {
      assertShape(`anchor["${n}"]`, this.anchors.get(anchorName(n)), vars[n]!.shape);
    }
    const checked: NamedTensorMap = { ...grads };
    for (const n of unverified) checked[`anchor:${n}`] = this.anchors.get(anchorName(n));
    if (policy === 'error' || policy === 'skip') {
      const bad = firstNonFinite(checked);
      if (bad !== undefined) {
        const isAnchor = bad.startsWith('anchor:');
        if (policy === 'skip' && !isAnchor) {
          this.skipped++;
          return;
        }
        const name = isAnchor ? bad.slice('anchor:'.length) : bad;
        throw new RobustFtError(
          'NON_FINITE',
          `the ${isAnchor ? 'anchor' : 'gradient'} of "${name}" holds NaN or Inf; the step was not applied`,
          { argument: isAnchor ? `anchor["${name}"]` : `grads["${name}"]`, expected: 'finite values' },
        );
      }
    }

    const createdAnchors: string[] = [];
    // 'guard': the flag is computed on first use, so a transformation whose kernels check the
    // gradients in the passes that read them anyway (ctx.ownFiniteCheck) costs no extra pass.
    let ok: Tensor | undefined;
    const finiteOk = (): Tensor => {
      ok ??= tf.keep(finiteFlag(checked));
      return ok;
    };
    const ownFiniteCheck = policy === 'guard' && unverified.length === 0;
    let inner = stateNow.inner;
    let ownFlag: Tensor | undefined;
    const before = collectTensors(inner);
    try {
      // A 'zero' anchor is re-created on demand, also for names a restored optimizer has seen.
      for (const n of names) {
        if (fresh.includes(n) || this.anchors.mode === 'zero') {
          if (this.anchors.ensure(anchorName(n), vars[n]!)) createdAnchors.push(anchorName(n));
        }
      }
      if (fresh.length > 0) {
        const freshParams: NamedTensorMap = {};
        for (const n of fresh) freshParams[n] = vars[n]!;
        const init = tf.tidy(() => this.transformation.init(freshParams) as tf.TensorContainer) as StateTree;
        // State outlives any tidy scope the caller runs us in (model.fit steps inside one).
        for (const t of collectTensors(init)) tf.keep(t);
        inner = mergeState(inner, init);
      }
      const ctx: TransformContext = {
        step: stateNow.step + 1,
        learningRate: this.learningRate,
        anchor: (n) => this.anchors.get(anchorName(n)),
      };
      if (policy === 'guard') {
        Object.defineProperties(ctx, {
          finite: { get: finiteOk, enumerable: true },
          ownFiniteCheck: { value: ownFiniteCheck, enumerable: true },
        });
      }
      const params: NamedTensorMap = vars;
      const stepInput = inner;
      const result = tf.tidy(() => {
        const r = this.transformation.update(grads, stepInput, params, ctx);
        return {
          updates: r.updates,
          state: r.state,
          assign: r.assign ?? {},
          guarded: r.guarded === true,
          ...(r.finite ? { finite: r.finite } : {}),
        } as unknown as tf.TensorContainer;
      }) as unknown as {
        updates: NamedTensorMap;
        state: StateTree;
        assign: NamedTensorMap;
        guarded: boolean;
        finite?: Tensor;
      };
      ownFlag = result.finite;
      // A transformation that honoured the flag in its kernels already kept θ and the state.
      const mask = policy === 'guard' && !result.guarded ? finiteOk() : undefined;
      for (const n of names) {
        const u = result.assign[n] ?? result.updates[n];
        if (!u || !sameShape(u.shape, vars[n]!.shape)) {
          const held = collectTensors(inner);
          disposeStateExcept(result.state, held);
          // The updates the tidy kept for us are ours to dispose (never the caller's gradients).
          for (const g of Object.values(grads)) held.add(g);
          disposeUpdates(result, held, vars);
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
      // Commit: nothing above mutated a variable, the stored state or a shared store.
      tf.tidy(() => {
        for (const n of names) {
          const absolute = result.assign[n];
          const next = absolute ?? tf.add(vars[n]!, result.updates[n]!);
          vars[n]!.assign(mask ? tf.where(mask, next, vars[n]!) : next);
        }
        if (policy === 'guard') {
          // Counted from the kernels' own flag when they checked every gradient, else from ctx's.
          const flag = result.guarded && ownFiniteCheck && ownFlag ? ownFlag : finiteOk();
          const bad = tf.sub(1, tf.cast(flag, 'float32'));
          const total = tf.keep(this.guardedBad ? tf.add(this.guardedBad, bad) : bad);
          this.guardedBad?.dispose();
          this.guardedBad = total;
        }
      });
      const keep = collectTensors(nextState);
      for (const t of keep) tf.keep(t);
      for (const g of Object.values(grads)) keep.add(g);
      disposeUpdates(result, keep, vars);
      disposeStateExcept(inner, keep);
      const seen = { ...stateNow.seen };
      for (const n of fresh) seen[n] = 1;
      for (const [to, from] of renames) {
        this.unclaimed.delete(from);
        this.anchors.rename(from, to);
        this.paramShapes.delete(from);
      }
      for (const n of names) this.paramShapes.set(n, [...vars[n]!.shape]);
      for (const n of names) this.unclaimed.delete(n);
      for (const n of unverified) this.verifiedAnchors.add(n);
      this.claimedSinceRestore = true;
      this.adapterState = { step: stateNow.step + 1, seen, inner: nextState };
      this.incrementIterations();
    } catch (error) {
      // Undo what this call created: fresh state and first-sight anchors.
      if (inner !== stateNow.inner) disposeStateExcept(inner, before);
      for (const n of createdAnchors) this.anchors.forget(n);
      throw error;
    } finally {
      ok?.dispose();
      ownFlag?.dispose();
    }
  }

  /**
   * tfjs's `minimize` skips disposing the gradients and the loss when `applyGradients` throws, so a
   * training loop that catches `NON_FINITE` and goes on would leak them every bad batch. Ours always
   * disposes what it computed, and turns "no trainable variables" into a typed error.
   */
  override minimize(f: () => tf.Scalar, returnCost = false, varList?: Variable[]): tf.Scalar | null {
    if (varList !== undefined && varList.length === 0) throw emptyVariableList();
    let computed: { value: tf.Scalar; grads: NamedTensorMap };
    try {
      // In a tidy: tfjs leaves what f computed behind when it throws (a non-scalar loss, say).
      computed = tf.tidy(
        () => this.computeGradients(f, varList) as unknown as tf.TensorContainer,
      ) as unknown as typeof computed;
    } catch (error) {
      if (!RobustFtError.isInstance(error) && /at least one of the input variables/.test(String(error)))
        throw emptyVariableList();
      throw error;
    }
    const { value, grads } = computed;
    try {
      this.applyGradients(
        varList === undefined ? grads : varList.map((v) => ({ name: v.name, tensor: grads[v.name]! })),
      );
    } catch (error) {
      tf.dispose(grads);
      value.dispose();
      throw error;
    }
    tf.dispose(grads);
    if (returnCost) return value;
    value.dispose();
    return null;
  }

  /**
   * The whole state as named tensors: a header (factory, parameter shapes, every slot's shape and
   * dtype), the state tree's leaves, and the captured anchors (also those of a shared store, so a
   * resumed run can re-attach them).
   */
  override async getWeights(): Promise<NamedTensor[]> {
    for (const t of this.encodedNumbers) t.dispose();
    this.encodedNumbers = [];
    const encode = (value: number): Tensor => {
      const tensor = encodeNumber(value);
      this.encodedNumbers.push(tensor);
      return tensor;
    };
    const out: NamedTensor[] = [];
    const slots: Record<string, SlotRecord> = {};
    for (const { path, value } of flattenState(this.adapterState)) {
      if (isTensor(value)) {
        const name = JSON.stringify(['t', ...path]);
        slots[name] = { shape: [...value.shape], dtype: value.dtype };
        out.push({ name, tensor: value });
      } else out.push({ name: JSON.stringify(['n', ...path]), tensor: encode(value) });
    }
    // Empty maps carry structure (a transformation may index into them) but no leaves: mark them.
    for (const path of emptyPaths(this.adapterState)) {
      out.push({ name: JSON.stringify(['e', ...path]), tensor: encode(0) });
    }
    if (this.anchors.mode !== 'zero') {
      const snap = this.anchors.snapshot();
      for (const name of Object.keys(snap).sort()) {
        const tensor = snap[name]!;
        const entry = JSON.stringify(['a', name]);
        slots[entry] = { shape: [...tensor.shape], dtype: tensor.dtype };
        out.push({ name: entry, tensor });
      }
    }
    const header: StateHeader = {
      format: STATE_FORMAT,
      factory: this.factory?.name ?? null,
      label: this.transformation.label,
      params: Object.fromEntries(
        Object.keys(this.adapterState.seen)
          .sort()
          .map((n) => [n, this.paramShape(n)]),
      ),
      slots,
    };
    out.unshift({
      name: JSON.stringify(['h', JSON.stringify(header)]),
      tensor: encode(STATE_FORMAT_VERSION),
    });
    return out;
  }

  /**
   * Restores `getWeights()` output. Everything is validated before anything is assigned: the header
   * (same factory; the SPD state of an FTP optimizer is `STATE_MISMATCH`), every slot against the one
   * this optimizer's transformation creates for the recorded parameter shapes (present, same shape and
   * dtype, nothing extra), and finiteness (`NON_FINITE`). On failure nothing changes and nothing leaks.
   */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    if (!Array.isArray(weightValues)) {
      throw invalidArgument('weightValues', 'the NamedTensor[] of getWeights()', weightValues);
    }
    const leaves: { path: string[]; value: Tensor | number; entry: string }[] = [];
    const anchors: [string, Tensor][] = [];
    const empties: string[][] = [];
    let header: StateHeader | undefined;
    for (const item of weightValues) {
      const { name, tensor } = item ?? ({} as NamedTensor);
      if (typeof name !== 'string' || !isTensor(tensor)) {
        throw mismatch('every weight must be { name: string, tensor: tf.Tensor }', 'weightValues');
      }
      const parsed = parseWeightName(name);
      if (parsed === null) continue; // foreign entries such as tfjs's "iter"
      const [kind, ...path] = parsed;
      if (kind === 'h' && path.length === 1) header = parseHeader(path[0]!);
      else if (kind === 'n') {
        // Read asynchronously: synchronous reads are unreliable on WebGPU.
        const value = decodeNumberWords(tensor.dtype, await tensor.data());
        if (!Number.isFinite(value)) {
          throw new RobustFtError('NON_FINITE', `optimizer state number ${name} is ${value}`, {
            argument: `weightValues["${name}"]`,
            expected: 'a finite number',
          });
        }
        leaves.push({ path, value, entry: name });
      } else if (kind === 't') leaves.push({ path, value: tensor, entry: name });
      else if (kind === 'a' && path.length === 1) anchors.push([path[0]!, tensor]);
      else if (kind === 'e') empties.push(path);
      else throw mismatch(`unrecognised optimizer weight "${name}"`, 'weightValues');
    }
    const tree = unflattenState(leaves) as Partial<AdapterState>;
    for (const path of empties) ensurePath(tree as StateTree, path);
    if (typeof tree.step !== 'number') {
      throw new RobustFtError(
        'STATE_MISMATCH',
        'the weights hold no robust-ft optimizer state (missing step)',
        {
          argument: 'weightValues',
          expected: 'the output of getWeights() of a robust-ft optimizer',
        },
      );
    }
    const seen = (tree.seen as Record<string, number> | undefined) ?? {};
    const inner = (tree.inner as StateTree | undefined) ?? {};
    if (header !== undefined) {
      this.checkHeader(header, Object.keys(seen));
      for (const l of leaves) if (isTensor(l.value)) checkSlot(header, l.entry, l.value);
      for (const [n, t] of anchors) {
        checkSlot(header, JSON.stringify(['a', n]), t);
        const shape = header.params[n];
        if (shape && !sameShape(shape, t.shape)) {
          throw mismatch(
            `the saved anchor of "${n}" has shape ${shapeToString(t.shape)}, the parameter ${shapeToString(shape)}`,
            `weightValues["${JSON.stringify(['a', n])}"]`,
          );
        }
      }
      this.checkStructure(inner, header.params);
      this.checkSameModel(header.params);
      for (const [n, shape] of Object.entries(header.params)) {
        const v = tf.engine().registeredVariables[n];
        if (shape && v && !sameShape(shape, v.shape)) {
          throw mismatch(
            `the state of "${n}" is for shape ${shapeToString(shape)}, the variable "${n}" has ${shapeToString(v.shape)} (state of another model?)`,
            'weightValues',
          );
        }
      }
    }
    for (const [n, t] of anchors) {
      if (this.anchors.mode === 'zero') continue;
      const existing = this.anchors.hasCaptured(n) ? this.anchors.get(n) : undefined;
      if (existing && !this.ownsAnchors && !sameShape(existing.shape, t.shape)) {
        throw mismatch(
          `the shared anchor of "${n}" has shape ${shapeToString(existing.shape)}, the saved one ${shapeToString(t.shape)}`,
          'options.anchor',
        );
      }
    }
    const floats: NamedTensorMap = {};
    for (const l of leaves) if (isTensor(l.value) && l.value.dtype === 'float32') floats[l.entry] = l.value;
    for (const [n, t] of anchors) if (t.dtype === 'float32') floats[JSON.stringify(['a', n])] = t;
    const bad = await firstNonFiniteAsync(floats);
    if (bad !== undefined) {
      throw new RobustFtError(
        'NON_FINITE',
        `optimizer state entry ${bad} holds NaN or Inf; nothing was restored`,
        {
          argument: `weightValues["${bad}"]`,
          expected: 'finite values',
        },
      );
    }

    // Validated: copy (the caller owns and may dispose its tensors), then swap.
    for (const l of leaves) if (isTensor(l.value)) l.value = tf.keep(tf.clone(l.value));
    const restored = unflattenState(leaves) as Partial<AdapterState>;
    for (const path of empties) ensurePath(restored as StateTree, path);
    disposeStateExcept(this.adapterState.inner, new Set());
    if (this.ownsAnchors) {
      // An owned store becomes exactly the checkpoint's (anchors of other names would leak and linger).
      const saved = new Set(anchors.map(([n]) => n));
      for (const n of this.anchors.names()) if (!saved.has(n)) this.anchors.forget(n);
      this.verifiedAnchors = new Set();
    }
    for (const [name, t] of anchors) {
      if (this.anchors.mode === 'zero') continue;
      // A shared store keeps what it holds (it may serve other optimizers); it gains what it lacks.
      // Restored anchors passed the checks above; a store's own ones are checked at their first use.
      if (this.ownsAnchors || !this.anchors.hasCaptured(name)) {
        this.anchors.restore(name, tf.clone(t));
        this.verifiedAnchors.add(name);
      }
    }
    this.adapterState = {
      step: tree.step,
      seen: (restored.seen as Record<string, number> | undefined) ?? {},
      inner: (restored.inner as StateTree | undefined) ?? {},
    };
    this.iterations_ = tree.step;
    this.unclaimed = new Set(Object.keys(this.adapterState.seen));
    this.claimedSinceRestore = this.unclaimed.size === 0;
    this.paramShapes = new Map();
    for (const [n, shape] of Object.entries(header?.params ?? {})) if (shape) this.paramShapes.set(n, shape);
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
   * name when exactly one restored, not yet claimed name has the same base name. Returns new → old;
   * the step applies the renames only when it commits.
   */
  private planRenames(names: readonly string[]): Map<string, string> {
    const plan = new Map<string, string>();
    if (this.unclaimed.size === 0) return plan;
    const pool = new Set(this.unclaimed);
    for (const n of names) pool.delete(n);
    for (const n of names) {
      if (this.unclaimed.has(n) || this.adapterState.seen[n] !== undefined) continue;
      const base = n.replace(TFJS_UNIQUE_SUFFIX, '');
      const candidates = [...pool].filter((c) => c.replace(TFJS_UNIQUE_SUFFIX, '') === base);
      if (candidates.length !== 1) continue;
      pool.delete(candidates[0]!);
      plan.set(n, candidates[0]!);
    }
    return plan;
  }

  /** State kept for `saved` must fit the variable now called `name` (another model's state does not). */
  private checkParamShape(saved: string, name: string, variable: Variable): void {
    const shape = this.paramShapes.get(saved);
    if (shape && !sameShape(shape, variable.shape)) {
      throw new RobustFtError(
        'STATE_MISMATCH',
        `the optimizer state of "${saved}" is for shape ${shapeToString(shape)}, the variable "${name}" has ${shapeToString(variable.shape)}`,
        { argument: `grads["${name}"]`, expected: `a variable of shape ${shapeToString(shape)}` },
      );
    }
  }

  /**
   * An optimizer that already holds state may only take state of the same variables (by base name,
   * as tfjs-layers renames them per load) and shapes; another model's state is `STATE_MISMATCH`.
   */
  private checkSameModel(params: Readonly<Record<string, number[] | null>>): void {
    const current = Object.keys(this.adapterState.seen);
    if (current.length === 0) return;
    const base = (n: string) => n.replace(TFJS_UNIQUE_SUFFIX, '');
    const mine = new Map(current.map((n) => [base(n), this.paramShapes.get(n)]));
    const overlap = Object.entries(params).filter(([n]) => mine.has(base(n)));
    const wrong = overlap.find(([n, shape]) => {
      const have = mine.get(base(n));
      return shape !== null && have !== undefined && !sameShape(shape, have);
    });
    if (overlap.length === 0 || wrong) {
      throw mismatch(
        wrong
          ? `the saved state of "${wrong[0]}" has shape ${shapeToString(wrong[1]!)}, this optimizer's ${shapeToString(mine.get(base(wrong[0]))!)} (state of another model?)`
          : `the saved state is for other variables ("${Object.keys(params).slice(0, 3).join('", "')}"…) than this optimizer's ("${current.slice(0, 3).join('", "')}"…): state of another model?`,
        'weightValues',
      );
    }
  }

  private paramShape(name: string): number[] | null {
    const shape = this.paramShapes.get(name) ?? tf.engine().registeredVariables[name]?.shape;
    return shape ? [...shape] : null;
  }

  private checkHeader(header: StateHeader, seen: readonly string[]): void {
    const mine = this.factory?.name ?? null;
    const theirs = header.factory ?? null;
    const differs =
      mine !== null && theirs !== null ? mine !== theirs : header.label !== this.transformation.label;
    if (differs) {
      throw new RobustFtError(
        'STATE_MISMATCH',
        `optimizer state was saved by ${theirs ?? header.label}, cannot load it into ${mine ?? this.transformation.label}`,
        { argument: 'weightValues', expected: `state saved by ${mine ?? this.transformation.label}` },
      );
    }
    const params = Object.keys(header.params).sort();
    const names = [...seen].sort();
    if (params.length !== names.length || params.some((p, i) => p !== names[i])) {
      throw mismatch('the state header and the saved parameter list disagree', 'weightValues');
    }
  }

  /**
   * Every slot must be the one this optimizer's own `init` creates for the recorded parameter shapes:
   * same paths, tensors of the same shape and dtype where it has tensors, numbers where it has numbers.
   */
  private checkStructure(inner: StateTree, params: Readonly<Record<string, number[] | null>>): void {
    const shapes = Object.entries(params);
    if (shapes.length === 0 || shapes.some(([, s]) => s === null)) return;
    const expected = new Map<string, SlotRecord | 'number'>();
    tf.tidy(() => {
      const zeros: NamedTensorMap = {};
      for (const [n, shape] of shapes) zeros[n] = tf.zeros(shape!);
      for (const { path, value } of flattenState(this.transformation.init(zeros) as StateTree)) {
        expected.set(
          JSON.stringify(path),
          isTensor(value) ? { shape: [...value.shape], dtype: value.dtype } : 'number',
        );
      }
    });
    const got = flattenState(inner);
    for (const { path, value } of got) {
      const key = JSON.stringify(path);
      const want = expected.get(key);
      // The weight that holds this slot: a tensor entry ("t") or an encoded number ("n").
      const entry = JSON.stringify([isTensor(value) ? 't' : 'n', 'inner', ...path]);
      if (want === undefined)
        throw mismatch(`unexpected optimizer state slot ${key}`, `weightValues[${entry}]`);
      if (want === 'number' ? isTensor(value) : !isTensor(value)) {
        throw mismatch(
          `optimizer state slot ${key} must be a ${want === 'number' ? 'number' : 'tensor'}`,
          `weightValues[${entry}]`,
        );
      }
      if (
        want !== 'number' &&
        isTensor(value) &&
        (!sameShape(want.shape, value.shape) || want.dtype !== value.dtype)
      ) {
        throw mismatch(
          `optimizer state slot ${key} is ${value.dtype}${shapeToString(value.shape)}, expected ${want.dtype}${shapeToString(want.shape)}`,
          `weightValues[${entry}]`,
        );
      }
    }
    if (got.length !== expected.size) {
      const have = new Set(got.map((l) => JSON.stringify(l.path)));
      const missing = [...expected.keys()].find((k) => !have.has(k));
      throw mismatch(`optimizer state slot ${missing} is missing`, 'weightValues');
    }
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
    // Checked for every variable before any is touched: an int32 variable must not fail half-way.
    if (v.dtype !== 'float32' || g.dtype !== 'float32') {
      const which = v.dtype !== 'float32' ? `variable "${name}" is ${v.dtype}` : `its gradient is ${g.dtype}`;
      throw new RobustFtError(
        'INVALID_ARGUMENT',
        `cannot optimise "${name}": ${which}; only float32 trains`,
        {
          argument: `grads["${name}"]`,
          expected: 'a float32 variable and gradient',
        },
      );
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

/** Disposes the update and assign tensors a step returned, except those in `keep` and the variables. */
function disposeUpdates(
  result: { updates: NamedTensorMap; assign: NamedTensorMap },
  keep: ReadonlySet<Tensor>,
  vars: Record<string, Variable>,
): void {
  for (const [n, u] of [...Object.entries(result.updates), ...Object.entries(result.assign)]) {
    if (!keep.has(u) && u !== vars[n] && !u.isDisposed) u.dispose();
  }
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
 * The name of the first entry holding NaN/±Inf, or undefined. The fast test reads one flag for all
 * entries (`finiteFlag`: one kernel call where a backend registers FINITE_FLAG_KERNEL, as the fused
 * optimizers do for cpu, wasm and webgpu; otherwise one sum per tensor); only a raised flag (rare) runs
 * the exact per-entry count, so an overflowing but finite sum is never mistaken for a NaN.
 */
function firstNonFinite(map: NamedTensorMap): string | undefined {
  refuseSyncReads();
  const quick = finiteFlag(map);
  const allFinite = readSync(quick)[0] === 1;
  quick.dispose();
  if (allFinite) return undefined;
  for (const n of Object.keys(map)) {
    const count = tf.tidy(() => tf.sum(tf.cast(tf.logicalNot(tf.isFinite(map[n]!)), 'float32')));
    const bad = readSync(count)[0]!;
    count.dispose();
    if (bad > 0) return n;
  }
  return undefined;
}

/** `firstNonFinite` without a synchronous read (for `setWeights`, which is async). */
async function firstNonFiniteAsync(map: NamedTensorMap): Promise<string | undefined> {
  const names = Object.keys(map);
  if (names.length === 0) return undefined;
  const counts = tf.tidy(() =>
    vectorOf(names.map((n) => tf.sum(tf.cast(tf.logicalNot(tf.isFinite(map[n]!)), 'float32')))),
  );
  try {
    const values = await counts.data();
    return names.find((_, i) => values[i] !== 0);
  } finally {
    counts.dispose();
  }
}

/**
 * The adapter's only synchronous read: the 'error' and 'skip' policies must decide inside tfjs's
 * synchronous `applyGradients`. WebGPU returns zeros for synchronous reads (the check would pass NaN),
 * so there these policies are refused; 'guard' decides on the device instead.
 */
function readSync(tensor: Tensor): ArrayLike<number> {
  refuseSyncReads();
  return tensor.dataSync();
}

/** Scalars as one vector, concatenated at most 7 at a time (WebGPU binds ≤ 8 buffers per shader). */
function vectorOf(scalars: Tensor[]): Tensor {
  let level = scalars.map((s) => tf.reshape(s, [1]));
  while (level.length > 1) {
    const next: Tensor[] = [];
    for (let i = 0; i < level.length; i += 7) next.push(tf.concat(level.slice(i, i + 7)));
    level = next;
  }
  return level[0]!;
}

function refuseSyncReads(): void {
  if (tf.getBackend() === 'webgpu') {
    throw new RobustFtError(
      'UNSUPPORTED',
      "nonFinite 'error' and 'skip' need a synchronous read, which WebGPU does not support; use 'guard' (the WebGPU default) and await nonFiniteSteps()",
      { argument: 'options.nonFinite', expected: "'guard' or 'off' on WebGPU" },
    );
  }
}

const STATE_FORMAT = 'robust-ft-optimizer-state';
const STATE_FORMAT_VERSION = 2;

interface SlotRecord {
  shape: number[];
  dtype: string;
}

/** What `getWeights` records about the state, so `setWeights` can check a checkpoint before using it. */
interface StateHeader {
  format: typeof STATE_FORMAT;
  /** The registered factory (`robust-ft/ftp`), or null for an optimizer built from a transformation. */
  factory: string | null;
  label: string;
  /** Shape of every parameter the state covers (null where it was not known). */
  params: Record<string, number[] | null>;
  /** Shape and dtype of every tensor entry, by entry name. */
  slots: Record<string, SlotRecord>;
}

function parseHeader(text: string): StateHeader {
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch {
    header = undefined;
  }
  const h = header as Partial<StateHeader> | undefined;
  if (
    h?.format !== STATE_FORMAT ||
    typeof h.label !== 'string' ||
    typeof h.params !== 'object' ||
    h.params === null ||
    typeof h.slots !== 'object' ||
    h.slots === null
  ) {
    throw mismatch('the optimizer state header is not readable', 'weightValues');
  }
  return h as StateHeader;
}

function checkSlot(header: StateHeader, entry: string, tensor: Tensor): void {
  const slot = header.slots[entry];
  if (!slot) throw mismatch(`optimizer weight ${entry} is not in the state header`, `weightValues[${entry}]`);
  if (!sameShape(slot.shape, tensor.shape) || slot.dtype !== tensor.dtype) {
    throw mismatch(
      `optimizer weight ${entry} is ${tensor.dtype}${shapeToString(tensor.shape)}, the header says ${slot.dtype}${shapeToString(slot.shape)}`,
      `weightValues[${entry}]`,
    );
  }
}

function mismatch(message: string, argument: string): RobustFtError {
  return new RobustFtError('STATE_MISMATCH', message, { argument });
}

function emptyVariableList(): RobustFtError {
  return new RobustFtError('INVALID_ARGUMENT', 'nothing to optimise: the variable list is empty', {
    argument: 'varList',
    expected: 'at least one trainable float32 variable',
  });
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
