/**
 * Every ```ts run``` fence of the site, run in Node on the cpu backend; its printed lines must match
 * its ```txt expected``` block. A snippet that throws or prints something else fails CI.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { runSnippet } from '../src/run-snippet';
import { compareOutput, SNIPPET_MODULES } from '../src/snippets';
import { allSnippets } from './collect';

// Snippet imports must resolve exactly as in a user's Node program (so @tensorflow/tfjs and the
// packages share one tfjs-core), not through Vitest's module graph: Node's own loader does that.
// (Vitest's sandbox has no native dynamic import(), so this goes through the packages' CJS builds.)
const nodeRequire = createRequire(import.meta.url);
const nativeImport = async (name: string): Promise<unknown> => nodeRequire(name);

const modules = Object.fromEntries(SNIPPET_MODULES.map((name) => [name, () => nativeImport(name)]));

interface TfLike {
  env(): { set(flag: string, value: boolean): void };
  setBackend(name: string): Promise<boolean>;
  ready(): Promise<void>;
}

const snippets = allSnippets();

describe('docs snippets in Node (cpu backend)', () => {
  it('the site has runnable snippets, each with an expected output', () => {
    expect(snippets.length).toBeGreaterThan(0);
    const without = snippets.filter((s) => s.expected.length === 0).map((s) => s.id);
    expect(without, 'snippets without a ```txt expected``` block').toEqual([]);
  });

  it.each(snippets.map((s) => [s.id, s] as const))('%s', async (_id, snippet) => {
    const tf = (await nativeImport('@tensorflow/tfjs')) as TfLike;
    tf.env().set('PROD', true);
    expect(await tf.setBackend('cpu')).toBe(true);
    await tf.ready();
    const result = await runSnippet(snippet.code, { modules });
    if (result.error)
      throw new Error(
        `${snippet.id} threw: ${result.error.stack ?? result.error.message}\noutput so far:\n${result.lines.join('\n')}`,
      );
    expect(compareOutput(result.lines, snippet.expected), result.lines.join('\n')).toBeNull();
  });
});
