import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/backend';
import type { CellResult, GuideSummary } from '../src/guide/cells';
import {
  GUIDE_CORRUPTIONS,
  GUIDE_SEVERITY,
  gridCells,
  STRONG_FACTOR,
  scaledEpsilons,
} from '../src/guide/grid';
import { writeReport } from '../src/report';
import type { BenchReport } from '../src/results';
import { DEFAULTS } from '../src/runner';
import { GUIDE_DEFAULTS, guideTier } from '../src/tiers/guide';

// Tiny sizes through the one runner: the whole pipeline (each loss, every measurement, the report
// contract), not the numbers.
const tiny = guideTier({
  ...GUIDE_DEFAULTS,
  seeds: [0, 1],
  losses: ['ce', 'at', 'trades'],
  protocols: ['lp', 'fft-short'],
  optimizers: ['spd'],
  trainSize: 32,
  testSize: 60,
  budget: {
    ...GUIDE_DEFAULTS.budget,
    batchSize: 16,
    epochs: { lp: 1, 'fft-short': 1, 'fft-long': 1 },
    trainAttackSteps: 1,
  },
  robust: { images: 4, steps: 2, targets: 1, seed: 0 },
});

describe('guide tier smoke run', () => {
  let report: BenchReport;
  let leaked = 0;
  beforeAll(async () => {
    const backend = await selectBackend('wasm', true);
    const before = tf.memory().numTensors;
    report = await tiny.run({
      ...DEFAULTS,
      ...tiny.defaults,
      methods: tiny.methodNames,
      quiet: true,
      backend,
    });
    leaked = tf.memory().numTensors - before;
    // About 10 s of CPU; the generous limit is for a shared machine, not for the work.
  }, 300_000);

  it('writes report.json with one cell per grid cell and the contract fields', () => {
    const dir = mkdtempSync(join(tmpdir(), 'guide-smoke-'));
    writeReport(report, dir, tiny.report);
    const json = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as BenchReport & GuideSummary;
    expect(json.tier).toBe('guide');
    expect(json.cells.map((c: CellResult) => `${c.loss}/${c.protocol}/${c.optimizer}`)).toEqual([
      'ce/lp/spd',
      'ce/fft-short/spd',
      'at/lp/spd',
      'at/fft-short/spd',
      'trades/lp/spd',
      'trades/fft-short/spd',
    ]);
    for (const c of json.cells) {
      expect(c.backbone).toBe('digits-cnn');
      for (const k of ['clean', 'linf', 'l2', 'l1', 'corruptions', 'wallSeconds'] as const) {
        expect(typeof c[k]).toBe('number');
        expect(Number.isFinite(c[k])).toBe(true);
      }
      for (const k of ['clean', 'linf', 'l2', 'l1', 'corruptions'] as const) {
        expect(c[k]).toBeGreaterThanOrEqual(0);
        expect(c[k]).toBeLessThanOrEqual(1);
        // The cell is the mean of its seeds, and each seed is its own run's row.
        expect(c[k]).toBeCloseTo((c.seeds[0]![k] + c.seeds[1]![k]) / 2, 10);
      }
      expect(c.seeds.map((s) => s.seed)).toEqual([0, 1]);
      const row = json.methods.find((m) => m.method === `${c.loss}/${c.protocol}/${c.optimizer}/s1`);
      expect(c.seeds[1]?.clean).toBe(row?.id);
      expect(c.seeds[1]?.wallSeconds).toBeGreaterThan(row?.wallSeconds ?? Number.POSITIVE_INFINITY);
      expect(c.hyperparameters.trained).toBe(c.protocol === 'lp' ? 'head' : 'all');
      if (c.loss !== 'ce') expect(String(c.hyperparameters.attack)).toContain('APGD-CE');
    }
    expect(json.zeroShot?.clean).toBe(json.methods[0]?.id);
    const md = readFileSync(join(dir, 'report.md'), 'utf8');
    expect(md).toContain('### digits-cnn');
    for (const norm of ['linf', 'l2', 'l1'])
      for (const suffix of ['', '-strong'])
        expect(readFileSync(join(dir, `clean-vs-${norm}${suffix}.svg`), 'utf8')).toContain('<svg');
  });

  it('training and measuring every run leaks no tensors', () => {
    expect(leaked).toBe(0);
  });

  it('pins the ε rule, the corruption portfolio and the default budget', () => {
    const e = scaledEpsilons(784);
    expect(e.linf).toBe(4 / 255);
    expect(e.l2).toBeCloseTo(0.14434, 4);
    expect(e.l1).toBeCloseTo(0.39063, 4);
    expect(STRONG_FACTOR).toBe(4);
    expect(GUIDE_CORRUPTIONS).toEqual([
      'shot_noise',
      'impulse_noise',
      'defocus_blur',
      'motion_blur',
      'zoom_blur',
      'snow',
      'brightness',
      'contrast',
      'elastic_transform',
      'pixelate',
      'jpeg_compression',
    ]);
    expect(GUIDE_SEVERITY).toBe(3);
    expect(gridCells('b')).toHaveLength(27);
    expect(GUIDE_DEFAULTS.seeds).toEqual([0, 1, 2]);
    expect(GUIDE_DEFAULTS.trainSize).toBe(256);
    expect(GUIDE_DEFAULTS.budget).toEqual({
      batchSize: 32,
      epochs: { lp: 2, 'fft-short': 1, 'fft-long': 3 },
      trainAttackSteps: 2,
      trainEpsilon: 4 / 255,
      tradesBeta: 1,
    });
    expect(GUIDE_DEFAULTS.robust).toEqual({ images: 16, steps: 10, targets: 1, seed: 0 });
  });
});
