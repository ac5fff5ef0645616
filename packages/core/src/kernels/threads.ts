import { invalidArgument } from '../errors';

/**
 * tfjs-backend-wasm 4.22's threaded build starts a pool of 8 pthread workers and its C++ caps the
 * XNNPACK thread pool at 8, so more threads than this are never used.
 */
export const WASM_MAX_THREADS = 8;

/**
 * The wasm thread count to request: `requested` (a number, or the text of an environment variable)
 * when given, else half the logical cores (tfjs-wasm's own default: it counts hyper-threads as half a
 * core); at least 1 and at most `WASM_MAX_THREADS`. A value that is not a whole number ≥ 1 is a typed
 * `INVALID_ARGUMENT` naming `argument`. Half, not all: on a 2-core machine shared with other work, two
 * XNNPACK threads made the digits benchmark's steps slower than one (measured, see backend-node's README).
 */
export function resolveWasmThreads(
  requested: number | string | undefined,
  cores: number,
  argument: string,
): number {
  if (requested === undefined || (typeof requested === 'string' && requested.trim() === '')) {
    return Math.max(1, Math.min(WASM_MAX_THREADS, Math.floor(cores / 2)));
  }
  const n = typeof requested === 'string' ? Number(requested.trim()) : requested;
  if (!Number.isInteger(n) || n < 1)
    throw invalidArgument(argument, 'a whole number of threads ≥ 1', requested);
  return Math.min(WASM_MAX_THREADS, n);
}
