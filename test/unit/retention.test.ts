import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';

import { decide, decideEach, describePolicy, PolicyError, validatePolicy } from '../../src/lib/retention.ts';
import type { Policy, Rule, Snapshot } from '../../src/lib/retention.ts';

// Run far from UTC (half-hour offset, DST) so any slip into local time breaks the boundary tests.
process.env.TZ = 'America/St_Johns';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;
const NOW = new Date('2030-01-01T00:00:00Z');

// Ids are the timestamps, so expectations read as dates.
const snap = (iso: string, extra: Partial<Snapshot> = {}): Snapshot => ({
  id: iso,
  name: `backup-${iso}`,
  createdAt: new Date(`${iso}Z`),
  protected: false,
  ...extra,
});

const kept = (snapshots: Snapshot[], policy: Policy, now = NOW): string[] =>
  decide(snapshots, policy, now)
    .filter((d) => d.keep)
    .map((d) => d.snapshot.id);

const reasons = (snapshots: Snapshot[], policy: Policy, now = NOW): Record<string, Rule[]> =>
  Object.fromEntries(decide(snapshots, policy, now).map((d) => [d.snapshot.id, d.reasons]));

describe('validatePolicy', () => {
  it('refuses an empty policy', () => {
    assert.throws(() => validatePolicy({}), {
      name: 'PolicyError',
      message: 'no retention policy given: set at least one of keep-last, keep-within, keep-hourly, keep-daily, keep-weekly, keep-monthly, keep-yearly',
    });
  });

  it('requires counts to be positive whole numbers', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
      assert.throws(() => validatePolicy({ daily: bad }), PolicyError, String(bad));
      assert.throws(() => validatePolicy({ last: 3, yearly: bad }), PolicyError, String(bad));
    }
    assert.throws(() => validatePolicy({ weekly: 0 }), { message: 'keep-weekly must be a whole number of at least 1, got 0' });
  });

  it('requires keep-within to be a finite positive duration', () => {
    for (const bad of [0, -HOUR, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => validatePolicy({ within: bad }), PolicyError, String(bad));
    }
    assert.throws(() => validatePolicy({ within: 0 }), { message: 'keep-within must be a duration longer than zero, got 0 ms' });
  });

  it('accepts any single valid rule', () => {
    for (const p of [{ last: 1 }, { within: 1 }, { hourly: 1 }, { daily: 7 }, { weekly: 4 }, { monthly: 12 }, { yearly: 100 }]) {
      validatePolicy(p);
    }
  });

  it('is enforced by decide, even for no snapshots', () => {
    assert.throws(() => decide([], {}, NOW), PolicyError);
    assert.throws(() => decide([snap('2024-01-01T00:00')], { last: 0 }, NOW), PolicyError);
  });
});

describe('decide: shape', () => {
  it('returns nothing for no snapshots', () => {
    assert.deepEqual(decide([], { last: 3 }, NOW), []);
  });

  it('returns one decision per snapshot, newest first, ties broken by id', () => {
    const input = [
      snap('2024-01-01T00:00'),
      snap('2024-03-01T00:00'),
      snap('x', { createdAt: new Date('2024-02-01T00:00Z') }),
      snap('b', { createdAt: new Date('2024-02-01T00:00Z') }),
      snap('a', { createdAt: new Date('2024-02-01T00:00Z') }),
    ];
    const order = decide(input, { last: 1 }, NOW).map((d) => d.snapshot.id);
    assert.deepEqual(order, ['2024-03-01T00:00', 'a', 'b', 'x', '2024-01-01T00:00']);
    // The id tie-break decides which of two equal-time snapshots counts as newer.
    const tie = [snap('b', { createdAt: new Date('2024-02-01T00:00Z') }), snap('a', { createdAt: new Date('2024-02-01T00:00Z') })];
    assert.deepEqual(kept(tie, { last: 1 }), ['a']);
    assert.deepEqual(kept(tie.reverse(), { last: 1 }), ['a']);
  });

  it('does not reorder or change its input', () => {
    const input = [snap('2024-01-01T00:00'), snap('2024-03-01T00:00')];
    const copy = structuredClone(input);
    decide(input, { last: 1 }, NOW);
    assert.deepEqual(input, copy);
  });

  it('lists reasons in a fixed order', () => {
    const all: Policy = { last: 1, within: HOUR, hourly: 1, daily: 1, weekly: 1, monthly: 1, yearly: 1 };
    assert.deepEqual(reasons([snap('2024-01-01T00:00', { protected: true })], all)['2024-01-01T00:00'], [
      'last',
      'within',
      'hourly',
      'daily',
      'weekly',
      'monthly',
      'yearly',
      'newest',
      'protected',
    ]);
  });

  it('refuses invalid dates rather than guess', () => {
    assert.throws(() => decide([snap('bad', { createdAt: new Date('nope') })], { last: 1 }, NOW), RangeError);
    assert.throws(() => decide([snap('2024-01-01T00:00')], { last: 1 }, new Date('nope')), RangeError);
  });
});

