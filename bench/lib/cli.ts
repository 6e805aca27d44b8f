// Debian's python3-openstackclient (/usr/bin/openstack), timed like the action: spawn to exit,
// optionally with its peak RSS through /usr/bin/time. Only the OS_* variables given are set (no
// pyenv on PATH: /usr/bin first).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
  const env: Record<string, string> = { PATH: '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', LANG: 'C.UTF-8', ...osEnv };
  let cmd = OPENSTACK;
  let argv = args;
  let rssDir: string | undefined;
  if (opts.memory) {
    rssDir = mkdtempSync(join(tmpdir(), 'osa-bench-cli-'));
    cmd = '/usr/bin/time';
    argv = ['-f', '%M', '-o', join(rssDir, 'rss'), OPENSTACK, ...args];
  }
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
  if (timer) clearTimeout(timer);
  const run: CliRun = { code, stdout, stderr, spawnAt, exitAt };
  if (rssDir) {
    run.maxRssKb = Number(readFileSync(join(rssDir, 'rss'), 'utf8').trim().split('\n').pop());
    rmSync(rssDir, { recursive: true, force: true });
  }
  return run;
}

export function cliVersion(): Promise<string> {
  return openstack(['--version'], {}).then((r) => (r.stdout + r.stderr).trim());
}
