import { invalidArgument } from './errors';

/**
 * Selects parameters by name: a glob (`*` within one `/`-separated segment, `**` across segments, `?`
 * one character), a RegExp, a predicate, or a list of any of these (a name matches if any entry does).
 */
export type NameSelector = string | RegExp | ((name: string) => boolean) | readonly NameSelector[];

const globCache = new Map<string, RegExp>();

/** The RegExp of a `NameSelector` glob (`*` within a `/` segment, `**` across, `?` one character). */
export function globToRegExp(glob: string): RegExp {
  const cached = globCache.get(glob);
  if (cached) return cached;
  let src = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        src += '.*';
        i++;
      } else src += '[^/]*';
    } else if (c === '?') src += '[^/]';
    else src += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  const re = new RegExp(`^${src}$`);
  globCache.set(glob, re);
  return re;
}

/** Whether `name` is selected by `selector` (a glob, RegExp, predicate or a list of these). */
export function matchesName(selector: NameSelector, name: string): boolean {
  if (typeof selector === 'string') return globToRegExp(selector).test(name);
  if (selector instanceof RegExp) {
    selector.lastIndex = 0;
    return selector.test(name);
  }
  if (typeof selector === 'function') return selector(name);
  if (Array.isArray(selector)) return selector.some((s) => matchesName(s, name));
  throw invalidArgument('selector', 'a glob string, RegExp, predicate or array of these', selector);
}

/** Returns a predicate for the selector; `undefined` selects nothing. */
export function nameMatcher(selector: NameSelector | undefined): (name: string) => boolean {
  if (selector === undefined) return () => false;
  return (name) => matchesName(selector, name);
}
