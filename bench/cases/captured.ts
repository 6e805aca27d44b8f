// wait: captured (issue 20). On the real loopback cloud, with its fake driver's phases set to a
// 2-s capture and a 60-s upload (GRA7's nova-compute restarted so, and back to its defaults at the
// end): the main step's end against the moment the server's task state reached image_uploading,
// how soon the capture and then (by the post step) `active` were noticed, the requests of each
// step; one run with stop-instance for its downtime. On the local cloud: the requests of a fleet
// of 10 against one server (one server listing per look). A watcher polls Nova and Glance every
// 50 ms directly (not through the proxy), so the moments it sees are within 50 ms.
import { setTimeout as sleep } from 'node:timers/promises';
import { LocalCloud } from '../../test/local-cloud/cloud.ts';
import { setSnapshotPhases } from '../../test/support/loopback.ts';
import { RUN_PROPERTY, type OpenStack } from '../../test/support/openstack.ts';
import { connect, loadConfig } from '../../test/support/real-cloud.ts';
import { mainThenPost } from '../../test/support/post-step.ts';
import { runAction, type ActionRun, type RunOptions } from '../../test/support/run-action.ts';
import { REGION, untilIdle, type RealCloud } from '../lib/real.ts';
import { tail } from '../lib/timed-run.ts';

export const PHASES = { captureS: 2, uploadS: 60 };
const WATCH_MS = 50;

export interface CapturedSingle {
  stopInstance: boolean;
  /** Main step's exit − the first look that saw task_state image_uploading. */
  mainEndAfterUploadingMs: number;
  /** captured-at output − that look. */
  captureNoticedMs: number;
  /** The post step's "uploaded by" − the first look that saw the image active. */
  activeNoticedMs: number;
  mainMs: number;
  postMs: number;
  mainRequests: number;
  postRequests: number;
  downtimeS?: number;
}

export interface CapturedFleet {
  n: number;
  requests: number;
  serverListings: number;
  serverGets: number;
  imageRequests: number;
  singleRequests: number;
}

export interface CapturedResult {
  phases: typeof PHASES;
  real: CapturedSingle[];
  fleet?: CapturedFleet;
}

const runner = (inputs: Record<string, string>, env: Record<string, string | undefined>, options: RunOptions) => runAction(inputs, env, options);
/** The post step's requests: none when it had nothing to do (a stop-instance create waits for active itself). */
const postRequests = (run: ActionRun) =>
  Number(/Post step done with (\d+) API requests/.exec(run.stdout)?.[1] ?? (/nothing to do/.test(run.stdout) ? 0 : Number.NaN));

/** Watch the server's task state and (once named) the image: when each state was first seen. */
function watch(api: OpenStack, serverId: string) {
  const seen = new Map<string, number>();
  let imageId: string | undefined;
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      const server = await api.server(serverId, REGION).catch(() => undefined);
      const task = server?.['OS-EXT-STS:task_state'];
      if (task && !seen.has(task)) seen.set(task, Date.now());
      if (imageId) {
        const image = await api.image(imageId, REGION).catch(() => undefined);
        if (image && !seen.has(`image:${image.status}`)) seen.set(`image:${image.status}`, Date.now());
      }
      await sleep(WATCH_MS);
    }
  })();
  return {
    seen,
    follow: (id: string) => (imageId = id),
    stop: async () => {
      stop = true;
      await loop;
    },
  };
}

