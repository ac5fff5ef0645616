/** `--tier clip` of the bench CLI: option parsing for the clip tier, the run and its report files. */
import { join, resolve } from 'node:path';
import { CORRUPTION_FAMILIES, type CorruptionFamily } from '@robust-ft/eval';
import { type BackendChoice, selectBackend } from '../backend';
import { benchRoot } from '../data/paths';
import { fmtTime, log } from '../progress';
import { CLIP_HYPERPARAMETERS, CLIP_METHODS, type ClipMethod } from './methods';
import { clipTextTable, writeClipReport } from './report';
import { CLIP_DEFAULTS, runClipTier } from './tier';

export interface ClipCliValues {
  seed?: string;
  methods?: string;
  backend?: string;
  out?: string;
  epochs?: string;
  'batch-size'?: string;
  mnist?: string;
  'train-limit'?: string;
  corruptions?: string;
  severities?: string;
  model?: string;
  quiet?: boolean;
}

const list = (v: string | undefined) =>
  v
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);

function int(name: string, v: string | undefined, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new Error(`--${name} must be an integer in [${min}, ${max}], got ${v}`);
  return n;
}

export async function runClipCli(values: ClipCliValues): Promise<void> {
  const requested = list(values.methods);
  const methods = (requested === undefined || requested.includes('all') ? [...CLIP_METHODS] : requested) as ClipMethod[];
  for (const m of methods)
    if (!CLIP_METHODS.includes(m)) throw new Error(`unknown clip method "${m}"; choose from ${CLIP_METHODS.join(', ')}`);
  const families = (list(values.corruptions) ?? CLIP_DEFAULTS.families) as CorruptionFamily[];
  for (const f of families) if (!CORRUPTION_FAMILIES.includes(f)) throw new Error(`unknown corruption "${f}"`);
  const severities = (list(values.severities) ?? CLIP_DEFAULTS.severities.map(String)).map((s) =>
    int('severities', s, 1, 1, 5),
  );
  const quiet = values.quiet ?? false;
  const backend = await selectBackend((values.backend ?? 'auto') as BackendChoice, quiet);
  const out = values.out === undefined ? join(benchRoot(), 'report', 'clip') : resolve(values.out);
  const report = await runClipTier({
    ...CLIP_DEFAULTS,
    seed: int('seed', values.seed, CLIP_DEFAULTS.seed, 0),
    methods,
    epochs: int('epochs', values.epochs, CLIP_DEFAULTS.epochs, 1),
    batchSize: int('batch-size', values['batch-size'], CLIP_DEFAULTS.batchSize, 2),
    mnistLimit: int('mnist', values.mnist, CLIP_DEFAULTS.mnistLimit, 1, 10000),
    trainLimit:
      values['train-limit'] === undefined ? Number.POSITIVE_INFINITY : int('train-limit', values['train-limit'], 0, 1),
    families,
    severities,
    quiet,
    backend,
    hyperparameters: CLIP_HYPERPARAMETERS,
    ...(values.model === undefined ? {} : { modelDir: resolve(values.model) }),
  });
  writeClipReport(report, out);
  console.log('');
  console.log(clipTextTable(report));
  console.log('');
  log(`report written to ${out} (total ${fmtTime(report.totalSeconds)})`);
  const result = {
    tier: report.tier,
    seed: report.seed,
    backend: report.backend,
    totalSeconds: Number(report.totalSeconds.toFixed(1)),
    methods: report.methods.map((m) => ({
      method: m.method,
      id: m.id,
      oodAvg: m.oodAvg,
      ood: m.ood,
      recallAt1: m.recallAt1,
      wallSeconds: Number(m.wallSeconds.toFixed(1)),
    })),
  };
  console.log(`RESULT ${JSON.stringify(result)}`);
}
