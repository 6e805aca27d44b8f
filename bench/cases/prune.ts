// Prune at scale: N snapshots of one server in scope, `keep-last: 1`, so N-1 deletions.
//   action, unthrottled (`rate-limit: 0`), and at the default ceiling (10 requests/s);
//   the CLI's best case: ONE `openstack image delete id1 id2 …` over the same N-1 images.
// Requests are counted at the server (local cloud: its request log; real cloud: the proxy); peak
// memory is the process's max RSS from /usr/bin/time.
import { LocalCloud } from '../../test/local-cloud/cloud.ts';
import { now } from '../lib/clock.ts';
import { openstack } from '../lib/cli.ts';
import { pool } from '../lib/openstack.ts';
import { countBy, type ProxyRecord } from '../lib/proxy.ts';
import { median } from '../lib/stats.ts';
import { measureServiceCpu, RUN_PROPERTY, type RealCloud } from '../lib/real.ts';
import { tail, timedRun } from '../lib/timed-run.ts';

const MANAGED_BY = 'openstack-snapshot-action';

export type PruneWay = 'action-unthrottled' | 'action-ceiling' | 'cli';

export interface PruneRun {
  cloud: 'local' | 'real';
  way: PruneWay;
  /** Images in scope. */
  n: number;
  deleted: number;
  wallMs: number;
  requests: number;
  by: Record<string, number>;
  maxRssKb: number;
  /** Most requests that arrived within any 1-second window. */
  peakPerSecond: number;
  /** From the first request's arrival to the last one's. */
  requestSpanMs: number;
  /** Time to make the N images (not part of wallMs). */
  seedMs: number;
  /** DELETEs per second between the first DELETE's arrival and the last one's answer (or arrival, on the local cloud). */
  deletesPerSecond: number;
  /** Median time a DELETE took at the proxy (real cloud only). */
  deleteLatencyMs?: number;
  /** Real cloud: CPU seconds per wall second of the loopback services during the run (1 = one core busy). */
  serverBusy?: Record<string, number>;
  ceiling?: number;
}

