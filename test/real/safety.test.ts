// What only the real services show about the deletion guarantees (README "What this action will
// never delete"): Glance's acceptance of names that try to forge workflow commands, Nova's
// listing of servers booted from a snapshot, and Cinder's view of who made a volume snapshot and
// what was made from it. Results are checked through the APIs. Everything made here carries the
// run's tag and is removed in `after`, also when a test fails.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MANAGED_BY } from '../../src/lib/constants.ts';
import { expect, RUN_PROPERTY, type OpenStack, type Server } from '../support/openstack.ts';
import { poll } from '../support/poll.ts';
import { adminCredentials, authInputs, bdmSnapshotIds, cleanupRegion, connect, loadConfig, passwordInputs, runLog } from '../support/real-cloud.ts';
import { errorsOf, runAction } from '../support/run-action.ts';

const cfg = loadConfig();
const R1 = cfg.region;
const TAG = cfg.tag;
const SLOW = { timeout: 240_000 };
const json = (text: string | undefined) => JSON.parse(text ?? 'null') as string[];

let api: OpenStack;
let main: Server;
const cleanups: (() => Promise<unknown>)[] = [];

/** A tiny active image that looks, to a listing, like this action's snapshot of `server`. */
const managedSnapshot = (name: string, server: Server, session = api) =>
  session.seedImage(name, { managed_by: MANAGED_BY, source_instance_id: server.id, image_type: 'snapshot', instance_uuid: server.id });

/** A Cinder snapshot taken by hand, as `openstack volume snapshot create --force` does (the volume may be in use), once available. */
async function volumeSnapshotByHand(volumeId: string, name: string): Promise<string> {
  const { id } = expect(await api.cinder('POST', '/snapshots', { json: { snapshot: { volume_id: volumeId, name, force: true } } })).body.snapshot;
  await poll(`volume snapshot ${id} available`, async () => (await api.volumeSnapshot(id))?.status === 'available', { everyMs: 500 });
  return id;
}

/** A volume made from a Cinder snapshot (what puts the snapshot, and its image, in use), once available. */
async function volumeFrom(snapshotId: string, name: string): Promise<string> {
  const { id } = expect(await api.cinder('POST', '/volumes', { json: { volume: { size: 1, snapshot_id: snapshotId, name } } })).body.volume;
  const made = async () => {
    const { status } = expect(await api.cinder('GET', `/volumes/${id}`)).body.volume;
    return ['available', 'error'].includes(status) && status;
  };
  assert.equal(await poll(`volume ${id} made`, made, { everyMs: 500 }), 'available');
  return id;
}

async function deleteVolume(id: string): Promise<void> {
  expect(await api.cinder('DELETE', `/volumes/${id}`), 202, 404);
  await poll(`volume ${id} gone`, async () => expect(await api.cinder('GET', `/volumes/${id}`), 200, 404).status === 404, { everyMs: 500 });
}

before(async () => {
  api = await connect(cfg);
  main = await api.serverNamed(cfg.instance);
});

after(async () => {
  if (!api) return;
  for (const cleanup of cleanups.reverse()) await cleanup().catch((error: Error) => console.log(`# cleanup: ${error.message}`));
  const removed = await cleanupRegion(api, R1);
  console.log(`# cleanup ${R1}: ${removed.length ? removed.join(', ') : 'nothing left'}`);
});

