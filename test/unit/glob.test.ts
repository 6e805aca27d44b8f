import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';

import { globToRegExp, hasWildcard } from '../../src/lib/glob.ts';

const matches = (glob: string, name: string): boolean => globToRegExp(glob).test(name);

// Independent reference: textbook dynamic programming over code points.
function reference(glob: string, name: string): boolean {
  const g = [...glob];
  const n = [...name];
  // row[j]: does the glob prefix handled so far match n[0..j)?
  let row = n.map(() => false).concat(false);
  row[0] = true;
  for (const c of g) {
    const next = row.map(() => false);
    if (c === '*') {
      next[0] = row[0] === true;
      for (let j = 1; j <= n.length; j++) next[j] = row[j] === true || next[j - 1] === true;
    } else {
      for (let j = 1; j <= n.length; j++) next[j] = row[j - 1] === true && (c === '?' || c === n[j - 1]);
    }
    row = next;
  }
  return row[n.length] === true;
}

describe('globToRegExp', () => {
  it('matches literally without wildcards, whole name only', () => {
    assert.ok(matches('web-01', 'web-01'));
    assert.ok(!matches('web-01', 'web-011'));
    assert.ok(!matches('web-01', 'xweb-01'));
    assert.ok(!matches('web-01', 'web-0'));
  });

  it('* matches any run including none', () => {
    assert.ok(matches('backup-*', 'backup-'));
    assert.ok(matches('backup-*', 'backup-2024-01-01'));
    assert.ok(matches('*', ''));
    assert.ok(matches('*', 'anything at all'));
    assert.ok(matches('**', 'x'));
    assert.ok(matches('a*b*c', 'abc'));
    assert.ok(matches('a*b*c', 'a-b-b-c-c'));
    assert.ok(!matches('a*b*c', 'a-c-b'));
    assert.ok(!matches('backup-*', 'Backup-1'));
  });

  it('? matches exactly one character', () => {
    assert.ok(matches('web-0?', 'web-01'));
    assert.ok(!matches('web-0?', 'web-0'));
    assert.ok(!matches('web-0?', 'web-012'));
    assert.ok(matches('???', 'abc'));
    assert.ok(matches('?*', 'x'));
    assert.ok(!matches('?*', ''));
  });

  it('is case-sensitive', () => {
    assert.ok(!matches('Web-*', 'web-1'));
    assert.ok(!matches('web-*', 'WEB-1'));
  });

  it('treats every regex metacharacter literally', () => {
    const nasty = [
      'db (prod) [v1.2]+',
      'a.b',
      '^start$',
      'back\\slash',
      'curly{2,3}',
      'pipe|name',
      'plus+plus',
      'dollar$$',
      'slash/name',
      'dash-[a-z]',
      '\\1 \\d \\w',
      '(?=x)',
      '$&',
    ];
    for (const name of nasty) {
      assert.ok(matches(name, name), name);
      assert.ok(matches(`${name}*`, `${name} 2024`), name);
      assert.ok(matches(`*${name}`, `x${name}`), name);
    }
    assert.ok(!matches('a.b', 'axb'));
    assert.ok(!matches('db (prod)', 'db prod'));
    assert.ok(!matches('dash-[a-z]', 'dash-q'));
    assert.ok(!matches('pipe|name', 'pipe'));
    assert.ok(!matches('plus+plus', 'pluss+plus'));
    assert.ok(matches('snap (*) [?]', 'snap (nightly) [7]'));
  });

  it('handles line breaks, emoji and other non-ASCII', () => {
    assert.ok(matches('a*b', 'a\nb'));
    assert.ok(matches('a?b', 'a\nb'));
    assert.ok(matches('snap-?', 'snap-🚀'), '? is one code point, not one UTF-16 unit');
    assert.ok(!matches('snap-??', 'snap-🚀'));
    assert.ok(matches('café-*', 'café-1'));
    assert.ok(!matches('cafe-*', 'café-1'));
    assert.ok(matches('*\u0000*', 'nul\u0000byte'));
  });

  it('matches the empty glob to the empty name only', () => {
    assert.ok(matches('', ''));
    assert.ok(!matches('', 'x'));
  });

  it('returns a reusable expression (no global state)', () => {
    const re = globToRegExp('a*');
    assert.ok(re.test('ab'));
    assert.ok(re.test('ab'));
    assert.equal(re.global, false);
  });

  it('stays fast on many stars against a long name that fails late', () => {
    const started = performance.now();
    assert.ok(!matches(`${'*a'.repeat(20)}*b`, 'a'.repeat(5_000)));
    assert.ok(!matches('*-*-*-*-*-*-*-*-*-*-*-x', '-'.repeat(255)));
    assert.ok(matches(`${'*a'.repeat(20)}*b`, `${'a'.repeat(5_000)}b`));
    assert.ok(performance.now() - started < 1_000);
  });

  it('property: agrees with a reference matcher', () => {
    // A small alphabet full of metacharacters makes matches, near-misses and overlaps common.
    const char = fc.constantFrom('a', 'b', '.', '(', '[', '\\', '$', '🚀', '\n');
    const globChar = fc.oneof(char, fc.constantFrom('*', '?'));
    fc.assert(
      fc.property(fc.array(globChar, { maxLength: 8 }), fc.array(char, { maxLength: 10 }), (g, n) => {
        const glob = g.join('');
        const name = n.join('');
        assert.equal(matches(glob, name), reference(glob, name), `${JSON.stringify(glob)} vs ${JSON.stringify(name)}`);
      }),
      { numRuns: 2_000 },
    );
  });

  it('property: a glob without wildcards matches exactly itself', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme' }).filter((s) => !hasWildcard(s)),
        fc.string({ unit: 'grapheme' }),
        (glob, other) => {
          assert.ok(matches(glob, glob));
          assert.equal(matches(glob, other), glob === other);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('hasWildcard', () => {
  it('spots * and ? only', () => {
    assert.equal(hasWildcard('backup-*'), true);
    assert.equal(hasWildcard('web-0?'), true);
    assert.equal(hasWildcard('db (prod) [v1.2]+ ^$ {} | \\'), false);
    assert.equal(hasWildcard(''), false);
  });
});
