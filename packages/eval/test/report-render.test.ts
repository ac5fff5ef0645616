import { describe, expect, it } from 'vitest';
import type { EvaluationReport } from '../src/index';
import { reportToJson, reportToMarkdown } from '../src/report/render';

const base: EvaluationReport = {
  model: 'zero-shot',
  id: { accuracy: 0.8125, topK: { k: 5, accuracy: 0.96875 }, ece: 0.0412, n: 64 },
  corruptions: {
    accuracy: { gaussian_noise: [0.75, 0.5], contrast: [0.6, 0.25] },
    severities: [1, 5],
    meanCorruptionAccuracy: 0.525,
    relativeRobustness: 0.64615,
  },
  attacks: { pgd: 0.125 },
  ood: { sketch: 0.4 },
};
const other: EvaluationReport = {
  model: 'fine-tuned',
  id: { accuracy: 0.9, topK: null, ece: 0.1, n: 64 },
  corruptions: null,
  attacks: { fgsm: 0.3 },
  ood: { sketch: 0.35, flipped: 0.05 },
};

describe('reportToJson', () => {
  it('is the report as 2-space indented JSON with a final newline', () => {
    const json = reportToJson(other);
    expect(json.startsWith('{\n  "model": "fine-tuned",\n  "id": {\n    "accuracy": 0.9,')).toBe(true);
    expect(json.endsWith('}\n')).toBe(true);
    expect(json.endsWith('}\n\n')).toBe(false);
    expect(JSON.parse(json)).toEqual(other);
    const both = reportToJson([base, other]);
    expect(both.startsWith('[\n  {\n    "model": "zero-shot"')).toBe(true);
    expect(JSON.parse(both)).toEqual([base, other]);
  });
});

describe('reportToMarkdown', () => {
  it('writes one row per model (%, 1 decimal), "–" where a model lacks a column, then per-severity tables', () => {
    const md = reportToMarkdown([base, other]);
    expect(md).toBe(
      [
        '| model | ID acc | top-k | ECE | mCA | rel. rob. | adv: pgd | adv: fgsm | OOD: sketch | OOD: flipped |',
        '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
        '| zero-shot | 81.3 | 96.9 (k=5) | 4.1 | 52.5 | 0.646 | 12.5 | – | 40.0 | – |',
        '| fine-tuned | 90.0 | – | 10.0 | – | – | – | 30.0 | 35.0 | 5.0 |',
        '',
        '**zero-shot: accuracy (%) per corruption and severity**',
        '',
        '| family | s1 | s5 |',
        '| --- | --- | --- |',
        '| gaussian_noise | 75.0 | 50.0 |',
        '| contrast | 60.0 | 25.0 |',
        '',
      ].join('\n'),
    );
  });

  it('with no reports is the bare header', () => {
    expect(reportToMarkdown([])).toBe(
      '| model | ID acc | top-k | ECE | mCA | rel. rob. |\n| --- | --- | --- | --- | --- | --- |\n',
    );
  });

  it('gives each model with corruptions its own severity table, in report order', () => {
    const second = { ...base, model: 'robust', corruptions: { ...base.corruptions!, severities: [2, 3] } };
    const md = reportToMarkdown([other, base, second]);
    const titles = md.split('\n').filter((l) => l.startsWith('**'));
    expect(titles).toEqual([
      '**zero-shot: accuracy (%) per corruption and severity**',
      '**robust: accuracy (%) per corruption and severity**',
    ]);
    expect(md).toContain('| family | s2 | s3 |');
  });
});
