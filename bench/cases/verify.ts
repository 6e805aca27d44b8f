// mode verify on the real cloud: from the spawn of the action to its exit (the throwaway server's
// deletion confirmed), beside Debian's CLI doing the same by hand on the same snapshot:
// `openstack --os-compute-api-version 2.37 server create --nic none --wait` then
// `openstack server delete --wait`; every request counted by the proxy.
import { poll } from '../../test/support/poll.ts';
import { openstack } from '../lib/cli.ts';
import { now } from '../lib/clock.ts';
import { REGION, SERVER_NAME, untilIdle, type RealCloud } from '../lib/real.ts';
import { tail, timedRun, type Build } from '../lib/timed-run.ts';

export interface VerifyRun {
  /** 'action' or 'cli'. */
  way: string;
  iteration: number;
  /** Start to end: the action's one process; the CLI's two, back to back. */
  wallMs: number;
  /** The CLI's create --wait alone (the boot), and the action's own boot_seconds. */
  bootMs: number;
  requests: number;
}

export interface VerifyResult {
  imageId: string;
  runs: VerifyRun[];
  failures: string[];
}

export async function verifyBench(build: Build, real: RealCloud, runs: number, log: (s: string) => void): Promise<VerifyResult> {
  const { api, proxy } = real;
  await untilIdle(api, real.serverId);
  const answer = await api.createImage(real.serverId, `${real.cfg.tag}-verify`);
  const imageId: string = answer.body.image_id;
  await poll(`snapshot ${imageId} active`, async () => ((await api.image(imageId))?.status === 'active' ? true : undefined), {
    timeoutMs: 180_000,
    everyMs: 500,
  });
  const result: VerifyResult = { imageId, runs: [], failures: [] };
  for (let iteration = 0; iteration < runs; iteration++) {
    for (const way of iteration % 2 ? ['cli', 'action'] : ['action', 'cli']) {
      const from = proxy.records.length;
      if (way === 'action') {
        const run = await timedRun(build, { mode: 'verify', instance: SERVER_NAME, 'snapshot-id': imageId, region: REGION }, real.osEnv);
        if (run.code !== 0) {
          result.failures.push(`action #${iteration}: ${tail(run)}`);
          continue;
        }
        const [row] = JSON.parse(run.outputs.verifications ?? '[]') as { boot_seconds: number }[];
        result.runs.push({
          way,
          iteration,
          wallMs: run.exitAt - run.spawnAt,
          bootMs: (row?.boot_seconds ?? Number.NaN) * 1000,
          requests: proxy.since(from).length,
        });
      } else {
        const name = `${real.cfg.tag}-cli-${iteration}`;
        const t = now();
        const created = await openstack(
          ['--os-compute-api-version', '2.37', 'server', 'create', '--image', imageId, '--flavor', 'osl-tiny', '--nic', 'none', '--wait', name],
          real.osEnv,
          { timeoutMs: 300_000 },
        );
        const booted = now();
        const deleted = await openstack(['server', 'delete', '--wait', name], real.osEnv, { timeoutMs: 300_000 });
        if (created.code !== 0 || deleted.code !== 0) {
          result.failures.push(`cli #${iteration}: ${created.stderr.slice(-500)} ${deleted.stderr.slice(-500)}`);
          continue;
        }
        result.runs.push({ way, iteration, wallMs: now() - t, bootMs: booted - t, requests: proxy.since(from).length });
      }
      const last = result.runs.at(-1);
      if (last) log(`  ${way} #${iteration}: ${(last.wallMs / 1000).toFixed(1)} s, ${last.requests} requests`);
    }
  }
  await api.deleteImage(imageId);
  return result;
}
