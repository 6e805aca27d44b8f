// Knobs that only the loopback cloud (../shared/openstack-loopback) has: switching a region's
// nova-compute between snapshot modes. In `queued` mode Nova's snapshot of an image-backed server
// "finishes" on the compute host without uploading anything, so the Glance image stays queued
// forever: the real shape of a snapshot that never completes.

import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from './openstack.ts';
import { poll } from './poll.ts';
import { adminCredentials, connect, type RealConfig } from './real-cloud.ts';

export type SnapshotMode = 'upload' | 'queued';

/** Where the start/stop output goes (it is long): one file per process. */
export const KNOB_LOG = join(tmpdir(), `osa-real-loopback-${process.pid}.log`);

function run(cfg: RealConfig, args: string[], extraEnv: Record<string, string>): Promise<void> {
  return new Promise((done, fail) => {
    appendFileSync(
      KNOB_LOG,
      `\n$ ${Object.entries(extraEnv)
        .map(([k, v]) => `${k}=${v} `)
        .join('')}${args.join(' ')}\n`,
    );
    const child = spawn(args[0]!, args.slice(1), { cwd: cfg.oslDir, env: { ...process.env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (chunk: Buffer) => appendFileSync(KNOB_LOG, chunk));
    child.stderr.on('data', (chunk: Buffer) => appendFileSync(KNOB_LOG, chunk));
    child.on('error', fail);
    child.on('close', (code) => (code === 0 ? done() : fail(new Error(`${args.join(' ')} exited with ${code}; see ${KNOB_LOG}`))));
  });
}

const service = (region: string) => `nova-compute-${region.toLowerCase()}`;

/** The snapshot mode the region's running nova-compute was started with (from its environment). */
export function currentMode(cfg: RealConfig, region: string): SnapshotMode | undefined {
  const pidFile = join(cfg.oslState, 'run', `${service(region)}.pid`);
  if (!existsSync(pidFile)) return undefined;
  try {
    const environ = readFileSync(`/proc/${readFileSync(pidFile, 'utf8').trim()}/environ`, 'utf8').split('\0');
    if (!environ.includes(`OSL_SERVICE=${service(region)}`)) return undefined;
    const mode = environ.find((e) => e.startsWith('OSL_SNAPSHOT_MODE='))?.split('=')[1];
    return mode === 'queued' ? 'queued' : 'upload';
  } catch {
    return undefined;
  }
}

/**
 * Wait until the region's nova-compute has reported to Nova after `since`: it then consumes its
 * RPC queue (a createImage cast sent before that would be reset by init_host and fail).
 */
async function untilComputeReports(cfg: RealConfig, region: string, since: number, timeoutMs = 90_000): Promise<void> {
  const admin = await connect(cfg, adminCredentials(cfg));
  await poll(
    `${service(region)} to report to Nova`,
    async () => {
      const { services } = expect(await admin.nova('GET', '/os-services?binary=nova-compute', { region })).body;
      // Nova's updated_at is UTC without a zone.
      return services.some(
        (s: { state: string; status: string; updated_at: string | null }) =>
          s.state === 'up' && s.status === 'enabled' && s.updated_at && Date.parse(`${s.updated_at.replace(/Z?$/, 'Z')}`) > since,
      );
    },
    { timeoutMs, everyMs: 1000 },
  );
}

/**
 * Restart only the region's nova-compute in `mode` (the other regions keep working) and wait
 * until it serves again. Does nothing when it already runs in that mode. Returns the seconds spent.
 */
export async function setSnapshotMode(cfg: RealConfig, region: string, mode: SnapshotMode): Promise<number> {
  if (!cfg.oslDir) throw new Error('the loopback cloud scripts are not available (OSL_DIR)');
  const started = Date.now();
  if (currentMode(cfg, region) === mode) return 0;
  await run(cfg, ['./stop.sh', service(region)], {});
  // Nova's timestamps have whole seconds: compare from the second before the start.
  const since = Math.floor(Date.now() / 1000) * 1000 - 1000;
  await run(cfg, ['./start.sh'], { OSL_SNAPSHOT_MODE: mode });
  if (currentMode(cfg, region) !== mode) throw new Error(`${service(region)} did not come back in mode ${mode}; see ${KNOB_LOG}`);
  await untilComputeReports(cfg, region, since);
  return (Date.now() - started) / 1000;
}

/** The two snapshot phases of the fake driver (OSL_SNAPSHOT_CAPTURE_S, OSL_SNAPSHOT_UPLOAD_S); undefined: its defaults. */
export interface SnapshotPhases {
  captureS: number;
  uploadS: number;
}

/** The phases the region's running nova-compute was started with, or undefined for the defaults (or when it does not run). */
export function currentPhases(cfg: RealConfig, region: string): SnapshotPhases | undefined {
  const pidFile = join(cfg.oslState, 'run', `${service(region)}.pid`);
  try {
    const environ = readFileSync(`/proc/${readFileSync(pidFile, 'utf8').trim()}/environ`, 'utf8').split('\0');
    const value = (name: string) => environ.find((e) => e.startsWith(`${name}=`))?.split('=')[1];
    const [capture, upload] = [value('OSL_SNAPSHOT_CAPTURE_S'), value('OSL_SNAPSHOT_UPLOAD_S')];
    return capture && upload ? { captureS: Number(capture), uploadS: Number(upload) } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Restart only the region's nova-compute (upload mode) with these phases, or with the defaults
 * (undefined), and wait until it serves again. The cloud is shared: hold /tmp/osa-real.lock
 * around the run that calls this (scripts/real-cloud.sh under flock). Returns the seconds spent.
 */
export async function setSnapshotPhases(cfg: RealConfig, region: string, phases: SnapshotPhases | undefined): Promise<number> {
  if (!cfg.oslDir) throw new Error('the loopback cloud scripts are not available (OSL_DIR)');
  const started = Date.now();
  const now = currentPhases(cfg, region);
  if (currentMode(cfg, region) === 'upload' && JSON.stringify(now) === JSON.stringify(phases)) return 0;
  await run(cfg, ['./stop.sh', service(region)], {});
  const since = Math.floor(Date.now() / 1000) * 1000 - 1000;
  const env: Record<string, string> = phases
    ? { OSL_SNAPSHOT_MODE: 'upload', OSL_SNAPSHOT_CAPTURE_S: String(phases.captureS), OSL_SNAPSHOT_UPLOAD_S: String(phases.uploadS) }
    : { OSL_SNAPSHOT_MODE: 'upload', OSL_SNAPSHOT_CAPTURE_S: '', OSL_SNAPSHOT_UPLOAD_S: '' };
  await run(cfg, ['./start.sh'], env);
  await untilComputeReports(cfg, region, since);
  return (Date.now() - started) / 1000;
}