async function single(real: RealCloud, direct: OpenStack, stopInstance: boolean, log: (s: string) => void): Promise<CapturedSingle> {
  await untilIdle(real.api, real.serverId);
  const watcher = watch(direct, real.serverId);
  const inputs = {
    instance: real.serverId,
    wait: 'captured',
    'stop-instance': String(stopInstance),
    'snapshot-name': `${real.cfg.tag}-captured-{timestamp}`,
    'snapshot-properties': `${RUN_PROPERTY}=${real.cfg.tag}`,
  };
  let mainExit = 0;
  const { main, post } = await mainThenPost(runner, inputs, real.osEnv, async (done) => {
    mainExit = Date.now();
    watcher.follow(done.outputs['snapshot-id'] ?? '');
  });
  await watcher.stop();
  if (main.code !== 0 || post.code !== 0) throw new Error(`captured run failed:\n${tail(main)}\n${tail(post)}`);
  const uploading = watcher.seen.get('image_uploading') ?? Number.NaN;
  const active = watcher.seen.get('image:active') ?? Number.NaN;
  const uploadedBy = Date.parse(/uploaded by (\S+)/.exec(post.stdout)?.[1] ?? '');
  const result: CapturedSingle = {
    stopInstance,
    mainEndAfterUploadingMs: mainExit - uploading,
    captureNoticedMs: Date.parse(main.outputs['captured-at'] ?? '') - uploading,
    activeNoticedMs: uploadedBy - active,
    mainMs: main.durationMs,
    postMs: post.durationMs,
    mainRequests: Number(main.outputs['api-requests']),
    postRequests: postRequests(post),
    ...(stopInstance ? { downtimeS: Number(main.outputs['downtime-seconds']) } : {}),
  };
  log(`  ${stopInstance ? 'stop-instance: ' : ''}${JSON.stringify(result)}`);
  return result;
}

/** The real cloud's part: the phases set on GRA7's nova-compute for the runs, its defaults again after. */
export async function capturedReal(real: RealCloud, runs: number, log: (s: string) => void): Promise<CapturedSingle[]> {
  const direct = await connect(loadConfig());
  log(`  GRA7 nova-compute with capture ${PHASES.captureS} s, upload ${PHASES.uploadS} s: ${await setSnapshotPhases(real.cfg, REGION, PHASES)} s to restart`);
  try {
    const results: CapturedSingle[] = [];
    for (let i = 0; i < runs; i += 1) results.push(await single(real, direct, false, log));
    results.push(await single(real, direct, true, log));
    return results;
  } finally {
    await untilIdle(real.api, real.serverId).catch(() => undefined);
    log(`  GRA7 nova-compute back to its default phases: ${await setSnapshotPhases(real.cfg, REGION, undefined)} s`);
  }
}

/** A fleet of n on the local cloud, with the same phases: the main step's requests, against one server's. */
export async function capturedFleet(n: number, log: (s: string) => void): Promise<CapturedFleet> {
  const cloud = await LocalCloud.start({ captureSeconds: PHASES.captureS, uploadSeconds: PHASES.uploadS });
  try {
    const auth = {
      'auth-url': cloud.authUrl,
      username: cloud.demo.username,
      password: cloud.demo.password,
      'project-name': cloud.demo.projectName,
      region: 'GRA7',
    };
    const servers = Array.from({ length: n }, (_, i) => cloud.addServer({ region: 'GRA7', name: `fleet-${i}`, tags: ['fleet'] }));
    const one = cloud.addServer({ region: 'GRA7', name: 'alone' });
    let mark = cloud.requests.length;
    const alone = await runAction({ ...auth, instance: one.id, wait: 'captured' }, {});
    if (alone.code !== 0) throw new Error(tail(alone));
    const singleRequests = cloud.requests.length - mark;
    mark = cloud.requests.length;
    const fleet = await runAction({ ...auth, 'instance-tags': 'fleet', wait: 'captured', 'max-parallel': String(n) }, {});
    if (fleet.code !== 0) throw new Error(tail(fleet));
    const records = cloud.requests.slice(mark);
    const result: CapturedFleet = {
      n,
      requests: records.length,
      serverListings: records.filter((r) => r.path.includes('changes-since')).length,
      serverGets: records.filter((r) => r.method === 'GET' && servers.some((s) => r.path.endsWith(`/servers/${s.id}`))).length,
      imageRequests: records.filter((r) => r.service === 'image').length,
      singleRequests,
    };
    log(`  fleet of ${n}: ${JSON.stringify(result)}`);
    return result;
  } finally {
    await cloud.stop();
  }
}
