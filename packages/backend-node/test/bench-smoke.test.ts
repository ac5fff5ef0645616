import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/**
 * Every bench script runs once in a smoke size (CI), so none of them can rot: each is bundled from
 * source by bench/run.mjs and must end with a RESULT line whose rows all have numbers. Timings are
 * not checked (the machine is shared); completeness and the shape of the rows are.
 */
function bench(...args: string[]): Record<string, unknown> {
  return benchOutput(...args).result;
}

function benchOutput(...args: string[]): { result: Record<string, unknown>; stdout: string } {
  const r = spawnSync(process.execPath, ['bench/run.mjs', ...args], {
    encoding: 'utf8',
    timeout: 600_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  expect(line.startsWith('RESULT '), line).toBe(true);
  return { result: JSON.parse(line.slice(7)) as Record<string, unknown>, stdout: r.stdout };
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

  it('bench/training --cpu-profile charges the samples of its steps to packages, JS and wasm apart', () => {
    const { stdout } = benchOutput(
      'training',
      '--smoke',
      '--models',
      'digits-cnn',
      '--backends',
      'wasm',
      '--threads',
      '1',
      '--optimizers',
      'adamw',
      '--cpu-profile',
      '--cpu-profile-steps',
      '20',
    );
    const line = stdout.split('\n').find((l) => l.includes('(V8 samples over 20 steps)'));
    expect(line, stdout).toBeDefined();
    const [head, body] = line!.split(' ms/step = ');
    const total = Number(head!.split(': ').pop());
    expect(total).toBeGreaterThan(0);
    const parts = body!.split(', ').map((p) => {
      const at = p.lastIndexOf(' ');
      return { where: p.slice(0, at), ms: Number(p.slice(at + 1)) };
    });
    for (const p of parts) expect(p.where).toMatch(/^(js \S+|wasm via \S+|wasm|js node\/V8 other|\(.+\))$/);
    // tfjs-core's engine runs in every step, and the parts add up to the total (each rounded to 0.01).
    expect(parts.some((p) => p.where === 'js @tensorflow/tfjs-core')).toBe(true);
    expect(Math.abs(parts.reduce((a, p) => a + p.ms, 0) - total)).toBeLessThan(0.01 * parts.length + 0.05);
  }, 600_000);
});
