import { createRng } from '@robust-ft/core';
import * as tf from '@tensorflow/tfjs-core';
import {
  type ApgdNorm,
  ascentDirection,
  type LogitsModel,
  perSampleNorm,
  project,
  type ResolvedBudget,
  rowShape,
} from './attack-common';
import { projectL1Box } from './l1-projection';

/** A per-sample objective of the logits that APGD maximises; must be built from differentiable ops. */
export type ApgdObjective = (logits: tf.Tensor2D) => tf.Tensor1D;

export interface ApgdRun {
  model: LogitsModel;
  /** Clean inputs. */
  x: tf.Tensor;
  /** True classes `[N]` int32: an iterate whose argmax differs counts as fooled. */
  labels: tf.Tensor1D;
  objective: ApgdObjective;
  budget: ResolvedBudget<ApgdNorm>;
  steps: number;
  /** Starting point inside the budget and the range (not disposed here). */
  start: tf.Tensor;
}

export interface ApgdResult {
  /** The highest-objective point per sample. */
  best: tf.Tensor;
  /** `[N]` bool: some iterate (the start included) was misclassified — AutoAttack's success criterion. */
  fooled: tf.Tensor1D;
}

/** AutoAttack's L1 checkpoint spacing is a fixed 4 % of the iterations; L∞/L2 use the shrinking APGD schedule. */
const L1_CHECK_FRACTION = 0.04;

interface Evaluated {
  losses: tf.Tensor1D;
  grad: tf.Tensor;
  wrong: tf.Tensor1D;
}

function evaluate(run: ApgdRun, input: tf.Tensor): Evaluated {
  let losses: tf.Tensor1D | undefined;
  let wrong: tf.Tensor1D | undefined;
  const { value, grad } = tf.valueAndGrad((v: tf.Tensor) => {
    const logits = run.model(v) as tf.Tensor2D;
    const l = run.objective(logits);
    losses = tf.keep(l);
    wrong = tf.keep(tf.notEqual(tf.argMax(logits, 1), run.labels) as tf.Tensor1D);
    return tf.sum(l) as tf.Scalar;
  })(input);
  value.dispose();
  return { losses: losses as tf.Tensor1D, grad, wrong: wrong as tf.Tensor1D };
}

/** Replaces `state[key]` by `next`, disposing the old tensor. */
function swap<T extends Record<string, tf.Tensor>>(state: T, key: keyof T, next: tf.Tensor): void {
  (state[key] as tf.Tensor).dispose();
  (state as Record<keyof T, tf.Tensor>)[key] = next;
}

/**
 * The APGD loop (Croce & Hein 2020; the L1 variant from "Mind the box", 2021). Every per-sample decision —
 * best point, step-size halving, restarts from the best point, the L1 sparsity level — is made with tensor
 * ops, so nothing is read back from the device and the loop is the same on every backend.
 *
 * L∞/L2: initial step 2ε, momentum 0.75 after the first step, checkpoints after ⌊0.22·steps⌋ iterations and
 * then intervals shrinking by ⌊0.03·steps⌋ down to ⌊0.06·steps⌋ (each ≥ 1); at a checkpoint a sample whose
 * objective rose in at most 75 % of the interval's steps, or did not improve after an unreduced check, halves
 * its step and restarts from its best point.
 * L1: initial step ε, no momentum, a step along the sign of the largest-|gradient| coordinates (the top
 * `topk` fraction, initially 20 %) normalised to L1 length `step`, projected onto the L1 ball ∩ box;
 * every ⌊0.04·steps⌋ iterations the fraction becomes ‖best − x‖₀/(1.5·d), and a sample whose sparsity
 * dropped below 95 % of the last check resets its step to ε and restarts from its best point, others
 * divide it by 1.5 (kept within [ε/10, ε]).
 */
