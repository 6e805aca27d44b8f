// Prune at scale: N snapshots of one server in scope, `keep-last: 1`, so N − 1 deletions:
//   the action unthrottled (`rate-limit: 0`) and at the default ceiling (10 requests/s);
//   the CLI's best case: ONE `openstack image delete id1 id2 …` over the same N − 1 images;
//   the floor under the action's memory (local cloud): the same DELETEs from a process that does
//   nothing else but send them with got (lib/delete-floor.mjs).
// Requests are counted at the server (local cloud: its request log; real cloud: the proxy); peak
// memory is the process's max RSS from /usr/bin/time. On the real cloud, also how fast Glance
// itself takes DELETEs from this process, and how busy its one process is meanwhile.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pMap from 'p-map';
import { MANAGED_BY } from '../../src/lib/constants.ts';
import { LocalCloud } from '../../test/local-cloud/cloud.ts';
import { openstack } from '../lib/cli.ts';
import { now } from '../lib/clock.ts';
import { countBy } from '../lib/proxy.ts';
import type { RealCloud } from '../lib/real.ts';
import { median, peakRate } from '../lib/stats.ts';
import { tail, timedRun, type Build } from '../lib/timed-run.ts';

export type PruneWay = 'action-unthrottled' | 'action-ceiling' | 'cli' | 'got-alone';

export interface PruneRun {
  cloud: 'local' | 'real';
  way: PruneWay;
  n: number;
  deleted: number;
  wallMs: number;
  requests: number;
  by: Record<string, number>;
  maxRssKb: number;
  /** Most requests that arrived within any 1-second window. */
  peakPerSecond: number;
  /** Real cloud: CPU seconds per wall second of the loopback services during the run. */
  serverBusy?: Record<string, number>;
}

export interface CapacityProbe {
  concurrency: number;
  n: number;
  perSecond: number;
  latencyMs: number;
  serverBusy: Record<string, number>;
}

const inputs = (instance: string, way: PruneWay, n: number) => ({
  mode: 'prune',
  instance,
  'keep-last': '1',
  'max-deletes': String(Math.max(100, n)),
  'rate-limit': way === 'action-ceiling' ? '10' : '0',
});

