import { join, resolve } from 'node:path';
import { type BackendChoice, selectBackend } from '../backend';
import { benchRoot } from '../data/paths';
import { withOverrides } from '../methods';
import { fmtTime, log } from '../progress';
import { guideTables, writeGuideReport } from './report';
import { GUIDE_DEFAULTS, runGuide } from './run';

/** `--tier guide`: runs the grid with the CLI's backend, seeds, train limit and --set overrides. */
export async function guideCli(values: {
  backend?: string | undefined;
  seeds?: string | undefined;
  out?: string | undefined;
  quiet?: boolean | undefined;
  set?: string[] | undefined;
  'train-limit'?: string | undefined;
}): Promise<void> {
  const seeds = (values.seeds ?? GUIDE_DEFAULTS.seeds.join(',')).split(',').map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--seeds: expected non-negative integers, got ${s}`);
    return n;
  });
  const trainSize =
    values['train-limit'] === undefined ? GUIDE_DEFAULTS.trainSize : Number(values['train-limit']);
  if (!Number.isInteger(trainSize) || trainSize < GUIDE_DEFAULTS.budget.batchSize)
    throw new Error(
      `--train-limit: at least one batch (${GUIDE_DEFAULTS.budget.batchSize}) for the guide tier`,
    );
  const quiet = values.quiet ?? false;
  const backend = await selectBackend((values.backend ?? 'auto') as BackendChoice, quiet);
  const out = values.out === undefined ? join(benchRoot(), 'report', 'guide') : resolve(values.out);
  const report = await runGuide({
    ...GUIDE_DEFAULTS,
    seeds,
    trainSize,
    quiet,
    backend,
    hyperparameters: withOverrides(GUIDE_DEFAULTS.hyperparameters, values.set ?? []),
  });
  writeGuideReport(report, out);
  console.log(guideTables(report));
  log(`report written to ${out} (total ${fmtTime(report.totalSeconds)})`);
  const result = {
    tier: 'guide',
    backend: report.backend,
    totalSeconds: Number(report.totalSeconds.toFixed(1)),
    cells: report.cells.map((c) => ({
      loss: c.loss,
      protocol: c.protocol,
      optimizer: c.optimizer,
      clean: c.clean,
      linf: c.linf,
      l2: c.l2,
      l1: c.l1,
      corruptions: c.corruptions,
      wallSeconds: Number(c.wallSeconds.toFixed(1)),
    })),
  };
  console.log(`RESULT ${JSON.stringify(result)}`);
}
