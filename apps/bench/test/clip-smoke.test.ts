import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/backend';
import { CLIP_METHODS } from '../src/clip/methods';
import { writeReport } from '../src/report';
import { DEFAULTS } from '../src/runner';
import type { RunOptions } from '../src/tier';
import { type ClipReport, clip, EMBEDDING_FIELDS } from '../src/tiers/clip';

// Every method for one epoch on 32 images, evaluated on small subsets: checks the pipeline and the
// report contract of the clip tier, not the numbers.
const tiny = (backend: string): RunOptions => ({
  ...DEFAULTS,
  ...clip.defaults,
  seed: 3,
  methods: [...CLIP_METHODS],
  epochs: 1,
  batchSize: 16,
  trainLimit: 32,
  mnistLimit: 60,
  families: ['gaussian_noise'],
  severities: [3],
  wiseAlphas: [0.5],
  quiet: true,
  backend,
  tierOptions: { evalLimit: '60' },
});

describe('clip tier smoke run', () => {
  let report: ClipReport;
  beforeAll(async () => {
    report = (await clip.run(tiny(await selectBackend('wasm', true)))) as ClipReport;
  });

  it('reports every method id with numeric accuracies and embedding metrics (null only for ose/vrf)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'clip-smoke-'));
    writeReport(report, dir, clip.report);
    const json = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as ClipReport;
    expect(json.tier).toBe('clip');
    expect(json.methods.map((m) => m.method)).toEqual([...CLIP_METHODS]);
    expect(json.shifts).toEqual(['mnist', 'fonts', 'corruptions']);
    for (const m of json.methods) {
      for (const v of [m.id, m.oodAvg, ...json.shifts.map((s) => m.ood[s] as number)]) {
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
      }
      expect(Number.isFinite(m.effectiveRobustness)).toBe(true);
      expect(m.ece).toBeGreaterThanOrEqual(0);
      const ensemble = m.method === 'ose' || m.method === 'vrf';
      for (const f of EMBEDDING_FIELDS) {
        if (ensemble) expect(m[f]).toBeNull();
        else expect(Number.isFinite(m[f])).toBe(true);
      }
    }
    expect(json.wiseCurve.map((p) => p.alpha)).toEqual([0, 0.5, 1]);
    expect(json.oseCurve.map((p) => p.alpha)).toEqual([0, 0.5, 1]);
    expect(json.embeddings.snapshots.map((s) => s.method)).toEqual(['zero-shot', 'e2e-ft', 'flyp', 'm2mix']);
    for (const file of [
      'report.md',
      'tradeoff.svg',
      'uniformity-alignment.svg',
      'embeddings.svg',
      'id-vs-ood.svg',
    ]) {
      expect(readFileSync(join(dir, file), 'utf8').length).toBeGreaterThan(200);
    }
  });

  it('the curves run from zero-shot to E2E-FT; the linear probe keeps the zero-shot embeddings', () => {
    const row = (id: string) => report.methods.find((m) => m.method === id);
    expect(report.wiseCurve[0]?.id).toBe(row('zero-shot')?.id);
    expect(report.oseCurve[0]?.oodAvg).toBe(row('zero-shot')?.oodAvg);
    expect(report.oseCurve[2]?.oodAvg).toBe(row('e2e-ft')?.oodAvg);
    // The linear probe trains only the head: its image and text embeddings are the zero-shot ones.
    for (const f of EMBEDDING_FIELDS) expect(row('lp')?.[f]).toBe(row('zero-shot')?.[f]);
    // Contrastive fine-tuning moves the text tower, so its caption embeddings differ from zero-shot's.
    expect(row('flyp')?.alignment).not.toBe(row('zero-shot')?.alignment);
  });
});
