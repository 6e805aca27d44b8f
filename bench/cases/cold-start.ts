// Cold start: from spawning `node <build>/index.js` (as the runner does) to the first HTTP request
// arriving at the server: the counting proxy in front of the project's local cloud, so that the
// arrival is timed on the same clock as the spawn. The run is a delete of a missing image (auth,
// one GET). For scale, the same for a Node program whose first statement is one fetch (Node's
// own floor). Builds and the floor are interleaved run by run, so load changes hit them alike.
import { spawn } from 'node:child_process';
import { LocalCloud } from '../../test/local-cloud/cloud.ts';
import { now } from '../lib/clock.ts';
import { CountingProxy } from '../lib/proxy.ts';
import { median } from '../lib/stats.ts';
import { tail, timedRun, type Build } from '../lib/timed-run.ts';

export interface ColdStartResult {
  /** spawn → first request at the server (ms), per build label, per run. */
  firstRequestMs: Record<string, number[]>;
  /** spawn → exit of the whole run, per build label. */
  totalMs: Record<string, number[]>;
  /** spawn → first request of `node -e "fetch(url)"`, run i in the same round as each build's run i. */
  nodeFloorMs: number[];
}

/** What a build adds to Node alone, pair by pair: run i of the build less Node alone's run i (same round, so the same load). */
export const aboveNode = (c: ColdStartResult, label: string): number[] => (c.firstRequestMs[label] ?? []).map((ms, i) => ms - (c.nodeFloorMs[i] ?? Number.NaN));

const MISSING = { mode: 'delete', 'snapshot-id': '00000000-0000-4000-8000-000000000000' };

export async function coldStart(builds: Build[], runs: number, log: (s: string) => void): Promise<ColdStartResult> {
  const cloud = await LocalCloud.start();
  const proxy = await CountingProxy.start([{ service: 'local', host: '127.0.0.1', port: Number(new URL(cloud.url).port) }]);
  const result: ColdStartResult = { firstRequestMs: {}, totalMs: {}, nodeFloorMs: [] };
  try {
    const authUrl = proxy.rewrite(cloud.authUrl);
    const env = cloud.openrc('GRA7', authUrl);
    const nodeFloor = async () => {
      const from = proxy.records.length;
      const spawnAt = now();
      const child = spawn(process.execPath, ['-e', `fetch(${JSON.stringify(`${authUrl}/`)}).then((r) => r.arrayBuffer())`], { stdio: 'ignore' });
      await new Promise((done) => child.on('close', done));
      return proxy.records[from]!.t - spawnAt;
    };
    // One unmeasured round: the first spawns of a session pay for the page cache.
    for (const b of builds) await timedRun(b, MISSING, env);
    await nodeFloor();
    for (let i = 0; i < runs; i += 1) {
      for (const b of builds) {
        const from = proxy.records.length;
        const run = await timedRun(b, MISSING, env);
        const first = proxy.records[from];
        if (run.code !== 0 || !first) throw new Error(`cold-start run of ${b.label} failed: ${tail(run)}`);
        (result.firstRequestMs[b.label] ??= []).push(first.t - run.spawnAt);
        (result.totalMs[b.label] ??= []).push(run.exitAt - run.spawnAt);
      }
      result.nodeFloorMs.push(await nodeFloor());
    }
    const medians = builds
      .map(
        (b) =>
          `${b.label} ${median(result.firstRequestMs[b.label]!).toFixed(0)} ms (${median(aboveNode(result, b.label)).toFixed(0)} ms above Node alone, by pairs)`,
      )
      .join(', ');
    log(`cold start, spawn → first request (medians): ${medians}; Node alone ${median(result.nodeFloorMs).toFixed(0)} ms`);
    return result;
  } finally {
    await proxy.stop();
    await cloud.stop();
  }
}
