// Debian's python3-openstackclient (/usr/bin/openstack), timed like the action: spawn to exit,
// optionally with its peak RSS through /usr/bin/time. Only the OS_* variables given are set, and
// /usr/bin comes first on PATH (not pyenv's python).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { now } from './clock.ts';

export const OPENSTACK = '/usr/bin/openstack';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  spawnAt: number;
  exitAt: number;
  maxRssKb?: number;
}

export async function openstack(args: string[], osEnv: Record<string, string>, opts: { memory?: boolean; timeoutMs?: number } = {}): Promise<CliRun> {
  const env = { PATH: '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', LANG: 'C.UTF-8', ...osEnv };
  const rssFile = opts.memory ? join(mkdtempSync(join(tmpdir(), 'osa-bench-cli-')), 'rss') : undefined;
  const [cmd, argv] = rssFile ? ['/usr/bin/time', ['-f', '%M', '-o', rssFile, OPENSTACK, ...args]] : [OPENSTACK, args];
  const spawnAt = now();
  const child = spawn(cmd, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let exitAt = Number.NaN;
  child.once('exit', () => (exitAt = now()));
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c));
  child.stderr.on('data', (c: Buffer) => (stderr += c));
  const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGTERM'), opts.timeoutMs) : undefined;
  const code = await new Promise<number>((done) => child.on('close', (c) => done(c ?? -1)));
  clearTimeout(timer);
  const run: CliRun = { code, stdout, stderr, spawnAt, exitAt };
  if (rssFile) {
    run.maxRssKb = Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop());
    rmSync(dirname(rssFile), { recursive: true, force: true });
  }
  return run;
}

export function cliVersion(): Promise<string> {
  return openstack(['--version'], {}).then((r) => (r.stdout + r.stderr).trim());
}
