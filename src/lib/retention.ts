// Which snapshots to keep, with restic `forget` semantics (restic internal/data/snapshot_policy.go).

import { formatDuration } from './duration.ts';

export interface Snapshot {
  id: string;
  name: string;
  createdAt: Date;
  protected: boolean;
  /** A verify booted it (its verified_at): keep-verified keeps the newest of these. */
  verified?: boolean;
}

export interface Policy {
  last?: number;
  /** Milliseconds. */
  within?: number;
  hourly?: number;
  daily?: number;
  weekly?: number;
  monthly?: number;
  yearly?: number;
  /** The newest N verified snapshots are kept whatever the other rules say (not a policy on its own). */
  verified?: number;
}

export type Rule = 'last' | 'within' | 'hourly' | 'daily' | 'weekly' | 'monthly' | 'yearly' | 'oldest' | 'newest' | 'protected' | 'future' | 'verified';

export interface Decision {
  snapshot: Snapshot;
  keep: boolean;
  /** Every rule that kept the snapshot, in the order of RULES; empty iff it is deleted. */
  reasons: Rule[];
}

export class PolicyError extends Error {
  override name = 'PolicyError';
}

const RULES: readonly Rule[] = ['last', 'within', 'hourly', 'daily', 'weekly', 'monthly', 'yearly', 'oldest', 'newest', 'protected', 'future', 'verified'];

type BucketRule = 'hourly' | 'daily' | 'weekly' | 'monthly' | 'yearly';
const BUCKET_RULES: readonly BucketRule[] = ['hourly', 'daily', 'weekly', 'monthly', 'yearly'];
const COUNT_RULES = ['last', ...BUCKET_RULES] as const;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;

// One number per UTC calendar bucket. Epoch time has no leap seconds and UTC no DST, so hours and
// days are plain divisions. 1970-01-01 was a Thursday, so shifting by 3 days makes weeks run
// Monday–Sunday: each such week is exactly one ISO week (week-year + number), the same partition
// as restic's ISOWeek key, and New Year splits no week.
const BUCKET_KEY: Record<BucketRule, (ms: number) => number> = {
  hourly: (ms) => Math.floor(ms / HOUR),
  daily: (ms) => Math.floor(ms / DAY),
  weekly: (ms) => Math.floor((ms + 3 * DAY) / WEEK),
  monthly: (ms) => new Date(ms).getUTCFullYear() * 12 + new Date(ms).getUTCMonth(),
  yearly: (ms) => new Date(ms).getUTCFullYear(),
};

export function validatePolicy(p: Policy): void {
  if (COUNT_RULES.every((rule) => p[rule] === undefined) && p.within === undefined) {
    throw new PolicyError(
      'no retention policy given: set at least one of keep-last, keep-within, keep-hourly, keep-daily, keep-weekly, keep-monthly, keep-yearly',
    );
  }
  for (const rule of COUNT_RULES) {
    const n = p[rule];
    if (n !== undefined && !(Number.isSafeInteger(n) && n > 0)) {
      throw new PolicyError(`keep-${rule} must be a whole number of at least 1, got ${n}`);
    }
  }
  if (p.verified !== undefined && !(Number.isSafeInteger(p.verified) && p.verified > 0)) {
    throw new PolicyError(`keep-verified must be a whole number of at least 1, got ${p.verified}`);
  }
  if (p.within !== undefined && !(Number.isFinite(p.within) && p.within > 0)) {
    throw new PolicyError(`keep-within must be a duration longer than zero, got ${p.within} ms`);
  }
}

