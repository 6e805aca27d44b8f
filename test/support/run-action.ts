import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
export const DIST = join(ROOT, 'dist/index.js');
/** The post step's bundle (action.yml's runs.post). */
export const DIST_POST = join(ROOT, 'dist/post/index.js');

/** The defaults action.yml declares: the runner applies them, a bare `node dist/index.js` would not. */
export function actionDefaults(): Record<string, string> {
  const defaults: Record<string, string> = {};
  let inInputs = false;
  let current: string | undefined;
  for (const line of readFileSync(join(ROOT, 'action.yml'), 'utf8').split('\n')) {
    if (/^\S/.test(line)) inInputs = line.startsWith('inputs:');
    if (!inInputs) continue;
    const input = /^ {2}([a-z0-9-]+):\s*$/.exec(line);
    if (input) current = input[1];
    const value = /^ {4}default:\s*(.*)$/.exec(line);
    if (value && current) defaults[current] = value[1]!.trim().replace(/^"(.*)"$/, '$1');
  }
  return defaults;
}

export interface ActionRun {
  code: number;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
  durationMs: number;
}

/** Parse GITHUB_OUTPUT as the runner reads it: `name=value`, or (as @actions/core writes it) `name<<delimiter`, value lines, `delimiter`. */
export function parseOutputs(text: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i += 1) {
    const single = /^([^<=]+)=(.*)$/.exec(lines[i]!);
    if (single) outputs[single[1]!] = single[2]!;
    const head = /^([^<=]+)<<(.+)$/.exec(lines[i]!);
    if (!head) continue;
    const [, name, delimiter] = head;
    const value: string[] = [];
    for (i += 1; i < lines.length && lines[i] !== delimiter; i += 1) value.push(lines[i]!);
    outputs[name!] = value.join('\n');
  }
  return outputs;
}

/**
 * Run the built action as the runner does: inputs as INPUT_<NAME> (upper case, hyphens kept)
 * over action.yml's defaults, with output and summary files. `env` is all the rest of the
 * environment the step sees (nothing of this process's OS_* leaks in).
 */
export interface RunOptions {
  /**
   * Send this signal once stdout matches: the job cancelled at that point. 'runner' is what the
   * runner does: SIGINT, SIGTERM 7.5 s later, SIGKILL 2.5 s after that.
   */
  cancelOn?: { pattern: RegExp; signal: NodeJS.Signals | 'runner' };
  /** The step's working directory (the runner's is the checked-out workspace); default: this process's. */
  cwd?: string;
  /** The bundle to run: the main step's (default) or the post step's (DIST_POST). */
  entry?: string;
  /** Told the step's process ID once it runs (to watch its memory). */
  onSpawn?: (pid: number) => void;
}

/** The runner's cancel: SIGINT, then SIGTERM and SIGKILL, each only if the process is still there. */
const RUNNER_SIGNALS: [NodeJS.Signals, number][] = [
  ['SIGINT', 0],
  ['SIGTERM', 7_500],
  ['SIGKILL', 10_000],
];

export async function runAction(inputs: Record<string, string>, env: Record<string, string | undefined> = {}, options: RunOptions = {}): Promise<ActionRun> {
  const dir = mkdtempSync(join(tmpdir(), 'osa-run-'));
  const outputFile = join(dir, 'output');
  const summaryFile = join(dir, 'summary');
  writeFileSync(outputFile, '');
  writeFileSync(summaryFile, '');
  const inputEnv = Object.fromEntries(Object.entries({ ...actionDefaults(), ...inputs }).map(([k, v]) => [`INPUT_${k.replace(/ /g, '_').toUpperCase()}`, v]));
  const childEnv: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? dir,
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    GITHUB_REPOSITORY: 'octo/app',
    GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567',
    GITHUB_RUN_ID: '4242',
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_WORKFLOW: 'deploy',
    GITHUB_REF_NAME: 'main',
    GITHUB_SERVER_URL: 'https://github.com',
    ...inputEnv,
  };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete childEnv[k];
    else childEnv[k] = v;
  }
  const started = Date.now();
  const child = spawn(process.execPath, [options.entry ?? DIST], { env: childEnv, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid !== undefined) options.onSpawn?.(child.pid);
  let stdout = '';
  let stderr = '';
  let cancelled = false;
  const timers: NodeJS.Timeout[] = [];
  const cancel = (signal: NodeJS.Signals | 'runner') => {
    if (signal !== 'runner') return child.kill(signal);
    for (const [name, ms] of RUNNER_SIGNALS) timers.push(setTimeout(() => child.exitCode === null && child.signalCode === null && child.kill(name), ms));
    return true;
  };
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk;
    if (options.cancelOn && !cancelled && options.cancelOn.pattern.test(stdout)) cancelled = cancel(options.cancelOn.signal);
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  const code = await new Promise<number>((done) => child.on('close', (c) => done(c ?? -1)));
  for (const timer of timers) clearTimeout(timer);
  const result = {
    code,
    stdout,
    stderr,
    outputs: parseOutputs(readFileSync(outputFile, 'utf8')),
    summary: readFileSync(summaryFile, 'utf8'),
    durationMs: Date.now() - started,
  };
  rmSync(dir, { recursive: true, force: true });
  return result;
}

/** The `::error::` lines of a run, the way the runner shows them. */
export function errorsOf(run: ActionRun): string[] {
  return run.stdout
    .split('\n')
    .filter((l) => l.startsWith('::error'))
    .map((l) => l.replace(/^::error[^:]*::/, '').replace(/%0A/g, '\n'));
}
