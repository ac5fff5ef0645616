import * as tf from '@tensorflow/tfjs-core';

/**
 * Runs `fn` with every enclosing gradient tape paused, and restores them afterwards (on a throw too).
 *
 * Why: tfjs keeps ONE tape for nested `tf.grad`/`tf.variableGrads` calls (that is how it computes
 * higher-order gradients). An attack run inside `tf.variableGrads` therefore records its forward ops,
 * its own backward kernels (Conv2DBackpropInput, MaxPoolGrad, …) and its comparisons (Greater, Sign) on
 * the outer tape, connected from the weights to the adversarial batch. The outer backward pass then
 * walks that path and throws ("gradient function not found for MaxPoolGrad / Greater"); a zero-gradient
 * `stopGradient` on the result does not help, because tfjs filters the tape by connectivity, not by
 * gradient values. With the tapes paused, `fn`'s own `tf.grad` calls start and end a fresh tape of
 * their own, nothing of `fn` is kept for the outer backward pass, and its outputs are leaves there.
 *
 * tfjs-core has no public "pause recording" call; `engine().state` is its public, typed engine state.
 */
export function offTape<T>(fn: () => T): T {
  const state = tf.engine().state;
  const depth = state.gradientDepth;
  const tape = state.activeTape;
  state.gradientDepth = 0;
  try {
    return fn() as T;
  } finally {
    state.gradientDepth = depth;
    state.activeTape = tape;
  }
}
