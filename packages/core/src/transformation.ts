import type { NamedTensorMap, Tensor } from '@tensorflow/tfjs-core';
import { RobustFtError } from './errors';
import type { StateTree } from './state-tree';

/**
 * The optimizer vocabulary, after optax: a transformation is a pair of pure functions. `init` builds
 * state for some parameters; `update` maps gradients (or the updates of an earlier transformation) to
 * updates and a new state. Updates are *added* to the parameters by whoever applies them.
 *
 * All state lives in the returned tree. `update` runs inside `tf.tidy` (the adapter arranges it), so a
 * transformation just creates tensors; it must not dispose its inputs or the previous state.
 * `grads` may hold a subset of the parameters seen at `init` (a missing gradient): entries of the
 * state for other names must be carried over unchanged.
 */
export interface TransformContext {
  /** 1-based count of this step (global, over all calls that applied an update). */
  readonly step: number;
  /** The learning rate in force for this step. */
  readonly learningRate: number;
  /** The frozen pre-trained weights, looked up by parameter name. */
  readonly anchor: (name: string) => Tensor;
  /**
   * Under the `'guard'` non-finite policy: a 0-d bool, true when every gradient (and every anchor not
   * yet verified) is finite. A transformation that honours it itself (its fused kernel leaves
   * parameters and state as they were when it is false) says so with `guarded: true`, and the adapter
   * skips its own masking. Computed on first read (one more pass over every gradient), so a
   * transformation that checks the gradients itself (`ownFiniteCheck`) leaves it unread.
   */
  readonly finite?: Tensor;
  /**
   * True under `'guard'` when `finite` would cover the gradients alone (no anchor to verify this
   * step): a transformation whose kernels check every gradient they read may leave `finite` unread,
   * keep parameters and state itself on a NaN or ±Inf, and return `guarded: true` with its own flag
   * in `UpdateResult.finite`. Absent (or false) otherwise; a transformation that ignores it is
   * unaffected.
   */
  readonly ownFiniteCheck?: boolean;
}

/** What a transformation's `update` returns: the parameter deltas and its new state. */
export interface UpdateResult<S extends StateTree = StateTree> {
  /** Deltas added to the parameters, by name. */
  updates: NamedTensorMap;
  state: S;
  /**
   * New parameter values, by name, for transformations that produce them directly (a projection, a
   * fused kernel writing θ' in one pass). A name present here is assigned, not incremented; only the
   * last transformation of a chain may return it.
   */
  assign?: NamedTensorMap;
  /** True when `ctx.finite` was honoured for every name (see `TransformContext.finite`). */
  guarded?: boolean;
  /**
   * With `guarded: true` under `ctx.ownFiniteCheck`: the transformation's own flag over every
   * gradient, a 0-d tensor (bool, or float32 1/0), true when the step was applied. The adapter counts
   * kept steps (`nonFiniteSteps`) from it and disposes it; otherwise it counts from `ctx.finite`.
   */
  finite?: Tensor;
}

/**
 * An optax-style gradient transformation: `init` builds the state for the parameters, `update` maps
 * gradients (and state) to updates. Compose them with `chain`; `RobustOptimizer` runs one as a `tf.Optimizer`.
 */
export interface GradientTransformation<S extends StateTree = StateTree> {
  /** A short label used in state paths and logs. */
  readonly label: string;
  init(params: NamedTensorMap): S;
  update(grads: NamedTensorMap, state: S, params: NamedTensorMap, ctx: TransformContext): UpdateResult<S>;
}

/** Any transformation, with its state type erased (what combinators accept). */
// biome-ignore lint/suspicious/noExplicitAny: state types are erased at composition boundaries by design.
export type AnyTransformation = GradientTransformation<any>;

/** Copies the state entries of names not present in `grads` — the usual carry-over for per-name maps. */
export function carryOver<T>(
  previous: Readonly<Record<string, T>>,
  next: Record<string, T>,
  grads: NamedTensorMap,
): Record<string, T> {
  for (const name of Object.keys(previous)) if (!(name in grads)) next[name] = previous[name]!;
  return next;
}

/** Applies transformations in sequence: the updates of one are the input of the next. */
export function chain(...transforms: AnyTransformation[]): GradientTransformation<StateTree> {
  return {
    label: `chain(${transforms.map((t) => t.label).join(',')})`,
    init(params) {
      const state: StateTree = {};
      transforms.forEach((t, i) => {
        state[`${i}`] = t.init(params);
      });
      return state;
    },
    update(grads, state, params, ctx) {
      let updates = grads;
      let assign: NamedTensorMap | undefined;
      const next: StateTree = {};
      transforms.forEach((t, i) => {
        const r = t.update(updates, state[`${i}`] as StateTree, params, ctx);
        if (r.assign && i !== transforms.length - 1) {
          throw new RobustFtError(
            'UNSUPPORTED',
            `${t.label} returns absolute parameters and must be last in a chain`,
            {
              argument: 'transforms',
            },
          );
        }
        if (r.assign) assign = r.assign;
        updates = r.updates;
        next[`${i}`] = r.state;
      });
      return assign ? { updates, state: next, assign } : { updates, state: next };
    },
  };
}
