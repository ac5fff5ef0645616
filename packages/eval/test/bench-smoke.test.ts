import { spawnSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { CORRUPTION_FAMILIES } from '../src/index';

// The bench script runs once in a smoke size in CI (its esbuild is a declared devDependency), so it
// cannot rot; the numbers are not checked, only that every family reports one.
it('the corruption bench runs (smoke size) and reports every family', () => {
  const r = spawnSync('pnpm', ['run', '--silent', 'bench', '--smoke'], {
    encoding: 'utf8',
    timeout: 300_000,
  });
  expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  expect(line.startsWith('RESULT '), line).toBe(true);
  const out = JSON.parse(line.slice(7)) as { batch: number; imagesPerSecond: Record<string, number> };
  expect(out.batch).toBe(4);
  expect(Object.keys(out.imagesPerSecond).sort()).toEqual([...CORRUPTION_FAMILIES].sort());
  for (const v of Object.values(out.imagesPerSecond)) expect(v).toBeGreaterThan(0);
}, 300_000);
