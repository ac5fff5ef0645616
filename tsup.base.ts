import type { Options } from 'tsup';

/** Shared tsup settings: ESM + CJS + .d.ts; tfjs and our own packages stay external. */
export function libraryConfig(entry: Record<string, string> | string[]): Options {
  return {
    entry,
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'es2022',
    external: [/^@tensorflow\//, /^@robust-ft\//],
  };
}
