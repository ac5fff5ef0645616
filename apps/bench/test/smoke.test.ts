import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/backend';
import { writeReport } from '../src/report';
import type { BenchReport } from '../src/results';
import { DEFAULTS } from '../src/runner';
import type { RunOptions } from '../src/tier';
import { digits } from '../src/tiers/digits';

// A few steps on small subsets: checks the whole pipeline and the report contract, not the numbers.
const tiny = (backend: string): RunOptions => ({
  ...DEFAULTS,
  seed: 5,
  methods: ['adamw', 'l2sp', 'wise-ft'],
  epochs: 1,
  batchSize: 16,
  trainLimit: 64,
  mnistLimit: 200,
  families: ['gaussian_noise', 'contrast'],
  severities: [2],
  wiseAlphas: [0.5],
  quiet: true,
  backend,
});

describe('bench smoke run', () => {
  let backend = '';
  let first: BenchReport;
  beforeAll(async () => {
    backend = await selectBackend('wasm', true);
    first = await digits.run(tiny(backend));
  });

  it('writes a report.json with the contract fields for every method', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
    writeReport(first, dir, digits.report);
    const json = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as BenchReport;
    expect(json.methods.map((m) => m.method)).toEqual(['zero-shot', 'adamw', 'l2sp', 'wise-ft']);
    expect(json.shifts).toEqual(['mnist', 'fonts', 'corruptions']);
    for (const m of json.methods) {
      expect(m.id).toBeGreaterThanOrEqual(0);
      expect(m.id).toBeLessThanOrEqual(1);
      const vals = json.shifts.map((s) => m.ood[s] as number);
      for (const v of vals) expect(v).toBeGreaterThanOrEqual(0);
      expect(m.oodAvg).toBeCloseTo(vals.reduce((a, b) => a + b, 0) / vals.length, 10);
      expect(m.wallSeconds).toBeGreaterThanOrEqual(0);
      expect(Object.keys(m.corruptions)).toEqual(['gaussian_noise', 'contrast']);
      expect(m.ece).toBeGreaterThanOrEqual(0);
    }
    // The WiSE-FT curve runs from the zero-shot model (α=0) to the AdamW run (α=1).
    expect(json.wiseCurve.map((p) => p.alpha)).toEqual([0, 0.5, 1]);
    expect(json.wiseCurve[0]?.id).toBe(json.methods[0]?.id);
    expect(json.wiseCurve[2]?.id).toBe(json.methods[1]?.id);
    for (const file of ['report.md', 'id-vs-ood.svg', 'corruptions.svg', 'index.html']) {
      expect(readFileSync(join(dir, file), 'utf8').length).toBeGreaterThan(200);
    }
  });

  it('zero-shot accuracy is the pre-trained model on the same sets, well above chance on MNIST', () => {
    const zs = first.methods[0];
    expect(zs?.method).toBe('zero-shot');
    expect(zs?.ood.mnist).toBeGreaterThan(0.9);
  });

  it('is reproducible: the same options give the same accuracies', async () => {
    const again = await digits.run(tiny(backend));
    const pick = (r: BenchReport) => r.methods.map((m) => [m.method, m.id, m.ood, m.ece]);
    expect(pick(again)).toEqual(pick(first));
  });
});
