// What only the real services show about the deletion guarantees (README "What this action will
// never delete"): Glance's acceptance of names that try to forge workflow commands, Nova's
// listing of servers booted from a snapshot, and Cinder's view of who made a volume snapshot and
// what was made from it. Results are checked through the APIs. Everything made here carries the
// run's tag and is removed in `after`, also when a test fails.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { errorsOf, runAction, type ActionRun } from '../support/run-action.ts';
import { Api, bdmSnapshotIds, cleanupRegion, loadConfig, passwordInputs, appcredInputs, type Server } from './cloud.ts';

const cfg = loadConfig();
const R1 = cfg.region;
const TAG = cfg.tag;
const SLOW = { timeout: 240_000 };
const auth = () => (cfg.password ? passwordInputs(cfg) : appcredInputs(cfg));
const json = (text: string | undefined) => JSON.parse(text ?? 'null') as string[];
const log = (run: ActionRun) => `exit ${run.code}\n${run.stdout.split('\n').slice(-40).join('\n')}\n${run.stderr.slice(-2000)}`;

let api: Api;
let main: Server;
const cleanups: (() => Promise<unknown>)[] = [];

const byNameOrId = async (nameOrId: string) => (await api.getServer(R1, nameOrId)) ?? (await api.serverNamed(R1, nameOrId));
/** A tiny active image that looks, to a listing, like this action's snapshot of `server`. */
const managedSnapshot = (name: string, server: Server) =>
  api.seedImage(R1, name, { managed_by: 'openstack-snapshot-action', source_instance_id: server.id, image_type: 'snapshot', instance_uuid: server.id });

