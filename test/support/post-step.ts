// The main step, then the post step, as the runner runs them: the main step writes GITHUB_STATE,
// the runner passes each entry to the post step as STATE_<name>, with the same inputs.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIST_POST, parseOutputs, type ActionRun, type RunOptions } from './run-action.ts';

export type Runner = (inputs: Record<string, string>, env: Record<string, string | undefined>, options: RunOptions) => Promise<ActionRun>;

/** What the main step saved (GITHUB_STATE's `name<<delimiter` entries are written as outputs are). */
export function readState(file: string): Record<string, string> {
  return parseOutputs(readFileSync(file, 'utf8'));
}

/** Run the main step with a GITHUB_STATE file, then `between` (the job's other steps), then the post step with its STATE_* variables. */
export async function mainThenPost<R extends ActionRun | { run: ActionRun }>(
  run: (inputs: Record<string, string>, env: Record<string, string | undefined>, options: RunOptions) => Promise<R>,
  inputs: Record<string, string>,
  env: Record<string, string | undefined> = {},
  between: (main: R) => Promise<void> = async () => {},
): Promise<{ main: R; post: R; state: Record<string, string> }> {
  const dir = mkdtempSync(join(tmpdir(), 'osa-state-'));
  const file = join(dir, 'state');
  writeFileSync(file, '');
  try {
    const main = await run(inputs, { ...env, GITHUB_STATE: file }, {});
    const state = readState(file);
    await between(main);
    const stateEnv = Object.fromEntries(Object.entries(state).map(([name, value]) => [`STATE_${name}`, value]));
    const post = await run(inputs, { ...env, ...stateEnv }, { entry: DIST_POST });
    return { main, post, state };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
