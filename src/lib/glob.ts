// Shell-style name patterns for selecting snapshots: `*` is any run of characters (none too), `?`
// exactly one character, everything else literal. There is no escape: `*` and `?` always wildcard.

// The characters with a meaning in a regex outside a class; under the `u` flag only these may be escaped.
const SYNTAX = /[\\^$.*+?()[\]{}|]/g;

const segmentSource = (segment: string): string =>
  segment
    .split('?')
    .map((part) => part.replace(SYNTAX, '\\$&'))
    .join('.');

/**
 * Full, case-sensitive match. `u` makes `?` one code point (an emoji is one character) and `s` lets
 * wildcards cover line breaks.
 *
 * A naive `.*a.*b.*` backtracks polynomially in the number of stars (`*-*-*-*-*-*-*` against a long
 * name that fails late can hang the action). Instead each segment between stars is matched at its
 * first occurrence and then never revisited: `(?=(.*?seg))\1` behaves as an atomic group, since JS
 * never backtracks into a finished lookahead. First occurrence is always safe for fixed-length
 * segments: it ends earliest, leaving the most room for the rest. Only the final segment must end
 * the name, so it alone keeps an ordinary `.*`.
 */
export function globToRegExp(glob: string): RegExp {
  const segments = glob.split(/\*+/).map(segmentSource);
  if (segments.length === 1) return new RegExp(`^${segments[0]}$`, 'su');
  const middle = segments.slice(1, -1).map((segment, i) => `(?=(.*?${segment}))\\${i + 1}`);
  return new RegExp(`^${segments[0]}${middle.join('')}.*${segments[segments.length - 1]}$`, 'su');
}

export function hasWildcard(glob: string): boolean {
  return /[*?]/.test(glob);
}
