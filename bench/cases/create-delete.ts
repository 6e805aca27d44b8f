// create + wait + delete on the real cloud, three ways in each iteration (order rotated):
//   action: `mode: create` (waits for active) then `mode: delete`, two processes like two steps;
//   cli:    `openstack server image create --wait`, then `openstack image delete`;
//   floor:  the fewest requests, from this process (no start-up): auth, find the server,
//           createImage, GET the image every 50 ms until active, auth again, DELETE;
//   action-fix (with --what-if): the action built from a patched copy of src/ (bench/lib/variant.ts).
// Every request goes through the counting proxy, which also notes what Glance answered for the
// image (status, created_at, updated_at) and when.
import { randomUUID } from 'node:crypto';
import { now, sleep } from '../lib/clock.ts';
import { openstack } from '../lib/cli.ts';
import { Api } from '../lib/openstack.ts';
import { countBy, type ProxyRecord } from '../lib/proxy.ts';
import { computeMode, RUN_PROPERTY, SERVER_NAME, type RealCloud } from '../lib/real.ts';
import { tail, timedRun } from '../lib/timed-run.ts';

export type Way = 'action' | 'cli' | 'floor' | 'action-fix';

/** One process (or, for the floor, one phase of this process) and the requests it made. */
export interface Phase {
  spawnAt: number;
  exitAt: number;
  records: ProxyRecord[];
  maxRssKb?: number;
}

export interface WayRun {
  way: Way;
  iteration: number;
  imageId: string;
  create: Phase;
  delete: Phase;
  /** create spawn -> exit + delete spawn -> exit (floor: first request -> last response). */
  wallMs: number;
  /** Glance: created_at and updated_at of the image when first seen active (1-s precision). */
  glanceCreatedAt: number;
  glanceUpdatedAt: number;
  /** updated_at - created_at: the cloud's own work by Glance's clock. */
  glanceWorkMs: number;
  /** wallMs - glanceWorkMs: the overhead. */
  overheadMs: number;
  /** The active moment, bounded: [max(updated_at, last non-active GET's arrival), min(updated_at + 1 s, first active answer)]. */
  activeLo: number;
  activeHi: number;
  /** createImage's arrival at the proxy. */
  createImageAt: number;
  /** The same overhead with both Glance moments narrowed below a second (see preciseCloudWork). */
  overheadFineMs: number;
  /** GETs of the image while waiting. */
  polls: number;
  /** First GET answer with status active, as the proxy sent it on. */
  firstActiveSeenAt: number;
  /** create process exit (floor: the moment it saw active). */
  createDoneAt: number;
  requests: { create: number; delete: number; createBy: Record<string, number>; deleteBy: Record<string, number> };
}

