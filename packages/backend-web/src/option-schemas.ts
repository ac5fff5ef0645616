import { checkOptions, type OptionSchema, type OptionSpec } from '@robust-ft/core/internal';
import type { UseBestBackendOptions } from './use-best-backend';
import type { WebCandidateOptions } from './web-candidates';

/**
 * Strict options of backend-web's public functions (core's checkOptions): a misspelled key is an
 * INVALID_ARGUMENT naming the closest known one. Typed against the interfaces, so they cannot drift.
 */
const LOGGER: OptionSpec = (v) =>
  v === null || (typeof v === 'object' && v !== null) ? undefined : 'a logger object or null';

const WEB_CANDIDATES = {
  wasmPath: (v) =>
    typeof v === 'string' || (typeof v === 'object' && v !== null) ? undefined : 'a path or a file map',
  allowSoftwareGpu: 'boolean',
  prepare: 'function',
  patch: 'boolean',
  threads: 'number',
} as const satisfies OptionSchema<WebCandidateOptions>;

const SCHEMAS = {
  webCandidates: WEB_CANDIDATES,
  useBestBackend: {
    ...WEB_CANDIDATES,
    candidates: 'object',
    force: 'string',
    queryParam: (v) => (v === null || typeof v === 'string' ? undefined : 'a string or null'),
    logger: LOGGER,
  } satisfies OptionSchema<UseBestBackendOptions>,
} as const;

export function checkWebOptions(owner: keyof typeof SCHEMAS, options: unknown): void {
  checkOptions(owner, options, SCHEMAS[owner]);
}

/** The part of `useBestBackend`'s options that `webCandidates` takes (it refuses the rest). */
export function candidateOptions(options: WebCandidateOptions): WebCandidateOptions {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(WEB_CANDIDATES)) {
    const value = (options as Record<string, unknown>)[key];
    if (value !== undefined) out[key] = value;
  }
  return out as WebCandidateOptions;
}
