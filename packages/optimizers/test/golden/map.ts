import type { RobustOptimizer } from '@robust-ft/core';
import * as tf from '@tensorflow/tfjs-core';
import {
  adamw,
  digrap,
  digrapDiagnostics,
  ftp,
  ftpDiagnostics,
  l2sp,
  spd,
  spdDiagnostics,
  tpgm,
  tpgmDiagnostics,
} from '../../src/index';
import { adamStepCounts } from '../../src/inspect';
import { l2spTensorGradient } from '../../src/l2sp';
import type { LayoutView } from './layout';
import type { GoldenFile } from './load';

/**
 * Maps a golden file onto one of our factories using only its `method` and `hyperparameters` (no
 * per-file cases). Every hyperparameter must be consumed; an unknown key or method throws, so a file
 * the replay cannot represent fails instead of being skipped. Variables, anchors and the names the
 * optimizer sees are in the replay's layout `L` (see layout.ts); observed maps are keyed by local name.
 */
type Observed = Record<string, number | null> | number;

export interface Mapped {
  optimizer: RobustOptimizer;
  /** Readers of the per-step quantities this method exposes, keyed by the golden step field. */
  observe: Record<string, () => Observed | Promise<Observed>>;
  /** Quantities the reference computed from the pre-step inputs (read before `applyGradients`). */
  beforeStep?: (
    step: GoldenFile['steps'][number],
  ) => Promise<Record<string, Record<string, number[] | number | null>>>;
}

class Params {
  private readonly used = new Set<string>();
  constructor(
    private readonly file: string,
    private readonly hp: Record<string, unknown>,
  ) {}
  num(key: string, fallback?: number): number {
    this.used.add(key);
    const v = this.hp[key];
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'number') throw new Error(`${this.file}: hyperparameter ${key} must be a number`);
    return v;
  }
  bool(key: string, fallback?: boolean): boolean {
    this.used.add(key);
    const v = this.hp[key];
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'boolean') throw new Error(`${this.file}: hyperparameter ${key} must be a boolean`);
    return v;
  }
  str(key: string, fallback?: string): string {
    this.used.add(key);
    const v = this.hp[key];
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'string') throw new Error(`${this.file}: hyperparameter ${key} must be a string`);
    return v;
  }
  strings(key: string): string[] {
    this.used.add(key);
    const v = this.hp[key] ?? [];
    if (!Array.isArray(v) || !v.every((s) => typeof s === 'string'))
      throw new Error(`${this.file}: hyperparameter ${key} must be a list of names`);
    return v as string[];
  }
  /** betas / eps / amsgrad as torch spells them, when present. */
  adam(): { beta1: number; beta2: number; epsilon: number } {
    this.used.add('betas');
    const betas = (this.hp.betas as number[] | undefined) ?? [0.9, 0.999];
    if (this.bool('amsgrad', false)) throw new Error(`${this.file}: amsgrad is not supported`);
    return { beta1: betas[0]!, beta2: betas[1]!, epsilon: this.num('eps', 1e-8) };
  }
  assertAllUsed(): void {
    const left = Object.keys(this.hp).filter((k) => !this.used.has(k));
    if (left.length > 0) throw new Error(`${this.file}: unmapped hyperparameters ${left.join(', ')}`);
  }
}