describe("decideEach: the policy per group (one instance's snapshots each)", () => {
  it('keeps the n newest of each group, and lists every decision newest first across the groups', () => {
    const web = ['2024-01-01T00:00', '2024-01-03T00:00', '2024-01-05T00:00'].map((iso) => snap(iso, { id: `web-${iso}` }));
    const db = ['2024-01-02T00:00', '2024-01-04T00:00'].map((iso) => snap(iso, { id: `db-${iso}` }));
    const decisions = decideEach([web, db], { last: 1 }, new Date('2024-02-01T00:00Z'));
    assert.deepEqual(
      decisions.filter((d) => d.keep).map((d) => d.snapshot.id),
      ['web-2024-01-05T00:00', 'db-2024-01-04T00:00'],
    );
    assert.deepEqual(
      decisions.map((d) => d.snapshot.createdAt.toISOString().slice(0, 10)),
      ['2024-01-05', '2024-01-04', '2024-01-03', '2024-01-02', '2024-01-01'],
    );
  });
});

describe('decide: keep-last', () => {
  const five = ['2024-01-01T00:00', '2024-01-02T00:00', '2024-01-03T00:00', '2024-01-04T00:00', '2024-01-05T00:00'].map((iso) => snap(iso));

  it('keeps the n newest', () => {
    assert.deepEqual(kept(five, { last: 3 }), ['2024-01-05T00:00', '2024-01-04T00:00', '2024-01-03T00:00']);
    assert.deepEqual(kept(five, { last: 1 }), ['2024-01-05T00:00']);
  });

  it('keeps everything when there are fewer than n, with no extra oldest reason', () => {
    const r = reasons(five.slice(0, 3), { last: 10 });
    assert.deepEqual(r['2024-01-01T00:00'], ['last']);
    assert.deepEqual(Object.values(r).flat().includes('oldest'), false);
  });

  it('counts several snapshots at the same instant separately', () => {
    const same = ['c', 'a', 'b'].map((id) => snap(id, { createdAt: new Date('2024-01-01T00:00Z') }));
    assert.deepEqual(kept(same, { last: 2 }), ['a', 'b']);
  });
});

describe('decide: keep-within', () => {
  // Daily at noon, 1–10 Jan 2024, then nothing: the project stopped.
  const days = Array.from({ length: 10 }, (_, i) => snap(`2024-01-${String(i + 1).padStart(2, '0')}T12:00`));

  it('is relative to the newest snapshot, not to now', () => {
    assert.deepEqual(kept(days, { within: 3 * DAY }, new Date('2026-01-01T00:00Z')), ['2024-01-10T12:00', '2024-01-09T12:00', '2024-01-08T12:00']);
  });

  it('excludes a snapshot exactly d older than the newest', () => {
    assert.equal(kept(days, { within: 3 * DAY }).includes('2024-01-07T12:00'), false);
    assert.equal(kept(days, { within: 3 * DAY + 1 }).includes('2024-01-07T12:00'), true);
  });

  it('does not anchor on a future-dated snapshot', () => {
    const now = new Date('2024-06-01T00:00Z');
    const withFuture = [...days, snap('2099-01-01T00:00')];
    assert.deepEqual(reasons(withFuture, { within: 2 * DAY }, now), {
      '2099-01-01T00:00': ['within', 'future'],
      '2024-01-10T12:00': ['within', 'newest'],
      '2024-01-09T12:00': ['within'],
      ...Object.fromEntries(days.slice(0, 8).map((s) => [s.id, []])),
    });
  });

  it('keeps everything when the window reaches the oldest, and nothing extra when it does not', () => {
    assert.equal(kept(days, { within: 30 * DAY }).length, 10);
    assert.equal(
      Object.values(reasons(days, { within: DAY + 1 }))
        .flat()
        .includes('oldest'),
      false,
    );
  });
});

