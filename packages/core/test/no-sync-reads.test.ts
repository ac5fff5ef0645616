/**
 * No public path of any package reads a tensor synchronously: on WebGPU `dataSync`, `arraySync` and
 * `bufferSync` return zeros (and a backend's `readSync` is the same read). This scans the `src/` of
 * every package and fails on a call outside the allow-list below, so a new sync read fails the build.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const packagesDir = join(__dirname, '..', '..');

/** A call (or a reference about to be called) of a synchronous read, e.g. `t.dataSync()`, `b.readSync(id)`. */
export const SYNC_READ = /\.\s*(dataSync|arraySync|bufferSync|readSync)\s*\(/;

/**
 * Where a synchronous read is allowed, as path prefixes relative to packages/. Only kernel code that
 * runs on the cpu or wasm backend, where the data already sits in host memory.
 */
export const ALLOWED: readonly string[] = [
  'core/src/kernels/',
  'optimizers/src/fused/loops.ts',
  'optimizers/src/fused/wasm/',
  // TEMPORARY, removed by the lead when the owning branches merge:
  // engineer "reliability" removes the 2 reads of the non-finite check in robust-optimizer.ts.
  'core/src/robust-optimizer.ts',
];

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|js|mjs|cjs)$/.test(entry.name)) out.push(path);
  }
  return out;
}

/** `file:line: text` for every sync read in `files` outside `allowed` (paths relative to packages/). */
export function findSyncReads(
  files: readonly { path: string; text: string }[],
  allowed: readonly string[],
): string[] {
  const hits: string[] = [];
  for (const { path, text } of files) {
    if (allowed.some((prefix) => path.startsWith(prefix))) continue;
    text.split('\n').forEach((line, i) => {
      const code = line.replace(/\/\/.*$/, '');
      if (SYNC_READ.test(code)) hits.push(`${path}:${i + 1}: ${line.trim()}`);
    });
  }
  return hits;
}

const packageSources = readdirSync(packagesDir, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .flatMap((d) => {
    try {
      return sourceFiles(join(packagesDir, d.name, 'src'));
    } catch {
      return [];
    }
  })
  .map((path) => ({ path: relative(packagesDir, path), text: readFileSync(path, 'utf8') }));

describe('no synchronous tensor reads in packages/*/src', () => {
  it('scans every package', () => {
    const packages = new Set(packageSources.map((f) => f.path.split('/')[0]));
    for (const name of ['core', 'optimizers', 'losses', 'eval', 'backend-node', 'backend-web'])
      expect(packages.has(name), name).toBe(true);
  });

  it('finds none outside the cpu/wasm kernel allow-list', () => {
    const hits = findSyncReads(packageSources, ALLOWED);
    expect(hits, `synchronous reads (use await t.data() or keep tensors):\n${hits.join('\n')}`).toEqual([]);
  });

  it('the scanner catches each read form, in any file outside the allow-list', () => {
    const probe = (text: string, path = 'eval/src/metrics/x.ts') => findSyncReads([{ path, text }], ALLOWED);
    for (const call of [
      't.dataSync()',
      't.arraySync()',
      't.bufferSync()',
      'backend.readSync(id)',
      'x\n  .dataSync ()',
    ])
      expect(probe(call), call).toHaveLength(1);
    expect(probe('await t.data(); // not t.dataSync()')).toEqual([]);
    expect(probe('t.dataSync()', 'core/src/kernels/cpu.ts')).toEqual([]);
    expect(probe('t.dataSync()', 'optimizers/src/fused/webgpu/kernels.ts')).toHaveLength(1);
  });
});
