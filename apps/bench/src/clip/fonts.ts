/**
 * The font split of the clip tier: whole font families are either pre-training fonts or evaluation
 * fonts, so no weight or slant of an evaluation family is ever seen by the dual encoder.
 */
import { readFileSync } from 'node:fs';
import { type Dataset, loadFontDigits, subset } from '../data/datasets';
import { dataPath } from '../data/paths';
import type { FontTrait } from './captions';

/** Each font file contributes 10 digits × this many jitters, in file order (see render-font-digits.ts). */
const PER_FONT = 20;

/** The family of a font file: the name before the first '-'/'_', without weight/slant suffixes. */
export function fontFamily(file: string): string {
  const stem = file.replace(/\.(otf|ttf)$/i, '').split(/[-_]/)[0] ?? file;
  return stem.replace(/(Bold|Oblique|Italic|BI|Bd|It)+$/, '');
}

/** Caption traits read off the font file name (weight, slant, serif, mono, narrow). */
export function fontTraits(file: string): FontTrait[] {
  const t: FontTrait[] = [];
  if (/Bold|Bd|BI|Black|Heavy/.test(file)) t.push('bold');
  if (/Italic|Oblique|It\b|BI|Ita/.test(file)) t.push('italic');
  if (/Light/.test(file)) t.push('light');
  if (/Thin/.test(file)) t.push('thin');
  if (/Serif|Roman|C059|P052|Bookman|Z003/.test(file) && !/Sans/.test(file)) t.push('serif');
  if (/Mono/.test(file)) t.push('mono');
  if (/Narrow|Condensed/.test(file)) t.push('narrow');
  return t;
}

/** Every third family (in sorted order, starting with the first) is held out for evaluation. */
export function isEvaluationFamily(family: string, families: readonly string[]): boolean {
  const sorted = [...new Set(families)].sort();
  return sorted.indexOf(family) % 3 === 0;
}

export interface FontSplit {
  /** Pre-training fonts' digits, with each image's font traits. */
  pretrain: Dataset;
  pretrainTraits: FontTrait[][];
  /** Held-out evaluation families' digits (the clip tier's "fonts" shift). */
  evaluation: Dataset;
  evaluationFamilies: string[];
}

export function fontFiles(): string[] {
  return readFileSync(dataPath('font-digits-fonts.txt'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
}

export function splitFonts(
  all: Dataset = loadFontDigits(),
  files: readonly string[] = fontFiles(),
): FontSplit {
  if (all.n !== files.length * PER_FONT) {
    throw new Error(`font digits: ${all.n} images for ${files.length} fonts, expected ${PER_FONT} per font`);
  }
  const families = files.map(fontFamily);
  const pre: number[] = [];
  const preTraits: FontTrait[][] = [];
  const ev: number[] = [];
  files.forEach((file, f) => {
    const target = isEvaluationFamily(families[f] ?? '', families) ? ev : pre;
    for (let j = 0; j < PER_FONT; j++) {
      target.push(f * PER_FONT + j);
      if (target === pre) preTraits.push(fontTraits(file));
    }
  });
  const evaluationFamilies = [...new Set(families.filter((fam) => isEvaluationFamily(fam, families)))];
  return {
    pretrain: subset(all, pre, 'fonts-pretrain'),
    pretrainTraits: preTraits,
    evaluation: subset(all, ev, 'fonts-heldout'),
    evaluationFamilies,
  };
}