/** lib/delete-floor.mjs over `doomed` (got alone), under /usr/bin/time. */
async function deleteFloor(doomed: string[], env: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'osa-bench-floor-'));
  try {
    writeFileSync(join(dir, 'ids'), doomed.join('\n'));
    const script = join(import.meta.dirname, '../lib/delete-floor.mjs');
    const start = now();
    const child = spawn('/usr/bin/time', ['-f', '%M', '-o', join(dir, 'rss'), process.execPath, script, join(dir, 'ids')], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? dir, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c));
    child.stderr.on('data', (c: Buffer) => (out += c));
    const code = await new Promise<number>((done) => child.on('close', (c) => done(c ?? -1)));
    const wallMs = now() - start;
    if (code !== 0) throw new Error(`delete-floor failed (exit ${code}): ${out.slice(-1000)}`);
    const maxRssKb = Number(readFileSync(join(dir, 'rss'), 'utf8').trim().split('\n').pop());
    return { wallMs, maxRssKb, deleted: Number(out.trim().split('\n').pop()) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One way over `doomed` (the N − 1 the action would delete): wall time, peak RSS, deletions. */
async function runWay(build: Build, way: PruneWay, instance: string, n: number, doomed: string[], env: Record<string, string>) {
  if (way === 'got-alone') return deleteFloor(doomed, env);
  if (way === 'cli') {
    const run = await openstack(['image', 'delete', ...doomed], env, { memory: true });
    if (run.code !== 0) throw new Error(`CLI delete failed (exit ${run.code}): ${run.stderr.slice(-1000)}`);
    return { wallMs: run.exitAt - run.spawnAt, maxRssKb: run.maxRssKb!, deleted: doomed.length };
  }
  const run = await timedRun(build, inputs(instance, way, n), env, true);
  if (run.code !== 0) throw new Error(`prune (${way}) failed: ${tail(run)}`);
  return { wallMs: run.exitAt - run.spawnAt, maxRssKb: run.maxRssKb!, deleted: Number(run.outputs['deleted-count']) };
}

/** Every way at each scale in turn (500 and 5,000 by default: how memory grows with the scope), on one local cloud. */
export async function pruneLocal(build: Build, scales: number[], ways: PruneWay[], log: (s: string) => void): Promise<PruneRun[]> {
  const cloud = await LocalCloud.start();
  const out: PruneRun[] = [];
  try {
    const server = cloud.addServer({ region: 'GRA7', name: 'web-1' });
    const inScope = () => cloud.images('GRA7').filter((i) => i.properties.source_instance_id === server.id && i.status === 'active');
    const rounds = scales.flatMap((n) => ways.map((way) => ({ n, way })));
    for (const [round, { n, way }] of rounds.entries()) {
      const base = Date.now() - 60_000;
      const ids = cloud
        .addImages('GRA7', n, (i) => ({
          name: `web-1-prune-${round}-${i}`,
          createdAt: new Date(base - i * 60_000),
          properties: { managed_by: MANAGED_BY, source_instance_id: server.id, image_type: 'snapshot', instance_uuid: server.id },
        }))
        .map((i) => i.id);
      cloud.resetRequests();
      // ids[0] is the newest: the one keep-last 1 keeps.
      const run = await runWay(build, way, server.id, n, ids.slice(1), cloud.openrc());
      const left = inScope();
      if (left.length !== 1) throw new Error(`local prune (${way}): ${left.length} images left in scope, expected 1`);
      const records = cloud.requests.filter((r) => r.service !== 'local');
      const path = (p: string) => p.replace(/^\/(identity|compute|glance|volume)(-\w+)?(\/[A-Z0-9]+)?/, '');
      out.push({
        cloud: 'local',
        way,
        n,
        ...run,
        requests: records.length,
        by: countBy(records.map((r) => ({ ...r, path: path(r.path) }))),
        peakPerSecond: peakRate(records.map((r) => r.t)),
      });
      log(
        `  local ${way}, N ${n}: ${run.deleted} deleted in ${(run.wallMs / 1000).toFixed(1)} s, ${records.length} requests, peak ${(run.maxRssKb / 1024).toFixed(0)} MB`,
      );
      // The kept one goes too, so the next round's scope is exactly its own N.
      cloud.world.deleteImage(cloud.world.findImage(left[0]!.id)!);
    }
  } finally {
    await cloud.stop();
  }
  return out;
}

/** N private 1-byte images of the bench server, as the action's prune sees its snapshots (8 in flight). */
async function seedReal(real: RealCloud, n: number, round: number): Promise<string[]> {
  const properties = { managed_by: MANAGED_BY, source_instance_id: real.serverId };
  return pMap(
    Array.from({ length: n }, (_, i) => i),
    async (i) => (await real.api.seedImage(`${real.cfg.tag}-prune-${round}-${i}`, properties)).id,
    { concurrency: 8 },
  );
}

/** The action's scope, newest first (its sort: created_at desc, then id desc). */
const scopeReal = (real: RealCloud) =>
  real.api.images({
    managed_by: MANAGED_BY,
    source_instance_id: real.serverId,
    owner: real.api.projectId,
    status: 'active',
    sort: 'created_at:desc,id:desc',
    limit: '1000',
  });

export async function pruneReal(build: Build, real: RealCloud, n: number, ways: PruneWay[], log: (s: string) => void): Promise<PruneRun[]> {
  const out: PruneRun[] = [];
  for (const [round, way] of ways.entries()) {
    const t = now();
    await seedReal(real, n, round);
    const scope = await scopeReal(real);
    if (scope.length !== n) throw new Error(`real prune: ${scope.length} images in scope after seeding, expected ${n}`);
    log(`  real: seeded ${n} images in ${((now() - t) / 1000).toFixed(1)} s`);
    const from = real.proxy.records.length;
    const { value: run, busy } = await busyWhile(() =>
      runWay(
        build,
        way,
        real.serverId,
        n,
        scope.slice(1).map((i) => i.id),
        real.osEnv,
      ),
    );
    const records = real.proxy.since(from);
    const left = await scopeReal(real);
    if (left.length !== 1) throw new Error(`real prune (${way}): ${left.length} images left in scope, expected 1`);
    out.push({
      cloud: 'real',
      way,
      n,
      ...run,
      requests: records.length,
      by: countBy(records),
      peakPerSecond: peakRate(records.map((r) => r.t)),
      serverBusy: busy,
    });
    log(
      `  real ${way}: ${run.deleted} deleted in ${(run.wallMs / 1000).toFixed(1)} s, ${records.length} requests, peak ${(run.maxRssKb / 1024).toFixed(0)} MB, glance ${((busy.glance ?? Number.NaN) * 100).toFixed(0)} % CPU`,
    );
    await real.api.deleteImage(left[0]!.id);
  }
  return out;
}

/** `n` DELETEs from this process (no start-up) at 1, 4 and 8 in flight: if the rate does not grow, the server is the bottleneck. */
export async function glanceCapacity(real: RealCloud, n: number, log: (s: string) => void): Promise<CapacityProbe[]> {
  const out: CapacityProbe[] = [];
  for (const [round, concurrency] of [1, 4, 8].entries()) {
    const ids = await seedReal(real, n, 100 + round);
    const from = real.proxy.records.length;
    const t = now();
    const { busy } = await busyWhile(() => pMap(ids, (id) => real.api.deleteImage(id), { concurrency }));
    const deletes = real.proxy.since(from).filter((r) => r.method === 'DELETE');
    out.push({ concurrency, n, perSecond: (n / (now() - t)) * 1000, latencyMs: median(deletes.map((r) => r.tEnd - r.t)), serverBusy: busy });
  }
  log(`  Glance alone: ${out.map((c) => `${c.concurrency} in flight ${c.perSecond.toFixed(0)} DELETE/s`).join(', ')}`);
  return out;
}

/** The loopback services whose CPU use is read from /proc (their PID files, checked against OSL_SERVICE as stop.sh does). */
const SERVICES = { glance: 'glance-gra7', mariadb: 'mariadb', keystone: 'keystone' };

function cpuSeconds(service: string): number | undefined {
  try {
    const pid = readFileSync(`${process.env.OSL ?? '/tmp/osl'}/run/${service}.pid`, 'utf8').trim();
    if (!readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`OSL_SERVICE=${service}`)) return undefined;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // utime and stime: fields 14 and 15 of proc(5), 11 and 12 after "(comm) ".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** CPU seconds per wall second of each service while `fn` runs (1 = one core busy). */
async function busyWhile<T>(fn: () => Promise<T>): Promise<{ value: T; busy: Record<string, number> }> {
  const before = Object.entries(SERVICES).map(([k, s]) => [k, s, cpuSeconds(s)] as const);
  const t = now();
  const value = await fn();
  const wall = (now() - t) / 1000;
  const busy: Record<string, number> = {};
  for (const [k, s, a] of before) {
    const b = cpuSeconds(s);
    if (a !== undefined && b !== undefined) busy[k] = (b - a) / wall;
  }
  return { value, busy };
}