describe('decide: bucket rules', () => {
  it('hourly: newest of each UTC hour', () => {
    const s = ['2024-05-01T10:00', '2024-05-01T10:30', '2024-05-01T10:59:59.999', '2024-05-01T11:00', '2024-05-01T12:15'].map((iso) => snap(iso));
    assert.deepEqual(kept(s, { hourly: 2 }), ['2024-05-01T12:15', '2024-05-01T11:00']);
    assert.deepEqual(kept(s, { hourly: 3 }), ['2024-05-01T12:15', '2024-05-01T11:00', '2024-05-01T10:59:59.999']);
  });

  it('daily: newest of each UTC day, across a year boundary', () => {
    const s = ['2023-12-30T08:00', '2023-12-31T00:00', '2023-12-31T23:59:59.999', '2024-01-01T00:00', '2024-01-01T18:00', '2024-01-02T03:00'].map((iso) =>
      snap(iso),
    );
    assert.deepEqual(kept(s, { daily: 3 }), ['2024-01-02T03:00', '2024-01-01T18:00', '2023-12-31T23:59:59.999']);
  });

  it('daily: a day is a UTC day, whatever the local offset', () => {
    // a and b fall on different days in UTC+2 but on the same UTC day, 1 March.
    const s = [
      snap('a', { createdAt: new Date('2024-03-01T23:30:00+02:00') }),
      snap('b', { createdAt: new Date('2024-03-02T00:30:00+02:00') }),
      snap('c', { createdAt: new Date('2024-02-29T12:00:00Z') }),
    ];
    assert.deepEqual(kept(s, { daily: 2 }), ['b', 'c']);
  });

  it('weekly: ISO weeks, Monday to Sunday, straddling New Year 2020/21 (2020-W53)', () => {
    const s = [
      '2020-12-27T12:00', // Sun, 2020-W52
      '2020-12-28T00:00', // Mon, 2020-W53
      '2020-12-31T23:59', // Thu, 2020-W53
      '2021-01-01T10:00', // Fri, 2020-W53
      '2021-01-03T23:59:59.999', // Sun, 2020-W53
      '2021-01-04T00:00', // Mon, 2021-W01
    ].map((iso) => snap(iso));
    assert.deepEqual(reasons(s, { weekly: 10 }), {
      '2021-01-04T00:00': ['weekly', 'newest'],
      '2021-01-03T23:59:59.999': ['weekly'],
      '2021-01-01T10:00': [],
      '2020-12-31T23:59': [],
      '2020-12-28T00:00': [],
      // Fewer than 10 weeks, but the oldest already heads its own week: no 'oldest' on top.
      '2020-12-27T12:00': ['weekly'],
    });
  });

  it('weekly: 30 Dec 2024 starts 2025-W01; 1 Jan 2027 still belongs to 2026-W53', () => {
    const s = ['2024-12-29T12:00', '2024-12-30T00:00', '2025-01-05T23:00', '2025-01-06T00:00'].map((iso) => snap(iso));
    assert.deepEqual(kept(s, { weekly: 2 }), ['2025-01-06T00:00', '2025-01-05T23:00']);
    assert.deepEqual(kept(s, { weekly: 3 }), ['2025-01-06T00:00', '2025-01-05T23:00', '2024-12-29T12:00']);
    const t = ['2026-12-27T12:00', '2026-12-28T00:00', '2027-01-01T00:00', '2027-01-03T12:00', '2027-01-04T00:00'].map((iso) => snap(iso));
    assert.deepEqual(kept(t, { weekly: 3 }), ['2027-01-04T00:00', '2027-01-03T12:00', '2026-12-27T12:00']);
  });

  it('monthly: newest of each month, across month ends and a leap day', () => {
    const s = ['2024-01-31T23:59:59.999', '2024-02-01T00:00', '2024-02-29T12:00', '2024-03-01T00:00'].map((iso) => snap(iso));
    assert.deepEqual(kept(s, { monthly: 3 }), ['2024-03-01T00:00', '2024-02-29T12:00', '2024-01-31T23:59:59.999']);
    assert.deepEqual(kept(s, { monthly: 2 }), ['2024-03-01T00:00', '2024-02-29T12:00']);
  });

  it('yearly: newest of each year', () => {
    const s = ['2022-12-31T23:59:59.999', '2023-01-01T00:00', '2023-06-01T00:00', '2023-12-31T23:59:59.999', '2024-01-01T00:00'].map((iso) => snap(iso));
    assert.deepEqual(kept(s, { yearly: 2 }), ['2024-01-01T00:00', '2023-12-31T23:59:59.999']);
    assert.deepEqual(kept(s, { yearly: 3 }), ['2024-01-01T00:00', '2023-12-31T23:59:59.999', '2022-12-31T23:59:59.999']);
  });

  describe('too few buckets: the oldest is kept too', () => {
    // Three days; the first and last have two snapshots each.
    const s = ['2024-01-01T06:00', '2024-01-01T18:00', '2024-01-02T12:00', '2024-01-03T06:00', '2024-01-03T18:00'].map((iso) => snap(iso));

    it('more buckets than n: no extra', () => {
      assert.deepEqual(kept(s, { daily: 2 }), ['2024-01-03T18:00', '2024-01-02T12:00']);
    });

    it('exactly n buckets: no extra', () => {
      assert.deepEqual(kept(s, { daily: 3 }), ['2024-01-03T18:00', '2024-01-02T12:00', '2024-01-01T18:00']);
    });

    it('fewer than n buckets: the oldest is kept, with reason oldest', () => {
      assert.deepEqual(reasons(s, { daily: 4 }), {
        '2024-01-03T18:00': ['daily', 'newest'],
        '2024-01-03T06:00': [],
        '2024-01-02T12:00': ['daily'],
        '2024-01-01T18:00': ['daily'],
        '2024-01-01T06:00': ['oldest'],
      });
    });

    it('per rule: one short rule is enough', () => {
      assert.deepEqual(reasons(s, { daily: 2, monthly: 2 })['2024-01-01T06:00'], ['oldest']);
    });

    it('is dropped again once n buckets exist (restic does the same)', () => {
      // The extra keep stretches history while the rule is still filling; it is not a promise.
      assert.equal(kept(s.slice(0, 3), { daily: 3 }).includes('2024-01-01T06:00'), true);
      assert.equal(kept(s, { daily: 3 }).includes('2024-01-01T06:00'), false);
    });
  });
});

