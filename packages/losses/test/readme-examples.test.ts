/**
 * Runs every ```ts fence of README.md that sets a backend, against this package's source, so the
 * documented examples cannot rot. Each example prints a "before -> after" line that is checked here.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import './setup-backend';

const here = dirname(fileURLToPath(import.meta.url));
const readme = readFileSync(resolve(here, '../README.md'), 'utf8');
const fences = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)]
  .map((m) => m[1]!)
  .filter((code) => code.includes('setBackend'));
// Inside the package so the snippets' bare imports resolve from its node_modules; removed afterwards.
const scratch = join(here, '.snippets');

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function numbersAfter(line: string, label: string): number[] {
  const m = new RegExp(`${label}: ([\\d.]+) -> ([\\d.]+)`).exec(line);
  if (m === null) throw new Error(`no "${label}: a -> b" in ${JSON.stringify(line)}`);
  return [Number(m[1]), Number(m[2])];
}

describe('README examples', () => {
  it('has the two runnable examples', () => expect(fences).toHaveLength(2));

  it.each(fences.map((code, i) => [i, code] as const))(
    'example %i runs and improves its loss',
    async (i, code) => {
      mkdirSync(scratch, { recursive: true });
      const file = join(scratch, `readme-${i}.ts`);
      writeFileSync(file, code.replaceAll("'@robust-ft/losses'", `'${resolve(here, '../src/index')}'`));
      const log = vi.spyOn(console, 'log').mockImplementation(() => {});
      let lines: string[];
      try {
        await import(file);
      } finally {
        // Read the calls before restoring: mockRestore clears them.
        lines = log.mock.calls.map((c) => c.join(' '));
        log.mockRestore();
      }
      expect(lines).toHaveLength(1);
      const line = lines[0]!;
      console.info(`  README example ${i}: ${line}`);
      const [before, after] = numbersAfter(
        line,
        line.startsWith('contrastive') ? 'contrastive loss' : 'task loss',
      );
      expect(after).toBeLessThan(before!);
      if (line.includes('function-space distance')) {
        expect(Number(/distance ([\d.]+)/.exec(line)![1])).toBeGreaterThan(0);
      }
    },
  );
});
