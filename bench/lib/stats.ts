// Medians over runs, and how the report writes figures: `1.23 s (1.10 s–1.40 s, n=5)`.

export function median(values: readonly number[]): number {
  const xs = values.filter(Number.isFinite).sort((a, b) => a - b);
  const mid = xs.length >> 1;
  if (!xs.length) return Number.NaN;
  return xs.length % 2 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2;
}

export const fmtS = (ms: number, digits = 2) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(digits)} s` : 'n/a');
export const fmtMs = (ms: number) => (Number.isFinite(ms) ? `${Math.round(ms)} ms` : 'n/a');
export const fmtX = (ratio: number) => (Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : 'n/a');
export const fmtPct = (ratio: number, digits = 1) => (Number.isFinite(ratio) ? `${(ratio * 100).toFixed(digits)} %` : 'n/a');
export const fmtMB = (kb: number) => (Number.isFinite(kb) ? `${(kb / 1024).toFixed(0)} MB` : 'n/a');

/** `median (min–max, n=N)`. */
export function fmtRange(values: readonly number[], f: (v: number) => string): string {
  const xs = values.filter(Number.isFinite);
  if (xs.length < 2) return xs.length ? `${f(xs[0]!)} (n=1)` : 'n/a';
  return `${f(median(xs))} (${f(Math.min(...xs))}–${f(Math.max(...xs))}, n=${xs.length})`;
}

/** Most requests that arrived within any 1-second window (times in ms). */
export function peakRate(times: readonly number[]): number {
  const ts = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let lo = 0, hi = 0; hi < ts.length; hi += 1) {
    while (ts[hi]! - ts[lo]! >= 1000) lo += 1;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}
