// The one wait of the tests and the benchmark: ask again until the answer is there.
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Call `check` until it returns something other than undefined or false, and return that; throw,
 * naming `what`, once `timeoutMs` has passed.
 */
export async function poll<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  { timeoutMs = 60_000, everyMs = 100 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
