import { RobustFtError } from './errors';

// The backend selection both backend packages share: `@robust-ft/backend-node` and
// `@robust-ft/backend-web` each describe their candidates (best first) and call `selectBackend`, so the
// order, the forcing rule, the errors and the one log line are the same in Node and the browser.

/** Where log lines go. `console` fits; tests inject a recorder. */
export interface BackendLogger {
  info(message: string): void;
  warn?(message: string): void;
}

/** The outcome of a selection: the backend now active, and why each better one was passed over. */
export interface BackendChoice<N extends string = string> {
  name: N;
  /** One entry per candidate tried before `name`, in order: why it was skipped. */
  reasons: Partial<Record<N, string>>;
  /** Kernels added or replaced on the chosen backend while activating it. */
  patchedKernels: string[];
}

/** What a backend package's `useBestBackend` returns (the same shape in Node and the browser). */
export interface BackendDescription<N extends string = string> extends BackendChoice<N> {
  /** `tf.getBackend()` after selection ('tensorflow' for tfjs-node(-gpu)). */
  tfBackend: string;
  /** True when the backend was forced (`options.force`, `ROBUST_FT_BACKEND`, `?backend=`). */
  forced: boolean;
  /** Whether tfjs gradients are registered (tfjs-core alone registers none). */
  gradients: boolean;
}

/**
 * One candidate as the selector sees it. `check` answers cheaply whether it can run at all (a reason
 * string when not, `null` when it may); `activate` loads, initialises and smoke-tests it and throws when
 * it cannot. Splitting the two keeps the selection order testable without a browser.
 */
export interface BackendCandidate<N extends string = string> {
  name: N;
  check(context: { forced: boolean }): Promise<string | null>;
  /** Resolves to the names of kernels added or replaced while preparing the backend. */
  activate(): Promise<string[]>;
}

/** Options of `selectBackend`. */
export interface SelectOptions<N extends string = string> {
  /** Try only this backend and fail with `BACKEND_UNAVAILABLE` if it cannot start. */
  forced?: N | undefined;
  /** Where the forced choice came from, named in errors (e.g. `options.backend` or `?backend=`). */
  forcedBy?: string;
  /** Receives the one line describing the choice; `null` silences it. Default `console`. */
  logger?: BackendLogger | null;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Walks the candidates in order and keeps the first that starts. Every skip is recorded with its
 * reason, and one line is logged for the whole decision (not one per candidate), so a page shows why
 * it ended up on a slow backend without drowning the console.
 */
export async function selectBackend<N extends string>(
  candidates: readonly BackendCandidate<N>[],
  options: SelectOptions<N> = {},
): Promise<BackendChoice<N>> {
  const reasons: Partial<Record<N, string>> = {};
  const forced = options.forced;
  const order = forced === undefined ? candidates : candidates.filter((c) => c.name === forced);
  if (forced !== undefined && order.length === 0) {
    throw new RobustFtError(
      'BACKEND_UNAVAILABLE',
      `backend '${forced}' (forced by ${options.forcedBy ?? 'options.force'}) is not among the candidates ${candidates.map((c) => c.name).join(', ')}`,
      { argument: options.forcedBy ?? 'options.force' },
    );
  }
  for (const candidate of order) {
    let reason: string | null;
    let cause: unknown;
    try {
      reason = await candidate.check({ forced: forced !== undefined });
      if (reason === null) {
        const patchedKernels = await candidate.activate();
        const choice = { name: candidate.name, reasons, patchedKernels };
        log(options.logger, choice, forced === undefined ? undefined : (options.forcedBy ?? 'options.force'));
        return choice;
      }
    } catch (error) {
      reason = messageOf(error);
      cause = error;
    }
    if (forced !== undefined) {
      throw new RobustFtError(
        'BACKEND_UNAVAILABLE',
        `backend '${forced}' was forced by ${options.forcedBy ?? 'options.force'} but cannot start: ${reason}`,
        { argument: options.forcedBy ?? 'options.force', cause },
      );
    }
    reasons[candidate.name] = reason;
  }
  throw new RobustFtError(
    'BACKEND_UNAVAILABLE',
    `no backend could start: ${Object.entries(reasons)
      .map(([n, r]) => `${n}: ${r}`)
      .join('; ')}`,
  );
}

let lastLogged: string | undefined;

/** One line per distinct decision: repeated calls that reach the same choice stay quiet. */
function log<N extends string>(
  logger: BackendLogger | null | undefined,
  choice: BackendChoice<N>,
  forcedBy: string | undefined,
): void {
  if (logger === null) return;
  const skipped = Object.entries(choice.reasons).map(([n, r]) => `${n}: ${r}`);
  const line =
    `robust-ft: using backend '${choice.name}'${forcedBy === undefined ? '' : ` (forced by ${forcedBy})`}` +
    (choice.patchedKernels.length > 0 ? ` with training kernels [${choice.patchedKernels.join(', ')}]` : '') +
    (skipped.length > 0 ? `; skipped ${skipped.join('; ')}` : '');
  if (line === lastLogged) return;
  lastLogged = line;
  (logger ?? console).info(line);
}
