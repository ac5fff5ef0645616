/**
 * markdown-it plugin: a ```` ```ts run ```` fence renders as <LiveCode> around the normally highlighted
 * code; a ```` ```txt expected ```` fence right after it is folded into the block (shown on demand,
 * asserted by the tests) instead of rendering on its own.
 */
import type { MarkdownRenderer } from 'vitepress';
import { isExpectedFence, isRunFence, snippetId } from '../src/snippets';

interface EnvWithPath {
  relativePath?: string;
  liveSnippetCount?: number;
}

export function liveFencePlugin(md: MarkdownRenderer): void {
  const fallback = md.renderer.rules.fence;
  if (!fallback) throw new Error('markdown-it has no fence renderer to wrap');
  md.renderer.rules.fence = (tokens, idx, options, env: EnvWithPath, self) => {
    const token = tokens[idx];
    if (!token) return '';
    if (token.meta?.liveExpected) return '';
    if (!isRunFence(token.info)) return fallback(tokens, idx, options, env, self);

    env.liveSnippetCount = (env.liveSnippetCount ?? 0) + 1;
    const id = snippetId(env.relativePath ?? 'unknown', env.liveSnippetCount);
    const next = tokens[idx + 1];
    let expected = '';
    if (next?.type === 'fence' && isExpectedFence(next.info)) {
      expected = next.content;
      next.meta = { ...(next.meta ?? {}), liveExpected: true };
    }
    // Render the code as a plain ts block so it keeps VitePress' highlighting and copy button.
    const info = token.info;
    token.info = 'ts';
    const highlighted = fallback(tokens, idx, options, env, self);
    token.info = info;
    const attrs = [
      `snippet-id="${md.utils.escapeHtml(id)}"`,
      `code="${encodeURIComponent(token.content)}"`,
      expected ? `expected="${encodeURIComponent(expected)}"` : '',
    ].join(' ');
    return `<LiveCode ${attrs}>${highlighted}</LiveCode>\n`;
  };
}