describe('decide: always kept', () => {
  it('the newest, even when no rule would keep it', () => {
    // A future-dated snapshot takes the only keep-last slot; the real newest survives as 'newest'.
    const s = [snap('2024-01-01T00:00'), snap('2024-01-02T00:00'), snap('2031-01-01T00:00')];
    assert.deepEqual(reasons(s, { last: 1 }), {
      '2031-01-01T00:00': ['last', 'future'],
      '2024-01-02T00:00': ['newest'],
      '2024-01-01T00:00': [],
    });
  });

  it('future-dated ones, which also count toward rules', () => {
    const s = [snap('2024-01-01T00:00'), snap('2029-12-31T23:59'), snap('2030-01-01T00:00:00.001'), snap('2031-01-01T00:00')];
    assert.deepEqual(reasons(s, { last: 2 }), {
      '2031-01-01T00:00': ['last', 'future'],
      '2030-01-01T00:00:00.001': ['last', 'future'],
      '2029-12-31T23:59': ['newest'],
      '2024-01-01T00:00': [],
    });
    // Dated exactly now is not in the future.
    assert.deepEqual(reasons([snap('2030-01-01T00:00')], { last: 1 })['2030-01-01T00:00'], ['last', 'newest']);
  });

  it('all of them when all are in the future', () => {
    const s = [snap('2031-01-01T00:00'), snap('2032-01-01T00:00')];
    assert.deepEqual(reasons(s, { within: HOUR }), { '2032-01-01T00:00': ['future'], '2031-01-01T00:00': ['future'] });
  });

  it('protected ones, which also count toward rules', () => {
    const s = [snap('2024-01-01T00:00', { protected: true }), snap('2024-01-02T00:00'), snap('2024-01-03T00:00', { protected: true })];
    assert.deepEqual(reasons(s, { last: 1 }), {
      '2024-01-03T00:00': ['last', 'newest', 'protected'],
      '2024-01-02T00:00': [],
      '2024-01-01T00:00': ['protected'],
    });
  });
});