/** Most arrivals within any window of `windowMs`. */
function peakRate(times: number[], windowMs = 1000): number {
  const ts = [...times].sort((a, b) => a - b);
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < ts.length; hi += 1) {
    while (ts[hi]! - ts[lo]! >= windowMs) lo += 1;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

function deleteStats(records: { method: string; t: number; tEnd?: number }[]): { deletesPerSecond: number; deleteLatencyMs?: number } {
  const deletes = records.filter((r) => r.method === 'DELETE');
  if (deletes.length < 2) return { deletesPerSecond: Number.NaN };
  const end = Math.max(...deletes.map((r) => r.tEnd ?? r.t));
  const span = end - deletes[0]!.t;
  const withEnd = deletes.filter((r) => r.tEnd !== undefined);
  return { deletesPerSecond: (deletes.length / span) * 1000, ...(withEnd.length ? { deleteLatencyMs: median(withEnd.map((r) => r.tEnd! - r.t)) } : {}) };
}

const pruneInputs = (instance: string, rateLimit: number, n: number) => ({
  mode: 'prune',
  instance,
  'keep-last': '1',
  'max-deletes': String(Math.max(100, n)),
  'rate-limit': String(rateLimit),
});

// ------------------------------------------------------------------------------------------------
// Local cloud

export async function pruneLocal(n: number, ways: PruneWay[], log: (s: string) => void): Promise<PruneRun[]> {
  const cloud = await LocalCloud.start({ snapshotSeconds: 2 });
  const out: PruneRun[] = [];
  try {
    const server = cloud.addServer({ region: 'GRA7', name: 'web-1' });
    const env = cloud.openrc();
    let round = 0;
    const seed = (): { ids: string[]; ms: number } => {
      const t = now();
      const base = Date.now() - 60_000;
      round += 1;
      const images = cloud.addImages('GRA7', n, (i) => ({
        name: `web-1-prune-${round}-${String(i).padStart(5, '0')}`,
        createdAt: new Date(base - i * 60_000),
        properties: { managed_by: MANAGED_BY, source_instance_id: server.id, image_type: 'snapshot', instance_uuid: server.id },
      }));
      return { ids: images.map((i) => i.id), ms: now() - t };
    };
    const inScope = () => cloud.images('GRA7').filter((i) => i.properties.source_instance_id === server.id && i.status === 'active');

    for (const way of ways) {
      const { ids, ms } = seed();
      cloud.resetRequests();
      let wallMs: number;
      let maxRssKb: number;
      let deleted: number;
      if (way === 'cli') {
        // ids[0] is the newest: the one keep-last 1 keeps.
        const run = await openstack(['image', 'delete', ...ids.slice(1)], env, { memory: true });
        if (run.code !== 0) throw new Error(`local CLI delete failed (exit ${run.code}): ${run.stderr.slice(-1000)}`);
        wallMs = run.exitAt - run.spawnAt;
        maxRssKb = run.maxRssKb ?? Number.NaN;
        deleted = n - inScope().length;
      } else {
        const ceiling = way === 'action-ceiling' ? 10 : 0;
        const run = await timedRun(pruneInputs(server.id, ceiling, n), env, { memory: true });
        if (run.code !== 0) throw new Error(`local prune (${way}) failed: ${tail(run)}`);
        wallMs = run.exitAt - run.spawnAt;
        maxRssKb = run.maxRssKb ?? Number.NaN;
        deleted = Number(run.outputs['deleted-count']);
      }
      const left = inScope();
      if (left.length !== 1) throw new Error(`local prune (${way}): ${left.length} images left in scope, expected 1`);
      const records = cloud.requests.filter((r) => r.service !== 'local');
      out.push({
        cloud: 'local',
        way,
        n,
        deleted,
        wallMs,
        requests: records.length,
        by: countBy(records.map((r) => ({ service: r.service, method: r.method, path: r.path.replace(/^\/(identity|compute|glance|volume)(-\w+)?(\/[A-Z0-9]+)?/, '') }))),
        maxRssKb,
        peakPerSecond: peakRate(records.map((r) => r.t)),
        requestSpanMs: records.length ? records.at(-1)!.t - records[0]!.t : 0,
        seedMs: ms,
        ...deleteStats(records),
        ...(way === 'action-ceiling' ? { ceiling: 10 } : {}),
      });
      log(`  local ${way}: ${deleted} deleted in ${(wallMs / 1000).toFixed(1)} s, ${records.length} requests, peak ${(maxRssKb / 1024).toFixed(0)} MB`);
      // The image keep-last kept goes too, so the next round's scope is exactly its own N.
      for (const image of left) cloud.world.deleteImage(cloud.world.findImage(image.id)!);
    }
  } finally {
    await cloud.stop();
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// Real cloud

async function seedReal(real: RealCloud, n: number, round: number): Promise<{ ids: string[]; ms: number }> {
  const t = now();
  await real.api.authenticate();
  const ids: string[] = [];
  // 8 in flight: Glance takes ~40 ms an image then (POST /v2/images, then PUT of 1 byte).
  await pool(
    Array.from({ length: n }, (_, i) => i),
    8,
    async (i) => {
      ids[i] = await real.api.tinyImage(`osa-bench-${real.tag}-prune-${round}-${String(i).padStart(5, '0')}`, {
        managed_by: MANAGED_BY,
        source_instance_id: real.serverId,
        [RUN_PROPERTY]: real.tag,
      });
    },
  );
  return { ids, ms: now() - t };
}

async function scopeReal(real: RealCloud): Promise<{ id: string; created_at: string }[]> {
  await real.api.authenticate();
  return real.api.images({ managed_by: MANAGED_BY, source_instance_id: real.serverId, owner: real.api.projectId, status: 'active', sort: 'created_at:desc,id:desc' });
}

export async function pruneReal(real: RealCloud, n: number, ways: PruneWay[], log: (s: string) => void): Promise<PruneRun[]> {
  const out: PruneRun[] = [];
  for (const [round, way] of ways.entries()) {
    const { ms } = await seedReal(real, n, round);
    const scope = await scopeReal(real);
    if (scope.length !== n) throw new Error(`real prune: ${scope.length} images in scope after seeding, expected ${n}`);
    log(`  real: seeded ${n} images in ${(ms / 1000).toFixed(1)} s`);
    const from = real.proxy.records.length;
    const { value: measured, busy } = await measureServiceCpu(SERVICES, async () => {
      if (way === 'cli') {
        // The newest (the action's sort: created_at desc, then id desc) is the one keep-last 1 keeps.
        const doomed = scope.slice(1).map((i) => i.id);
        const run = await openstack(['image', 'delete', ...doomed], real.osEnv, { memory: true });
        if (run.code !== 0) throw new Error(`real CLI delete failed (exit ${run.code}): ${run.stderr.slice(-1000)}`);
        return { wallMs: run.exitAt - run.spawnAt, maxRssKb: run.maxRssKb ?? Number.NaN, deleted: doomed.length };
      }
      const run = await timedRun(pruneInputs(real.serverId, way === 'action-ceiling' ? 10 : 0, n), real.osEnv, { memory: true });
      if (run.code !== 0) throw new Error(`real prune (${way}) failed: ${tail(run)}`);
      return { wallMs: run.exitAt - run.spawnAt, maxRssKb: run.maxRssKb ?? Number.NaN, deleted: Number(run.outputs['deleted-count']) };
    });
    const { wallMs, maxRssKb, deleted } = measured;
    const records = real.proxy.since(from);
    const left = await scopeReal(real);
    if (left.length !== 1) throw new Error(`real prune (${way}): ${left.length} images left in scope, expected 1`);
    out.push({
      cloud: 'real',
      way,
      n,
      deleted,
      wallMs,
      requests: records.length,
      by: countBy(records),
      maxRssKb,
      peakPerSecond: peakRate(records.map((r) => r.t)),
      requestSpanMs: records.length ? records.at(-1)!.t - records[0]!.t : 0,
      seedMs: ms,
      ...deleteStats(records),
      serverBusy: busy,
      ...(way === 'action-ceiling' ? { ceiling: 10 } : {}),
    });
    log(
      `  real ${way}: ${deleted} deleted in ${(wallMs / 1000).toFixed(1)} s, ${records.length} requests, peak ${(maxRssKb / 1024).toFixed(0)} MB, CPU ${Object.entries(busy)
        .map(([k, v]) => `${k} ${(v * 100).toFixed(0)} %`)
        .join(', ')}`,
    );
    await real.api.deleteImage(left[0]!.id);
  }
  return out;
}

const SERVICES = ['glance-gra7', 'mariadb', 'keystone'];

export interface CapacityProbe {
  concurrency: number;
  n: number;
  wallMs: number;
  perSecond: number;
  latencyMs: number;
  serverBusy: Record<string, number>;
}

/**
 * How many DELETEs a second the real cloud's Glance can take at all: `n` DELETEs from this process
 * (fetch, no start-up) with 1, 4 and 8 in flight, and how busy Glance's one process was. If the rate does not grow with concurrency, the
 * server is the bottleneck, whatever the client.
 */
export async function glanceCapacity(real: RealCloud, n: number, log: (s: string) => void): Promise<CapacityProbe[]> {
  const out: CapacityProbe[] = [];
  for (const [round, concurrency] of [1, 4, 8].entries()) {
    const { ids } = await seedReal(real, n, 100 + round);
    await real.api.authenticate();
    const from = real.proxy.records.length;
    const t = now();
    const { busy } = await measureServiceCpu(SERVICES, () => pool(ids, concurrency, (id) => real.api.deleteImage(id)));
    const wallMs = now() - t;
    const records: ProxyRecord[] = real.proxy.since(from).filter((r) => r.method === 'DELETE');
    out.push({ concurrency, n, wallMs, perSecond: (n / wallMs) * 1000, latencyMs: median(records.map((r) => r.tEnd - r.t)), serverBusy: busy });
  }
  log(`  Glance capacity: ${out.map((c) => `${c.concurrency} in flight: ${c.perSecond.toFixed(0)} DELETE/s (${c.latencyMs.toFixed(0)} ms each, glance ${((c.serverBusy['glance-gra7'] ?? Number.NaN) * 100).toFixed(0)} % CPU)`).join('; ')}`);
  return out;
}
