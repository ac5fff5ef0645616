import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
// ONE classifier shared with @robust-ft/eval's replay, so the two packages cannot disagree on ownership.
import { classifyLossesGoldenFile, goldenKind } from '../../eval/test/golden-ownership';
import type { CaseResult, Golden } from './golden/compare';
import { replayM2mixLosses } from './golden/replay-m2mix-losses';
import { replaySlerp } from './golden/replay-slerp';
import { replayTradesAt } from './golden/replay-trades-at';
import './setup-backend';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../../..');
const goldenDir = process.env.ROBUST_FT_GOLDEN_LOSSES ?? resolve(repoRoot, '../shared/golden/losses');

const REPLAYS: Record<string, (file: Golden) => CaseResult[]> = {
  m2mix_slerp: replaySlerp,
  m2mix_losses: replayM2mixLosses,
  guide_trades_at: replayTradesAt,
};

interface FileOutcome {
  file: string;
  owner: 'losses' | 'eval' | null;
  results: CaseResult[];
  error?: string;
}

function replayAll(): FileOutcome[] {
  const files = readdirSync(goldenDir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  return files.map((file) => {
    const json = JSON.parse(readFileSync(join(goldenDir, file), 'utf8')) as Golden;
    const owner = classifyLossesGoldenFile(json);
    if (owner !== 'losses') return { file, owner, results: [] };
    const kind = goldenKind(json)!;
    const replay = REPLAYS[kind];
    if (replay === undefined) return { file, owner, results: [], error: `no replay for kind ${kind}` };
    tf.engine().startScope();
    try {
      return { file, owner, results: replay(json) };
    } catch (error) {
      return { file, owner, results: [], error: String(error) };
    } finally {
      tf.engine().endScope();
    }
  });
}

describe('golden replay', () => {
  it('matches every golden case owned by @robust-ft/losses (values and gradients)', () => {
    const outcomes = replayAll();
    const compared = outcomes.flatMap((o) => o.results);
    const unclassified = outcomes.filter((o) => o.owner === null);
    const broken = outcomes.filter((o) => o.error !== undefined);
    const failedCases = compared.filter((r) => !r.ok);
    const failed = failedCases.length + unclassified.length + broken.length;
    const mine = outcomes.filter((o) => o.owner === 'losses');
    const delegated = outcomes.filter((o) => o.owner === 'eval');

    for (const o of mine) {
      const exact = o.results.filter((r) => !r.guarded);
      const worstCase = exact.reduce<CaseResult | undefined>(
        (m, r) => (m === undefined || r.maxAbsError > m.maxAbsError ? r : m),
        undefined,
      );
      const worst = worstCase?.maxAbsError ?? 0;
      const guarded = o.results.filter((r) => r.guarded).length;
      console.log(
        `  ${o.file}: ${o.results.length} cases, max |error| ${worst.toExponential(2)} (${worstCase?.name ?? '-'})` +
          (guarded > 0
            ? `, ${guarded} guarded rows (reference NaN/zero; checked against our documented fallback)`
            : '') +
          (o.error ? `, ERROR ${o.error}` : ''),
      );
    }
    console.log(`  delegated to @robust-ft/eval: ${delegated.map((o) => o.file).join(', ') || 'none'}`);
    for (const o of unclassified) console.log(`  UNCLASSIFIED (failure): ${o.file}`);
    for (const r of failedCases)
      console.log(`  FAILED ${r.name}: max |error| ${r.maxAbsError} ${r.note ?? ''}`);
    console.log(
      `golden-replay @robust-ft/losses: ${mine.length} files, ${compared.length} cases compared, ${failed} failed`,
    );

    expect(outcomes.length).toBeGreaterThan(0);
    expect(mine.length).toBeGreaterThan(0);
    expect(unclassified.map((o) => o.file)).toEqual([]);
    expect(broken.map((o) => `${o.file}: ${o.error}`)).toEqual([]);
    expect(failedCases.map((r) => r.name)).toEqual([]);
  });
});