describe('decide: combined rules are ORed', () => {
  // A nightly at 03:00 through Q1 2024 (Sun 31 Mar is the newest), plus a manual one on 31 Mar.
  const nightly = Array.from({ length: 91 }, (_, i) => snap(new Date(Date.UTC(2024, 0, 1, 3) + i * DAY).toISOString().slice(0, 16)));
  const all = [...nightly, snap('2024-03-31T01:00')];

  it('grandfather-father-son', () => {
    const r = reasons(all, { last: 2, daily: 7, weekly: 4, monthly: 3 });
    const keptIds = Object.entries(r).flatMap(([id, rules]) => (rules.length > 0 ? [id] : []));
    assert.deepEqual(keptIds, [
      '2024-03-31T03:00',
      '2024-03-31T01:00',
      '2024-03-30T03:00',
      '2024-03-29T03:00',
      '2024-03-28T03:00',
      '2024-03-27T03:00',
      '2024-03-26T03:00',
      '2024-03-25T03:00',
      '2024-03-24T03:00',
      '2024-03-17T03:00',
      '2024-03-10T03:00',
      '2024-02-29T03:00',
      '2024-01-31T03:00',
    ]);
    assert.deepEqual(r['2024-03-31T03:00'], ['last', 'daily', 'weekly', 'monthly', 'newest']);
    assert.deepEqual(r['2024-03-31T01:00'], ['last']);
    assert.deepEqual(r['2024-03-30T03:00'], ['daily']);
    assert.deepEqual(r['2024-03-24T03:00'], ['weekly']);
    assert.deepEqual(r['2024-02-29T03:00'], ['monthly']);
  });

  it('a rule short of buckets adds the oldest without disturbing the others', () => {
    const r = reasons(all, { last: 2, daily: 7, weekly: 4, monthly: 4 });
    assert.deepEqual(r['2024-01-01T03:00'], ['oldest']);
    assert.equal(Object.values(r).filter((x) => x.length > 0).length, 14);
  });

  it('keep-within alongside counts', () => {
    const r = reasons(all, { last: 1, within: 2 * DAY, yearly: 1 });
    assert.deepEqual(r['2024-03-31T03:00'], ['last', 'within', 'yearly', 'newest']);
    assert.deepEqual(r['2024-03-31T01:00'], ['within']);
    assert.deepEqual(r['2024-03-30T03:00'], ['within']);
    assert.deepEqual(r['2024-03-29T03:00'], []);
    assert.deepEqual(r['2024-01-01T03:00'], []);
  });
});

describe('describePolicy', () => {
  it('names rules as the inputs are named, within last', () => {
    assert.equal(describePolicy({ within: 30 * DAY, daily: 7, last: 3 }), 'keep-last 3, keep-daily 7, keep-within 30d');
    assert.equal(
      describePolicy({ last: 1, hourly: 2, daily: 3, weekly: 4, monthly: 5, yearly: 6, within: 36 * HOUR }),
      'keep-last 1, keep-hourly 2, keep-daily 3, keep-weekly 4, keep-monthly 5, keep-yearly 6, keep-within 1d 12h',
    );
    assert.equal(describePolicy({}), 'no retention policy');
  });
});

// ---- Properties ----------------------------------------------------------------------------

const RUNS = { numRuns: 200 };

