import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchRoot } from '../data/paths';
import { HYPERPARAMETERS } from '../methods';
import type { BenchReport } from '../results';
import type { RunOptions } from '../tier';

/**
 * Splits `groups` (each a list of method names with its CPU cost estimate) over `jobs` shards, longest
 * first onto the least-loaded shard (LPT), so the shards finish close together.
 */
export function planShards(groups: readonly { methods: string[]; cost: number }[], jobs: number): string[][] {
  const shards = Array.from({ length: Math.max(1, Math.min(jobs, groups.length)) }, () => ({
    methods: [] as string[],
    cost: 0,
  }));
  for (const g of [...groups].sort((a, b) => b.cost - a.cost)) {
    const target = shards.reduce((best, s) => (s.cost < best.cost ? s : best));
    target.methods.push(...g.methods);
    target.cost += g.cost;
  }
  return shards.filter((s) => s.methods.length > 0).map((s) => s.methods);
}

/** Whether `o` can be passed to a child CLI run unchanged (hyper-parameter overrides cannot). */
export function shardable(o: RunOptions): boolean {
  return (
    JSON.stringify(o.hyperparameters) === JSON.stringify(HYPERPARAMETERS) &&
    existsSync(join(benchRoot(), 'dist', 'cli.js'))
  );
}

/**
 * Runs each shard's methods in its own `node dist/cli.js --tier guide` process (wasm runs on one thread,
 * so a 2-core machine runs two shards at once) and returns their reports. A failed shard fails the run.
 */
export async function runShards(shards: readonly string[][], o: RunOptions): Promise<BenchReport[]> {
  const root = mkdtempSync(join(tmpdir(), 'guide-shards-'));
  try {
    return await Promise.all(
      shards.map(async (methods, i) => {
        const out = join(root, `shard-${i}`);
        const args = [
          join(benchRoot(), 'dist', 'cli.js'),
          '--tier',
          'guide',
          '--methods',
          methods.join(','),
          '--out',
          out,
          '--seed',
          String(o.seed),
          '--backend',
          o.backend,
          '--tier-option',
          'jobs=1',
          ...(o.quiet ? ['--quiet'] : []),
          ...(Number.isFinite(o.trainLimit) ? ['--train-limit', String(o.trainLimit)] : []),
          ...(o.dataDir === undefined ? [] : ['--data', o.dataDir]),
          ...(o.modelDir === undefined ? [] : ['--model', o.modelDir]),
        ];
        await new Promise<void>((resolveRun, reject) => {
          const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
          child.on('error', reject);
          child.on('exit', (code) =>
            code === 0 ? resolveRun() : reject(new Error(`guide shard ${i} exited with code ${code}`)),
          );
        });
        return JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as BenchReport;
      }),
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
