import { checkOptions, type OptionSchema } from '@robust-ft/core/internal';
import type { NodeCandidateOptions, UseBestBackendOptions } from './select-backend';

/**
 * Strict options of `useBestBackend` (core's checkOptions): a misspelled key (`candidate`, `force_`)
 * is an INVALID_ARGUMENT naming the closest known one, not a silently ignored setting. Typed against
 * the options interface, so a new option that is not listed here does not compile.
 */
const USE_BEST_BACKEND: OptionSchema<UseBestBackendOptions> = {
  candidates: 'object',
  force: 'string',
  env: 'object',
  logger: (v) =>
    v === null || (typeof v === 'object' && v !== null) ? undefined : 'a logger object or null',
  prod: 'boolean',
  patch: 'boolean',
  importModule: 'function',
  allowSoftwareGpu: 'boolean',
  threads: 'number',
};

export function checkUseBestBackendOptions(options: unknown): void {
  checkOptions('useBestBackend', options, USE_BEST_BACKEND);
}

/** `nodeCandidates` takes the loading options only (the selection's own are `selectBackend`'s). */
const NODE_CANDIDATES: OptionSchema<NodeCandidateOptions> = {
  env: USE_BEST_BACKEND.env,
  patch: USE_BEST_BACKEND.patch,
  importModule: USE_BEST_BACKEND.importModule,
  allowSoftwareGpu: USE_BEST_BACKEND.allowSoftwareGpu,
  threads: USE_BEST_BACKEND.threads,
};

export function checkNodeCandidateOptions(options: unknown): void {
  checkOptions('nodeCandidates', options, NODE_CANDIDATES);
}