const instant = fc.oneof(
  // Spread over several years: many distinct months and years.
  { weight: 3, arbitrary: fc.integer({ min: Date.UTC(2021, 0, 1), max: Date.UTC(2025, 11, 31) }) },
  // Packed into four days across New Year 2024/25: several per hour, day and ISO week (2025-W01 starts 30 Dec).
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 4 * DAY }).map((offset) => Date.UTC(2024, 11, 29) + offset) },
  // Exact duplicates, so ties happen.
  { weight: 1, arbitrary: fc.constantFrom(Date.UTC(2023, 5, 1), Date.UTC(2025, 0, 1), Date.UTC(2025, 0, 1, 0, 0, 0, 1)) },
);

const snapshotsArb = fc
  .uniqueArray(
    fc.record({ id: fc.string({ minLength: 1, maxLength: 6 }), at: instant, protected: fc.integer({ min: 0, max: 9 }).map((n) => n === 0) }),
    // size 'max': lengths spread over the whole range, so counts are often both under and over met.
    { selector: (r) => r.id, maxLength: 50, size: 'max' },
  )
  .map((rows) => rows.map((r): Snapshot => ({ id: r.id, name: `backup-${r.id}`, createdAt: new Date(r.at), protected: r.protected })));

const count = fc.integer({ min: 1, max: 15 });
const policyArb: fc.Arbitrary<Policy> = fc
  .record(
    {
      last: count,
      within: fc.integer({ min: MINUTE, max: 400 * DAY }),
      hourly: count,
      daily: count,
      weekly: count,
      monthly: count,
      yearly: count,
    },
    { requiredKeys: [] },
  )
  .filter((p) => Object.keys(p).length > 0);

// Mostly after every snapshot, sometimes amid them, so some are future-dated.
const nowArb = fc.integer({ min: Date.UTC(2024, 6, 1), max: Date.UTC(2026, 11, 31) }).map((ms) => new Date(ms));

// The same order as the implementation promises, written independently.
const byNewest = (a: Snapshot, b: Snapshot): number =>
  a.createdAt.getTime() !== b.createdAt.getTime() ? b.createdAt.getTime() - a.createdAt.getTime() : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;

const keptSet = (snapshots: Snapshot[], policy: Policy, now: Date): Set<string> =>
  new Set(
    decide(snapshots, policy, now)
      .filter((d) => d.keep)
      .map((d) => d.snapshot.id),
  );

