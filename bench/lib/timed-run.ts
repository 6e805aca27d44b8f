// runAction (test/support/run-action.ts) with timing hooks, without copying it: node:child_process's
// spawn is wrapped (and the ESM live bindings refreshed with syncBuiltinESMExports), so the very
// spawn that runAction makes is timed here: the moment just before spawn(), the child's 'exit'
// event, and optionally its peak RSS (through /usr/bin/time). The wrapper also swaps in a frozen
// copy of dist/ (see freezeDist), so other people rebuilding dist/ mid-benchmark change nothing.
import childProcess, { type ChildProcess, type SpawnOptions } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIST, runAction, type ActionRun } from '../../test/support/run-action.ts';
import { now } from './clock.ts';

export interface TimedRun extends ActionRun {
  /** Just before spawn() (epoch ms). */
  spawnAt: number;
  /** The child's 'exit' event. */
  exitAt: number;
  /** Peak resident set size of the action process in KiB (only with memory: true). */
  maxRssKb?: number;
}

interface Pending {
  memory: boolean;
  script?: string;
  timing: { spawnAt: number; exitAt: number; rssFile?: string };
}

let frozenDist: string | undefined;
let pending: Pending | undefined;
const originalSpawn = childProcess.spawn;

function hookedSpawn(this: unknown, command: string, args?: readonly string[], options?: SpawnOptions): ChildProcess {
  const job = pending;
  pending = undefined;
  if (!job || command !== process.execPath || !Array.isArray(args) || args[0] !== DIST) {
    return (originalSpawn as (...a: unknown[]) => ChildProcess).call(this, command, args, options);
  }
  const script = job.script ?? frozenDist ?? DIST;
  let cmd = command;
  let argv = [script, ...args.slice(1)];
  if (job.memory) {
    job.timing.rssFile = join(mkdtempSync(join(tmpdir(), 'osa-bench-rss-')), 'rss');
    cmd = '/usr/bin/time';
    argv = ['-f', '%M', '-o', job.timing.rssFile, command, ...argv];
  }
  job.timing.spawnAt = now();
  const child = (originalSpawn as (...a: unknown[]) => ChildProcess)(cmd, argv, options);
  child.once('exit', () => {
    job.timing.exitAt = now();
  });
  return child;
}

(childProcess as { spawn: unknown }).spawn = hookedSpawn;
syncBuiltinESMExports();

/**
 * Copy dist/ to a private directory and run that copy from now on (the runs measure one build,
 * even if dist/ is rebuilt meanwhile). Returns the path and size of the frozen index.js.
 */
export function freezeDist(): { path: string; bytes: number; mapBytes: number } {
  const dir = mkdtempSync(join(tmpdir(), 'osa-bench-dist-'));
  cpSync(join(DIST, '..'), dir, { recursive: true });
  frozenDist = join(dir, 'index.js');
  const mapPath = `${frozenDist}.map`;
  return { path: frozenDist, bytes: statSync(frozenDist).size, mapBytes: existsSync(mapPath) ? statSync(mapPath).size : 0 };
}

/** Run another build of the action from now on (a variant, for diagnosis); returns the previous one. */
export function setDist(path: string | undefined): string | undefined {
  const previous = frozenDist;
  frozenDist = path;
  return previous;
}

export function releaseDist(): void {
  if (frozenDist) rmSync(join(frozenDist, '..'), { recursive: true, force: true });
  frozenDist = undefined;
}

/**
 * runAction with spawn and exit times (and peak RSS with memory: true; another build of the
 * action with script). runAction reaches its
 * spawn() synchronously, so `pending` cannot be taken by another concurrent run.
 */
export async function timedRun(
  inputs: Record<string, string>,
  env: Record<string, string | undefined> = {},
  opts: { memory?: boolean; script?: string } = {},
): Promise<TimedRun> {
  const job: Pending = { memory: opts.memory ?? false, ...(opts.script ? { script: opts.script } : {}), timing: { spawnAt: Number.NaN, exitAt: Number.NaN } };
  pending = job;
  const promise = runAction(inputs, env);
  if (pending === job) {
    pending = undefined;
    throw new Error('runAction did not spawn synchronously: the timing hook cannot attribute its spawn');
  }
  const run = await promise;
  const result: TimedRun = { ...run, spawnAt: job.timing.spawnAt, exitAt: job.timing.exitAt };
  if (job.timing.rssFile) {
    const text = readFileSync(job.timing.rssFile, 'utf8').trim().split('\n').pop() ?? '';
    result.maxRssKb = Number(text);
    rmSync(join(job.timing.rssFile, '..'), { recursive: true, force: true });
  }
  return result;
}

/** The `::debug::`-free log of a run, for error messages. */
export function tail(run: ActionRun, lines = 30): string {
  const out = run.stdout.split('\n').filter((l) => l && !l.startsWith('::debug::') && !l.startsWith('::add-mask::'));
  return `exit ${run.code}\n${out.slice(-lines).join('\n')}\n${run.stderr.slice(-2000)}`;
}
