import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';

import { DurationError, formatDuration, parseDuration } from '../../src/lib/duration.ts';

const S = 1_000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

describe('parseDuration', () => {
  it('reads each unit', () => {
    assert.equal(parseDuration('90s'), 90 * S);
    assert.equal(parseDuration('45m'), 45 * M);
    assert.equal(parseDuration('2h'), 2 * H);
    assert.equal(parseDuration('7d'), 7 * D);
    assert.equal(parseDuration('2w'), 14 * D);
  });

  it('sums sequences, in any order, with optional spaces between parts', () => {
    assert.equal(parseDuration('1h30m'), 90 * M);
    assert.equal(parseDuration('1d12h'), 36 * H);
    assert.equal(parseDuration('1w1d1h1m1s'), 8 * D + H + M + S);
    assert.equal(parseDuration('30m1h'), 90 * M);
    assert.equal(parseDuration('1h 5m 3s'), H + 5 * M + 3 * S);
    assert.equal(parseDuration('0h30m'), 30 * M);
  });

  it('is case-insensitive and ignores surrounding whitespace', () => {
    assert.equal(parseDuration('  2H30M \n'), 150 * M);
    assert.equal(parseDuration('\t7D'), 7 * D);
  });

  it('treats m as minutes, never months', () => {
    assert.equal(parseDuration('6m'), 6 * M);
    assert.equal(parseDuration('6M'), 6 * M);
  });

  it('rejects a bare number as ambiguous, suggesting units', () => {
    assert.throws(() => parseDuration('30'), { name: 'DurationError', message: '"30" has no unit: write 30s, 30m, 30h, 30d or 30w' });
    assert.throws(() => parseDuration(' 0 '), DurationError);
  });

  it('says what is wrong and what is valid', () => {
    assert.throws(() => parseDuration('45x'), {
      message: '"45x" is not a duration: use a number followed by s, m, h, d or w, such as 90s, 45m, 2h or 1h30m',
    });
    for (const bad of ['', '   ', 'h', '1.5h', '-1h', '+1h', '1 h', '1h-30m', 'one hour', '1y', '1mo', '1h,30m', '١h', '1hh']) {
      assert.throws(() => parseDuration(bad), DurationError, bad);
    }
  });

  it('is a DurationError that is also an Error', () => {
    try {
      parseDuration('soon');
      assert.fail('no error');
    } catch (e) {
      assert.ok(e instanceof DurationError);
      assert.ok(e instanceof Error);
      assert.equal(e.name, 'DurationError');
    }
  });

  it('rejects zero, however written', () => {
    for (const zero of ['0s', '0m0h', '00d']) {
      assert.throws(() => parseDuration(zero), { name: 'DurationError', message: /adds up to zero/ }, zero);
    }
  });

  it('rejects durations too long for exact milliseconds', () => {
    assert.throws(() => parseDuration('99999999999999999999w'), { message: /too long/ });
    assert.throws(() => parseDuration('9007199254741s'), { message: /too long/ });
  });

  it('property: a random sum of parts parses to the sum', () => {
    const unit = fc.constantFrom(['s', S], ['m', M], ['h', H], ['d', D], ['w', 7 * D], ['H', H], ['D', D]);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 10_000 }), unit), { minLength: 1, maxLength: 6 }), fc.boolean(), (parts, spaced) => {
        const total = parts.reduce((sum, [n, [, size]]) => sum + n * size, 0);
        const text = parts.map(([n, [u]]) => `${n}${u}`).join(spaced ? ' ' : '');
        if (total === 0) assert.throws(() => parseDuration(text), DurationError);
        else assert.equal(parseDuration(text), total);
      }),
      { numRuns: 200 },
    );
  });
});

describe('formatDuration', () => {
  it('uses milliseconds below a second', () => {
    assert.equal(formatDuration(0), '0ms');
    assert.equal(formatDuration(850), '850ms');
    assert.equal(formatDuration(999.4), '999ms');
  });

  it('uses seconds with one decimal below a minute', () => {
    assert.equal(formatDuration(999.6), '1.0s');
    assert.equal(formatDuration(1_000), '1.0s');
    assert.equal(formatDuration(4_200), '4.2s');
    assert.equal(formatDuration(4_249), '4.2s');
    assert.equal(formatDuration(59_949), '59.9s');
  });

  it('uses whole d h m s parts from a minute on, leaving out zero parts', () => {
    assert.equal(formatDuration(59_950), '1m');
    assert.equal(formatDuration(60_000), '1m');
    assert.equal(formatDuration(H + 5 * M + 3 * S), '1h 5m 3s');
    assert.equal(formatDuration(H + 3 * S + 400), '1h 3s');
    assert.equal(formatDuration(30 * D), '30d');
    assert.equal(formatDuration(36 * H), '1d 12h');
  });

  it('never throws on odd input', () => {
    assert.equal(formatDuration(-1_500), '-1.5s');
    assert.equal(formatDuration(Number.NaN), 'NaN');
    assert.equal(formatDuration(Number.POSITIVE_INFINITY), 'Infinity');
  });

  it('property: whole seconds from a minute on read back through parseDuration', () => {
    fc.assert(
      fc.property(fc.integer({ min: 60, max: 10 ** 9 }), (seconds) => {
        assert.equal(parseDuration(formatDuration(seconds * S)), seconds * S);
      }),
      { numRuns: 200 },
    );
  });
});
