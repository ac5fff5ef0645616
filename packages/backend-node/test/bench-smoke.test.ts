import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/**
 * Every bench script runs once in a smoke size (CI), so none of them can rot: each is bundled from
 * source by bench/run.mjs and must end with a RESULT line whose rows all have numbers. Timings are
 * not checked (the machine is shared); completeness and the shape of the rows are.
 */
function bench(...args: string[]): Record<string, unknown> {
  const r = spawnSync(process.execPath, ['bench/run.mjs', ...args], {
    encoding: 'utf8',
    timeout: 600_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  expect(line.startsWith('RESULT '), line).toBe(true);
  return JSON.parse(line.slice(7)) as Record<string, unknown>;
}

describe('benchmarks (smoke size)', () => {
  it('bench/backends runs every workload on every variant', () => {
    const out = bench('backends', '--smoke') as {
      results: Record<string, Record<string, { msPerStep: number | null }>>;
    };
    for (const w of ['cnn', 'mlp']) {
      const variants = out.results[w]!;
      expect(Object.keys(variants).length).toBe(4);
      // Stock wasm cannot train a CNN (no Conv2DBackpropFilter); every other cell must have a time.
      for (const [v, r] of Object.entries(variants)) {
        if (w === 'cnn' && v === 'wasm (stock)') continue;
        expect(r.msPerStep, `${w} ${v}`).toBeGreaterThan(0);
      }
    }
  }, 600_000);

  it('bench/training runs every model, backend, thread count and optimizer', () => {
    const out = bench('training', '--smoke', '--threads', '1,2') as {
      rows: { model: string; backend: string; threads: number; optimizer: string; msPerStep: number }[];
    };
    const keys = ['model', 'batch', 'backend', 'threads', 'optimizer', 'msPerStep', 'imagesPerSec'];
    for (const row of out.rows) {
      expect(Object.keys(row).sort()).toEqual([...keys].sort());
      expect(row.msPerStep).toBeGreaterThan(0);
    }
    const on = (backend: string, threads: number) =>
      new Set(out.rows.filter((r) => r.backend === backend && r.threads === threads).map((r) => r.model));
    const models = ['digits-cnn', 'mobilenetv2-head', 'mobilenetv2-full', 'vit-tiny'];
    expect([...on('wasm', 1)].sort()).toEqual([...models].sort());
    expect([...on('wasm', 2)].sort()).toEqual([...models].sort());
    expect([...on('cpu', 1)].sort()).toEqual(['digits-cnn', 'vit-tiny']);
    expect(new Set(out.rows.map((r) => r.optimizer))).toEqual(new Set(['tf.train.adam', 'robust-ft adamw']));
  }, 600_000);
});
