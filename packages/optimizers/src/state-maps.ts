/**
 * A checkpoint drops empty subtrees (core's `flattenState` stores leaves only), so a restored state may
 * lack a per-name map that was empty when saved (e.g. every tensor excluded). Transformations read
 * their state through this to get `{}` back for such maps.
 */
export function withMaps<S extends object>(state: S, keys: readonly (keyof S)[]): S {
  const out = { ...state } as Record<keyof S, unknown>;
  for (const k of keys) if (out[k] === undefined) out[k] = {};
  return out as S;
}
