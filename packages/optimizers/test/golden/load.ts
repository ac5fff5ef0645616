import { readdirSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The parts of a golden optimizer file the replay reads (see shared/golden/optimizers/README.md). */
export interface GoldenFile {
  name: string;
  method: string;
  hyperparameters: Record<string, unknown>;
  lr_schedule: number[] | null;
  num_steps: number;
  float32_max_abs_diff_vs_float64: number;
  problem: {
    param_order: string[];
    shapes: Record<string, number[]>;
    pretrained: Record<string, number[]>;
    initial: Record<string, number[]>;
    val_loss?: { c_val: Record<string, number[]>; t_val: Record<string, number[]> };
  };
  steps: Array<Record<string, unknown> & { step: number; grad: Record<string, number[]> }>;
}

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root (packages/optimizers/test/golden → root). */
export const REPO_ROOT = resolve(here, '../../../..');

/** The golden folder: `$ROBUST_FT_GOLDEN_OPTIMIZERS`, else `../shared/golden/optimizers`, relative to the repo root. */
export function goldenDir(): string {
  const configured = process.env.ROBUST_FT_GOLDEN_OPTIMIZERS;
  const dir = configured && configured.length > 0 ? configured : '../shared/golden/optimizers';
  return isAbsolute(dir) ? dir : join(REPO_ROOT, dir);
}

export function listGoldenFiles(): string[] {
  return readdirSync(goldenDir())
    .filter((f) => f.endsWith('.json'))
    .sort();
}

export function loadGolden(file: string): GoldenFile {
  return JSON.parse(readFileSync(join(goldenDir(), file), 'utf8')) as GoldenFile;
}