export function runApgd(run: ApgdRun): ApgdResult {
  const { x, budget, steps } = run;
  const n = x.shape[0] as number;
  const d = x.size / n;
  const bshape = rowShape(x);
  const l1 = budget.norm === 'l1';
  const initialStep = (l1 ? 1 : 2) * budget.epsilon;
  const nMin = Math.max(Math.floor(0.06 * steps), 1);
  const sizeDecr = Math.max(Math.floor(0.03 * steps), 1);
  let k = l1 ? Math.max(Math.floor(L1_CHECK_FRACTION * steps), 1) : Math.max(Math.floor(0.22 * steps), 1);

  const adv0 = tf.clipByValue(run.start, budget.lo, budget.hi);
  const first = evaluate(run, adv0);
  const s: Record<string, tf.Tensor> = {
    adv: adv0,
    advOld: tf.clone(adv0),
    grad: first.grad,
    best: tf.clone(adv0),
    gradBest: tf.clone(first.grad),
    lossBest: first.losses,
    fooled: first.wrong,
    stepSize: tf.fill([n], initialStep),
    lossBestLastCheck: tf.clone(first.losses),
    reducedLastCheck: tf.ones([n]),
    topk: tf.fill([n], 0.2),
    sparsityOld: tf.fill([n], d),
  };
  // The objective per iteration, for the oscillation test (zeros before the first step, as the reference's
  // buffer: its negative indices wrap around into not-yet-written rows).
  const lossSteps: tf.Tensor1D[] = Array.from({ length: steps }, () => tf.zeros([n]) as tf.Tensor1D);
  const rows = (flags: tf.Tensor) => tf.reshape(flags, bshape);
  let counter = 0;

  for (let i = 0; i < steps; i++) {
    const next = tf.tidy(() => {
      const size = tf.reshape(s.stepSize as tf.Tensor, bshape);
      if (l1) return l1Step(x, s.adv as tf.Tensor, s.grad as tf.Tensor, size, s.topk as tf.Tensor, budget);
      const b = budget as ResolvedBudget;
      const a = i > 0 ? 0.75 : 1.0;
      const z = project(
        tf.add(s.adv as tf.Tensor, tf.mul(size, ascentDirection(s.grad as tf.Tensor, b.norm))),
        x,
        b,
      );
      const momentum = tf.sub(s.adv as tf.Tensor, s.advOld as tf.Tensor);
      return project(
        tf.add(tf.add(s.adv as tf.Tensor, tf.mul(tf.sub(z, s.adv as tf.Tensor), a)), tf.mul(momentum, 1 - a)),
        x,
        b,
      );
    });
    swap(s, 'advOld', s.adv as tf.Tensor);
    s.adv = next;

    const step = evaluate(run, next);
    swap(s, 'grad', step.grad);
    swap(s, 'fooled', tf.logicalOr(s.fooled as tf.Tensor, step.wrong));
    step.wrong.dispose();
    (lossSteps[i] as tf.Tensor).dispose();
    lossSteps[i] = step.losses;
    const improved = tf.greater(step.losses, s.lossBest as tf.Tensor);
    const improvedRows = rows(improved);
    swap(s, 'best', tf.where(improvedRows, next, s.best as tf.Tensor));
    swap(s, 'gradBest', tf.where(improvedRows, step.grad, s.gradBest as tf.Tensor));
    swap(s, 'lossBest', tf.where(improved, step.losses, s.lossBest as tf.Tensor));
    tf.dispose([improved, improvedRows]);

    counter++;
    if (counter !== k) continue;
    counter = 0;
    const restart = l1 ? l1Checkpoint(s, x, d, initialStep) : linfL2Checkpoint(s, lossSteps, i, k);
    const restartRows = rows(restart);
    swap(s, 'adv', tf.where(restartRows, s.best as tf.Tensor, s.adv as tf.Tensor));
    swap(s, 'grad', tf.where(restartRows, s.gradBest as tf.Tensor, s.grad as tf.Tensor));
    tf.dispose([restart, restartRows]);
    if (!l1) k = Math.max(k - sizeDecr, nMin);
  }
  const { best, fooled, ...rest } = s;
  tf.dispose([...Object.values(rest), ...lossSteps]);
  return { best: best as tf.Tensor, fooled: fooled as tf.Tensor1D };
}

/** L∞/L2 checkpoint: halves the step of oscillating or stalled samples; returns which restart. */
function linfL2Checkpoint(
  s: Record<string, tf.Tensor>,
  lossSteps: tf.Tensor1D[],
  i: number,
  k: number,
): tf.Tensor {
  const steps = lossSteps.length;
  const reduce = tf.tidy(() => {
    let increases: tf.Tensor = tf.zerosLike(s.lossBest as tf.Tensor);
    for (let c = 0; c < k; c++) {
      const cur = lossSteps[(((i - c) % steps) + steps) % steps] as tf.Tensor;
      const prev = lossSteps[(((i - c - 1) % steps) + steps) % steps] as tf.Tensor;
      increases = tf.add(increases, tf.cast(tf.greater(cur, prev), 'float32'));
    }
    const oscillation = tf.lessEqual(increases, k * 0.75);
    const stalled = tf.logicalAnd(
      tf.equal(s.reducedLastCheck as tf.Tensor, 0),
      tf.greaterEqual(s.lossBestLastCheck as tf.Tensor, s.lossBest as tf.Tensor),
    );
    return tf.logicalOr(oscillation, stalled);
  });
  swap(s, 'reducedLastCheck', tf.cast(reduce, 'float32'));
  swap(s, 'lossBestLastCheck', tf.clone(s.lossBest as tf.Tensor));
  swap(
    s,
    'stepSize',
    tf.tidy(() => tf.where(reduce, tf.div(s.stepSize as tf.Tensor, 2), s.stepSize as tf.Tensor)),
  );
  return reduce;
}

