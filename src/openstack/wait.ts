import { setTimeout as sleep } from 'node:timers/promises';

/**
 * How long to wait before the next look at something that is still running: half a second at
 * first, so a short job is noticed promptly (benchmarked: with 1 s, detection was most of the
 * action's overhead over the fewest possible requests), then 9 % of the time already spent, so
 * a long one costs few requests and is still noticed within 10 % of its duration (the last
 * request and the exit come on top of the interval), up to a ceiling.
 */
export function nextPollDelay(elapsedMs: number, maxMs = 15_000): number {
  return Math.round(Math.min(maxMs, Math.max(500, elapsedMs * 0.09)));
}

export type PollOutcome<T> = { done: true; value: T; polls: number } | { done: false; last: T | undefined; polls: number };

/**
 * Call `check` until it reports done or `deadline` (epoch ms) passes. The first look is
 * immediate: some jobs (volume-backed snapshots) are finished by the time they are accepted.
 */
export async function poll<T>(
  check: () => Promise<{ done: boolean; value: T }>,
  deadline: number,
  start = Date.now(),
): Promise<PollOutcome<T>> {
  let polls = 0;
  let last: T | undefined;
  for (;;) {
    const result = await check();
    polls += 1;
    last = result.value;
    if (result.done) return { done: true, value: result.value, polls };
    const now = Date.now();
    if (now >= deadline) return { done: false, last, polls };
    await sleep(Math.min(nextPollDelay(now - start), deadline - now));
  }
}

/**
 * Aborts a request (its retries included) at the deadline, so no request outlasts the wait by
 * more than a second: that second lets the last look be made even when the deadline has come.
 */
export function untilDeadline(deadline: number): AbortSignal {
  return AbortSignal.timeout(Math.max(1_000, deadline - Date.now()));
}
