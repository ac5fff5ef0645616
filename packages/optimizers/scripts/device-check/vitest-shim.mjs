// Minimal stand-in for vitest's describe/it/expect so test files run as plain bundles on the device.
import { inspect, isDeepStrictEqual } from 'node:util';

const root = { name: '', children: [], tests: [], before: [], after: [], skip: false };
let cur = root;
export function describe(name, fn) {
  const d = { name, children: [], tests: [], before: [], after: [], skip: false };
  cur.children.push(d);
  const prev = cur;
  cur = d;
  fn();
  cur = prev;
  return d;
}
describe.skipIf = (cond) => (name, fn) => {
  const d = describe(name, fn);
  d.skip = !!cond;
};
export function it(name, a, b) {
  cur.tests.push({ name, fn: typeof a === 'function' ? a : b });
}
it.skip = (name) => {
  cur.tests.push({ name, fn: null });
};
export const test = it;
export function beforeAll(fn) {
  cur.before.push(fn);
}
export function afterAll(fn) {
  cur.after.push(fn);
}
function loose(a, b) {
  if (a === b || Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) return isDeepStrictEqual(a, b);
  const ka = Object.keys(a).filter((k) => a[k] !== undefined),
    kb = Object.keys(b).filter((k) => b[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => loose(a[k], b[k]));
}
export function expect(v, msg) {
  const mk = (neg) => {
    const check = (ok, what) => {
      if (Boolean(ok) === neg)
        throw new Error(
          `${msg ? msg + ': ' : ''}expected ${inspect(v, { depth: 3 }).slice(0, 400)} ${neg ? 'not ' : ''}${what}`,
        );
    };
    return {
      toBe: (e) => check(Object.is(v, e), `to be ${inspect(e).slice(0, 200)}`),
      toEqual: (e) => check(loose(v, e), `to equal ${inspect(e, { depth: 3 }).slice(0, 400)}`),
      toBeGreaterThan: (e) => check(v > e, `> ${e}`),
      toBeGreaterThanOrEqual: (e) => check(v >= e, `>= ${e}`),
      toBeLessThan: (e) => check(v < e, `< ${e}`),
      toBeLessThanOrEqual: (e) => check(v <= e, `<= ${e}`),
      toContain: (e) => check(v?.includes(e), `to contain ${inspect(e).slice(0, 200)}`),
      toBeCloseTo: (e, d = 2) => check(Math.abs(v - e) < 10 ** -d / 2, `close to ${e}`),
      toBeDefined: () => check(v !== undefined, 'defined'),
      toBeUndefined: () => check(v === undefined, 'undefined'),
      toBeTruthy: () => check(!!v, 'truthy'),
      toBeNull: () => check(v === null, 'null'),
    };
  };
  const m = mk(false);
  m.not = mk(true);
  return m;
}
const results = { passed: 0, failed: 0, skipped: 0, failures: [] };
async function run(d, path, skip) {
  const sk = skip || d.skip;
  if (!sk) for (const f of d.before) await f();
  for (const t of d.tests) {
    const name = [...path, t.name].join(' > ');
    if (sk || !t.fn) {
      results.skipped++;
      continue;
    }
    const t0 = performance.now();
    try {
      await t.fn();
      results.passed++;
      console.log(`  ok   ${name} (${(performance.now() - t0).toFixed(0)} ms)`);
    } catch (e) {
      results.failed++;
      results.failures.push(name);
      console.log(
        `  FAIL ${name}\n       ${String(e?.stack ?? e)
          .split('\n')
          .slice(0, 6)
          .join('\n       ')}`,
      );
    }
  }
  for (const c of d.children) await run(c, [...path, c.name], sk);
  if (!sk) for (const f of d.after) await f();
}
export async function runAll(label) {
  await run(root, [], false);
  console.log(
    `RESULT ${label}: ${results.passed} passed, ${results.failed} failed, ${results.skipped} skipped`,
  );
  return results;
}
