import { setTimeout as sleep } from 'node:timers/promises';

/**
 * How long to wait before the next look at something that is still running: a quarter of a second
 * at first, so a short job is noticed promptly (benchmarked: a 4.4 s snapshot is seen 0.14 s after
 * it is active instead of 0.27 s with half a second), then 9 % of the time already spent, so
 * a long one costs few requests and is still noticed within 10 % of its duration (the last
 * request and the exit come on top of the interval), up to a ceiling.
 */
function nextPollDelay(elapsedMs: number, maxMs = 15_000): number {
  return Math.round(Math.min(maxMs, Math.max(250, elapsedMs * 0.09)));
}

/** How long a prompt wait keeps its short interval: a capture or an upload that ends within it is noticed within PROMPT_MS. */
const PROMPT_SPAN_MS = 120_000;
const PROMPT_MS = 400;

/**
 * For waits whose end someone is waiting on (the capture a deploy waits for, the upload a job's
 * end waits for): every 0.4 s for two minutes, then 9 % of the time spent beyond that, up to 5 s.
 */
export function promptPollDelay(elapsedMs: number): number {
  return elapsedMs < PROMPT_SPAN_MS ? PROMPT_MS : Math.round(Math.min(5_000, Math.max(PROMPT_MS, (elapsedMs - PROMPT_SPAN_MS) * 0.09)));
}

/** A look cut short by the deadline: no news, which is not the same as "gone". */
export const CUT_SHORT = Symbol('cut short');

/** The one point in time a whole wait (with every request in it) must end by, or the moment `cut` aborts if earlier. */
export class Deadline {
  /** What the wait was given (for messages). */
  readonly budgetMs: number;
  readonly at: number;
  readonly cut: AbortSignal | undefined;
  constructor(budgetMs: number, cut?: AbortSignal) {
    this.budgetMs = budgetMs;
    this.at = Date.now() + budgetMs;
    this.cut = cut;
  }

  static after(ms: number, cut?: AbortSignal): Deadline {
    return new Deadline(ms, cut);
  }

  get passed(): boolean {
    return Date.now() >= this.at || !!this.cut?.aborted;
  }

  /**
   * A request, its retries included, aborted at the deadline; CUT_SHORT when that is why it
   * failed. The second of grace lets the last look be made even when the deadline has come.
   */
  async look<T>(request: (signal: AbortSignal) => Promise<T>): Promise<T | typeof CUT_SHORT> {
    try {
      const timeout = AbortSignal.timeout(Math.max(1_000, this.at - Date.now()));
      return await request(this.cut ? AbortSignal.any([timeout, this.cut]) : timeout);
    } catch (error) {
      if (this.passed) return CUT_SHORT;
      throw error;
    }
  }
}

/**
 * Poll times shared by several waits: ticks from one origin, spaced by nextPollDelay, so that
 * waits started at different moments look at the same instants (and can share one request).
 */
export class PollGrid {
  readonly #origin = Date.now();
  #tick = this.#origin;
  readonly #schedule: (elapsedMs: number) => number;

  constructor(schedule: (elapsedMs: number) => number = nextPollDelay) {
    this.#schedule = schedule;
  }

  /** Milliseconds from `now` to the next tick after it. */
  delay(now: number): number {
    while (this.#tick <= now) this.#tick += this.#schedule(this.#tick - this.#origin);
    return this.#tick - now;
  }
}

export type PollOutcome<T> = { done: true; value: T; polls: number } | { done: false; last: T | undefined; polls: number };

/**
 * Call `check` until it reports done or the deadline passes, on its own schedule or a shared grid.
 * The first look is immediate: some jobs (volume-backed snapshots) are finished by the time they are accepted.
 */
export async function poll<T>(check: () => Promise<{ done: boolean; value: T }>, deadline: Deadline, grid?: PollGrid): Promise<PollOutcome<T>> {
  const start = Date.now();
  let polls = 0;
  let last: T | undefined;
  for (;;) {
    const result = await check();
    polls += 1;
    last = result.value;
    if (result.done) return { done: true, value: result.value, polls };
    const now = Date.now();
    if (deadline.passed) return { done: false, last, polls };
    // A cut wakes the wait at once.
    await sleep(Math.min(grid ? grid.delay(now) : nextPollDelay(now - start), deadline.at - now), undefined, { signal: deadline.cut }).catch(() => undefined);
  }
}
