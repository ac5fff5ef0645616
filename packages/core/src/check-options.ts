import { invalidArgument, RobustFtError } from './errors';

/**
 * Strict options for every public factory: an unknown key is a typed error that names the key and the
 * closest known one, and every known key is type-checked. A misspelled option (`lr`, `learningrate`,
 * `weight_decay`) used to be ignored silently, which trains with the default instead.
 *
 * A factory declares one schema, `{ key: spec }`, typed `OptionSchema<TheOptions>` so the compiler
 * refuses a schema that lacks a declared option: known keys cannot drift from the options interface.
 */
export type OptionSpec =
  | 'number'
  | 'integer'
  | 'boolean'
  | 'string'
  | 'function'
  | 'object'
  /** Any value (validated by the factory itself, e.g. a tensor or a union the factory narrows). */
  | 'any'
  /** One of these strings. */
  | readonly string[]
  /** A custom check: returns the expected form when the value is wrong, `undefined` when it is fine. */
  | ((value: unknown) => string | undefined);

/** Every key of `T` must be described; extra keys (options another branch adds) are allowed. */
export type OptionSchema<T> = { readonly [K in keyof Required<T>]: OptionSpec } & {
  readonly [key: string]: OptionSpec;
};

export interface CheckOptionsExtras {
  /** Why a known-elsewhere key is not accepted here, e.g. `{ momentum: "applies with inner: 'sgd'" }`. */
  hints?: Readonly<Record<string, string>>;
  /** How errors name the object: `options` (default) or e.g. `config` (`config.distance`). */
  prefix?: string;
}

/** Common misspellings that edit distance does not find (abbreviations, the papers' symbols). */
const ALIASES: Readonly<Record<string, readonly string[]>> = {
  lr: ['learningRate'],
  eta: ['learningRate'],
  wd: ['weightDecay'],
  lambda: ['weightDecay', 'alpha'],
  lam: ['weightDecay', 'alpha'],
  eps: ['epsilon'],
  b1: ['beta1'],
  b2: ['beta2'],
  excludes: ['exclude'],
  anchors: ['anchor'],
  temp: ['temperature'],
};

/**
 * Throws `INVALID_ARGUMENT` when `options` holds a key the schema does not know (naming the closest
 * known key) or a value of the wrong type. `undefined` values are always allowed (an absent option).
 */
export function checkOptions(
  owner: string,
  options: unknown,
  schema: Readonly<Record<string, OptionSpec>>,
  extras: CheckOptionsExtras = {},
): void {
  if (options === undefined) return;
  const prefix = extras.prefix ?? 'options';
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw invalidArgument(`${owner} ${prefix}`, 'an options object', options);
  }
  const known = Object.keys(schema);
  for (const [key, value] of Object.entries(options)) {
    if (!Object.hasOwn(schema, key)) {
      const hint = extras.hints?.[key];
      const near = hint === undefined ? closestKey(key, known) : undefined;
      const tail =
        hint !== undefined
          ? ` (${hint})`
          : near !== undefined
            ? `; did you mean \`${near}\`?`
            : `; known options: ${known.map((k) => `\`${k}\``).join(', ')}`;
      throw new RobustFtError('INVALID_ARGUMENT', `${owner}: unknown option \`${key}\`${tail}`, {
        argument: `${prefix}.${key}`,
        expected: near === undefined ? `one of ${known.join(', ')}` : `\`${near}\``,
      });
    }
    if (value === undefined) continue;
    const expected = typeProblem(schema[key]!, value);
    if (expected !== undefined) {
      const error = invalidArgument(`${prefix}.${key}`, expected, value);
      throw new RobustFtError('INVALID_ARGUMENT', `${owner}: ${error.message}`, {
        argument: `${prefix}.${key}`,
        expected,
      });
    }
  }
}

function typeProblem(spec: OptionSpec, value: unknown): string | undefined {
  if (typeof spec === 'function') return spec(value);
  if (Array.isArray(spec)) {
    return typeof value === 'string' && spec.includes(value)
      ? undefined
      : `one of ${spec.map((s) => JSON.stringify(s)).join(', ')}`;
  }
  switch (spec) {
    case 'number':
      return typeof value === 'number' && !Number.isNaN(value) ? undefined : 'a number';
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value) ? undefined : 'an integer';
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'a boolean';
    case 'string':
      return typeof value === 'string' ? undefined : 'a string';
    case 'function':
      return typeof value === 'function' ? undefined : 'a function';
    case 'object':
      return typeof value === 'object' && value !== null ? undefined : 'an object';
    default:
      return undefined;
  }
}

/** The known key nearest to `key`: an alias, a case/underscore variant, or within a small edit distance. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[_\-\s]/g, '');
  const target = norm(key);
  const exact = known.find((k) => norm(k) === target);
  if (exact !== undefined) return exact;
  const alias = Object.hasOwn(ALIASES, target) ? ALIASES[target]!.find((a) => known.includes(a)) : undefined;
  if (alias !== undefined) return alias;
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const k of known) {
    const d = levenshtein(target, norm(k));
    if (d < bestDistance) {
      bestDistance = d;
      best = k;
    }
  }
  // Beyond a third of the key's length a "suggestion" is noise (`momentum` is not a typo of `epsilon`).
  return bestDistance <= Math.max(1, Math.floor(target.length / 3)) ? best : undefined;
}

export function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** Spec of a name selector option (glob, RegExp, predicate, or an array of these). */
export function selectorSpec(value: unknown): string | undefined {
  const ok = (v: unknown): boolean =>
    typeof v === 'string' ||
    v instanceof RegExp ||
    typeof v === 'function' ||
    (Array.isArray(v) && v.every((x) => ok(x)));
  return ok(value) ? undefined : 'a glob string, RegExp, predicate or an array of these';
}
