/**
 * Finding runnable snippets in the markdown sources. The markdown-it fence plugin (site) and the
 * tests (Node run, type-check, Chromium) must agree on what a snippet is and on its id, so both
 * go through `isRunFence`/`isExpectedFence` and number snippets in document order.
 */

/**
 * The modules a snippet may import: the site bundles each (its built dist) for the live blocks, and the
 * Node snippet test loads each through Node's own loader.
 */
export const SNIPPET_MODULES = [
  '@tensorflow/tfjs',
  '@robust-ft/core',
  '@robust-ft/optimizers',
  '@robust-ft/losses',
  '@robust-ft/eval',
  '@robust-ft/backend-web',
] as const;

/** A ```` ```ts run ```` fence: the live, editable block. */
export function isRunFence(info: string): boolean {
  const words = info.trim().split(/\s+/);
  return (words[0] === 'ts' || words[0] === 'typescript') && words.includes('run');
}

/** A ```` ```txt expected ```` fence right after a run fence holds the output the snippet must print. */
export function isExpectedFence(info: string): boolean {
  const words = info.trim().split(/\s+/);
  return words[0] === 'txt' && words.includes('expected');
}

export interface Snippet {
  /** `<page path without .md>#<n>`, n counted from 1 in document order; also the DOM id. */
  id: string;
  page: string;
  index: number;
  code: string;
  /** Expected printed lines; a line written as `/…/` is a regular expression. */
  expected: string[];
}

const FENCE = /^(```+)([^\n`]*)\n([\s\S]*?)^\1[ \t]*$/gm;

/** Every run fence of one page, with its expected-output fence when one follows. */
export function extractSnippets(markdown: string, page: string): Snippet[] {
  const fences: { info: string; body: string; start: number; end: number }[] = [];
  for (const m of markdown.matchAll(FENCE)) {
    const start = m.index ?? 0;
    fences.push({ info: m[2] ?? '', body: m[3] ?? '', start, end: start + m[0].length });
  }
  const snippets: Snippet[] = [];
  fences.forEach((fence, i) => {
    if (!isRunFence(fence.info)) return;
    const next = fences[i + 1];
    const adjacent = next !== undefined && markdown.slice(fence.end, next.start).trim() === '';
    const expected = adjacent && isExpectedFence(next.info) ? splitLines(next.body) : [];
    const index = snippets.length + 1;
    snippets.push({ id: snippetId(page, index), page, index, code: fence.body, expected });
  });
  return snippets;
}

export function snippetId(page: string, index: number): string {
  return `${page.replace(/\.md$/, '')}#${index}`;
}

export function splitLines(text: string): string[] {
  return text.replace(/\s+$/, '').split('\n');
}

/**
 * Compares printed lines with the expected ones: same count, each line equal after trimming, or
 * matching when the expected line is a `/regex/`. Returns a readable reason, or null when it matches.
 */
export function compareOutput(actual: readonly string[], expected: readonly string[]): string | null {
  if (expected.length === 0) return 'the snippet has no ```txt expected``` block';
  if (actual.length !== expected.length) {
    return `expected ${expected.length} lines, got ${actual.length}:\n${actual.join('\n')}`;
  }
  for (let i = 0; i < expected.length; i++) {
    const want = (expected[i] ?? '').trim();
    const got = (actual[i] ?? '').trim();
    const regex = /^\/(.+)\/$/.exec(want);
    const ok = regex ? new RegExp(`^${regex[1]}$`).test(got) : want === got;
    if (!ok) return `line ${i + 1}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`;
  }
  return null;
}
