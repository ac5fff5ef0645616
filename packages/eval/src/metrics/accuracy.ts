// TEMPORARY: src/attacks/robust-accuracy.ts (owned by engineer "attacks") still imports a synchronous
// `accuracy` from here; the public, asynchronous one is in ./top-k. The lead deletes this file when the
// attacks branch (which awaits accuracy) is merged.
export { accuracySync as accuracy } from '../attacks-sync-compat';
