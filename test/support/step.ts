// The step's side of the runner, in this process: inputs as INPUT_* variables, and what
// @actions/core writes to stdout (log lines, workflow commands) captured to be asserted on.
import assert from 'node:assert/strict';
import { afterEach, beforeEach } from 'node:test';
import { readSettings, SettingsError } from '../../src/settings/settings.ts';

/** Remove every INPUT_* and OS_* variable: inputs and an openrc must not leak between tests. */
export function clearActionEnv(): void {
  for (const key of Object.keys(process.env)) if (key.startsWith('INPUT_') || key.startsWith('OS_')) delete process.env[key];
}

/** Set inputs the way the runner does: INPUT_<NAME>, upper case, hyphens kept. */
export function setInputs(values: Record<string, string>): void {
  for (const [name, value] of Object.entries(values)) process.env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value;
}

/** The problems readSettings reports for the current inputs (it must refuse them). */
export function settingsProblems(): string[] {
  try {
    readSettings();
  } catch (error) {
    assert.ok(error instanceof SettingsError, String(error));
    return error.problems;
  }
  assert.fail('the inputs were accepted');
}

let original: typeof process.stdout.write | undefined;
let captured = '';

/**
 * Swallow (and keep) the text written to stdout: @actions/core writes its log lines and
 * workflow commands there as strings, while the test runner's own reports to its parent are
 * Buffers, which pass through. TEST_VERBOSE=1 lets the text through too.
 */
export function captureStdout(): void {
  captured = '';
  if (original) return;
  original = process.stdout.write;
  const passThrough = original;
  process.stdout.write = ((chunk: unknown, ...rest: unknown[]) => {
    if (typeof chunk === 'string') {
      captured += chunk;
      if (!process.env.TEST_VERBOSE) return true;
    }
    return (passThrough as (...args: unknown[]) => boolean).call(process.stdout, chunk, ...rest);
  }) as typeof process.stdout.write;
}

export function releaseStdout(): void {
  if (original) process.stdout.write = original;
  original = undefined;
}

/** What was written to stdout since the capture started. */
export function stdout(): string {
  return captured;
}

/** The `::error` lines written so far. */
export const errorLines = () =>
  stdout()
    .split('\n')
    .filter((line) => line.startsWith('::error'));

/** Every test of the calling file starts with no INPUT_* or OS_* variable and its stdout captured; both undone after it. */
export function freshStepEachTest(): void {
  beforeEach(() => {
    clearActionEnv();
    captureStdout();
  });
  afterEach(() => {
    releaseStdout();
    clearActionEnv();
  });
}
