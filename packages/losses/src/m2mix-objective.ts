import type { Rng } from '@robust-ft/core';
import {
  assertFiniteNumber,
  assertInteger,
  assertNonNegative,
  assertPositive,
  invalidArgument,
} from '@robust-ft/core/internal';
import * as tf from '@tensorflow/tfjs-core';
import { clipContrastiveLoss } from './clip-contrastive';
import { m2mixLoss } from './m2mix';
import { checkLossOptions } from './option-schemas';
import { lmixLoss, vlmixLoss, vmixLoss } from './unimodal-mixup';
import {
  assertEmbeddingPair,
  assertLambda,
  DEFAULT_UNIT_NORM_TOLERANCE,
  guardValues,
} from './validate-inputs';

/** A mixing term of the m²-mix objective. */
export type MixTerm = 'vmix' | 'lmix' | 'vlmix' | 'm2mix';
const TERMS: readonly MixTerm[] = ['vmix', 'lmix', 'vlmix', 'm2mix'];

/** The configuration of `m2mixObjective`: temperatures, and which mixing terms run with what weight. */
export interface M2mixObjectiveConfig {
  /** τ of the base CLIP loss and of V/L/VL-Mix (`--tau`). Default 0.01. */
  temperature?: number;
  /** τ₂ of the m²-mix term (`--tau2`). Default 0.07. */
  mixTemperature?: number;
  /** `--sep_scale`: the m²-mix term uses τ₂ (true) or τ (false). Default true (both paper scripts set it). */
  separateTemperature?: boolean;
  /** Term weights. Default `{ m2mix: 0.01 }` (`--mmmix`), the others 0 (off). */
  weights?: Partial<Record<MixTerm, number>>;
  /**
   * Beta(β, β) shape of each term's λ. Defaults are the reference's argparse defaults: 0.2 for V/L-Mix
   * (`--betavariate`), 1.0 for VL-Mix (`--beta1`) and m²-mix (`--beta2`); `scripts/m2mix.sh` uses 0.5 for m²-mix.
   */
  beta?: Partial<Record<MixTerm, number>>;
  /** `--schedule`: multiply the mix terms by 1/(epoch+1) (0-indexed epochs). Default false. */
  epochSchedule?: boolean;
  /** `--original_neg` for V/L/VL-Mix. Default false. */
  originalNegatives?: boolean;
  /** Identical/antipodal threshold of the geodesic mixup. Default 1e-4. */
  epsilon?: number;
  /** Tolerance on |‖row‖ − 1|. Default 1e-3. */
  unitNormTolerance?: number;
}

/** Per-step input of an `M2mixObjective`: the RNG that draws each λ (or fixed λ), and the epoch. */
export interface M2mixStepInput {
  /** Draws each enabled term's λ ~ Beta(β, β), once per call (= per batch), in the order vmix, lmix, vlmix, m2mix. */
  rng?: Rng;
  /** Explicit λ per term; takes precedence over `rng` (replays, ablations). */
  lambdas?: Partial<Record<MixTerm, number>>;
  /** 0-indexed epoch; required when `epochSchedule` is on. */
  epoch?: number;
}

/** What an `M2mixObjective` returns for one batch: the loss and its parts. */
export interface M2mixStepResult {
  /** base + s_e·Σ weight·term, the scalar to minimise. */
  loss: tf.Scalar;
  /** The unweighted base CLIP loss and each enabled term (the caller owns and disposes them). */
  terms: Partial<Record<'clip' | MixTerm, tf.Scalar>>;
  /** The λ used by each enabled term. */
  lambdas: Partial<Record<MixTerm, number>>;
}

/** The objective `m2mixObjective` returns: one batch of paired embeddings → the loss to minimise. */
export type M2mixObjective = (image: tf.Tensor2D, text: tf.Tensor2D, step: M2mixStepInput) => M2mixStepResult;

/**
 * Config factory for the full m²-mix training objective (spec §1.5):
 * `loss = clip + s_e·(w_V·L_V + w_L·L_L + w_VL·L_VL + w_m²·L_m²)` with `s_e = 1/(epoch+1)` under the
 * epoch schedule. The m³-mix recipe is `weights: { vmix: 0.05, lmix: 0.05, vlmix: 0.1, m2mix: 0.01 }`.
 */
export function m2mixObjective(config: M2mixObjectiveConfig = {}): M2mixObjective {
  checkLossOptions('m2mixObjective', 'm2mixObjective', config, 'config');
  const {
    temperature = 0.01,
    mixTemperature = 0.07,
    separateTemperature = true,
    epochSchedule = false,
    originalNegatives = false,
    epsilon = 1e-4,
    unitNormTolerance = DEFAULT_UNIT_NORM_TOLERANCE,
  } = config;
  assertPositive('config.temperature', temperature);
  assertPositive('config.mixTemperature', mixTemperature);
  const weights: Record<MixTerm, number> = { vmix: 0, lmix: 0, vlmix: 0, m2mix: 0.01, ...config.weights };
  const beta: Record<MixTerm, number> = { vmix: 0.2, lmix: 0.2, vlmix: 1, m2mix: 1, ...config.beta };
  for (const term of TERMS) {
    assertNonNegative(`config.weights.${term}`, weights[term]);
    assertPositive(`config.beta.${term}`, beta[term]);
  }
  for (const key of Object.keys(config.weights ?? {})) {
    if (!TERMS.includes(key as MixTerm))
      throw invalidArgument(`config.weights.${key}`, `one of ${TERMS.join(', ')}`);
  }
  const active = TERMS.filter((t) => weights[t] > 0);

  return (image, text, step) => {
    const checks = assertEmbeddingPair(image, text, {
      unitNorm: active.length > 0,
      tolerance: unitNormTolerance,
    });
    let scheduleFactor = 1;
    if (epochSchedule) {
      assertInteger('step.epoch', step.epoch, 0);
      scheduleFactor = 1 / (step.epoch! + 1);
    }
    // Draw (or read) every λ before building any tensor, so a bad input leaves nothing behind.
    const lambdas: Partial<Record<MixTerm, number>> = {};
    for (const term of active) {
      const given = step.lambdas?.[term];
      if (given !== undefined) {
        assertLambda(`step.lambdas.${term}`, given);
        lambdas[term] = given;
      } else if (step.rng !== undefined) {
        lambdas[term] = step.rng.beta(beta[term], beta[term]);
      } else {
        throw invalidArgument('step.rng', `an Rng (or step.lambdas.${term}) to draw the ${term} λ`);
      }
      assertFiniteNumber(`lambda of ${term}`, lambdas[term]);
    }
    const shared = { epsilon, validate: false } as const;
    const terms: M2mixStepResult['terms'] = {};
    terms.clip = clipContrastiveLoss(image, text, { temperature, validate: false });
    for (const term of active) {
      const lambda = lambdas[term]!;
      if (term === 'm2mix') {
        const tau = separateTemperature ? mixTemperature : temperature;
        terms.m2mix = m2mixLoss(image, text, lambda, { ...shared, temperature: tau });
      } else {
        const fn = term === 'vmix' ? vmixLoss : term === 'lmix' ? lmixLoss : vlmixLoss;
        terms[term] = fn(image, text, lambda, { ...shared, temperature, originalNegatives });
      }
    }
    const loss = tf.tidy(() => {
      let mixed: tf.Tensor = tf.scalar(0);
      for (const term of active) mixed = tf.add(mixed, tf.mul(weights[term], terms[term]!));
      return guardValues(tf.add(terms.clip!, tf.mul(scheduleFactor, mixed)) as tf.Scalar, checks);
    });
    return { loss, terms, lambdas };
  };
}
