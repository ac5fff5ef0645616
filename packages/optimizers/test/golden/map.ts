import type { RobustOptimizer } from '@robust-ft/core';
import type * as tf from '@tensorflow/tfjs-core';
import { adamw } from '../../src/index';
import { adamStepCounts } from '../../src/inspect';
import type { GoldenFile } from './load';

/**
 * Maps a golden file onto one of our factories using only its `method` and `hyperparameters` (no
 * per-file cases). Every hyperparameter must be consumed; an unknown key or method throws, so a file
 * the replay cannot represent fails instead of being skipped.
 */
export interface Mapped {
  optimizer: RobustOptimizer;
  /** Readers of the per-step quantities this method exposes, keyed by the golden step field. */
  observe: Record<string, () => Record<string, number | null> | number>;
  /** Quantities the reference computed from the pre-step inputs (read before `applyGradients`). */
  beforeStep?: (
    step: GoldenFile['steps'][number],
  ) => Record<string, Record<string, number[] | number | null>>;
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
): Mapped {
  const p = new Params(file.name, file.hyperparameters);
  const anchor = p.bool('pre_none', false) ? ('zero' as const) : anchors;
  let mapped: Mapped;
  switch (file.method) {
    case 'adamw': {
      const optimizer = adamw({ learningRate: p.num('lr'), weightDecay: p.num('weight_decay'), ...p.adam() });
      mapped = { optimizer, observe: { adam_step_count: () => adamStepCounts(optimizer) } };
      break;
    }
    default:
      throw new Error(`${file.name}: no mapping for method "${file.method}"`);
  }
  p.assertAllUsed();
  void anchor;
  void vars;
  return mapped;
}
