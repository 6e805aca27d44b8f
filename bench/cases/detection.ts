// Detection delay on the project's local cloud, whose snapshot job turns active at a known
// millisecond (Glance's timestamps have 1-s precision, the local cloud's job an exact finalAt).
// The poll schedule is the same code whatever the cloud, so long snapshots (30 s and up: on the
// real cloud they are a nova-compute restart away) are measured here, plus 4.4-s ones like the
// loopback cloud's (not a whole second: the first polls come every 0.5 s, and a snapshot of
// exactly 4 s would be seen by the poll at 4.0 s, an unrealistically lucky phase). One LocalCloud
// per duration and build, all at once: the runs mostly sleep between polls.
import { LocalCloud } from '../../test/local-cloud/cloud.ts';
import { now } from '../lib/clock.ts';
import { tail, timedRun, type Build } from '../lib/timed-run.ts';

export interface DetectionRun {
  build: string;
  snapshotSeconds: number;
  /** image active → the action's exit (exact). */
  delayMs: number;
  /** delayMs / createImage → active. */
  ratio: number;
  /** The answer that saw active → exit. */
  exitAfterSeenMs: number;
  /** When each GET of the image arrived, in s after createImage. */
  pollAt: number[];
}

export const SHORT_SECONDS = 4.4;

async function runs(build: Build, seconds: number, count: number): Promise<DetectionRun[]> {
  const cloud = await LocalCloud.start({ snapshotSeconds: seconds });
  try {
    cloud.addServer({ region: 'GRA7', name: 'web-1' });
    // Each job's start and active moment on this process's clock.
    const jobs: { imageId: string; startAt: number; activeAt: number }[] = [];
    const world = cloud.world;
    const start = world.startImageSnapshot.bind(world);
    world.startImageSnapshot = (...args: Parameters<typeof start>) => {
      const [mine, theirs] = [now(), world.now()];
      const image = start(...args);
      if (image.job) jobs.push({ imageId: image.id, startAt: mine + (image.job.start - theirs), activeAt: mine + (image.job.finalAt - theirs) });
      return image;
    };
    const out: DetectionRun[] = [];
    for (let i = 0; i < count; i += 1) {
      cloud.resetRequests();
      const run = await timedRun(build, { instance: 'web-1', timeout: `${Math.ceil(seconds * 3 + 60)}s` }, cloud.openrc());
      const job = jobs.at(-1);
      if (run.code !== 0 || !job || job.imageId !== run.outputs['snapshot-id']) throw new Error(`local create (${seconds} s) failed: ${tail(run)}`);
      // Request records carry the cloud's own ms clock: relative to createImage, comparable with the job's.
      const createImage = cloud.requests.find((r) => r.action === 'createImage')!;
      const gets = cloud.requests.filter((r) => r.method === 'GET' && r.path.includes(`/v2/images/${job.imageId}`));
      const delayMs = run.exitAt - job.activeAt;
      out.push({
        build: build.label,
        snapshotSeconds: seconds,
        delayMs,
        ratio: delayMs / (job.activeAt - job.startAt),
        exitAfterSeenMs: run.exitAt - (job.startAt + gets.at(-1)!.t - createImage.t),
        pollAt: gets.map((g) => Math.round(g.t - createImage.t) / 1000),
      });
    }
    return out;
  } finally {
    await cloud.stop();
  }
}

export async function detection(builds: Build[], longSeconds: number[], shortRuns: number, log: (s: string) => void): Promise<DetectionRun[]> {
  const sets = builds.flatMap((b) => [runs(b, SHORT_SECONDS, shortRuns), ...longSeconds.map((s) => runs(b, s, 1))]);
  const all = (await Promise.all(sets)).flat();
  for (const r of all)
    log(
      `  ${r.build} ${r.snapshotSeconds} s snapshot: exit ${(r.delayMs / 1000).toFixed(2)} s after active (${(r.ratio * 100).toFixed(1)} %), ${r.pollAt.length} polls`,
    );
  return all;
}

/**
 * The worst phase of a measured schedule: a snapshot that turns active just after poll k is seen
 * by poll k + 1, so its delay is the gap plus the exit time. Over polls in [fromS, toS), the worst
 * by ratio to the elapsed time (or by delay, with byDelay).
 */
export function worstPhase(run: DetectionRun, fromS: number, toS = Infinity, byDelay = false): { delayMs: number; ratio: number; atS: number } {
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