describe('decide: properties', () => {
  it('(1) partitions the input: every snapshot once, newest first, kept iff it has a reason', () => {
    fc.assert(
      fc.property(snapshotsArb, policyArb, nowArb, (snapshots, policy, now) => {
        const decisions = decide(snapshots, policy, now);
        assert.deepEqual(
          decisions.map((d) => d.snapshot),
          [...snapshots].sort(byNewest),
        );
        for (const [i, d] of decisions.entries()) {
          assert.equal(d.keep, d.reasons.length > 0);
          assert.equal(new Set(d.reasons).size, d.reasons.length);
          // 'oldest' belongs to the oldest alone.
          if (d.reasons.includes('oldest')) assert.equal(i, decisions.length - 1);
        }
      }),
      RUNS,
    );
  });

  it('(2) keeps the newest, and the newest not dated in the future as newest', () => {
    fc.assert(
      fc.property(
        snapshotsArb.filter((s) => s.length > 0),
        policyArb,
        nowArb,
        (snapshots, policy, now) => {
          const decisions = decide(snapshots, policy, now);
          assert.equal(decisions[0]?.keep, true);
          const real = decisions.find((d) => d.snapshot.createdAt <= now);
          if (real) assert.ok(real.reasons.includes('newest'));
        },
      ),
      RUNS,
    );
  });

  it('(3) never deletes a protected or future-dated snapshot', () => {
    fc.assert(
      fc.property(snapshotsArb, policyArb, nowArb, (snapshots, policy, now) => {
        for (const d of decide(snapshots, policy, now)) {
          if (d.snapshot.protected) assert.ok(d.keep && d.reasons.includes('protected'));
          if (d.snapshot.createdAt > now) assert.ok(d.keep && d.reasons.includes('future'));
        }
      }),
      RUNS,
    );
  });

  it('(4) idempotence: run again on what it kept, it keeps all of it, for the same reasons', () => {
    fc.assert(
      fc.property(snapshotsArb, policyArb, nowArb, (snapshots, policy, now) => {
        const first = decide(snapshots, policy, now).filter((d) => d.keep);
        const second = decide(
          first.map((d) => d.snapshot),
          policy,
          now,
        );
        assert.deepEqual(second, first);
      }),
      RUNS,
    );
  });

  it('(5) monotonicity: raising any count or keep-within never deletes what was kept', () => {
    const rule = fc.constantFrom('last', 'within', 'hourly', 'daily', 'weekly', 'monthly', 'yearly') satisfies fc.Arbitrary<keyof Policy>;
    fc.assert(
      fc.property(snapshotsArb, policyArb, nowArb, rule, fc.integer({ min: 1, max: 20 }), (snapshots, policy, now, key, step) => {
        // From unset counts as raising too: adding a rule only adds keeps.
        const raised: Policy = { ...policy, [key]: (policy[key] ?? 0) + (key === 'within' ? step * HOUR : step) };
        const after = keptSet(snapshots, raised, now);
        for (const id of keptSet(snapshots, policy, now)) assert.ok(after.has(id), `${id} lost when raising ${key}`);
      }),
      RUNS,
    );
  });

  it('(6) keep-last n keeps the n newest, so at least min(n, size)', () => {
    fc.assert(
      fc.property(snapshotsArb, policyArb, count, nowArb, (snapshots, policy, n, now) => {
        const decisions = decide(snapshots, { ...policy, last: n }, now);
        assert.ok(decisions.filter((d) => d.keep).length >= Math.min(n, snapshots.length));
        assert.ok(decisions.slice(0, n).every((d) => d.reasons.includes('last')));
      }),
      RUNS,
    );
  });

  it('(7) does not depend on input order', () => {
    fc.assert(
      fc.property(
        snapshotsArb.chain((s) => fc.tuple(fc.constant(s), fc.shuffledSubarray(s, { minLength: s.length, maxLength: s.length }))),
        policyArb,
        nowArb,
        ([snapshots, shuffled], policy, now) => {
          assert.deepEqual(decide(shuffled, policy, now), decide(snapshots, policy, now));
        },
      ),
      RUNS,
    );
  });

  // An independent model of one bucket rule: group by calendar label (weeks labelled by ISO
  // week-year and number via the Thursday rule), keep each of the n newest groups' newest member,
  // plus the oldest overall when there are fewer than n groups.
  const isoWeekLabel = (d: Date): string => {
    const monday0 = (d.getUTCDay() + 6) % 7;
    const thursday = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - monday0 + 3));
    const year = thursday.getUTCFullYear();
    return `${year}-W${1 + Math.floor((thursday.getTime() - Date.UTC(year, 0, 1)) / WEEK)}`;
  };
  const LABEL = {
    hourly: (d: Date) => d.toISOString().slice(0, 13),
    daily: (d: Date) => d.toISOString().slice(0, 10),
    weekly: isoWeekLabel,
    monthly: (d: Date) => d.toISOString().slice(0, 7),
    yearly: (d: Date) => d.toISOString().slice(0, 4),
  };

  it('(8) each bucket rule alone matches a group-by model', () => {
    fc.assert(
      fc.property(snapshotsArb, fc.constantFrom('hourly', 'daily', 'weekly', 'monthly', 'yearly' as const), count, nowArb, (snapshots, rule, n, now) => {
        const sorted = [...snapshots].sort(byNewest);
        const groups = new Map<string, Snapshot>();
        for (const s of sorted) if (!groups.has(LABEL[rule](s.createdAt))) groups.set(LABEL[rule](s.createdAt), s);
        const newestPerGroup = [...groups.values()].sort(byNewest);
        const expected = new Set(newestPerGroup.slice(0, n).map((s) => s.id));
        const last = sorted.at(-1);
        if (groups.size < n && last) expected.add(last.id);
        const real = sorted.find((s) => s.createdAt <= now);
        if (real) expected.add(real.id);
        for (const s of sorted) if (s.protected || s.createdAt > now) expected.add(s.id);
        assert.deepEqual(keptSet(snapshots, { [rule]: n }, now), expected);
      }),
      RUNS,
    );
  });
});
