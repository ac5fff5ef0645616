/**
 * Typed errors shared by every robust-ft package.
 *
 * Errors carry a machine-readable `code`, and for bad input the offending `argument` and the `expected`
 * form. `RobustFtError.isInstance` works across duplicated package copies (a marker symbol, not
 * `instanceof`), as in the Vercel AI SDK.
 */
export type RobustFtErrorCode =
  | 'INVALID_ARGUMENT'
  | 'SHAPE_MISMATCH'
  | 'NON_FINITE'
  | 'UNKNOWN_VARIABLE'
  | 'MISSING_ANCHOR'
  | 'STATE_MISMATCH'
  /** A checkpoint file failed its integrity check (checksum, byte length, format) or is missing a part. */
  | 'CHECKPOINT_CORRUPT'
  | 'BACKEND_UNAVAILABLE'
  /** A GPU backend's device (WebGPU) or context (WebGL) was lost; re-initialise the backend. */
  | 'DEVICE_LOST'
  | 'UNSUPPORTED'
  | 'IO';

const MARKER = Symbol.for('robust-ft.error');

/** The details a `RobustFtError` carries beside its code and message. */
export interface RobustFtErrorOptions {
  /** The argument (or option) that was wrong, e.g. `options.learningRate` or `grads["dense/kernel"]`. */
  argument?: string;
  /** The form that was expected, e.g. `a finite number > 0`. */
  expected?: string;
  cause?: unknown;
}

/**
 * The one error type of robust-ft: a machine-readable `code`, and for bad input the `argument` and the
 * `expected` form. Test for it with `RobustFtError.isInstance(e)`, which also works across two copies of
 * the package.
 */
export class RobustFtError extends Error {
  readonly [MARKER] = true;
  readonly code: RobustFtErrorCode;
  readonly argument: string | undefined;
  readonly expected: string | undefined;

  constructor(code: RobustFtErrorCode, message: string, options: RobustFtErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RobustFtError';
    this.code = code;
    this.argument = options.argument;
    this.expected = options.expected;
  }

  static isInstance(error: unknown): error is RobustFtError {
    return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[MARKER] === true;
  }
}

/** Builds the standard bad-argument error: names the argument, what was expected and what was received. */
export function invalidArgument(argument: string, expected: string, received?: unknown): RobustFtError {
  const got = received === undefined ? '' : ` (received ${describe(received)})`;
  return new RobustFtError('INVALID_ARGUMENT', `${argument} must be ${expected}${got}`, {
    argument,
    expected,
  });
}

function describe(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `array of length ${value.length}`;
  return typeof value;
}
