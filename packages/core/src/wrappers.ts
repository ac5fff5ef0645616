import type { NamedTensorMap } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { RobustFtError } from './errors';
import { type NameSelector, nameMatcher } from './selectors';
import type { StateTree } from './state-tree';
import type { AnyTransformation, GradientTransformation } from './transformation';

function pick(map: NamedTensorMap, keep: (name: string) => boolean): NamedTensorMap {
  const out: NamedTensorMap = {};
  for (const [k, v] of Object.entries(map)) if (keep(k)) out[k] = v;
  return out;
}

/**
 * Applies `inner` only to the parameters selected by `selector`; the others pass through unchanged
 * (optax `masked`). To freeze parameters instead, use `multiTransform` with `setToZero()`.
 */
export function masked(inner: AnyTransformation, selector: NameSelector): GradientTransformation<StateTree> {
  const selected = nameMatcher(selector);
  return {
    label: `masked(${inner.label})`,
    init: (params) => ({ inner: inner.init(pick(params, selected)) }),
    update(grads, state, params, ctx) {
      const r = inner.update(pick(grads, selected), state.inner as StateTree, pick(params, selected), ctx);
      return { updates: { ...pick(grads, (n) => !selected(n)), ...r.updates }, state: { inner: r.state } };
    },
  };
}

/** One group of `multiTransform`: the parameters it selects and the transformation they get. */
export interface ParameterGroup {
  /** Which parameters belong to the group; the first group that matches a name wins. */
  select: NameSelector;
  transform: AnyTransformation;
}

/**
 * Parameter groups (optax `multi_transform`): each parameter goes to the first group whose selector
 * matches it, the rest to `fallback`. Use it to give a head its own learning rate or to exclude biases.
 */
export function multiTransform(
  groups: readonly ParameterGroup[],
  fallback: AnyTransformation,
): GradientTransformation<StateTree> {
  if (groups.length === 0)
    throw new RobustFtError('INVALID_ARGUMENT', 'groups must hold at least one group', {
      argument: 'groups',
      expected: 'a non-empty array',
    });
  const matchers = groups.map((g) => nameMatcher(g.select));
  const groupOf = (name: string) => {
    const i = matchers.findIndex((m) => m(name));
    return i === -1 ? groups.length : i;
  };
  const all = [...groups.map((g) => g.transform), fallback];
  return {
    label: `multiTransform(${all.map((t) => t.label).join(',')})`,
    init(params) {
      const state: StateTree = {};
      all.forEach((t, i) => {
        state[`${i}`] = t.init(pick(params, (n) => groupOf(n) === i));
      });
      return state;
    },
    update(grads, state, params, ctx) {
      const updates: NamedTensorMap = {};
      const next: StateTree = {};
      all.forEach((t, i) => {
        const inGroup = (n: string) => groupOf(n) === i;
        const r = t.update(pick(grads, inGroup), state[`${i}`] as StateTree, pick(params, inGroup), ctx);
        Object.assign(updates, r.updates);
        next[`${i}`] = r.state;
      });
      return { updates, state: next };
    },
  };
}

/** Zero updates: freezes whatever it is applied to. */
export function setToZero(): GradientTransformation<StateTree> {
  return {
    label: 'setToZero',
    init: () => ({}),
    update: (grads, state) => {
      const updates: NamedTensorMap = {};
      for (const [k, g] of Object.entries(grads)) updates[k] = tf.zerosLike(g);
      return { updates, state };
    },
  };
}

/** Passes the gradients through unchanged (no state). */
export function identity(): GradientTransformation<StateTree> {
  return { label: 'identity', init: () => ({}), update: (grads, state) => ({ updates: grads, state }) };
}
