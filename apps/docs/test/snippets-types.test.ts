/**
 * Type-checks every snippet against the packages' published types: each fence is written to
 * .snippets/<id>.ts and the lot goes through `tsc --noEmit` with the site's strict settings.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { allSnippets, docsRoot, slug } from './collect';

const require = createRequire(import.meta.url);

it('every snippet type-checks with tsc --noEmit', () => {
  const out = join(docsRoot, '.snippets');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const snippets = allSnippets();
  expect(snippets.length).toBeGreaterThan(0);
  for (const s of snippets) {
    // `export {}` makes each file a module, so top-level await and per-file scopes apply.
    writeFileSync(join(out, `${slug(s.id)}.ts`), `// ${s.id}\n${s.code}\nexport {};\n`);
  }
  writeFileSync(
    join(out, 'tsconfig.json'),
    JSON.stringify(
      { extends: '../tsconfig.json', compilerOptions: { noEmit: true }, include: ['*.ts'], exclude: [] },
      null,
      2,
    ),
  );
  const tsc = spawnSync(
    process.execPath,
    [require.resolve('typescript/bin/tsc'), '--noEmit', '-p', join(out, 'tsconfig.json')],
    {
      cwd: docsRoot,
      encoding: 'utf8',
    },
  );
  expect(`${tsc.stdout}${tsc.stderr}`.trim()).toBe('');
  expect(tsc.status).toBe(0);
});
