import * as core from '@actions/core';
import { Input } from '../lib/constants.ts';
import type { Read } from './credentials.ts';
import { parseDuration } from '../lib/duration.ts';
import type { Policy } from '../lib/retention.ts';

/**
 * Readers of the action's inputs that gather every problem in `problems` (each names the input
 * and what would be valid) instead of stopping at the first.
 */
export function inputReader(env: NodeJS.ProcessEnv, problems: string[]) {
  /** Where `text` finds a value: the input, else the first of these OS_* variables that is set. */
  const origin = (name: string, ...envNames: string[]) => (core.getInput(name) ? name : envNames.find((n) => env[n]?.trim()));
  const text: Read = Object.assign(
    (name: string, ...envNames: string[]) => {
      const from = origin(name, ...envNames);
      return from === name ? core.getInput(name) : from && env[from]?.trim();
    },
    { from: (name: string, ...envNames: string[]) => origin(name, ...envNames) ?? name },
  );
  const bool = (name: string, fallback: boolean): boolean => {
    if (!core.getInput(name)) return fallback;
    try {
      return core.getBooleanInput(name);
    } catch {
      problems.push(`${name}: "${core.getInput(name)}" is not a boolean; use true or false`);
      return fallback;
    }
  };
  const integer = (name: string, fallback: number | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined => {
    const raw = core.getInput(name);
    if (!raw) return fallback;
    const value = Number(raw);
    if (!/^[+]?\d+$/.test(raw) || value < min || value > max) {
      problems.push(`${name}: "${raw}" is not valid; use a whole number from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ' up'}`);
      return fallback;
    }
    return value;
  };
  const duration = (name: string, raw: string | undefined): number | undefined => {
    if (!raw) return undefined;
    try {
      return parseDuration(raw);
    } catch (error) {
      problems.push(`${name}: ${(error as Error).message}`);
      return undefined;
    }
  };
  return { text, bool, integer, duration };
}

const POLICY_INPUTS = [
  [Input.KeepLast, 'last'],
  [Input.KeepHourly, 'hourly'],
  [Input.KeepDaily, 'daily'],
  [Input.KeepWeekly, 'weekly'],
  [Input.KeepMonthly, 'monthly'],
  [Input.KeepYearly, 'yearly'],
] as const;

export type Reader = ReturnType<typeof inputReader>;

/** The keep-* inputs as a policy, and whether any was given (a keep-* given but invalid is reported as such, not also as "no policy"). */
export function readPolicy(integer: Reader['integer'], duration: Reader['duration']): { policy: Policy; hasPolicy: boolean } {
  const policy: Policy = {};
  for (const [name, key] of POLICY_INPUTS) {
    const value = integer(name, undefined, 1);
    if (value !== undefined) policy[key] = value;
  }
  const within = duration(Input.KeepWithin, core.getInput(Input.KeepWithin) || undefined);
  if (within !== undefined) policy.within = within;
  // It only keeps: a policy still needs one of the others.
  const verified = integer(Input.KeepVerified, undefined, 1);
  if (verified !== undefined) policy.verified = verified;
  const hasPolicy = [...POLICY_INPUTS.map(([name]) => name), Input.KeepWithin].some((name) => core.getInput(name));
  return { policy, hasPolicy };
}