before(async () => {
  api = await Api.connect(cfg);
  main = await byNameOrId(cfg.instance);
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
    assert.equal((await api.getImage(R1, older.id))!.name, forged, 'Glance keeps the name as given');
    await new Promise((done) => setTimeout(done, 1100));
    const newer = await managedSnapshot(`${TAG}-forge-y`, main);
    const run = await runAction({ mode: 'prune', instance: main.id, region: R1, 'snapshot-name': `${TAG}-forge-*`, 'keep-last': '1', ...auth() });
    assert.equal(run.code, 0, log(run));
    assert.deepEqual(errorsOf(run), [], 'no forged ::error::');
    const lines = run.stdout.split(/\r\n|\r|\n/);
    assert.deepEqual(
      lines.filter((l) => /^\s*::stop-commands|##\[/.test(l)),
      [],
    );
    assert.ok(run.stdout.includes('x\\n::error::forged\\r::stop-commands::zzz #\\u0023[error]legacy'), 'the name is in the log, escaped');
    assert.deepEqual(json(run.outputs['deleted-snapshot-ids']), [older.id]);
    assert.equal(await api.getImage(R1, older.id), undefined);
    assert.ok(await api.getImage(R1, newer.id));
  });

  test('an image a server was booted from: Nova names it, prune keeps it, delete refuses it', SLOW, async (t) => {
    if (!cfg.loopback) return t.skip('boots a server: only on the loopback cloud, where it costs nothing');
    const booted = await managedSnapshot(`${TAG}-inuse-1`, main);
    await new Promise((done) => setTimeout(done, 1100));
    const newest = await managedSnapshot(`${TAG}-inuse-2`, main);
    const clone = await api.createServer(R1, { name: `${TAG}-clone`, imageRef: booted.id, flavorRef: 'osl-tiny' });
    cleanups.push(() => api.deleteServer(R1, clone.id));
    assert.equal(clone.status, 'ACTIVE', JSON.stringify(clone.fault ?? {}));
    const prune = await runAction({ mode: 'prune', instance: main.id, region: R1, 'snapshot-name': `${TAG}-inuse-*`, 'keep-last': '1', ...auth() });
    assert.equal(prune.code, 0, log(prune));
    assert.deepEqual(json(prune.outputs['deleted-snapshot-ids']), []);
    assert.deepEqual(json(prune.outputs['kept-snapshot-ids']).sort(), [booted.id, newest.id].sort());
    assert.match(prune.summary, new RegExp(`in use: instance ${TAG}-clone \\(${clone.id}\\) was booted from it`));
    const del = await runAction({ mode: 'delete', 'snapshot-id': booted.id, region: R1, ...auth() });
    assert.equal(del.code, 1, log(del));
    assert.match(errorsOf(del)[0]!, /was booted from it\. Set delete-in-use: true/);
    assert.ok(await api.getImage(R1, booted.id), 'the image a server runs from stays');
  });

  test(
    "the demo project's server, by UUID, to an admin login scoped to project admin: create, restore, delete and prune refuse it; Nova and Glance show nothing changed",
    SLOW,
    async (t) => {
      if (!cfg.loopback) return t.skip("needs the loopback cloud's admin user and its second project");
      const adminCfg = {
        ...cfg,
        password: { username: 'admin', password: 'admin', userDomainName: 'Default', projectName: 'admin', projectDomainName: 'Default' },
      };
      const admin = await Api.connect(adminCfg);
      cleanups.push(() => cleanupRegion(admin, R1));
      assert.notEqual(admin.projectId, api.projectId);
      // Snapshots in the admin project that record the demo server: a prune or delete scoped to it would reach them.
      const older = await admin.seedImage(R1, `${TAG}-theirs-1`, {
        managed_by: 'openstack-snapshot-action',
        source_instance_id: main.id,
        image_type: 'snapshot',
        instance_uuid: main.id,
      });
      await new Promise((done) => setTimeout(done, 1100));
      const newer = await admin.seedImage(R1, `${TAG}-theirs-2`, {
        managed_by: 'openstack-snapshot-action',
        source_instance_id: main.id,
        image_type: 'snapshot',
        instance_uuid: main.id,
      });
      // An admin token sees every project's images: all that record the server, before and after.
      const recording = async () => (await admin.listImages(R1, { instance_uuid: main.id })).map((image) => image.id).sort();
      const was = { server: await admin.getServer(R1, main.id), images: await recording() };
      assert.deepEqual([was.server?.tenant_id, was.server?.status], [api.projectId, 'ACTIVE'], 'the admin login is shown the demo server by its ID');

      const runs: Record<string, string>[] = [
        { mode: 'create', 'stop-instance': 'true' },
        { mode: 'restore', 'snapshot-before': 'true' },
        { mode: 'delete', 'snapshot-id': older.id },
        { mode: 'prune', 'keep-last': '1', 'snapshot-name': `${TAG}-theirs-*` },
      ];
      for (const inputs of runs) {
        const run = await runAction({ ...inputs, instance: main.id, region: R1, ...passwordInputs(adminCfg) });
        assert.equal(run.code, 1, log(run));
        assert.match(
          errorsOf(run)[0]!,
          new RegExp(`^instance: instance ${main.name} \\(${main.id}\\) belongs to project ${api.projectId}, not to this one \\(${admin.projectId}\\)`),
          inputs.mode,
        );
      }
      const now = { server: await admin.getServer(R1, main.id), images: await recording() };
      assert.deepEqual(now.images, was.images, 'no snapshot made, none deleted');
      assert.ok(now.images.includes(older.id) && now.images.includes(newer.id));
      assert.deepEqual(
        [now.server?.status, now.server?.['OS-EXT-STS:task_state'], (now.server?.image as { id?: string })?.id, now.server?.updated],
        [was.server?.status, was.server?.['OS-EXT-STS:task_state'], (was.server?.image as { id?: string })?.id, was.server?.updated],
        'Nova shows the server as it was: not stopped, not rebuilt',
      );
    },
  );

  test('a volume-backed snapshot: only the Cinder snapshot Nova made for it goes, never one taken by hand, nor one a volume was made from', SLOW, async (t) => {
    if (!cfg.volumeInstance || !api.hasVolumes(R1)) return t.skip('no volume-backed server (set OSA_E2E_VOLUME_INSTANCE)');
    const server = await byNameOrId(cfg.volumeInstance);
    const created = await runAction({
      mode: 'create',
      instance: server.id,
      region: R1,
      'snapshot-name': `${TAG}-own-{timestamp}`,
      'snapshot-properties': `osa_e2e_run=${TAG}`,
      ...auth(),
    });
    assert.equal(created.code, 0, log(created));
    const imageId = created.outputs['snapshot-id']!;
    const [novas] = bdmSnapshotIds((await api.getImage(R1, imageId))!);
    const nova = await api.getVolumeSnapshot(R1, novas!);
    assert.equal(nova?.name, `snapshot for ${created.outputs['snapshot-name']}`, 'Nova names the Cinder snapshot after the image');

    // Someone's own snapshot of the same volume, slipped into the image's block_device_mapping.
    const byHand = await api.createVolumeSnapshot(R1, nova!.volume_id, `${TAG}-by-hand`);
    cleanups.push(() => api.deleteVolumeSnapshot(R1, byHand.id));
    const mapping = JSON.parse(String((await api.getImage(R1, imageId))!.block_device_mapping)) as Record<string, unknown>[];
    await api.patchImage(R1, imageId, [
      { op: 'replace', path: '/block_device_mapping', value: JSON.stringify([...mapping, { ...mapping[0], snapshot_id: byHand.id, boot_index: null }]) },
    ]);

    // A volume restored from Nova's snapshot puts the image in use.
    const restored = await api.createVolumeFromSnapshot(R1, nova!.id, `${TAG}-restored`);
    const refused = await runAction({ mode: 'delete', 'snapshot-id': imageId, region: R1, ...auth() });
    assert.equal(refused.code, 1, log(refused));
    assert.match(errorsOf(refused)[0]!, new RegExp(`in use: volume ${restored} was created from its volume snapshot ${nova!.id}`));
    assert.ok(await api.getImage(R1, imageId));
    await api.deleteVolume(R1, restored);

    const run = await runAction({ mode: 'delete', 'snapshot-id': imageId, region: R1, ...auth() });
    assert.equal(run.code, 0, log(run));
    assert.deepEqual(json(run.outputs['volume-snapshot-ids']), [nova!.id]);
    assert.equal(await api.getImage(R1, imageId), undefined);
    assert.ok(await api.volumeSnapshotGone(R1, nova!.id), "Nova's snapshot for the image is gone");
    assert.equal((await api.getVolumeSnapshot(R1, byHand.id))?.status, 'available', 'the one taken by hand stays');
    assert.match(run.stdout, new RegExp(`Volume snapshot ${byHand.id} .* is left alone: it is named "${TAG}-by-hand"`));
  });
});
