/**
 * The caption grammar of the clip tier: digit names, numerals, styles and phrasings ("a handwritten
 * seven", "the number 7", "a photo of the digit seven", ...), a fixed vocabulary and the tokenizer.
 * Pure functions of a seeded Rng: the pre-training script, the tier and the tests draw the same captions.
 */
import type { Rng } from '@robust-ft/core';

export const DIGIT_NAMES = [
  'zero',
  'one',
  'two',
  'three',
  'four',
  'five',
  'six',
  'seven',
  'eight',
  'nine',
] as const;

/** Where an image comes from; it decides which style words its captions may use. */
export type CaptionDomain = 'handwritten' | 'printed';

/** Style words per domain. Font traits (bold, italic, ...) are added for printed digits of such fonts. */
export const STYLES: Record<CaptionDomain, readonly string[]> = {
  handwritten: ['handwritten', 'hand-drawn', 'scribbled', 'written', 'messy'],
  printed: ['printed', 'typed', 'typeset', 'computer'],
};

export const FONT_TRAITS = ['bold', 'italic', 'light', 'thin', 'serif', 'mono', 'narrow'] as const;
export type FontTrait = (typeof FONT_TRAITS)[number];

/**
 * Phrasings. `{d}` is the digit (its name or its numeral, drawn per caption), `{s}` an optional style
 * phrase. The split into training and held-out templates is what "held-out captions" means in the
 * retrieval metrics: no model ever trains on a held-out phrasing.
 */
export const TRAIN_TEMPLATES = [
  'a {s} {d}',
  'the number {d}',
  'a photo of the digit {d}',
  'a {s} digit {d}',
  'an image of a {s} {d}',
  'the digit {d}',
  'a picture of the number {d}',
  'a {s} number {d}',
  'a drawing of a {d}',
  '{d}',
  'a photo of a {s} {d}',
  'the {s} digit {d}',
] as const;

export const HELD_OUT_TEMPLATES = [
  'a close-up photo of the {s} number {d}',
  'a scan of a {s} {d}',
  'this is the digit {d}',
  'a black and white image of a {d}',
] as const;

/** The zero-shot classifier's prompts (CLIP-style prompt ensemble), averaged per class. */
export const PROMPT_TEMPLATES = [
  'a photo of the digit {d}',
  'the number {d}',
  'a {s} {d}',
  'the digit {d}',
  'a picture of the number {d}',
] as const;

/** Styles the zero-shot prompts use for `{s}` (one prompt per style). */
export const PROMPT_STYLES = ['handwritten', 'printed'] as const;

export const PAD = '<pad>';
export const UNK = '<unk>';
/** Tokens per caption; longer captions are cut (none of the grammar's are). */
export const MAX_TOKENS = 9;

/** Lower-case words split on spaces: the grammar has no punctuation, so nothing smarter is needed. */
export function words(caption: string): string[] {
  return caption
    .toLowerCase()
    .split(/\s+/)
    .filter((w) => w.length > 0);
}

function templateWords(t: string): string[] {
  return words(t.replace('{d}', '').replace('{s}', ''));
}

/**
 * The fixed vocabulary: padding, unknown, digit names, numerals, style and trait words and every
 * template word, sorted so that the index of a word never depends on the order of the lists above.
 */
export function vocabulary(): string[] {
  const set = new Set<string>([
    ...DIGIT_NAMES,
    ...DIGIT_NAMES.map((_, i) => String(i)),
    ...STYLES.handwritten,
    ...STYLES.printed,
    ...FONT_TRAITS,
    ...[...TRAIN_TEMPLATES, ...HELD_OUT_TEMPLATES, ...PROMPT_TEMPLATES].flatMap(templateWords),
  ]);
  return [PAD, UNK, ...[...set].sort()];
}

/** Fills a template: `{d}` with the digit's name or numeral, `{s}` with a style phrase (or drops it). */
export function fill(template: string, digit: number, style: string, numeral: boolean): string {
  const d = numeral ? String(digit) : (DIGIT_NAMES[digit] ?? String(digit));
  return words(template.replace('{d}', d).replace('{s}', style)).join(' ');
}

export interface CaptionOptions {
  domain: CaptionDomain;
  /** Traits of the font a printed digit was rendered in (drawn into the style phrase now and then). */
  traits?: readonly FontTrait[];
  /** Which phrasings to draw from. Default the training templates. */
  templates?: readonly string[];
}

/**
 * One random caption for an image of `digit`: a random template, the name or the numeral (even odds),
 * and a style phrase: empty a quarter of the time, else a domain style, sometimes preceded by a trait.
 */
export function sampleCaption(digit: number, rng: Rng, options: CaptionOptions): string {
  const templates = options.templates ?? TRAIN_TEMPLATES;
  const template = templates[rng.int(templates.length)] ?? '{d}';
  const styles = STYLES[options.domain];
  let style = rng.uniform() < 0.25 ? '' : (styles[rng.int(styles.length)] ?? '');
  const traits = options.traits ?? [];
  if (traits.length > 0 && rng.uniform() < 0.5) style = `${traits[rng.int(traits.length)]} ${style}`;
  return fill(template, digit, style, rng.uniform() < 0.5);
}

/** Token indices of one caption, padded with PAD to MAX_TOKENS; unknown words map to UNK. */
export function tokenize(caption: string, vocab: readonly string[]): number[] {
  const index = new Map(vocab.map((w, i) => [w, i]));
  const unk = index.get(UNK) ?? 1;
  const ids = words(caption)
    .slice(0, MAX_TOKENS)
    .map((w) => index.get(w) ?? unk);
  while (ids.length < MAX_TOKENS) ids.push(index.get(PAD) ?? 0);
  return ids;
}

/**
 * Captions as one-hot rows `[N, MAX_TOKENS, V]` (row-major). The text tower's word embedding is a dense
 * layer on these, so its gradient is a matMul, which every backend has (Gather's gradient is not on wasm).
 */
export function encodeCaptions(captions: readonly string[], vocab: readonly string[]): Float32Array {
  const v = vocab.length;
  const out = new Float32Array(captions.length * MAX_TOKENS * v);
  captions.forEach((c, i) => {
    tokenize(c, vocab).forEach((id, t) => {
      out[(i * MAX_TOKENS + t) * v + id] = 1;
    });
  });
  return out;
}

/** The class prompts of the zero-shot head: every prompt template × prompt style × {name, numeral}. */
export function classPrompts(digit: number): string[] {
  const out: string[] = [];
  for (const t of PROMPT_TEMPLATES) {
    for (const numeral of [false, true]) {
      if (t.includes('{s}')) for (const s of PROMPT_STYLES) out.push(fill(t, digit, s, numeral));
      else out.push(fill(t, digit, '', numeral));
    }
  }
  return [...new Set(out)];
}
