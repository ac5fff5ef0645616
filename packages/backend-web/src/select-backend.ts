import { invalidArgument, RobustFtError } from '@robust-ft/core';

/** The browser backends, best first. */
export const WEB_BACKENDS = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;
export type WebBackendName = (typeof WEB_BACKENDS)[number];

/** Where log lines go. `console` fits; tests inject a recorder. */
export interface BackendLogger {
  info(message: string): void;
}

/** The outcome of a selection: the backend now active, and why each better one was passed over. */
export interface BackendChoice {
  name: WebBackendName;
  /** One entry per candidate tried before `name` (or left out), in order: why it was skipped. */
  reasons: Partial<Record<WebBackendName, string>>;
}

/**
 * One candidate as the selector sees it. `check` answers cheaply whether it can run at all (a reason
 * string when not, `null` when it may); `activate` loads, initialises and smoke-tests it and throws when
 * it cannot. Splitting the two keeps the selection order testable without a browser.
 */
export interface BackendCandidate {
  name: WebBackendName;
  check(context: { forced: boolean }): Promise<string | null>;
  activate(): Promise<void>;
}

export interface SelectOptions {
  /** Try only this backend and fail with `BACKEND_UNAVAILABLE` if it cannot start. */
  forced?: WebBackendName | undefined;
  /** Where the forced choice came from, named in errors (e.g. `options.backend` or `?backend=`). */
  forcedBy?: string;
  logger?: BackendLogger | false;
}

/** Validates a backend name from user input (option, query string); `'auto'` and empty mean no forcing. */
export function parseBackendName(value: unknown, argument: string): WebBackendName | undefined {
  if (value === undefined || value === null || value === '' || value === 'auto') return undefined;
  if (typeof value === 'string' && (WEB_BACKENDS as readonly string[]).includes(value)) {
    return value as WebBackendName;
  }
  throw invalidArgument(
    argument,
    `one of ${[...WEB_BACKENDS, 'auto'].map((n) => `'${n}'`).join(', ')}`,
    value,
  );
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Walks the candidates in order and keeps the first that starts. Every skip is recorded with its
 * reason, and one line is logged for the whole decision (not one per candidate), so a page shows why
 * it ended up on a slow backend without drowning the console.
 */
export async function selectBackend(
  candidates: readonly BackendCandidate[],
  options: SelectOptions = {},
): Promise<BackendChoice> {
  const reasons: Partial<Record<WebBackendName, string>> = {};
  const forced = options.forced;
  const order = forced === undefined ? candidates : candidates.filter((c) => c.name === forced);
  if (forced !== undefined && order.length === 0) {
    throw new RobustFtError(
      'BACKEND_UNAVAILABLE',
      `backend '${forced}' (forced by ${options.forcedBy ?? 'options.backend'}) is not among the candidates ${candidates.map((c) => c.name).join(', ')}`,
      { argument: options.forcedBy ?? 'options.backend' },
    );
  }
  for (const candidate of order) {
    let reason: string | null;
    let cause: unknown;
    try {
      reason = await candidate.check({ forced: forced !== undefined });
      if (reason === null) {
        await candidate.activate();
        const choice = { name: candidate.name, reasons };
        log(options.logger, choice, forced);
        return choice;
      }
    } catch (error) {
      reason = messageOf(error);
      cause = error;
    }
    if (forced !== undefined) {
      throw new RobustFtError(
        'BACKEND_UNAVAILABLE',
        `backend '${forced}' was forced by ${options.forcedBy ?? 'options.backend'} but cannot start: ${reason}`,
        { argument: options.forcedBy ?? 'options.backend', cause },
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

function log(logger: BackendLogger | false | undefined, choice: BackendChoice, forced: unknown): void {
  if (logger === false) return;
  const skipped = Object.entries(choice.reasons).map(([n, r]) => `${n} skipped: ${r}`);
  const how = forced === undefined ? 'selected' : 'forced';
  const tail = skipped.length > 0 ? ` (${skipped.join('; ')})` : '';
  (logger ?? console).info(`robust-ft: using the ${choice.name} backend, ${how}${tail}`);
}
