// A fleet in one step beside the same servers one step each (as a matrix of jobs would do them):
// N servers selected by a tag, mode create, one step at `max-parallel` N (at most 32) under one
// ceiling, then each server in a step of its own, all at once. Requests are counted at the server
// (local cloud: its request log; real cloud: the proxy). Goals (issue "Fleets"): the fleet's wall
// time within 1.25× of its slowest single step, fewer requests than the singles together, and the
// fleet's request rate never above its ceiling in any 1-second window.
import pMap from 'p-map';
import { LocalCloud } from '../../test/local-cloud/cloud.ts';
import { RUN_PROPERTY, type Server } from '../../test/support/openstack.ts';
import type { RealCloud } from '../lib/real.ts';
import { peakRate } from '../lib/stats.ts';
import { tail, timedRun, type Build } from '../lib/timed-run.ts';

export interface FleetRun {
  cloud: 'local' | 'real';
  n: number;
  ceiling: number;
  fleet: { wallMs: number; requests: number; peakPerSecond: number };
  singles: { wallMs: number; requests: number }[];
}

/** What a cloud gives the case: its servers' IDs, its request times since a mark, and the step's environment. */
interface Arena {
  cloud: FleetRun['cloud'];
  serverIds: string[];
  /** The servers' tag, which selects the fleet. */
  tag: string;
  /** RUN_PROPERTY of every snapshot made, which the cleanup finds them by. */
  runTag: string;
  env: Record<string, string>;
  mark(): number;
  requestsSince(mark: number): number[];
}

const CEILING = 20;

async function measure(build: Build, arena: Arena, log: (s: string) => void): Promise<FleetRun> {
  const n = arena.serverIds.length;
  const common = {
    'rate-limit': String(CEILING),
    'snapshot-name': `${arena.tag}-{instance}-{timestamp}`,
    'snapshot-properties': `${RUN_PROPERTY}=${arena.runTag}`,
  };
  let mark = arena.mark();
  const fleetRun = await timedRun(build, { ...common, 'instance-tags': arena.tag, 'max-parallel': String(Math.min(32, n)) }, arena.env);
  if (fleetRun.code !== 0) throw new Error(`fleet step failed: ${tail(fleetRun)}`);
  const times = arena.requestsSince(mark);
  const fleet = { wallMs: fleetRun.exitAt - fleetRun.spawnAt, requests: times.length, peakPerSecond: peakRate(times) };
  mark = arena.mark();
  const singles = await pMap(
    arena.serverIds,
    async (id) => {
      const run = await timedRun(build, { ...common, instance: id }, arena.env);
      if (run.code !== 0) throw new Error(`single step of ${id} failed: ${tail(run)}`);
      return { wallMs: run.exitAt - run.spawnAt, requests: Number(run.outputs['api-requests']) };
    },
    { concurrency: n },
  );
  const total = arena.requestsSince(mark).length;
  log(
    `  ${arena.cloud} fleet of ${n}: ${(fleet.wallMs / 1000).toFixed(1)} s, ${fleet.requests} requests, peak ${fleet.peakPerSecond}/s; one step each: slowest ${(Math.max(...singles.map((s) => s.wallMs)) / 1000).toFixed(1)} s, ${total} requests`,
  );
  return { cloud: arena.cloud, n, ceiling: CEILING, fleet, singles };
}

export async function fleetLocal(build: Build, n: number, log: (s: string) => void): Promise<FleetRun> {
  const cloud = await LocalCloud.start({ snapshotSeconds: 2 });
  try {
    const tag = 'bench-fleet';
    const serverIds = Array.from({ length: n }, (_, i) => cloud.addServer({ region: 'GRA7', name: `web-${i + 1}`, tags: [tag] }).id);
    const records = () => cloud.requests.filter((r) => r.service !== 'local');
    return await measure(
      build,
      {
        cloud: 'local',
        serverIds,
        tag,
        runTag: tag,
        env: cloud.openrc(),
        mark: () => records().length,
        requestsSince: (m) =>
          records()
            .slice(m)
            .map((r) => r.t),
      },
      log,
    );
  } finally {
    await cloud.stop();
  }
}

/** N servers of the bench's own on the real cloud, tagged, booted here and deleted at the end (their snapshots by closeReal). */
export async function fleetReal(build: Build, real: RealCloud, n: number, log: (s: string) => void): Promise<FleetRun> {
  const tag = `${real.cfg.tag}-fleet`;
  const imageRef = (await real.api.images({ name: 'osl-tiny-image' }))[0]?.id;
  if (!imageRef) throw new Error('no osl-tiny-image to boot the fleet from');
  const servers: Server[] = [];
  try {
    // Each is kept as soon as it is made, so that a failure (the project's instance quota) deletes those already booted.
    await pMap(
      Array.from({ length: n }, (_, i) => i),
      async (i) => void servers.push(await real.api.createServer({ name: `${tag}-${i + 1}`, imageRef, flavorRef: 'osl-tiny', tags: [tag] })),
      { concurrency: 5 },
    );
    if (servers.some((s) => s.status !== 'ACTIVE')) throw new Error(`fleet servers: ${servers.map((s) => s.status).join(', ')}`);
    const arena: Arena = {
      cloud: 'real',
      serverIds: servers.map((s) => s.id),
      tag,
      runTag: real.cfg.tag,
      env: real.osEnv,
      mark: () => real.proxy.records.length,
      requestsSince: (m) => real.proxy.since(m).map((r) => r.t),
    };
    return await measure(build, arena, log);
  } finally {
    await pMap(servers, (s) => real.api.deleteServer(s.id), { concurrency: 5 });
  }
}