// Newest first; equal times fall back to id so the result never depends on input order.
const newestFirst = (a: Snapshot, b: Snapshot): number => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * One decision per snapshot, newest first. Rules are ORed. Future-dated and protected snapshots
 * still take part in counting (as restic's kept-by-tag ones do), so `keep-last 3` means three
 * snapshots, not three plus the protected ones.
 */
export function decide(snapshots: Snapshot[], policy: Policy, now: Date): Decision[] {
  validatePolicy(policy);
  const nowMs = now.getTime();
  if (Number.isNaN(nowMs)) throw new RangeError('now is an invalid date');
  for (const s of snapshots) {
    if (Number.isNaN(s.createdAt.getTime())) throw new RangeError(`snapshot ${s.id} has an invalid creation date`);
  }
  // Newest first, each with its time and the rules that keep it.
  const entries = [...snapshots].sort(newestFirst).map((snapshot) => ({ snapshot, time: snapshot.createdAt.getTime(), kept: new Set<Rule>() }));
  const oldest = entries.at(-1);
  if (!oldest) return [];

  // last n: the n newest.
  for (const entry of entries.slice(0, policy.last ?? 0)) entry.kept.add('last');

  // The newest snapshot not dated in the future. restic anchors keep-within here rather than at
  // `now`, so a project whose snapshots stopped never loses them all, and a stray future-dated one
  // cannot drag the window away from the rest. It is also the one always kept: the real latest
  // state of the instance (a future-dated newer one is kept by 'future' anyway).
  const newest = entries.find((entry) => entry.time <= nowMs);

  // within d: everything strictly younger than d before the newest.
  if (policy.within !== undefined && newest) {
    const cutoff = newest.time - policy.within;
    for (const entry of entries) if (entry.time > cutoff) entry.kept.add('within');
  }

  // hourly…yearly n: walking newest → oldest, the first snapshot met in each bucket is that
  // bucket's newest; keep it until n buckets are kept. Sorted times make buckets contiguous.
  for (const rule of BUCKET_RULES) {
    const n = policy[rule];
    if (n === undefined) continue;
    let buckets = 0;
    let previous: number | undefined;
    for (const entry of entries) {
      if (buckets >= n) break;
      const key = BUCKET_KEY[rule](entry.time);
      if (key !== previous) {
        entry.kept.add(rule);
        buckets++;
        previous = key;
      }
    }
    // restic ≥ 0.17: with fewer than n buckets the oldest snapshot is kept too, so the history
    // kept is as long as possible. Only reported when the rule did not already keep it. keep-within
    // needs no such case: if its window reaches the oldest, it keeps it itself.
    if (buckets < n && !oldest.kept.has(rule)) oldest.kept.add('oldest');
  }

  newest?.kept.add('newest');
  // verified n: the n newest that a verify booted, whatever the rules above chose.
  for (const entry of entries.filter((e) => e.snapshot.verified).slice(0, policy.verified ?? 0)) entry.kept.add('verified');
  for (const entry of entries) {
    if (entry.snapshot.protected) entry.kept.add('protected');
    // Never delete what the clock says cannot exist yet: a skewed clock must not cost data.
    if (entry.time > nowMs) entry.kept.add('future');
  }

  return entries.map(({ snapshot, kept }) => ({
    snapshot,
    keep: kept.size > 0,
    reasons: RULES.filter((rule) => kept.has(rule)),
  }));
}

/** For logs, e.g. `keep-last 3, keep-daily 7, keep-within 30d`. */
/**
 * The policy over each group on its own (the snapshots of one instance: keep-last 3 over six
 * servers keeps three of each, never three of the fleet), newest first across the groups.
 */
export function decideEach(groups: Iterable<Snapshot[]>, policy: Policy, now: Date): Decision[] {
  return [...groups].flatMap((group) => decide(group, policy, now)).sort((a, b) => newestFirst(a.snapshot, b.snapshot));
}

export function describePolicy(p: Policy): string {
  const parts = COUNT_RULES.flatMap((rule) => (p[rule] === undefined ? [] : [`keep-${rule} ${p[rule]}`]));
  if (p.within !== undefined) parts.push(`keep-within ${formatDuration(p.within)}`);
  if (p.verified !== undefined) parts.push(`keep-verified ${p.verified}`);
  return parts.length > 0 ? parts.join(', ') : 'no retention policy';
}
