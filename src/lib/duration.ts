// Durations as written in workflow inputs (`keep-within: 30d`, timeouts) and as shown in logs.

export class DurationError extends Error {
  override name = 'DurationError';
}

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const UNIT_MS: Record<string, number> = { s: SECOND, m: MINUTE, h: HOUR, d: DAY, w: 7 * DAY };

const HELP = 'use a number followed by s, m, h, d or w, such as 90s, 45m, 2h or 1h30m';

/**
 * Parses `90s`, `45m`, `2h`, `1h30m`, `7d`, `2w`, `1d12h` (case-insensitive; `1h 30m` too, so
 * formatDuration's output reads back) into milliseconds. Units are summed in any order. `m` is
 * minutes, never months.
 */
export function parseDuration(text: string): number {
  const input = text.trim();
  const shown = JSON.stringify(input);
  // A bare number could mean seconds to one reader and days to another; make the author say which.
  if (/^\d+$/.test(input)) {
    throw new DurationError(`${shown} has no unit: write ${input}s, ${input}m, ${input}h, ${input}d or ${input}w`);
  }
  if (!/^(?:\d+[smhdw]\s*)+$/i.test(input)) throw new DurationError(`${shown} is not a duration: ${HELP}`);
  let total = 0;
  for (const [, amount, unit] of input.matchAll(/(\d+)([smhdw])/gi)) {
    total += Number(amount) * (UNIT_MS[String(unit).toLowerCase()] ?? 0);
  }
  if (total === 0) throw new DurationError(`${shown} adds up to zero: a duration must be longer than that; ${HELP}`);
  // Beyond this, milliseconds are no longer exact integers.
  if (!Number.isSafeInteger(total)) throw new DurationError(`${shown} is too long to be a usable duration`);
  return total;
}

/** Short form for logs: `850ms`, `4.2s` below a minute, otherwise whole `d h m s` parts such as `1h 5m 3s`. */
export function formatDuration(ms: number): string {
  // A log helper must not throw; show odd values as they are.
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 0) return `-${formatDuration(-ms)}`;
  if (Math.round(ms) < SECOND) return `${Math.round(ms)}ms`;
  // Decide on the rounded value so 59.96 s prints as `1m`, never `60.0s`.
  const tenths = Math.round(ms / 100);
  if (tenths < 600) return `${(tenths / 10).toFixed(1)}s`;
  let seconds = Math.round(ms / SECOND);
  const parts: string[] = [];
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    const count = Math.floor(seconds / size);
    seconds -= count * size;
    if (count > 0) parts.push(`${count}${unit}`);
  }
  return parts.join(' ');
}

/** A moment as Glance writes one (ISO 8601 to the second, UTC). */
export const isoSeconds = (date: Date) => date.toISOString().replace(/\.\d{3}Z$/, 'Z');
