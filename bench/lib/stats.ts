// Small statistics helpers: medians over runs, and formatting for the report.

export function median(values: readonly number[]): number {
  const xs = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (xs.length === 0) return Number.NaN;
  const mid = xs.length >> 1;
  return xs.length % 2 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2;
}

export function min(values: readonly number[]): number {
  return values.length ? Math.min(...values) : Number.NaN;
}

export function max(values: readonly number[]): number {
  return values.length ? Math.max(...values) : Number.NaN;
}

/** median and range, as the report shows it: `1.23 s (1.10–1.40, n=5)`. */
export interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function summarize(values: readonly number[]): Summary {
  const xs = values.filter((v) => Number.isFinite(v));
  return { median: median(xs), min: min(xs), max: max(xs), n: xs.length };
}

export function fmtS(ms: number, digits = 2): string {
  return Number.isFinite(ms) ? `${(ms / 1000).toFixed(digits)} s` : 'n/a';
}

export function fmtMs(ms: number): string {
  return Number.isFinite(ms) ? `${Math.round(ms)} ms` : 'n/a';
}

export function fmtX(ratio: number, digits = 2): string {
  return Number.isFinite(ratio) ? `${ratio.toFixed(digits)}×` : 'n/a';
}

export function fmtPct(ratio: number, digits = 0): string {
  return Number.isFinite(ratio) ? `${(ratio * 100).toFixed(digits)} %` : 'n/a';
}

/** `median (min–max, n=N)` with a formatter. */
export function fmtSummary(s: Summary, f: (v: number) => string): string {
  if (s.n === 0) return 'n/a';
  if (s.n === 1) return `${f(s.median)} (n=1)`;
  return `${f(s.median)} (${f(s.min)}–${f(s.max)}, n=${s.n})`;
}
