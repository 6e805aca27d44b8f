// stop-instance with the job cancelled as the runner cancels it (SIGINT, SIGTERM 7.5 s later, SIGKILL
// 2.5 s after that), on the real loopback cloud, whose os-stop, os-start and snapshot tasks are
// Nova's own: checked through Nova that the server runs again (or that the run named it), and
// through Glance that no snapshot was requested after the signal. One server is booted here
// and deleted at the end, whatever happened; the snapshots are deleted too.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runAction, type ActionRun } from '../support/run-action.ts';
import { Api, appcredInputs, cleanupRegion, loadConfig, passwordInputs, RUN_PROPERTY, type Server } from './cloud.ts';

const cfg = loadConfig();
const R1 = cfg.region;
const TAG = cfg.tag;
const auth = () => (cfg.password ? passwordInputs(cfg) : appcredInputs(cfg));
const log = (run: ActionRun) =>
  `exit ${run.code}\n${run.stdout
    .split('\n')
    .filter((l) => !l.startsWith('::debug::'))
    .slice(-40)
    .join('\n')}\n${run.stderr.slice(-2000)}`;

let api: Api;
let server: Server | undefined;

before(async () => {
  api = await Api.connect(cfg);
});

after(async () => {
  if (!api) return;
  if (server) await api.deleteServer(R1, server.id).catch((error: Error) => console.log(`# cleanup: ${error.message}`));
  console.log(`# cleanup ${R1}: ${(await cleanupRegion(api, R1)).join(', ') || 'nothing left'}`);
});

/** A stop-instance create of the booted server, cancelled by the runner once the log shows `at`. */
function cancelledCreate(name: string, at: RegExp): Promise<ActionRun> {
  return runAction(
    {
      mode: 'create',
      region: R1,
      instance: server!.id,
      'stop-instance': 'true',
      'snapshot-name': `${TAG}-${name}-{timestamp}`,
      'snapshot-properties': `${RUN_PROPERTY}=${TAG}`,
      ...auth(),
    },
    {},
    { cancelOn: { pattern: at, signal: 'runner' } },
  );
}

/** Through Nova: the server runs again (Nova may still be starting it), or the run named it as down. */
async function runsAgainOrNamed(run: ActionRun): Promise<void> {
  const named = run.stdout.includes(`openstack server start ${server!.id}`);
  const now = await api
    .waitServer(R1, server!.id, (s) => named || (s?.status === 'ACTIVE' && s['OS-EXT-STS:task_state'] === null), 30_000)
    .catch(() => undefined);
  assert.ok(named || now, `server ${server!.id} runs again or was named as down\n${log(run)}`);
  // What a later test needs, and what a user would do with the named command.
  if (named) await api.request('compute', R1, 'POST', `/servers/${server!.id}/action`, { json: { 'os-start': null }, ok: [202, 409] });
  await api.waitServer(R1, server!.id, (s) => s?.status === 'ACTIVE' && s['OS-EXT-STS:task_state'] === null, 120_000);
}

const ourImages = async (name: string) =>
  (await api.listImages(R1, { [RUN_PROPERTY]: TAG, owner: api.projectId })).filter((i) => i.name?.startsWith(`${TAG}-${name}-`));

describe('stop-instance, the job cancelled, on the real cloud', () => {
  test('cancelled while the server is being stopped, then while its snapshot is being made: it runs again each time', { timeout: 300_000 }, async (t) => {
    if (!cfg.loopback) return t.skip('boots a server: only on the loopback cloud, where it costs nothing');
    const main = (await api.getServer(R1, cfg.instance)) ?? (await api.serverNamed(R1, cfg.instance));
    server = await api.createServer(R1, {
      name: `${TAG}-cancel`,
      imageRef: (main.image as { id: string }).id,
      flavorRef: 'osl-tiny',
      metadata: { [RUN_PROPERTY]: TAG },
    });
    assert.equal(server.status, 'ACTIVE');

    const stopping = await cancelledCreate('stopping', /Stopping instance/);
    assert.equal(stopping.code, 1, `failed on its own before SIGKILL\n${log(stopping)}`);
    await runsAgainOrNamed(stopping);

    const snapshotting = await cancelledCreate('snapshotting', /Snapshot requested/);
    assert.equal(snapshotting.code, 1, `failed on its own before SIGKILL\n${log(snapshotting)}`);
    await runsAgainOrNamed(snapshotting);
    const [image] = await ourImages('snapshotting');
    assert.ok(image, 'the snapshot requested before the signal');
    assert.equal(snapshotting.outputs['snapshot-id'], image.id, 'its ID is in the outputs');
    assert.equal(image.source_instance_id, server.id);
    // Checked last: a createImage sent as the process ended may reach Glance seconds later.
    assert.deepEqual(await ourImages('stopping'), [], 'no snapshot was requested after the signal');
    for (const run of [stopping, snapshotting]) assert.match(run.stdout, /::error::The job was cancelled \(SIGINT\)/);
  });
});