export interface CreateDeleteResult {
  iterations: number;
  runs: WayRun[];
  failures: string[];
  /** The sequence of Keystone token times seen (ms), to show the cloud's floor. */
  tokenMs: number[];
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;
const TIMEOUT_S = 150;

function phaseOf(records: ProxyRecord[], spawnAt: number, exitAt: number, maxRssKb?: number): Phase {
  return { spawnAt, exitAt, records, ...(maxRssKb ? { maxRssKb } : {}) };
}

/** The image's Glance answers in a set of records, and what they bound. */
function imageView(records: ProxyRecord[], imageId: string) {
  const gets = records.filter((r) => r.image?.id === imageId);
  const firstActive = gets.find((r) => r.image!.status === 'active');
  if (!firstActive) return undefined;
  const before = gets.filter((r) => r.t < firstActive.t && r.image!.status !== 'active');
  const created = Date.parse(firstActive.image!.createdAt);
  const updated = Date.parse(firstActive.image!.updatedAt);
  const lastNotActive = before.at(-1);
  const lo = Math.max(updated, lastNotActive ? lastNotActive.t : -Infinity);
  const hi = Math.min(updated + 1000, firstActive.tEnd);
  return { created, updated, lo, hi, firstActive, polls: gets.filter((r) => r.t <= firstActive.t).length };
}

/**
 * The cloud's work as the issue defines it (Glance's created_at to the active moment), with both
 * ends narrowed below Glance's 1-s precision: the image was created within createImage's request
 * (between its arrival and its answer at the proxy) and within [created_at, created_at + 1 s); it
 * turned active within [activeLo, activeHi]. Midpoints of both intervals.
 */
export function preciseCloudWork(run: Pick<WayRun, 'glanceCreatedAt' | 'activeLo' | 'activeHi'> & { create: { records: ProxyRecord[] } }): number {
  const createImage = run.create.records.find((r) => r.service === 'compute' && r.method === 'POST' && /\/action$/.test(r.path));
  const lo = Math.max(run.glanceCreatedAt, createImage?.t ?? -Infinity);
  const hi = Math.min(run.glanceCreatedAt + 1000, createImage?.tEnd ?? Infinity);
  const created = lo <= hi ? (lo + hi) / 2 : run.glanceCreatedAt + 500;
  return (run.activeLo + run.activeHi) / 2 - created;
}

function finish(way: Way, iteration: number, imageId: string, create: Phase, del: Phase, wallMs: number, createDoneAt: number): WayRun {
  const view = imageView(create.records, imageId);
  if (!view) throw new Error(`${way}: no GET of image ${imageId} answered active`);
  const createImage = create.records.find((r) => r.service === 'compute' && r.method === 'POST' && /\/action$/.test(r.path));
  const createImageAt = createImage?.t ?? Number.NaN;
  const glanceWorkMs = view.updated - view.created;
  return {
    way,
    iteration,
    imageId,
    create,
    delete: del,
    wallMs,
    glanceCreatedAt: view.created,
    glanceUpdatedAt: view.updated,
    glanceWorkMs,
    overheadMs: wallMs - glanceWorkMs,
    activeLo: view.lo,
    activeHi: view.hi,
    createImageAt,
    overheadFineMs: wallMs - preciseCloudWork({ glanceCreatedAt: view.created, activeLo: view.lo, activeHi: view.hi, create }),
    polls: view.polls,
    firstActiveSeenAt: view.firstActive.tEnd,
    createDoneAt,
    requests: { create: create.records.length, delete: del.records.length, createBy: countBy(create.records), deleteBy: countBy(del.records) },
  };
}

async function runAction(real: RealCloud, iteration: number, script?: string): Promise<WayRun> {
  const p = real.proxy;
  const way: Way = script ? 'action-fix' : 'action';
  const opts = script ? { script } : {};
  let from = p.records.length;
  const create = await timedRun(
    { instance: SERVER_NAME, 'snapshot-name': `osa-bench-${real.tag}-${way}-${iteration}`, metadata: `${RUN_PROPERTY}=${real.tag}`, timeout: `${TIMEOUT_S}s` },
    real.osEnv,
    opts,
  );
  const createRecords = p.since(from);
  const imageId = create.outputs['image-id'];
  if (create.code !== 0 || !imageId) throw new Error(`action create failed: ${tail(create)}`);
  from = p.records.length;
  const del = await timedRun({ mode: 'delete', 'image-id': imageId }, real.osEnv, opts);
  const deleteRecords = p.since(from);
  if (del.code !== 0) throw new Error(`action delete failed: ${tail(del)}`);
  return finish(
    way,
    iteration,
    imageId,
    phaseOf(createRecords, create.spawnAt, create.exitAt),
    phaseOf(deleteRecords, del.spawnAt, del.exitAt),
    create.exitAt - create.spawnAt + (del.exitAt - del.spawnAt),
    create.exitAt,
  );
}

async function runCli(real: RealCloud, iteration: number): Promise<WayRun> {
  const p = real.proxy;
  let from = p.records.length;
  const name = `osa-bench-${real.tag}-cli-${iteration}`;
  const create = await openstack(
    ['server', 'image', 'create', '--name', name, '--property', `${RUN_PROPERTY}=${real.tag}`, '--wait', '-f', 'value', '-c', 'id', SERVER_NAME],
    real.osEnv,
    { timeoutMs: TIMEOUT_S * 1000 },
  );
  const createRecords = p.since(from);
  const imageId = create.stdout.split('\n').map((l) => l.trim()).reverse().find((l) => UUID.test(l));
  if (create.code !== 0 || !imageId) throw new Error(`cli create failed (exit ${create.code}): ${create.stdout.slice(-500)} ${create.stderr.slice(-1500)}`);
  from = p.records.length;
  const del = await openstack(['image', 'delete', imageId], real.osEnv);
  const deleteRecords = p.since(from);
  if (del.code !== 0) throw new Error(`cli delete failed (exit ${del.code}): ${del.stderr.slice(-1500)}`);
  return finish(
    'cli',
    iteration,
    imageId,
    phaseOf(createRecords, create.spawnAt, create.exitAt),
    phaseOf(deleteRecords, del.spawnAt, del.exitAt),
    create.exitAt - create.spawnAt + (del.exitAt - del.spawnAt),
    create.exitAt,
  );
}

/** The fewest requests that can do the job, from this warm process. */
async function runFloor(real: RealCloud, iteration: number): Promise<WayRun> {
  const p = real.proxy;
  let from = p.records.length;
  const api = new Api(real.rc, real.authUrl);
  const start = now();
  await api.authenticate();
  const server = await api.serverByName(SERVER_NAME);
  if (!server) throw new Error(`${SERVER_NAME} is gone`);
  const made = await api.createImage(server.id, `osa-bench-${real.tag}-floor-${iteration}`, { [RUN_PROPERTY]: real.tag, osa_bench_request: randomUUID() });
  if (made.status !== 202 || !made.imageId) throw new Error(`floor createImage: ${made.status} ${made.text.slice(0, 300)}`);
  const deadline = now() + TIMEOUT_S * 1000;
  for (;;) {
    const image = await api.image(made.imageId);
    if (image?.status === 'active') break;
    if (!image || ['killed', 'deleted'].includes(image.status)) throw new Error(`floor: image ${made.imageId} is ${image?.status ?? 'gone'}`);
    if (now() > deadline) throw new Error(`floor: image ${made.imageId} still ${image.status} after ${TIMEOUT_S} s (queued mode?)`);
    await sleep(50);
  }
  const sawActive = now();
  const createRecords = p.since(from);
  from = p.records.length;
  const again = new Api(real.rc, real.authUrl);
  const deleteStart = now();
  await again.authenticate();
  const status = await again.deleteImage(made.imageId);
  if (status !== 204) throw new Error(`floor: DELETE answered ${status}`);
  const end = now();
  return finish(
    'floor',
    iteration,
    made.imageId,
    phaseOf(createRecords, start, sawActive),
    phaseOf(p.since(from), deleteStart, end),
    end - start,
    sawActive,
  );
}

export async function createDelete(real: RealCloud, iterations: number, log: (s: string) => void, variant?: string): Promise<CreateDeleteResult> {
  const runs: WayRun[] = [];
  const failures: string[] = [];
  const RUNNERS: Record<Way, (real: RealCloud, iteration: number) => Promise<WayRun>> = {
    action: (r, i) => runAction(r, i),
    cli: runCli,
    floor: runFloor,
    'action-fix': (r, i) => runAction(r, i, variant),
  };
  const ways: Way[] = ['action', 'cli', 'floor', ...(variant ? (['action-fix'] as Way[]) : [])];
  for (let i = 0; i < iterations; i += 1) {
    const order = ways.map((_, k) => ways[(k + i) % ways.length]!);
    for (const way of order) {
      for (let attempt = 1; ; attempt += 1) {
        await waitForUploadMode(log);
        await real.api.authenticate();
        await real.api.untilIdle(real.serverId);
        try {
          const run = await RUNNERS[way](real, i);
          runs.push(run);
          log(
            `  #${i} ${way.padEnd(10)} wall ${(run.wallMs / 1000).toFixed(2)} s, glance work ${(run.glanceWorkMs / 1000).toFixed(0)} s, overhead ${(run.overheadMs / 1000).toFixed(2)} s (fine ${(run.overheadFineMs / 1000).toFixed(2)} s), ${run.requests.create}+${run.requests.delete} requests, ${run.polls} polls`,
          );
          break;
        } catch (error) {
          const message = `#${i} ${way} attempt ${attempt}: ${(error as Error).message}`;
          failures.push(message);
          log(`  ${message}`);
          await cleanupRun(real);
          if (attempt >= 3) break;
          await sleep(15_000);
        }
      }
    }
  }
  const tokenMs = runs.flatMap((r) => [...r.create.records, ...r.delete.records]).filter((r) => r.service === 'identity' && r.method === 'POST').map((r) => r.tEnd - r.t);
  return { iterations, runs, failures, tokenMs };
}

/** If GRA7's nova-compute was switched to queued mode (the e2e tier does that briefly), wait. */
async function waitForUploadMode(log: (s: string) => void): Promise<void> {
  const deadline = now() + 10 * 60_000;
  let said = false;
  while (computeMode() === 'queued') {
    if (!said) log('  GRA7 nova-compute is in queued mode (snapshots would never finish): waiting');
    said = true;
    if (now() > deadline) throw new Error('GRA7 nova-compute stayed in queued mode for 10 minutes');
    await sleep(5000);
  }
}

/** After a failed attempt: delete this run's images that are not being made right now. */
async function cleanupRun(real: RealCloud): Promise<void> {
  try {
    await real.api.authenticate();
    await real.api.untilIdle(real.serverId, 120_000).catch(() => undefined);
    for (const image of await real.api.images({ [RUN_PROPERTY]: real.tag, owner: real.api.projectId })) await real.api.deleteImage(image.id);
  } catch {
    // best effort; closeReal tries again
  }
}
