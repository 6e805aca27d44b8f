// Detection delay on the project's local cloud, where the moment a snapshot turns active is known
// to the millisecond (Glance's timestamps have 1-second precision; the local cloud's snapshot job
// has an exact finalAt). The action's poll schedule is the same code whatever the cloud, so long
// snapshots (30/60/120 s: the real cloud's delay is a nova-compute restart away) are measured here,
// plus short ones (4.4 s, like the loopback cloud's queued -> active) as a cross-check of the
// real-cloud estimate. (Not a whole number of seconds: the first polls come at 0, 1, 2… s, and a
// snapshot of exactly 4 s would be seen by the poll at 4.0 s, an unrealistically lucky phase.)
// Each duration gets its own LocalCloud, so they all run at once.
import { LocalCloud } from '../../test/local-cloud/cloud.ts';
import type { RequestRecord } from '../../test/local-cloud/cloud.ts';
import { now } from '../lib/clock.ts';
import { tail, timedRun } from '../lib/timed-run.ts';

export interface DetectionRun {
  snapshotSeconds: number;
  /** 'action', or 'action-fix' for the --what-if build. */
  build: string;
  /** createImage reached the cloud -> image active (exact). */
  elapsedMs: number;
  /** image active -> the action process exited. */
  delayMs: number;
  /** image active -> the poll that saw it was answered (server side). */
  seenAfterMs: number;
  ratio: number;
  /** The poll's answer -> process exit (ms). */
  exitAfterSeenMs: number;
  polls: number;
  /** When each GET of the image arrived, in s after createImage. */
  pollAt: number[];
}

interface Job {
  imageId: string;
  /** Epoch ms on this process's clock. */
  startAt: number;
  activeAt: number;
}

/** Note every snapshot job the cloud starts, with its exact start and finish on our clock. */
function watchJobs(cloud: LocalCloud): Job[] {
  const jobs: Job[] = [];
  const world = cloud.world;
  const original = world.startImageSnapshot.bind(world);
  world.startImageSnapshot = (...args: Parameters<typeof original>) => {
    const mine = now();
    const wall = world.now();
    const image = original(...args);
    const job = image.job;
    if (job) jobs.push({ imageId: image.id, startAt: mine + (job.start - wall), activeAt: mine + (job.finalAt - wall) });
    return image;
  };
  return jobs;
}

async function runOne(cloud: LocalCloud, jobs: Job[], snapshotSeconds: number, script?: string): Promise<DetectionRun> {
  const env = cloud.openrc();
  cloud.resetRequests();
  const before = jobs.length;
  const run = await timedRun({ instance: 'web-1', timeout: `${Math.ceil(snapshotSeconds * 3 + 60)}s` }, env, script ? { script } : {});
  if (run.code !== 0) throw new Error(`local create (${snapshotSeconds} s) failed: ${tail(run)}`);
  const job = jobs[before];
  if (!job || job.imageId !== run.outputs['image-id']) throw new Error('the snapshot job was not seen');
  const records: RequestRecord[] = cloud.requests;
  const createImage = records.find((r) => r.action === 'createImage')!;
  const gets = records.filter((r) => r.method === 'GET' && r.path.includes(`/v2/images/${job.imageId}`));
  const delayMs = run.exitAt - job.activeAt;
  const elapsedMs = job.activeAt - job.startAt;
  // Records carry the cloud's own ms clock: the poll that saw active, relative to createImage.
  const sawAt = gets.at(-1)!.t - createImage.t;
  return {
    snapshotSeconds,
    build: script ? 'action-fix' : 'action',
    elapsedMs,
    delayMs,
    seenAfterMs: sawAt - elapsedMs,
    ratio: delayMs / elapsedMs,
    exitAfterSeenMs: run.exitAt - (job.startAt + sawAt),
    polls: gets.length,
    pollAt: gets.map((g) => Math.round(g.t - createImage.t) / 1000),
  };
}

export const SHORT_SECONDS = 4.4;

/**
 * The worst phase of a schedule: a snapshot that turns active just after poll k is seen by poll
 * k+1, so the delay is the gap plus the exit time. Over polls k in [fromS, toS) seconds, the
 * worst by ratio to the elapsed time (or by delay, with byDelay).
 */
export function worstCase(run: DetectionRun, fromS: number, toS = Infinity, byDelay = false): { delayMs: number; ratio: number; atS: number } {
  let worst = { delayMs: 0, ratio: 0, atS: Number.NaN };
  for (let k = 0; k + 1 < run.pollAt.length; k += 1) {
    const at = run.pollAt[k]!;
    if (at < fromS || at >= toS || at <= 0) continue;
    const delayMs = (run.pollAt[k + 1]! - at) * 1000 + run.exitAfterSeenMs;
    const ratio = delayMs / (at * 1000);
    if (byDelay ? delayMs > worst.delayMs : ratio > worst.ratio) worst = { delayMs, ratio, atS: at };
  }
  return worst;
}

export interface DetectionLocalResult {
  long: DetectionRun[];
  short: DetectionRun[];
  /** The --what-if build, same durations. */
  fix?: { long: DetectionRun[]; short: DetectionRun[] };
}

export async function detectionLocal(longSeconds: number[], shortRuns: number, log: (s: string) => void, variant?: string): Promise<DetectionLocalResult> {
  const one = async (seconds: number, runs: number, script?: string): Promise<DetectionRun[]> => {
    const cloud = await LocalCloud.start({ snapshotSeconds: seconds });
    try {
      cloud.addServer({ region: 'GRA7', name: 'web-1' });
      const jobs = watchJobs(cloud);
      const out: DetectionRun[] = [];
      for (let i = 0; i < runs; i += 1) {
        const r = await runOne(cloud, jobs, seconds, script);
        out.push(r);
        log(`  local ${seconds} s snapshot${script ? ' (what-if build)' : ''}: exit ${(r.delayMs / 1000).toFixed(2)} s after active (${(r.ratio * 100).toFixed(1)} % of ${(r.elapsedMs / 1000).toFixed(0)} s), ${r.polls} polls`);
      }
      return out;
    } finally {
      await cloud.stop();
    }
  };
  const set = async (script?: string) => {
    const [short, ...long] = await Promise.all([shortRuns > 0 ? one(SHORT_SECONDS, shortRuns, script) : Promise.resolve([]), ...longSeconds.map((s) => one(s, 1, script))]);
    return { short: short ?? [], long: long.flat() };
  };
  const [actual, fix] = await Promise.all([set(), variant ? set(variant) : Promise.resolve(undefined)]);
  return { ...actual, ...(fix ? { fix } : {}) };
}
