// stop-instance with the job cancelled as the runner cancels it (SIGINT, SIGTERM 7.5 s later, SIGKILL
// 2.5 s after that), on the real loopback cloud, whose os-stop, os-start and snapshot tasks are
// Nova's own: checked through Nova that the server runs again (or that the run named it), and
// through Glance that no snapshot was requested after the signal. One server is booted here
// and deleted at the end, whatever happened; the snapshots are deleted too.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { expect, isIdle, RUN_PROPERTY, type OpenStack, type Server } from '../support/openstack.ts';
import { authInputs, cleanupRegion, connect, loadConfig, runLog } from '../support/real-cloud.ts';
import { runAction, type ActionRun } from '../support/run-action.ts';

const cfg = loadConfig();
const R1 = cfg.region;
const TAG = cfg.tag;

let api: OpenStack;
let server: Server | undefined;

before(async () => {
  api = await connect(cfg);
});

after(async () => {
  if (!api) return;
  if (server) await api.deleteServer(server.id).catch((error: Error) => console.log(`# cleanup: ${error.message}`));
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
      ...authInputs(cfg),
    },
    {},
    { cancelOn: { pattern: at, signal: 'runner' } },
  );
}

/** Through Nova: the server runs again (Nova may still be starting it), or the run named it as down. */
async function runsAgainOrNamed(run: ActionRun): Promise<void> {
  const named = run.stdout.includes(`openstack server start ${server!.id}`);
  const now = await api.waitServer(server!.id, (s) => named || isIdle(s), { timeoutMs: 30_000 }).catch(() => undefined);
  assert.ok(named || now, `server ${server!.id} runs again or was named as down\n${runLog(run)}`);
  // What a later test needs, and what a user would do with the named command.
  if (named) expect(await api.nova('POST', `/servers/${server!.id}/action`, { json: { 'os-start': null } }), 202, 409);
  await api.waitServer(server!.id, isIdle);
}

const ourImages = async (name: string) =>
  (await api.images({ [RUN_PROPERTY]: TAG, owner: api.projectId })).filter((i) => i.name?.startsWith(`${TAG}-${name}-`));

describe('stop-instance, the job cancelled, on the real cloud', () => {
  test('cancelled while the server is being stopped, then while its snapshot is being made: it runs again each time', { timeout: 300_000 }, async (t) => {
    if (!cfg.loopback) return t.skip('boots a server: only on the loopback cloud, where it costs nothing');
    const main = await api.serverNamed(cfg.instance);
    server = await api.createServer({ name: `${TAG}-cancel`, imageRef: main.image.id, flavorRef: 'osl-tiny' });
    assert.equal(server.status, 'ACTIVE');

    const stopping = await cancelledCreate('stopping', /Stopping instance/);
    assert.equal(stopping.code, 1, `failed on its own before SIGKILL\n${runLog(stopping)}`);
    await runsAgainOrNamed(stopping);

    const snapshotting = await cancelledCreate('snapshotting', /Snapshot requested/);
    assert.equal(snapshotting.code, 1, `failed on its own before SIGKILL\n${runLog(snapshotting)}`);
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
