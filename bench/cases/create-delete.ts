// create + wait + delete on the real cloud, every way in each iteration (order rotated):
//   action (one per --dist build): `mode: create` (waits for active), then `mode: delete`: two
//           processes, like two steps;
//   cli:    `openstack server image create --wait`, then `openstack image delete`;
//   floor:  the fewest requests, from this process (no start-up): authenticate, find the server,
//           createImage, GET the image every 50 ms until active; authenticate again (as a second
//           step must), DELETE.
// Every request goes through the counting proxy, which also notes what Glance answered for the
// image (status, created_at, updated_at) and when.
import { expect, RUN_PROPERTY } from '../../test/support/openstack.ts';
import { poll } from '../../test/support/poll.ts';
import { connect } from '../../test/support/real-cloud.ts';
import { openstack } from '../lib/cli.ts';
import { now, sleep } from '../lib/clock.ts';
import type { ProxyRecord } from '../lib/proxy.ts';
import { SERVER_NAME, untilIdle, untilUploadMode, type RealCloud } from '../lib/real.ts';
import { tail, timedRun, type Build } from '../lib/timed-run.ts';

/** One process (for the floor: one phase of this process) and the requests it made. */
export interface Phase {
  startAt: number;
  endAt: number;
  records: ProxyRecord[];
}

export interface WayRun {
  /** 'action' (with the build's label when there are several), 'cli' or 'floor'. */
  way: string;
  iteration: number;
  imageId: string;
  create: Phase;
  delete: Phase;
  /** Both phases, start to end. */
  wallMs: number;
  /** Glance's updated_at − created_at of the image first seen active (1-s precision): the cloud's work as the issue defines it. */
  glanceWorkMs: number;
  /** The same narrowed below a second (see cloudWork). */
  cloudWorkMs: number;
  /** The active moment lies in [activeLo, activeHi]. */
  activeLo: number;
  activeHi: number;
  /** The answer that first said active, as the proxy sent it on. */
  seenActiveAt: number;
  polls: number;
}

export interface CreateDeleteResult {
  runs: WayRun[];
  failures: string[];
}

const TIMEOUT_S = 150;
const UUID = /[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}/;
export const isCreateImage = (r: ProxyRecord) => r.service === 'compute' && r.method === 'POST' && r.path.endsWith('/action');

/**
 * The cloud's work, narrowed below Glance's 1-s timestamps: the image was created during
 * createImage's request and within [created_at, +1 s); it turned active after updated_at and after
 * the last poll that still saw it otherwise, and before updated_at + 1 s and the first answer that
 * said active. Midpoints of both intervals.
 */
function measure(way: string, iteration: number, imageId: string, create: Phase, del: Phase, wallMs: number): WayRun {
  const gets = create.records.filter((r) => r.image?.id === imageId);
  const active = gets.find((r) => r.image!.status === 'active');
  const createImage = create.records.find(isCreateImage);
  if (!active || !createImage) throw new Error(`${way}: no createImage, or no GET of image ${imageId} answered active`);
  const created = Date.parse(active.image!.createdAt);
  const updated = Date.parse(active.image!.updatedAt);
  const lastBefore = gets.filter((r) => r.t < active.t).at(-1);
  const activeLo = Math.max(updated, lastBefore?.t ?? -Infinity);
  const activeHi = Math.min(updated + 1000, active.tEnd);
  const createdLo = Math.max(created, createImage.t);
  const createdHi = Math.min(created + 1000, createImage.tEnd);
  const createdAt = createdLo <= createdHi ? (createdLo + createdHi) / 2 : created + 500;
  return {
    way,
    iteration,
    imageId,
    create,
    delete: del,
    wallMs,
    glanceWorkMs: updated - created,
    cloudWorkMs: (activeLo + activeHi) / 2 - createdAt,
    activeLo,
    activeHi,
    seenActiveAt: active.tEnd,
    polls: gets.filter((r) => r.t <= active.t).length,
  };
}

async function runAction(real: RealCloud, build: Build, way: string, iteration: number): Promise<WayRun> {
  const p = real.proxy;
  let from = p.records.length;
  const name = `${real.cfg.tag}-${way.replace(/\W+/g, '-')}-${iteration}`;
  const create = await timedRun(
    build,
    { instance: SERVER_NAME, 'snapshot-name': name, 'snapshot-properties': `${RUN_PROPERTY}=${real.cfg.tag}`, timeout: `${TIMEOUT_S}s` },
    real.osEnv,
  );
  const createRecords = p.since(from);
  const imageId = create.outputs['snapshot-id'];
  if (create.code !== 0 || !imageId) throw new Error(`action create failed: ${tail(create)}`);
  from = p.records.length;
  const del = await timedRun(build, { mode: 'delete', 'snapshot-id': imageId }, real.osEnv);
  if (del.code !== 0) throw new Error(`action delete failed: ${tail(del)}`);
  const wall = create.exitAt - create.spawnAt + (del.exitAt - del.spawnAt);
  return measure(
    way,
    iteration,
    imageId,
    { startAt: create.spawnAt, endAt: create.exitAt, records: createRecords },
    { startAt: del.spawnAt, endAt: del.exitAt, records: p.since(from) },
    wall,
  );
}