/** L1 checkpoint: adapts the sparsity level and the step; returns which samples restart from their best. */
function l1Checkpoint(s: Record<string, tf.Tensor>, x: tf.Tensor, d: number, initialStep: number): tf.Tensor {
  const n = x.shape[0] as number;
  const sparsity = tf.tidy(() =>
    tf.sum(tf.cast(tf.notEqual(tf.reshape(tf.sub(s.best as tf.Tensor, x), [n, -1]), 0), 'float32'), 1),
  );
  const reset = tf.tidy(() => tf.less(tf.div(sparsity, s.sparsityOld as tf.Tensor), 0.95));
  swap(s, 'topk', tf.div(sparsity, d * 1.5));
  swap(
    s,
    'stepSize',
    tf.tidy(() =>
      tf.clipByValue(
        tf.where(reset, tf.fill([n], initialStep), tf.div(s.stepSize as tf.Tensor, 1.5)),
        initialStep / 10,
        initialStep,
      ),
    ),
  );
  swap(s, 'sparsityOld', sparsity);
  return reset;
}

/**
 * The sparsity-aware L1 step: move along sign(g) on the coordinates whose |g| is in the top `topk` fraction,
 * with total L1 length `size`, then project onto the L1 ball ∩ box around x.
 */
function l1Step(
  x: tf.Tensor,
  adv: tf.Tensor,
  grad: tf.Tensor,
  size: tf.Tensor,
  topk: tf.Tensor,
  budget: ResolvedBudget<ApgdNorm>,
): tf.Tensor {
  const n = x.shape[0] as number;
  const absG = tf.reshape(tf.abs(grad), [n, -1]);
  const d = absG.shape[1] as number;
  const sorted = tf.topk(absG, d).values; // descending
  // The reference sorts ascending and takes index ⌊(1 − topk)·d⌋ clamped to [0, d − 1].
  const ascending = tf.clipByValue(tf.floor(tf.mul(tf.sub(1, topk), d)), 0, d - 1);
  const pick = tf.oneHot(tf.cast(tf.sub(d - 1, ascending), 'int32') as tf.Tensor1D, d);
  const threshold = tf.sum(tf.mul(sorted, pick), 1, true);
  const direction = tf.mul(
    tf.sign(tf.reshape(grad, [n, -1])),
    tf.cast(tf.greaterEqual(absG, threshold), 'float32'),
  );
  const count = tf.sum(tf.abs(direction), 1, true);
  const moved = tf.add(adv, tf.mul(size, tf.reshape(tf.div(direction, tf.add(count, 1e-10)), adv.shape)));
  return tf.add(x, projectL1Box(x, tf.sub(moved, x), budget.epsilon, budget.lo, budget.hi));
}

/**
 * AutoAttack's random start inside the budget: L∞ a uniform direction scaled to ‖δ‖∞ = ε, L2 a Gaussian
 * direction with ‖δ‖₂ = ε, L1 a Gaussian projected onto the L1 ball ∩ box; then clipped to the range.
 */
export function randomStart(x: tf.Tensor, budget: ResolvedBudget<ApgdNorm>, seed: number): tf.Tensor {
  const rng = createRng(seed);
  return tf.tidy(() => {
    const n = x.shape[0] as number;
    if (budget.norm === 'l1') {
      const t = tf.randomNormal(x.shape, 0, 1, 'float32', rng.tensorSeed());
      return tf.add(x, projectL1Box(x, t, budget.epsilon, budget.lo, budget.hi));
    }
    let dir: tf.Tensor;
    if (budget.norm === 'linf') {
      const t = tf.randomUniform(x.shape, -1, 1, 'float32', rng.tensorSeed());
      const m = tf.reshape(tf.max(tf.abs(tf.reshape(t, [n, -1])), 1), rowShape(x));
      dir = tf.div(t, tf.add(m, 1e-12));
    } else {
      const t = tf.randomNormal(x.shape, 0, 1, 'float32', rng.tensorSeed());
      dir = tf.div(t, tf.add(perSampleNorm(t), 1e-12));
    }
    return tf.clipByValue(tf.add(x, tf.mul(dir, budget.epsilon)), budget.lo, budget.hi);
  });
}
