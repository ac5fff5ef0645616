/**
 * Runs one documentation snippet, in the browser (live blocks) and in Node (tests), the same way:
 * sucrase strips the types and turns imports into `require` calls, and the result runs inside an
 * async function so top-level `await` works. Imports are resolved up front through a module map,
 * because the browser can only load modules asynchronously (Vite needs the specifiers statically).
 */
import { transform } from 'sucrase';

/** Package name → loader; in the browser a map of static `import()`s, in Node a plain `import(name)`. */
export type ModuleLoaders = Readonly<Record<string, () => Promise<unknown>>>;

export interface RunOptions {
  modules: ModuleLoaders;
  /** Called for every printed line as it is printed (the live block streams its output). */
  onLine?: (line: string) => void;
}

export interface RunResult {
  lines: string[];
  error: Error | null;
  ms: number;
}

const IMPORT_SPECIFIER = /\brequire\((['"])([^'"]+)\1\)/g;
type AsyncFunctionCtor = new (...args: string[]) => (...values: unknown[]) => Promise<unknown>;
const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as AsyncFunctionCtor;

export function transpile(code: string): string {
  return transform(code, { transforms: ['typescript', 'imports'], filePath: 'snippet.ts' }).code;
}

interface TensorLike {
  shape: number[];
  array(): Promise<unknown>;
  isDisposed: boolean;
}

function isTensorLike(value: object): value is TensorLike {
  return 'shape' in value && typeof (value as { array?: unknown }).array === 'function';
}

/**
 * Formats one console argument the way a reader expects to see it. Tensors are read with `await
 * array()` (their own toString reads synchronously, which returns zeros on WebGPU).
 */
export async function formatValue(value: unknown): Promise<string> {
  if (typeof value === 'string') return value;
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  if (value !== null && typeof value === 'object') {
    if (isTensorLike(value)) {
      if (value.isDisposed) return 'Tensor (disposed)';
      return `Tensor ${JSON.stringify(await value.array())}`;
    }
    try {
      return JSON.stringify(value);
    } catch {
      return String(value);
    }
  }
  return String(value);
}

export async function runSnippet(code: string, options: RunOptions): Promise<RunResult> {
  const lines: string[] = [];
  // console.log is synchronous but a tensor argument is read asynchronously: lines are formatted in
  // call order on one promise chain, which the run awaits before it reports.
  let printed: Promise<void> = Promise.resolve();
  const print = (...args: unknown[]) => {
    printed = printed.then(async () => {
      const text = (await Promise.all(args.map(formatValue))).join(' ');
      for (const line of text.split('\n')) {
        lines.push(line);
        options.onLine?.(line);
      }
    });
  };
  const shimConsole = { log: print, info: print, warn: print, error: print, debug: print };
  const started = performance.now();
  try {
    const js = transpile(code);
    const loaded = new Map<string, unknown>();
    for (const match of js.matchAll(IMPORT_SPECIFIER)) {
      const name = match[2] ?? '';
      if (loaded.has(name)) continue;
      const loader = options.modules[name];
      if (!loader) {
        throw new Error(`snippets can import ${Object.keys(options.modules).join(', ')}; not "${name}"`);
      }
      loaded.set(name, await loader());
    }
    const require = (name: string) => loaded.get(name);
    const module = { exports: {} };
    const body = new AsyncFunction('require', 'console', 'module', 'exports', js);
    await body(require, shimConsole, module, module.exports);
    await printed;
    return { lines, error: null, ms: performance.now() - started };
  } catch (e) {
    await printed.catch(() => undefined);
    const error = e instanceof Error ? e : new Error(String(e));
    return { lines, error, ms: performance.now() - started };
  }
}
