import type { NamedTensorMap, Tensor } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { globalNorm, mapTensors } from '../named-tensors';
import type { StateTree } from '../state-tree';
import type { GradientTransformation } from '../transformation';
import { carryOver } from '../transformation';
import { assertFiniteNumber, assertInRange, assertNonNegative, assertPositive } from '../validate';

/** A transformation that keeps no state of its own. */
export type Stateless = GradientTransformation<StateTree>;

/** Multiplies updates by a constant. */
export function scale(factor: number): Stateless {
  assertFiniteNumber('factor', factor);
  return {
    label: 'scale',
    init: () => ({}),
    update: (g, state) => ({ updates: mapTensors(g, (u) => tf.mul(u, factor)), state }),
  };
}

/** Multiplies updates by −learningRate (the adapter supplies the rate in force, schedule included). */
export function scaleByLearningRate(): Stateless {
  return {
    label: 'scaleByLearningRate',
    init: () => ({}),
    update: (g, state, _p, ctx) => ({ updates: mapTensors(g, (u) => tf.mul(u, -ctx.learningRate)), state }),
  };
}

/**
 * Adds `weightDecay · θ` to the updates. Before a rescaling transformation (Adam) this is coupled L2;
 * after it and before `scaleByLearningRate` it is decoupled decay toward zero (AdamW).
 */
export function addDecayedWeights(weightDecay: number): Stateless {
  assertNonNegative('weightDecay', weightDecay);
  return {
    label: 'addDecayedWeights',
    init: () => ({}),
    update: (g, state, params) => ({
      updates:
        weightDecay === 0 ? g : mapTensors(g, (u, name) => tf.add(u, tf.mul(params[name]!, weightDecay))),
      state,
    }),
  };
}

/** Options of `traceMomentum`: the momentum coefficient and whether the update is Nesterov's. */
export interface MomentumOptions {
  momentum: number;
  nesterov?: boolean;
}

/** The state of `traceMomentum`: the momentum buffer and whether it has started, per parameter name. */
export type MomentumState = { buf: Record<string, Tensor>; started: Record<string, number> };

/**
 * torch SGD momentum (dampening 0): b ← μb + g (b = g on the first step), update b, or g + μb with
 * Nesterov.
 */
export function traceMomentum({
  momentum,
  nesterov = false,
}: MomentumOptions): GradientTransformation<MomentumState> {
  assertInRange('momentum', momentum, 0, 1, { openHigh: true });
  return {
    label: 'traceMomentum',
    init(params) {
      const buf: Record<string, Tensor> = {};
      const started: Record<string, number> = {};
      for (const [name, p] of Object.entries(params)) {
        buf[name] = tf.zerosLike(p);
        started[name] = 0;
      }
      return { buf, started };
    },
    update(grads, state) {
      const updates: NamedTensorMap = {};
      const buf: Record<string, Tensor> = {};
      const started: Record<string, number> = {};
      for (const [name, g] of Object.entries(grads)) {
        const b = state.started[name] ? tf.add(tf.mul(state.buf[name]!, momentum), g) : tf.clone(g);
        buf[name] = b;
        started[name] = 1;
        updates[name] = nesterov ? tf.add(g, tf.mul(b, momentum)) : b;
      }
      return {
        updates,
        state: { buf: carryOver(state.buf, buf, grads), started: carryOver(state.started, started, grads) },
      };
    },
  };
}

/** Rescales all updates so their global L2 norm is at most `maxNorm`. */
export function clipByGlobalNorm(maxNorm: number): Stateless {
  assertPositive('maxNorm', maxNorm);
  return {
    label: 'clipByGlobalNorm',
    init: () => ({}),
    update(g, state) {
      const norm = globalNorm(g);
      const factor = tf.div(maxNorm, tf.maximum(norm, maxNorm));
      return { updates: mapTensors(g, (u) => tf.mul(u, factor)), state };
    },
  };
}
