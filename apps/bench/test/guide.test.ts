import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/backend';
import { GUIDE_MOBILENET_SIZE } from '../src/guide/backbones';
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
import { GUIDE_DEFAULTS, type GuideBackboneConfig, guideTier } from '../src/tiers/guide';

const TINY_BUDGET = GUIDE_DEFAULTS.backbones['digits-cnn']!.budget;

// Tiny sizes through the one runner: the whole pipeline (each loss, every measurement, the report
// contract) on every backbone, not the numbers. MobileNetV2 needs Debian's dataset-fashion-mnist (.ci/run installs it).
const tinyBackbone: GuideBackboneConfig = {
  seeds: [0],
  trainSize: 16,
  testSize: 44,
  budget: {
    ...TINY_BUDGET,
    batchSize: 16,
    epochs: { lp: 1, 'fft-short': 1, 'fft-long': 1 },
    trainAttackSteps: 1,
  },
  robust: { images: 2, steps: 2, targets: 1, seed: 0 },
};
const tiny = guideTier({
  ...GUIDE_DEFAULTS,
  losses: ['ce', 'at', 'trades'],
  protocols: ['lp', 'fft-short'],
  optimizers: ['spd'],
  backbones: {
    'digits-cnn': {
      ...tinyBackbone,
      seeds: [0, 1],
      trainSize: 32,
      testSize: 60,
      robust: { ...tinyBackbone.robust, images: 4 },
    },
    mobilenetv2: tinyBackbone,
    'digits-attention': tinyBackbone,
  },
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
    const grid = [
      'ce/lp/spd',
      'ce/fft-short/spd',
      'at/lp/spd',
      'at/fft-short/spd',
      'trades/lp/spd',
      'trades/fft-short/spd',
    ];
    expect(json.cells.map((c: CellResult) => `${c.backbone}:${c.loss}/${c.protocol}/${c.optimizer}`)).toEqual(
      ['digits-cnn', 'mobilenetv2', 'digits-attention'].flatMap((b) => grid.map((g) => `${b}:${g}`)),
    );
    for (const c of json.cells) {
      const prefix = c.backbone === 'digits-cnn' ? '' : `${c.backbone}:`;
      const seeds = c.backbone === 'digits-cnn' ? [0, 1] : [0];
      for (const k of ['clean', 'linf', 'l2', 'l1', 'corruptions', 'wallSeconds'] as const) {
        expect(typeof c[k]).toBe('number');
        expect(Number.isFinite(c[k])).toBe(true);
      }
      for (const k of ['clean', 'linf', 'l2', 'l1', 'corruptions'] as const) {
        expect(c[k]).toBeGreaterThanOrEqual(0);
        expect(c[k]).toBeLessThanOrEqual(1);
        // The cell is the mean of its seeds, and each seed is its own run's row.
        expect(c[k]).toBeCloseTo(c.seeds.reduce((a, s) => a + s[k], 0) / seeds.length, 10);
      }
      expect(c.seeds.map((s) => s.seed)).toEqual(seeds);
      const last = seeds[seeds.length - 1];
      const row = json.methods.find(
        (m) => m.method === `${prefix}${c.loss}/${c.protocol}/${c.optimizer}/s${last}`,
      );
      expect(c.seeds[seeds.length - 1]?.clean).toBe(row?.id);
      expect(c.seeds[seeds.length - 1]?.wallSeconds).toBeGreaterThan(
        row?.wallSeconds ?? Number.POSITIVE_INFINITY,
      );
      const full = c.backbone === 'mobilenetv2' ? 'tail (block_13_expand + BN + head; trunk frozen)' : 'all';
      expect(c.hyperparameters.trained).toBe(c.protocol === 'lp' ? 'head' : full);
      if (c.loss !== 'ce') expect(String(c.hyperparameters.attack)).toContain('APGD-CE');
    }
    // Every backbone has its starting point measured (MobileNetV2's: the ImageNet trunk with a probed head).
    expect(Object.keys(json.zeroShot).sort()).toEqual(['digits-attention', 'digits-cnn', 'mobilenetv2']);
    expect(json.zeroShot['digits-cnn']?.clean).toBe(json.methods.find((m) => m.method === 'zero-shot')?.id);
    expect(json.zeroShot['digits-attention']?.clean).toBe(
      json.methods.find((m) => m.method === 'digits-attention:zero-shot')?.id,
    );
    expect(json.data['mobilenetv2.idTrain']).toBe(16);
    expect(json.data['digits-cnn.idTrain']).toBe(32);
    const md = readFileSync(join(dir, 'report.md'), 'utf8');
    for (const b of ['digits-cnn', 'mobilenetv2', 'digits-attention']) expect(md).toContain(`### ${b}`);
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
    const d = GUIDE_DEFAULTS.backbones;
    expect(Object.keys(d)).toEqual(['digits-cnn', 'mobilenetv2', 'digits-attention']);
    expect(d['digits-cnn']?.seeds).toEqual([0, 1, 2]);
    expect(d.mobilenetv2?.seeds).toEqual([0]);
    expect(d['digits-attention']?.seeds).toEqual([0]);
    expect([d['digits-cnn']?.trainSize, d.mobilenetv2?.trainSize, d['digits-attention']?.trainSize]).toEqual([
      256, 64, 256,
    ]);
    expect(d.mobilenetv2?.testSize).toBe(500);
    for (const b of Object.values(d))
      expect(b.budget).toEqual({
        batchSize: 32,
        epochs: { lp: 2, 'fft-short': 1, 'fft-long': 3 },
        trainAttackSteps: 2,
        trainEpsilon: 4 / 255,
        tradesBeta: 1,
      });
    expect(d['digits-cnn']?.robust).toEqual({ images: 16, steps: 10, targets: 1, seed: 0 });
    expect(d['digits-attention']?.robust).toEqual({ images: 16, steps: 10, targets: 1, seed: 0 });
    expect(d.mobilenetv2?.robust).toEqual({ images: 8, steps: 5, targets: 1, seed: 0 });
    expect(GUIDE_MOBILENET_SIZE).toBe(32);
  });
});
