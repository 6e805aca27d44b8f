// Cold start: from spawning `node dist/index.js` (as the runner does) to the first HTTP request
// arriving at the server. The server is the counting proxy in front of the project's local cloud,
// so arrival is timed on the same clock as the spawn. For scale, the same is measured for a
// minimal Node program that sends one request as its first statement (Node's own floor).
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { LocalCloud } from '../../test/local-cloud/cloud.ts';
import { now } from '../lib/clock.ts';
import { CountingProxy } from '../lib/proxy.ts';
import { summarize, type Summary } from '../lib/stats.ts';
import { analyzeStartup, monotonicOffset, profileEnv, type StartupBreakdown } from '../lib/startup-profile.ts';
import { tail, timedRun } from '../lib/timed-run.ts';

export interface ColdStartResult {
  runs: number;
  /** spawn -> first request at the server, per run (ms). */
  firstRequestMs: number[];
  /** spawn -> exit of the whole run (a delete of a missing image: 2 requests). */
  totalMs: number[];
  /** spawn -> first request of `node -e "fetch(...)"`. */
  nodeFloorMs: number[];
  summary: { firstRequest: Summary; total: Summary; nodeFloor: Summary };
  /** CPU profiles of extra runs (not in the figures above: profiling slows the process down). */
  profiles: StartupBreakdown[];
  /** The profiles ran on a source-mapped twin built from src/ (dist/ has no map). */
  profiledTwin?: boolean;
  distBytes: number;
  distMapBytes: number;
}

export async function coldStart(
  runs: number,
  dist: { path: string; bytes: number; mapBytes: number },
  log: (s: string) => void,
  profileRuns = 3,
  mapped?: { path: string; mapPath: string; dir?: string },
): Promise<ColdStartResult> {
  const cloud = await LocalCloud.start({ snapshotSeconds: 2 });
  const port = Number(new URL(cloud.url).port);
  const proxy = await CountingProxy.start([{ service: 'local', host: '127.0.0.1', port }]);
  try {
    const authUrl = proxy.rewrite(cloud.authUrl);
    const env = cloud.openrc('GRA7', authUrl);
    const firstRequestMs: number[] = [];
    const totalMs: number[] = [];
    const nodeFloorMs: number[] = [];
    // One unmeasured run: the first spawn of a session pays for the page cache.
    await timedRun({ mode: 'delete', 'image-id': '00000000-0000-4000-8000-000000000000' }, env);
    for (let i = 0; i < runs; i += 1) {
      const from = proxy.records.length;
      const run = await timedRun({ mode: 'delete', 'image-id': '00000000-0000-4000-8000-000000000000' }, env);
      if (run.code !== 0) throw new Error(`cold-start run failed: ${tail(run)}`);
      const first = proxy.records[from];
      if (!first) throw new Error('cold-start run made no request');
      firstRequestMs.push(first.t - run.spawnAt);
      totalMs.push(run.exitAt - run.spawnAt);

      const floorFrom = proxy.records.length;
      const spawnAt = now();
      const child = spawn(process.execPath, ['-e', `fetch(${JSON.stringify(`${authUrl}/`)}).then(r => r.arrayBuffer())`], { stdio: 'ignore' });
      await new Promise((done) => child.on('close', done));
      const floorFirst = proxy.records[floorFrom];
      if (floorFirst) nodeFloorMs.push(floorFirst.t - spawnAt);
    }
    const profiles: StartupBreakdown[] = [];
    const offset = monotonicOffset();
    for (let i = 0; i < profileRuns; i += 1) {
      const { dir, NODE_OPTIONS } = profileEnv();
      const from = proxy.records.length;
      const target = mapped ?? { path: dist.path, mapPath: `${dist.path}.map` };
      const run = await timedRun({ mode: 'delete', 'image-id': '00000000-0000-4000-8000-000000000000' }, { ...env, NODE_OPTIONS }, { script: target.path });
      const first = proxy.records[from];
      if (run.code !== 0 || !first) throw new Error(`profiled cold-start run failed: ${tail(run)}`);
      profiles.push(analyzeStartup(dir, target.mapPath, run.spawnAt, first.t, offset));
    }
    log(`cold start: first request ${summarize(firstRequestMs).median.toFixed(0)} ms median (Node floor ${summarize(nodeFloorMs).median.toFixed(0)} ms)`);
    return {
      runs,
      firstRequestMs,
      totalMs,
      nodeFloorMs,
      summary: { firstRequest: summarize(firstRequestMs), total: summarize(totalMs), nodeFloor: summarize(nodeFloorMs) },
      profiles,
      ...(mapped?.dir ? { profiledTwin: true } : {}),
      distBytes: dist.bytes || statSync(dist.path).size,
      distMapBytes: dist.mapBytes,
    };
  } finally {
    await proxy.stop();
    await cloud.stop();
  }
}