async function runCli(real: RealCloud, iteration: number): Promise<WayRun> {
  const p = real.proxy;
  let from = p.records.length;
  const args = [
    'server',
    'image',
    'create',
    '--name',
    `${real.cfg.tag}-cli-${iteration}`,
    '--property',
    `${RUN_PROPERTY}=${real.cfg.tag}`,
    '--wait',
    '-f',
    'value',
    '-c',
    'id',
    SERVER_NAME,
  ];
  const create = await openstack(args, real.osEnv, { timeoutMs: TIMEOUT_S * 1000 });
  const createRecords = p.since(from);
  const imageId = create.stdout
    .split('\n')
    .reverse()
    .find((l) => UUID.test(l))
    ?.trim();
  if (create.code !== 0 || !imageId) throw new Error(`cli create failed (exit ${create.code}): ${create.stdout.slice(-500)} ${create.stderr.slice(-1500)}`);
  from = p.records.length;
  const del = await openstack(['image', 'delete', imageId], real.osEnv);
  if (del.code !== 0) throw new Error(`cli delete failed (exit ${del.code}): ${del.stderr.slice(-1500)}`);
  const wall = create.exitAt - create.spawnAt + (del.exitAt - del.spawnAt);
  return measure(
    'cli',
    iteration,
    imageId,
    { startAt: create.spawnAt, endAt: create.exitAt, records: createRecords },
    { startAt: del.spawnAt, endAt: del.exitAt, records: p.since(from) },
    wall,
  );
}

async function runFloor(real: RealCloud, iteration: number): Promise<WayRun> {
  const p = real.proxy;
  let from = p.records.length;
  const start = now();
  const api = await connect(real.cfg);
  const [server] = await api.serversNamed(SERVER_NAME);
  if (!server) throw new Error(`${SERVER_NAME} is gone`);
  const imageId: string = expect(await api.createImage(server.id, `${real.cfg.tag}-floor-${iteration}`)).body.image_id;
  const active = async () => {
    const image = await api.image(imageId);
    if (!image || ['killed', 'deleted'].includes(image.status)) throw new Error(`floor: image ${imageId} is ${image?.status ?? 'gone'}`);
    return image.status === 'active';
  };
  await poll(`floor: image ${imageId} active`, active, { timeoutMs: TIMEOUT_S * 1000, everyMs: 50 });
  const sawActive = now();
  const createRecords = p.since(from);
  from = p.records.length;
  const deleteStart = now();
  if ((await (await connect(real.cfg)).deleteImage(imageId)) !== 'deleted') throw new Error(`floor: image ${imageId} was gone before its DELETE`);
  const end = now();
  return measure(
    'floor',
    iteration,
    imageId,
    { startAt: start, endAt: sawActive, records: createRecords },
    { startAt: deleteStart, endAt: end, records: p.since(from) },
    end - start,
  );
}

export async function createDelete(real: RealCloud, builds: Build[], iterations: number, log: (s: string) => void): Promise<CreateDeleteResult> {
  const runs: WayRun[] = [];
  const failures: string[] = [];
  const ways: [string, (i: number) => Promise<WayRun>][] = [
    ...builds.map((b): [string, (i: number) => Promise<WayRun>] => {
      const way = builds.length > 1 ? `action ${b.label}` : 'action';
      return [way, (i) => runAction(real, b, way, i)];
    }),
    ['cli', (i) => runCli(real, i)],
    ['floor', (i) => runFloor(real, i)],
  ];
  for (let i = 0; i < iterations; i += 1) {
    for (let k = 0; k < ways.length; k += 1) {
      const [way, run] = ways[(k + i) % ways.length]!;
      for (let attempt = 1; attempt <= 3; attempt += 1) {
        await untilUploadMode(log);
        await untilIdle(real.api, real.serverId);
        try {
          const r = await run(i);
          runs.push(r);
          log(
            `  #${i} ${way.padEnd(14)} wall ${(r.wallMs / 1000).toFixed(2)} s, overhead ${((r.wallMs - r.cloudWorkMs) / 1000).toFixed(2)} s, ${r.create.records.length}+${r.delete.records.length} requests, ${r.polls} polls`,
          );
          break;
        } catch (error) {
          failures.push(`#${i} ${way} attempt ${attempt}: ${(error as Error).message}`);
          log(`  ${failures.at(-1)}`);
          // Whatever this attempt left, except a snapshot still being made (untilIdle first).
          await untilIdle(real.api, real.serverId, 120_000).catch(() => undefined);
          for (const image of await real.api.images({ [RUN_PROPERTY]: real.cfg.tag })) await real.api.deleteImage(image.id);
          if (attempt < 3) await sleep(15_000);
        }
      }
    }
  }
  return { runs, failures };
}
