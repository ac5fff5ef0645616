import type { ApgdNorm } from '@robust-ft/eval';
import type { MethodResult } from '../results';
import {
  GUIDE_LOSSES,
  GUIDE_OPTIMIZERS,
  GUIDE_PROTOCOLS,
  type GuideCell,
  type GuideLoss,
  type GuideOptimizer,
  type GuideProtocol,
} from './grid';
import type { RobustScores } from './measure';

/** The five measurements of the Guide plus the 4× budgets. */
export interface CellScores extends RobustScores {
  clean: number;
  corruptions: number;
}

/** One cell of report.json's `cells` (**contract**: backbone, loss, protocol, optimizer, the five numbers, wallSeconds). */
export interface CellResult extends GuideCell, CellScores {
  /** Mean over seeds of training + every measurement, seconds. */
  wallSeconds: number;
  /** The per-seed values the means come from. */
  seeds: Array<CellScores & { seed: number; wallSeconds: number }>;
  hyperparameters: Record<string, number | string>;
}

export interface GuideSummary {
  epsilons: Record<ApgdNorm, number> & { strongFactor: number };
  /** Per backbone, the pre-trained model measured the same way (no fine-tuning), when it has a head. */
  zeroShot: Record<string, CellScores>;
  cells: CellResult[];
}

export const SCORE_KEYS: readonly (keyof CellScores)[] = [
  'clean',
  'linf',
  'l2',
  'l1',
  'corruptions',
  'linfStrong',
  'l2Strong',
  'l1Strong',
];

/** The backbone whose run names carry no prefix (the tier's first, kept for the names it always had). */
export const DEFAULT_BACKBONE = 'digits-cnn';

/** A method-name prefix for a backbone's runs: '' for the digits CNN, `<backbone>:` otherwise. */
export function backbonePrefix(backbone: string): string {
  return backbone === DEFAULT_BACKBONE ? '' : `${backbone}:`;
}

/** A grid run's method name: `[backbone:]loss/protocol/optimizer/s<seed>`. */
export function runName(cell: GuideCell, seed: number): string {
  return `${backbonePrefix(cell.backbone)}${cell.loss}/${cell.protocol}/${cell.optimizer}/s${seed}`;
}

/** A zero-shot row's backbone (`zero-shot` or `<backbone>:zero-shot`), else undefined. */
export function zeroShotBackbone(name: string): string | undefined {
  if (name === 'zero-shot') return DEFAULT_BACKBONE;
  return name.endsWith(':zero-shot') ? name.slice(0, -':zero-shot'.length) : undefined;
}

export function parseRunName(name: string): (GuideCell & { seed: number }) | undefined {
  const colon = name.indexOf(':');
  const backbone = colon < 0 ? DEFAULT_BACKBONE : name.slice(0, colon);
  const [loss, protocol, optimizer, s] = name.slice(colon + 1).split('/');
  if (
    !GUIDE_LOSSES.includes(loss as GuideLoss) ||
    !GUIDE_PROTOCOLS.includes(protocol as GuideProtocol) ||
    !GUIDE_OPTIMIZERS.includes(optimizer as GuideOptimizer) ||
    !/^s\d+$/.test(s ?? '')
  )
    return undefined;
  return {
    backbone,
    loss: loss as GuideLoss,
    protocol: protocol as GuideProtocol,
    optimizer: optimizer as GuideOptimizer,
    seed: Number((s as string).slice(1)),
  };
}

/** A row's scores: clean = ID accuracy, corruptions = the mixed-corruption set, the rest from `metrics`. */
export function rowScores(row: MethodResult): CellScores {
  const m = row.metrics ?? {};
  const get = (k: keyof RobustScores) => {
    const v = m[k];
    if (typeof v !== 'number') throw new Error(`${row.method}: no ${k} in its metrics`);
    return v;
  };
  return {
    clean: row.id,
    corruptions: row.ood.corruptions ?? Number.NaN,
    linf: get('linf'),
    l2: get('l2'),
    l1: get('l1'),
    linfStrong: get('linfStrong'),
    l2Strong: get('l2Strong'),
    l1Strong: get('l1Strong'),
  };
}

/** Groups the runner's per-run rows into grid cells (means over seeds), in the rows' order. */
export function cellsFromRows(rows: readonly MethodResult[]): CellResult[] {
  const cells = new Map<string, CellResult>();
  for (const row of rows) {
    const parsed = parseRunName(row.method);
    if (!parsed) continue;
    const { seed, ...cell } = parsed;
    const key = `${cell.backbone}:${cell.loss}/${cell.protocol}/${cell.optimizer}`;
    const wall = row.wallSeconds + (row.metrics?.attackSeconds ?? 0);
    const entry = { ...rowScores(row), seed, wallSeconds: wall };
    const existing = cells.get(key);
    if (existing) existing.seeds.push(entry);
    else
      cells.set(key, {
        ...cell,
        ...rowScores(row),
        wallSeconds: 0,
        seeds: [entry],
        hyperparameters: row.hyperparameters,
      });
  }
  for (const c of cells.values()) {
    for (const k of SCORE_KEYS) c[k] = c.seeds.reduce((a, s) => a + s[k], 0) / c.seeds.length;
    c.wallSeconds = c.seeds.reduce((a, s) => a + s.wallSeconds, 0) / c.seeds.length;
  }
  return [...cells.values()];
}