describe('the real services and the deletion guarantees', () => {
  test('Glance accepts names that try to forge workflow commands; the action shows them escaped and runs none', SLOW, async () => {
    const forged = `${TAG}-forge-x\n::error::forged\r::stop-commands::zzz ##[error]legacy`;
    const older = await managedSnapshot(forged, main);
    assert.equal((await api.image(older.id))!.name, forged, 'Glance keeps the name as given');
    await sleep(1100);
    const newer = await managedSnapshot(`${TAG}-forge-y`, main);
    const run = await runAction({ mode: 'prune', instance: main.id, region: R1, 'snapshot-name': `${TAG}-forge-*`, 'keep-last': '1', ...authInputs(cfg) });
    assert.equal(run.code, 0, runLog(run));
    assert.deepEqual(errorsOf(run), [], 'no forged ::error::');
    const lines = run.stdout.split(/\r\n|\r|\n/);
    assert.deepEqual(
      lines.filter((l) => /^\s*::stop-commands|##\[/.test(l)),
      [],
    );
    assert.ok(run.stdout.includes('x\\n::error::forged\\r::stop-commands::zzz #\\u0023[error]legacy'), 'the name is in the log, escaped');
    assert.deepEqual(json(run.outputs['deleted-snapshot-ids']), [older.id]);
    assert.equal(await api.image(older.id), undefined);
    assert.ok(await api.image(newer.id));
  });

  test('an image a server was booted from: Nova names it, prune keeps it, delete refuses it', SLOW, async (t) => {
    if (!cfg.loopback) return t.skip('boots a server: only on the loopback cloud, where it costs nothing');
    const booted = await managedSnapshot(`${TAG}-inuse-1`, main);
    await sleep(1100);
    const newest = await managedSnapshot(`${TAG}-inuse-2`, main);
    const clone = await api.createServer({ name: `${TAG}-clone`, imageRef: booted.id, flavorRef: 'osl-tiny' });
    cleanups.push(() => api.deleteServer(clone.id));
    assert.equal(clone.status, 'ACTIVE', JSON.stringify(clone.fault ?? {}));
    const prune = await runAction({ mode: 'prune', instance: main.id, region: R1, 'snapshot-name': `${TAG}-inuse-*`, 'keep-last': '1', ...authInputs(cfg) });
    assert.equal(prune.code, 0, runLog(prune));
    assert.deepEqual(json(prune.outputs['deleted-snapshot-ids']), []);
    assert.deepEqual(json(prune.outputs['kept-snapshot-ids']).sort(), [booted.id, newest.id].sort());
    assert.match(prune.summary, new RegExp(`in use: instance ${TAG}-clone \\(${clone.id}\\) was booted from it`));
    const del = await runAction({ mode: 'delete', 'snapshot-id': booted.id, region: R1, ...authInputs(cfg) });
    assert.equal(del.code, 1, runLog(del));
    assert.match(errorsOf(del)[0]!, /was booted from it\. Set delete-in-use: true/);
    assert.ok(await api.image(booted.id), 'the image a server runs from stays');
  });

  test(
    "the demo project's server, by UUID, to an admin login scoped to project admin: create, restore, delete and prune refuse it; Nova and Glance show nothing changed",
    SLOW,
    async (t) => {
      if (!cfg.loopback) return t.skip("needs the loopback cloud's admin user and its second project");
      const adminCfg = { ...cfg, ...adminCredentials(cfg) };
      const admin = await connect(adminCfg);
      cleanups.push(() => cleanupRegion(admin, R1));
      assert.notEqual(admin.projectId, api.projectId);
      // Snapshots in the admin project that record the demo server: a prune or delete scoped to it would reach them.
      const older = await managedSnapshot(`${TAG}-theirs-1`, main, admin);
      await sleep(1100);
      const newer = await managedSnapshot(`${TAG}-theirs-2`, main, admin);
      // An admin token sees every project's images: all that record the server, before and after.
      const recording = async () => (await admin.images({ instance_uuid: main.id })).map((image) => image.id).sort();
      const was = { server: await admin.server(main.id), images: await recording() };
      assert.deepEqual([was.server.tenant_id, was.server.status], [api.projectId, 'ACTIVE'], 'the admin login is shown the demo server by its ID');

      const runs: Record<string, string>[] = [
        { mode: 'create', 'stop-instance': 'true' },
        { mode: 'restore', 'snapshot-before': 'true' },
        { mode: 'delete', 'snapshot-id': older.id },
        { mode: 'prune', 'keep-last': '1', 'snapshot-name': `${TAG}-theirs-*` },
      ];
      for (const inputs of runs) {
        const run = await runAction({ ...inputs, instance: main.id, region: R1, ...passwordInputs(adminCfg) });
        assert.equal(run.code, 1, runLog(run));
        assert.match(
          errorsOf(run)[0]!,
          new RegExp(`^instance: instance ${main.name} \\(${main.id}\\) belongs to project ${api.projectId}, not to this one \\(${admin.projectId}\\)`),
          inputs.mode,
        );
      }
      const now = { server: await admin.server(main.id), images: await recording() };
      assert.deepEqual(now.images, was.images, 'no snapshot made, none deleted');
      assert.ok(now.images.includes(older.id) && now.images.includes(newer.id));
      assert.deepEqual(
        [now.server.status, now.server['OS-EXT-STS:task_state'], now.server.image.id, now.server.updated],
        [was.server.status, was.server['OS-EXT-STS:task_state'], was.server.image.id, was.server.updated],
        'Nova shows the server as it was: not stopped, not rebuilt',
      );
    },
  );

  test('a volume-backed snapshot: only the Cinder snapshot Nova made for it goes, never one taken by hand, nor one a volume was made from', SLOW, async (t) => {
    if (!cfg.volumeInstance || !api.has('volume')) return t.skip('no volume-backed server (set OSA_E2E_VOLUME_INSTANCE)');
    const server = await api.serverNamed(cfg.volumeInstance);
    const created = await runAction({
      mode: 'create',
      instance: server.id,
      region: R1,
      'snapshot-name': `${TAG}-own-{timestamp}`,
      'snapshot-properties': `${RUN_PROPERTY}=${TAG}`,
      ...authInputs(cfg),
    });
    assert.equal(created.code, 0, runLog(created));
    const imageId = created.outputs['snapshot-id']!;
    const [novas] = bdmSnapshotIds((await api.image(imageId))!);
    const nova = await api.volumeSnapshot(novas!);
    assert.equal(nova?.name, `snapshot for ${created.outputs['snapshot-name']}`, 'Nova names the Cinder snapshot after the image');

    // Someone's own snapshot of the same volume, slipped into the image's block_device_mapping.
    const byHand = await volumeSnapshotByHand(nova!.volume_id, `${TAG}-by-hand`);
    cleanups.push(() => api.deleteVolumeSnapshot(byHand));
    const mapping = JSON.parse(String((await api.image(imageId))!.block_device_mapping)) as Record<string, unknown>[];
    await api.patchImage(imageId, [
      { op: 'replace', path: '/block_device_mapping', value: JSON.stringify([...mapping, { ...mapping[0], snapshot_id: byHand, boot_index: null }]) },
    ]);

    // A volume restored from Nova's snapshot puts the image in use.
    const restored = await volumeFrom(nova!.id, `${TAG}-restored`);
    const refused = await runAction({ mode: 'delete', 'snapshot-id': imageId, region: R1, ...authInputs(cfg) });
    assert.equal(refused.code, 1, runLog(refused));
    assert.match(errorsOf(refused)[0]!, new RegExp(`in use: volume ${restored} was created from its volume snapshot ${nova!.id}`));
    assert.ok(await api.image(imageId));
    await deleteVolume(restored);

    const run = await runAction({ mode: 'delete', 'snapshot-id': imageId, region: R1, ...authInputs(cfg) });
    assert.equal(run.code, 0, runLog(run));
    assert.deepEqual(json(run.outputs['volume-snapshot-ids']), [nova!.id]);
    assert.equal(await api.image(imageId), undefined);
    await api.volumeSnapshotGone(nova!.id);
    assert.equal((await api.volumeSnapshot(byHand))?.status, 'available', 'the one taken by hand stays');
    assert.match(run.stdout, new RegExp(`Volume snapshot ${byHand} .* is left alone: it is named "${TAG}-by-hand"`));
  });
});
