import { spawnSync } from 'node:child_process';
import { expect, it } from 'vitest';

// The step bench runs once in a smoke size in CI (ViT-like set, one step, cpu and wasm), so it cannot
// rot; timings are not checked, only that every row has one.
it('the optimizer step bench runs (smoke size) and times every row', () => {
  const args = [
    '--sets',
    'vit',
    '--steps',
    '1',
    '--warmup',
    '1',
    '--backends',
    'cpu,wasm',
    '--breakdown',
    'off',
  ];
  const r = spawnSync('pnpm', ['run', '--silent', 'bench', ...args], { encoding: 'utf8', timeout: 600_000 });
  expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  expect(line.startsWith('RESULT '), line).toBe(true);
  const rows = (
    JSON.parse(line.slice(7)) as { rows: { backend: string; optimizer: string; msPerStep: number }[] }
  ).rows;
  expect(new Set(rows.map((r) => r.backend))).toEqual(new Set(['cpu', 'wasm']));
  for (const row of rows) expect(row.msPerStep, `${row.backend} ${row.optimizer}`).toBeGreaterThan(0);
  expect(rows.some((r) => r.optimizer === 'digrap')).toBe(true);
}, 600_000);
