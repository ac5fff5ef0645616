import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CORRUPTION_FAMILIES, type CorruptionFamily } from '@robust-ft/eval';
import { type BackendChoice, selectBackend } from './backend';
import { benchRoot } from './data/paths';
import { HYPERPARAMETERS, withOverrides } from './methods';
import { fmtTime, log } from './progress';
import { textTable, writeReport } from './report';
import type { BenchReport } from './results';
import { DEFAULTS, parseTierOptions } from './runner';
import type { RunOptions } from './tier';
import { TIERS, tierByName } from './tiers';

const HELP = `robust-ft benchmark: fine-tune a pre-trained model with each method under one budget and
measure ID accuracy and robustness to real distribution shifts. No network, apt or fonts needed.

Usage: node apps/bench/dist/cli.js [options]      (from the repo root: pnpm bench -- [options])

Options:
  --tier <name>       which tier runs (default ${TIERS[0]?.name}); each is one declaration in src/tiers/:
${TIERS.map((t) => `                      ${t.help}\n                      Methods: ${t.methodNames.join(', ')}`).join('\n')}
  --seed <n>          seed for the data split, batch order, corruptions and views   (default ${DEFAULTS.seed})
  --methods <list>    comma-separated subset of the tier's methods, or "all" (default). wise-ft and
                      vrf reuse the runs they combine, lp-ft the linear probe; those runs are added
                      automatically. zero-shot is always reported when the tier has one.
  --backend <name>    auto | wasm | cpu | tfjs-node | tfjs-node-gpu   (default auto: the best that
                      starts; ROBUST_FT_BACKEND overrides). Same backend + seed = same table.
  --data <dir>        the tier's data folder (mobilenetv2: Fashion-MNIST IDX .gz files, default
                      /usr/share/datasets/fashion-mnist)
  --out <dir>         report folder (default apps/bench/report for digits, apps/bench/report/<tier>
                      for the others, whatever the current directory)
  --epochs <n>        fine-tuning epochs over the ID train split     (default ${DEFAULTS.epochs}; a tier may set its own)
  --batch-size <n>    (default ${DEFAULTS.batchSize})
  --mnist <n>         MNIST test images evaluated, 1–10000                           (default ${DEFAULTS.mnistLimit})
  --train-limit <n>   cap the ID train split (smoke tests)
  --corruptions <l>   comma-separated families (default ${DEFAULTS.families.join(',')}; a tier may set its own)
                      available: ${CORRUPTION_FAMILIES.join(', ')}
  --severities <l>    comma-separated severities 1–5                                  (default ${DEFAULTS.severities.join(',')})
  --model <dir>       pre-trained model folder (default apps/bench/assets/pretrained-cnn)
  --set <key=value>   override a hyper-parameter below (repeatable), e.g. --set spdLambda=0.5
  --tier-option <k=v> a setting only the selected tier reads (repeatable; see its file in src/tiers/)
  --render <json>     re-render report.md/SVG/HTML from an existing report.json into --out; no run
  --quiet             no progress output
  --help              this text

Hyper-parameters (same learning rate and steps for every fine-tuning method):
  ${Object.entries(HYPERPARAMETERS)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : v}`)
    .join(', ')}

Output: a table on stdout; report.json (per method: ID accuracy, OOD accuracy per shift and average,
effective robustness, ECE, wall time, hyper-parameters), report.md, id-vs-ood.svg (with the WiSE-FT
curve), corruptions.svg and index.html in --out; and a final line RESULT <json>.`;

function list(v: string | undefined): string[] | undefined {
  return v === undefined
    ? undefined
    : v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
}

function int(
  name: string,
  v: string | undefined,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new Error(`--${name} must be an integer in [${min}, ${max}], got ${v}`);
  return n;
}

async function main(): Promise<void> {
  // `pnpm bench -- --flag` forwards the `--` separator itself; drop it so the flags still parse.
  const argv = process.argv.slice(2);
  const { values } = parseArgs({
    args: argv[0] === '--' ? argv.slice(1) : argv,
    options: {
      seed: { type: 'string' },
      methods: { type: 'string' },
      backend: { type: 'string' },
      tier: { type: 'string' },
      out: { type: 'string' },
      epochs: { type: 'string' },
      'batch-size': { type: 'string' },
      mnist: { type: 'string' },
      'train-limit': { type: 'string' },
      corruptions: { type: 'string' },
      severities: { type: 'string' },
      model: { type: 'string' },
      data: { type: 'string' },
      render: { type: 'string' },
      set: { type: 'string', multiple: true },
      'tier-option': { type: 'string', multiple: true },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  if (values.render !== undefined) {
    const report = JSON.parse(readFileSync(values.render, 'utf8')) as BenchReport;
    const tier = tierByName(report.tier);
    const dir = values.out === undefined ? dirname(resolve(values.render)) : resolve(values.out);
    writeReport(report, dir, tier.report);
    console.log(textTable(report, tier.report));
    return;
  }
  const tier = tierByName(values.tier ?? TIERS[0]?.name ?? '');
  const base = { ...DEFAULTS, ...tier.defaults };
  const methodList = list(values.methods);
  const methods = methodList === undefined || methodList.includes('all') ? tier.methodNames : methodList;
  for (const m of methods)
    if (!tier.methodNames.includes(m))
      throw new Error(
        `unknown method "${m}" for tier ${tier.name}; choose from ${tier.methodNames.join(', ')}`,
      );
  const families = (list(values.corruptions) ?? base.families) as CorruptionFamily[];
  for (const f of families)
    if (!CORRUPTION_FAMILIES.includes(f)) throw new Error(`unknown corruption "${f}"`);
  const severities = (list(values.severities) ?? base.severities.map(String)).map((s) =>
    int('severities', s, 1, 1, 5),
  );
  const backendChoice = (values.backend ?? 'auto') as BackendChoice;
  if (!['auto', 'wasm', 'cpu', 'tfjs-node', 'tfjs-node-gpu'].includes(backendChoice))
    throw new Error(`unknown backend ${backendChoice}`);
  const quiet = values.quiet ?? false;
  const backend = await selectBackend(backendChoice, quiet);
  const out = values.out === undefined ? join(benchRoot(), 'report', tier.reportDir) : resolve(values.out);
  const options: RunOptions = {
    ...base,
    seed: int('seed', values.seed, base.seed, 0),
    methods,
    epochs: int('epochs', values.epochs, base.epochs, 1),
    batchSize: int('batch-size', values['batch-size'], base.batchSize, 1),
    mnistLimit: int('mnist', values.mnist, base.mnistLimit, 1, 10000),
    trainLimit:
      values['train-limit'] === undefined ? base.trainLimit : int('train-limit', values['train-limit'], 0, 1),
    families,
    severities,
    quiet,
    backend,
    hyperparameters: withOverrides(base.hyperparameters, values.set ?? []),
    ...(values.model === undefined ? {} : { modelDir: resolve(values.model) }),
    ...(values.data === undefined ? {} : { dataDir: resolve(values.data) }),
    ...(values['tier-option'] === undefined ? {} : { tierOptions: parseTierOptions(values['tier-option']) }),
  };
  const report = await tier.run(options);
  writeReport(report, out, tier.report);
  console.log('');
  console.log(textTable(report, tier.report));
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
      wallSeconds: Number(m.wallSeconds.toFixed(1)),
    })),
  };
  console.log(`RESULT ${JSON.stringify(result)}`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
