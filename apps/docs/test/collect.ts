import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { extractSnippets, type Snippet } from '../src/snippets';

export const docsRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const contentDir = join(docsRoot, 'content');

/** Every markdown page the site renders (generated API pages and report includes hold no snippets). */
export function pages(): string[] {
  return readdirSync(contentDir, { recursive: true, encoding: 'utf8' })
    .filter(
      (f) =>
        f.endsWith('.md') &&
        !f.startsWith('api/') &&
        !/(^|\/)_/.test(f) &&
        !f.startsWith('benchmark/report/'),
    )
    .sort();
}

export function allSnippets(): Snippet[] {
  return pages().flatMap((page) => extractSnippets(readFileSync(join(contentDir, page), 'utf8'), page));
}

/** `guide/getting-started#2` → `guide-getting-started-2`, a file-name-safe form of a snippet id. */
export function slug(id: string): string {
  return id.replace(/[^a-zA-Z0-9]+/g, '-');
}
