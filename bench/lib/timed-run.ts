// runAction (test/support/run-action.ts) with timing hooks, without copying it: node:child_process's
// spawn is wrapped (and the ESM live bindings refreshed with syncBuiltinESMExports), so the very
// spawn that runAction makes is timed here (just before spawn(), the child's 'exit' event, and
// optionally its peak RSS through /usr/bin/time) and pointed at the build under test: a frozen
// copy of a dist/ directory, so that someone rebuilding dist/ mid-benchmark changes nothing.
import childProcess, { type ChildProcess, type SpawnOptions } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { DIST, runAction, type ActionRun } from '../../test/support/run-action.ts';
import { now } from './clock.ts';

/** One build of the action (`--dist`), frozen. */
export interface Build {
  label: string;
  /** The frozen index.js. */
  path: string;
  /** Where it was copied from. */
  source: string;
  /** All its JavaScript (a build may split into chunks). */
  bytes: number;
}

export interface TimedRun extends ActionRun {
  spawnAt: number;
  exitAt: number;
  /** Peak resident set size in KiB (memory: true only). */
  maxRssKb?: number;
}

interface Pending {
  build: Build;
  rssFile?: string;
  spawnAt: number;
  exitAt: number;
}

let pending: Pending | undefined;
const frozen: string[] = [];
const originalSpawn = childProcess.spawn as (...a: unknown[]) => ChildProcess;

function hookedSpawn(this: unknown, command: string, args?: readonly string[], options?: SpawnOptions): ChildProcess {
  const job = pending;
  pending = undefined;
  if (!job || command !== process.execPath || args?.[0] !== DIST) return originalSpawn.call(this, command, args, options);
  let argv = [job.build.path, ...args.slice(1)];
  let cmd = command;
  if (job.rssFile) {
    argv = ['-f', '%M', '-o', job.rssFile, command, ...argv];
    cmd = '/usr/bin/time';
  }
  job.spawnAt = now();
  const child = originalSpawn(cmd, argv, options);
  child.once('exit', () => (job.exitAt = now()));
  return child;
}

(childProcess as { spawn: unknown }).spawn = hookedSpawn;
syncBuiltinESMExports();

/** Copy a build's directory (`dist/` or `dist/index.js`; `label=path` names it) to a private one. */
export function freezeBuild(spec: string): Build {
  const [label, where] = spec.includes('=') ? (spec.split('=', 2) as [string, string]) : [undefined, spec];
  const index = resolve(where.endsWith('.js') ? where : join(where, 'index.js'));
  const dir = mkdtempSync(join(tmpdir(), 'osa-bench-dist-'));
  frozen.push(dir);
  cpSync(dirname(index), dir, { recursive: true });
  const path = join(dir, basename(index));
  const bytes = readdirSync(dir)
    .filter((f) => f.endsWith('.js'))
    .reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
  return { label: label ?? basename(dirname(index)), path, source: index, bytes };
}

export function releaseBuilds(): void {
  for (const dir of frozen.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** runAction on `build`, with spawn and exit times (and peak RSS with memory). runAction spawns synchronously, so `pending` is never another run's. */
export async function timedRun(build: Build, inputs: Record<string, string>, env: Record<string, string | undefined>, memory = false): Promise<TimedRun> {
  const job: Pending = { build, spawnAt: Number.NaN, exitAt: Number.NaN };
  if (memory) job.rssFile = join(mkdtempSync(join(tmpdir(), 'osa-bench-rss-')), 'rss');
  pending = job;
  const promise = runAction(inputs, env);
  if (pending === job) throw new Error('runAction did not spawn synchronously: the timing hook cannot attribute its spawn');
  const run: TimedRun = { ...(await promise), spawnAt: job.spawnAt, exitAt: job.exitAt };
  if (job.rssFile) {
    run.maxRssKb = Number(readFileSync(job.rssFile, 'utf8').trim().split('\n').pop());
    rmSync(dirname(job.rssFile), { recursive: true, force: true });
  }
  return run;
}

/** The `::debug::`-free end of a run's log, for error messages. */
export function tail(run: ActionRun, lines = 30): string {
  const out = run.stdout.split('\n').filter((l) => l && !l.startsWith('::debug::') && !l.startsWith('::add-mask::'));
  return `exit ${run.code}\n${out.slice(-lines).join('\n')}\n${run.stderr.slice(-2000)}`;
}