export function mapGolden(
  file: GoldenFile,
  anchors: tf.NamedTensorMap,
  vars: Record<string, tf.Variable>,
  L: LayoutView,
): Mapped {
  const p = new Params(file.name, file.hyperparameters);
  const excludes = (key: string) => p.strings(key).map((n) => L.local(n));
  const anchor = p.bool('pre_none', false) ? ('zero' as const) : anchors;
  let mapped: Mapped;
  switch (file.method) {
    case 'adamw': {
      const optimizer = adamw({ learningRate: p.num('lr'), weightDecay: p.num('weight_decay'), ...p.adam() });
      mapped = { optimizer, observe: { adam_step_count: () => adamStepCounts(optimizer) } };
      break;
    }
    case 'l2sp_adam': {
      const alpha = p.num('alpha');
      const optimizer = l2sp({ learningRate: p.num('lr'), alpha, anchor, ...p.adam() });
      mapped = {
        optimizer,
        observe: { adam_step_count: () => adamStepCounts(optimizer) },
        // The reference's fed gradient g + α(θ − θ₀), from our pre-step parameters and anchors.
        // Read asynchronously: the replay also runs on webgpu, which has no sync read in Node.
        beforeStep: async (step) => {
          const out: Record<string, number[]> = {};
          for (const [n, g] of Object.entries(step.grad)) {
            const l = L.local(n);
            const fed = tf.tidy(() => l2spTensorGradient(L.tensor(n, g), vars[l]!, anchors[l]!, alpha));
            out[n] = await L.values(n, fed);
            fed.dispose();
          }
          return { grad_fed_to_adam: out };
        },
      };
      break;
    }
    case 'spd': {
      const optimizer = spd({
        learningRate: p.num('lr'),
        weightDecay: p.num('weight_decay'),
        anchor,
        ...p.adam(),
      });
      const read =
        <K extends 'condition' | 'ratio'>(k: K) =>
        async () =>
          Object.fromEntries(Object.entries(await spdDiagnostics(optimizer)).map(([n, d]) => [n, d[k]]));
      mapped = {
        optimizer,
        observe: {
          adam_step_count: () => adamStepCounts(optimizer),
          spd_condition: read('condition'),
          spd_ratio: read('ratio'),
        },
      };
      break;
    }
    case 'ftp_adamp':
    case 'ftp_sgdp': {
      const sgdInner = file.method === 'ftp_sgdp';
      const common = {
        learningRate: p.num('lr'),
        weightDecay: p.num('weight_decay', 0),
        k: p.num('k', 1),
        exclude: excludes('exclude_set'),
        anchor,
        ...L.option,
      };
      const optimizer = sgdInner
        ? ftp({
            ...common,
            inner: 'sgd',
            momentum: p.num('momentum', 0),
            nesterov: p.bool('nesterov', false),
          })
        : ftp({ ...common, inner: 'adam', ...p.adam() });
      if (sgdInner && p.num('dampening', 0) !== 0)
        throw new Error(`${file.name}: dampening is not supported`);
      const read = (k: 'gamma' | 'gammaM' | 'gammaV') => async () =>
        Object.fromEntries(
          Object.entries((await ftpDiagnostics(optimizer)).tensors).map(([n, d]) => [n, d[k]]),
        );
      mapped = {
        optimizer,
        observe: {
          adam_step_count: () => adamStepCounts(optimizer),
          ftp_gamma: read('gamma'),
          ftp_gamma_m: read('gammaM'),
          ftp_gamma_v: read('gammaV'),
          ftp_t_after: async () => (await ftpDiagnostics(optimizer)).t,
        },
      };
      break;
    }
    case 'digrap': {
      if (p.bool('use_lora', false)) throw new Error(`${file.name}: use_lora is not mapped`);
      const projTerm = p.str('proj_term', 'both');
      if (projTerm !== 'both' && projTerm !== 'grad' && projTerm !== 'reg')
        throw new Error(`${file.name}: unknown proj_term ${projTerm}`);
      const optimizer = digrap({
        learningRate: p.num('lr'),
        weightDecay: p.num('weight_decay', 0),
        trainableStrength: p.bool('trainable_strength', false),
        strength: p.num('strength', 1),
        projTerm,
        exclude: excludes('exclude_set'),
        anchor,
        ...L.option,
        ...p.adam(),
      });
      const read = (k: 'dot' | 'lossStrength' | 'regStrength') => async () =>
        Object.fromEntries(Object.entries(await digrapDiagnostics(optimizer)).map(([n, d]) => [n, d[k]]));
      mapped = {
        optimizer,
        observe: {
          adam_step_count: () => adamStepCounts(optimizer),
          digrap_dot: read('dot'),
          digrap_loss_strength: read('lossStrength'),
          digrap_reg_strength: read('regStrength'),
        },
      };
      break;
    }
    case 'tpgm': {
      const val = file.problem.val_loss;
      if (!val) throw new Error(`${file.name}: tpgm file without problem.val_loss`);
      const cVal: tf.NamedTensorMap = {};
      const tVal: tf.NamedTensorMap = {};
      for (const n of Object.keys(val.c_val)) {
        cVal[L.local(n)] = L.tensor(n, val.c_val[n]!);
        tVal[L.local(n)] = L.tensor(n, val.t_val[n]!);
      }
      // V(w) = Σ 0.5·c_val·(w − t_val)², the file's validation objective.
      const validationLoss = (params: tf.NamedTensorMap): tf.Scalar =>
        tf.addN(
          Object.keys(cVal).map((n) =>
            tf.sum(tf.mul(tf.mul(cVal[n]!, 0.5), tf.square(tf.sub(params[n]!, tVal[n]!)))),
          ),
        ) as tf.Scalar;
      const normMode = p.str('norm_mode', 'mars');
      if (normMode !== 'mars' && normMode !== 'l2')
        throw new Error(`${file.name}: unknown norm_mode ${normMode}`);
      const optimizer = tpgm({
        inner: 'sgd',
        learningRate: p.num('lr'),
        momentum: p.num('momentum', 0),
        nesterov: p.bool('nesterov', false),
        weightDecay: p.num('weight_decay', 0),
        normMode,
        projLr: p.num('proj_lr', 1e-2),
        maxIters: p.num('max_iters', 1),
        projFreq: p.num('proj_freq', 1),
        exclude: excludes('exclude_list'),
        validationLoss,
        anchor,
        ...L.option,
      });
      const dispose = optimizer.dispose.bind(optimizer);
      optimizer.dispose = () => {
        dispose();
        tf.dispose([...Object.values(cVal), ...Object.values(tVal)]);
      };
      mapped = {
        optimizer,
        observe: {
          tpgm_constraints: async () =>
            Object.fromEntries(
              Object.entries(await tpgmDiagnostics(optimizer)).map(([n, d]) => [n, d.constraint]),
            ),
          val_loss_after: async () => {
            const loss = tf.tidy(() => validationLoss(vars));
            const value = (await loss.data())[0]!;
            loss.dispose();
            return value;
          },
        },
      };
      break;
    }
    default:
      throw new Error(`${file.name}: no mapping for method "${file.method}"`);
  }
  p.assertAllUsed();
  return mapped;
}
