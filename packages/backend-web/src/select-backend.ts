import { invalidArgument } from '@robust-ft/core/internal';

/** The browser backends, best first. */
export const WEB_BACKENDS = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;
/** A browser backend robust-ft knows (one of `WEB_BACKENDS`). */
export type WebBackendName = (typeof WEB_BACKENDS)[number];

/**
 * Validates a backend name from user input (option, query string), ignoring case and surrounding
 * space; `'auto'` and empty mean no forcing.
 */
export function parseBackendName(value: unknown, argument: string): WebBackendName | undefined {
  if (value === undefined || value === null) return undefined;
  const name = typeof value === 'string' ? value.trim().toLowerCase() : undefined;
  if (name === '' || name === 'auto') return undefined;
  if (name !== undefined && (WEB_BACKENDS as readonly string[]).includes(name)) return name as WebBackendName;
  if (name === 'webgl2') return 'webgl';
  throw invalidArgument(
    argument,
    `one of ${[...WEB_BACKENDS, 'auto'].map((n) => `'${n}'`).join(', ')}`,
    value,
  );
}
