// Mode delete against the local cloud, in this process: by ID and by exact name, the Cinder
// snapshots of a volume-backed image, and what it refuses to delete.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { deleteMode } from '../../src/modes/delete/delete.ts';
import { StepError } from '../../src/modes/outcome.ts';
import type { DeleteSettings } from '../../src/settings/delete.ts';
import { Local, REGION, succeeded } from '../support/in-process.ts';
import { stdout } from '../support/step.ts';

const NAME = 'web-20250101-000000';
const SNAP_A = '0cd5c12a-8597-42cd-aa55-e1d16458aacb';
const SNAP_B = '1de6d23b-9608-43de-bb66-f2e27569bbdc';

/** A cloud with the server `web` and a snapshot of it (`image`), to be deleted by ID. */
async function snapshotted(t: TestContext, properties: Record<string, string> = {}) {
  const local = await Local.start(t);
  const web = local.server();
  const image = local.snapshot(web, { name: NAME }, properties);
  const byId = (overrides: Partial<DeleteSettings> = {}) => deleteMode(local.client(), local.deleteSettings({ imageId: image.id }, overrides));
  return { local, web, image, byId };
}

const imagePath = (id: string) => new RegExp(`/v2/images/${id}$`);

describe('delete by image ID', () => {
  it('deletes the image and confirms it is gone', async (t) => {
    const { local, image, byId } = await snapshotted(t);
    const result = succeeded(await byId());
    assert.equal(result.deletions.length, 1);
    assert.equal(result.deletions[0]!.outcome, 'deleted');
    assert.equal(result.deletions[0]!.image.id, image.id);
    assert.equal(result.missing, undefined);
    assert.equal(local.lc.image(image.id), undefined);
    assert.deepEqual(local.changes(), [`DELETE /v2/images/${image.id}`]);
    assert.equal(local.lc.requests.at(-1)?.status, 404, 'confirmed gone');
  });

  it('an image already gone (404) is a success, with a notice', async (t) => {
    const local = await Local.start(t);
    const id = 'e30f3c46-9743-46a5-bf50-6ddf396c50fb';
    const result = succeeded(await deleteMode(local.client(), local.deleteSettings({ imageId: id })));
    assert.equal(result.missing, id);
    assert.deepEqual(result.deletions, []);
    assert.match(stdout(), new RegExp(`::notice::Snapshot ${id} is already gone: nothing to delete`));
    assert.deepEqual(local.changes(), [], 'no DELETE sent');
  });

  it('an image deleted between the look and the DELETE (404 on DELETE) counts as missing', async (t) => {
    const { local, image, byId } = await snapshotted(t);
    local.lc.once({ method: 'DELETE' }, () => local.lc.world.deleteImage(local.lc.world.findImage(image.id) ?? assert.fail()));
    const result = succeeded(await byId());
    assert.equal(result.deletions[0]!.outcome, 'missing');
  });

  it('a protected image is refused and no DELETE is sent', async (t) => {
    const { local, image, byId } = await snapshotted(t);
    local.lc.setImage(image.id, { protected: true });
    await assert.rejects(byId(), (error: Error) => {
      assert.ok(error instanceof StepError);
      assert.match(error.message, new RegExp(`Snapshot ${image.id} "${NAME}" is not deleted: it is protected`));
      assert.match(error.message, new RegExp(`openstack image set --unprotected ${image.id}`));
      return true;
    });
    assert.deepEqual(local.changes(), []);
  });

  it('Glance 409 (in use): a clear error, and the DELETE is not sent again', async (t) => {
    const { local, image, byId } = await snapshotted(t);
    local.lc.markInUse(image.id);
    await assert.rejects(byId(), (error: Error) => {
      assert.ok(error instanceof StepError);
      assert.match(error.message, new RegExp(`Glance refused to delete snapshot ${image.id} \\(${NAME}\\): it is in use.*Delete or rebuild what uses it`));
      return true;
    });
    assert.ok(local.lc.image(image.id));
    assert.deepEqual(
      local.lc.requests.filter((r) => r.method === 'DELETE').map((r) => r.status),
      [409],
      'one DELETE, not retried',
    );
  });

  it('Glance 403 on DELETE (protected since, or not allowed): a clear error', async (t) => {
    const { local, image, byId } = await snapshotted(t);
    local.lc.once({ method: 'DELETE' }, () => local.lc.setImage(image.id, { protected: true }));
    await assert.rejects(byId(), /Glance refused to delete snapshot .*: it is protected \(or this user may not delete it\)/);
  });

  it('waits while Glance still shows the image, and accepts pending_delete', async (t) => {
    const { local, image, byId } = await snapshotted(t);
    // Glance answers the DELETE but shows the image a while longer: active, then pending_delete.
    local.lc.fault({ match: { method: 'DELETE' }, kind: 'status', status: 204, body: '' });
    local.lc.once({ method: 'GET', path: imagePath(image.id) }, () => local.lc.setImage(image.id, { status: 'pending_delete' }), 2);
    const result = succeeded(await byId());
    assert.equal(result.deletions[0]!.outcome, 'deleted');
    const look = `GET /v2/images/${image.id}`;
    assert.deepEqual(local.sent().slice(-3), [`DELETE /v2/images/${image.id}`, look, look], 'active, then pending_delete');
  });

  it('an image still shown after the short confirmation is an error that says what it saw and how to check', async (t) => {
    const { local, image, byId } = await snapshotted(t);
    local.lc.fault({ match: { method: 'DELETE' }, kind: 'status', status: 204, body: '' });
    const started = Date.now();
    await assert.rejects(byId(), new RegExp(`10 s later still shows it as active; check it with: openstack image show ${image.id}`));
    assert.ok(Date.now() - started < 15_000, 'bounded by the confirmation, not by timeout (2h by default)');
  });

  it('a 404 to the DELETE while Glance still shows the image: a bounded error, not a two-hour wait', async (t) => {
    const { local, image, byId } = await snapshotted(t);
    local.lc.fault({
      match: { method: 'DELETE' },
      kind: 'status',
      status: 404,
      body: { message: `No image found with ID ${image.id}`, code: '404 Not Found' },
    });
    await assert.rejects(byId(), new RegExp(`Glance answered 404 to the DELETE of snapshot ${image.id}, but 10 s later still shows it as active`));
  });
});

describe('delete by exact name', () => {
  const byName = (local: Local, name: string, overrides: Partial<DeleteSettings> = {}) => deleteMode(local.client(), local.deleteSettings({ name }, overrides));

  it('finds the one image with the name in this project and deletes it', async (t) => {
    const local = await Local.start(t);
    const image = local.snapshot(local.server(), { name: 'web-release-1.2' });
    const result = succeeded(await byName(local, 'web-release-1.2'));
    assert.equal(result.deletions[0]!.image.id, image.id);
    assert.deepEqual(local.listings()[0], { limit: '1000', name: 'web-release-1.2', owner: local.lc.demo.projectId });
    assert.deepEqual(local.changes(), [`DELETE /v2/images/${image.id}`]);
  });

  // Glance compares names case-insensitively, and reads `in:a,b` as an operator: the name is matched exactly here.
  for (const [what, name, others, filter] of [
    ['the same name in other case', 'Web-Release', ['WEB-RELEASE'], 'Web-Release'],
    ['a name Glance would read as an operator (in:…), so not sent as a filter', 'in:web-a,web-b', ['web-a', 'web-b'], undefined],
  ] as const)
    it(`finds the exact name among images whose names Glance also returns: ${what}`, async (t) => {
      const local = await Local.start(t);
      const web = local.server();
      const kept = others.map((other) => local.snapshot(web, { name: other }));
      const target = local.snapshot(web, { name });
      succeeded(await byName(local, name));
      assert.equal(local.listings()[0]?.name, filter);
      assert.deepEqual(local.changes(), [`DELETE /v2/images/${target.id}`]);
      for (const image of kept) assert.ok(local.lc.image(image.id), `${image.name} stays`);
    });

  it('several images with the name: an error listing them, nothing deleted', async (t) => {
    const local = await Local.start(t);
    const web = local.server();
    local.snapshot(web, { id: 'img-a', name: 'nightly', createdAt: '2025-01-02T00:00:00Z' });
    local.snapshot(web, { id: 'img-b', name: 'nightly', createdAt: '2025-01-01T00:00:00Z' });
    await assert.rejects(
      byName(local, 'nightly'),
      /2 snapshots are named "nightly": img-a \(created 2025-01-02T00:00:00Z\), img-b \(created 2025-01-01T00:00:00Z\)\. Set snapshot-id/,
    );
    assert.deepEqual(local.changes(), []);
  });

  it('with an instance, only that instance’s images count (by source_instance_id or instance_uuid); another server’s namesake is not found', async (t) => {
    const local = await Local.start(t);
    const web = local.server();
    local.snapshot({ id: 'another-server' }, { id: 'theirs', name: 'nightly' });
    local.lc.addImage({ region: REGION, id: 'mine', name: 'nightly', properties: { image_type: 'snapshot', instance_uuid: web.id } });
    const result = succeeded(await byName(local, 'nightly', { instance: web.id }));
    assert.equal(result.deletions[0]!.image.id, 'mine');
    assert.deepEqual(local.changes(), ['DELETE /v2/images/mine']);
    // Now only another server's image has the name: none for this instance, and it stays.
    await assert.rejects(
      byName(local, 'nightly', { instance: web.id }),
      new RegExp(`No snapshot named "nightly" for instance web \\(${web.id}\\) in region ${REGION}\\.`),
    );
    assert.deepEqual(local.changes(), ['DELETE /v2/images/mine']);
  });

  it('none with the name: an error naming it and the region', async (t) => {
    const local = await Local.start(t);
    await assert.rejects(
      byName(local, 'nope'),
      new RegExp(`No snapshot named "nope" in region ${REGION}\\. Check snapshot-name \\(matched exactly\\) and region, or set ignore-missing: true`),
    );
  });

  it('none with the name and ignore-missing: success with a notice', async (t) => {
    const local = await Local.start(t);
    const result = succeeded(await byName(local, 'nope', { ignoreMissing: true }));
    assert.equal(result.missing, 'nope');
    assert.deepEqual(result.deletions, []);
    assert.match(stdout(), new RegExp(`::notice::No snapshot named "nope" in region ${REGION}: nothing to delete \\(ignore-missing\\)`));
  });
});

describe('delete a volume-backed snapshot: its Cinder snapshots go too', () => {
  /** A volume-backed snapshot of `web` naming Cinder snapshots A and B, which Nova made for it. */
  async function volumeBacked(t: TestContext) {
    const local = await Local.start(t);
    for (const id of [SNAP_A, SNAP_B]) local.cinderSnapshot(id, NAME);
    const image = local.volumeBackedImage({ name: NAME }, [SNAP_A, SNAP_B]);
    return { local, image, byId: () => deleteMode(local.client(), local.deleteSettings({ imageId: image.id })) };
  }

  it('DELETEs each Cinder snapshot after the image; a Cinder 404 counts as already gone', async (t) => {
    const { local, image, byId } = await volumeBacked(t);
    local.lc.once({ method: 'DELETE', path: new RegExp(SNAP_B) }, () => local.lc.world.region(REGION).volSnaps.delete(SNAP_B));
    const result = succeeded(await byId());
    assert.deepEqual(local.changes(), [`DELETE /v2/images/${image.id}`, `DELETE /snapshots/${SNAP_A}`, `DELETE /snapshots/${SNAP_B}`]);
    assert.deepEqual(result.deletions[0]!.volumeSnapshots, [
      { id: SNAP_A, outcome: 'deleted' },
      { id: SNAP_B, outcome: 'missing' },
    ]);
  });

  it('a Cinder snapshot that cannot be deleted is a warning with the command to finish by hand', async (t) => {
    const { local, byId } = await volumeBacked(t);
    local.lc.fault({
      match: { method: 'DELETE', path: new RegExp(SNAP_A) },
      kind: 'status',
      status: 403,
      body: { forbidden: { code: 403, message: 'Policy does not allow volume:delete_snapshot' } },
    });
    const result = succeeded(await byId());
    assert.equal(result.deletions[0]!.volumeSnapshots[0]!.outcome, 'failed');
    assert.match(stdout(), new RegExp(`::warning::Could not delete volume snapshot ${SNAP_A} .*openstack volume snapshot delete ${SNAP_A}`));
  });

  it('no Cinder in the region: the image is deleted, each volume snapshot is left with a warning', async (t) => {
    const local = await Local.start(t);
    const image = local.volumeBackedImage({ name: NAME, region: 'SBG5' }, [SNAP_A, SNAP_B]);
    const result = succeeded(await deleteMode(local.client({ region: 'SBG5' }), { ...local.deleteSettings({ imageId: image.id }), region: 'SBG5' }));
    assert.equal(result.deletions[0]!.outcome, 'deleted');
    assert.deepEqual(
      result.deletions[0]!.volumeSnapshots.map((v) => [v.id, v.outcome]),
      [
        [SNAP_A, 'kept'],
        [SNAP_B, 'kept'],
      ],
    );
    assert.match(stdout(), /::warning::Volume snapshot .* is left alone: Cinder cannot be reached: the catalog has no block-storage endpoint in region SBG5/);
    assert.deepEqual(local.changes(), [`DELETE /v2/images/${image.id}`]);
  });

  it('a protected volume-backed image keeps its Cinder snapshots', async (t) => {
    const { local, image, byId } = await volumeBacked(t);
    local.lc.setImage(image.id, { protected: true });
    await assert.rejects(byId(), /is protected/);
    assert.deepEqual(local.changes(), []);
  });

  it('an image Glance refuses to delete keeps its Cinder snapshots', async (t) => {
    const { local, image, byId } = await volumeBacked(t);
    local.lc.markInUse(image.id);
    await assert.rejects(byId(), /in use/);
    assert.deepEqual(local.changes(), [`DELETE /v2/images/${image.id}`], 'no Cinder DELETE');
  });
});

describe('delete refuses what it was not asked to delete, before any DELETE', () => {
  const refused = async (local: Local, imageId: string, why: RegExp, overrides: Partial<DeleteSettings> = {}) => {
    await assert.rejects(deleteMode(local.client(), local.deleteSettings({ imageId }, overrides)), (error: Error) => {
      assert.match(error.message, new RegExp(`^Snapshot ${imageId} "[^"]*" is not deleted: `));
      assert.match(error.message, why);
      return true;
    });
    assert.deepEqual(local.changes(), [], 'no DELETE sent');
  };

  it('a refusal ends the in-use listing it no longer needs: no retries of a failing Nova after the step ends', async (t) => {
    const local = await Local.start(t);
    local.lc.fault({ match: { service: 'compute', path: /\/servers\/detail/ }, times: Infinity, kind: 'status', status: 503 });
    await refused(local, local.lc.addImage({ region: REGION, name: 'uploaded' }).id, /it is not an instance snapshot/);
    await sleep(2_500);
    const listings = local.lc.requests.filter((r) => r.path.includes('/servers/detail')).length;
    assert.ok(listings <= 1, `${listings} listings: got retries a 503 after 1 s, then 2 s, unless the refusal stopped it`);
  });

  it("another project's image (an admin credential could delete it)", async (t) => {
    const local = await Local.start(t);
    const image = local.lc.addImage({ region: REGION, name: NAME, owner: 'other-project', visibility: 'public', properties: { image_type: 'snapshot' } });
    await refused(local, image.id, /it belongs to project other-project, not to this one/);
  });

  it('an image that is not an instance snapshot', async (t) => {
    const local = await Local.start(t);
    await refused(local, local.lc.addImage({ region: REGION, name: 'uploaded' }).id, /it is not an instance snapshot/);
  });

  it('with instance, a snapshot of another server', async (t) => {
    const { local, web } = await snapshotted(t);
    const theirs = local.snapshot({ id: 'other-server' }, { name: NAME });
    await refused(local, theirs.id, new RegExp(`it is not a snapshot of instance web \\(${web.id}\\); it records other-server`), { instance: web.id });
  });

  it('an image a server was booted from; delete-in-use: true deletes it', async (t) => {
    const { local, image, byId } = await snapshotted(t);
    local.server({ id: 'booted-1', name: 'clone', imageRef: image.id });
    await refused(local, image.id, /in use: instance clone \(booted-1\) was booted from it\. Set delete-in-use: true/);
    succeeded(await byId({ deleteInUse: true }));
    assert.equal(local.lc.image(image.id), undefined);
  });

  it('dry run: says what it would delete and sends no DELETE', async (t) => {
    const { local, image, byId } = await snapshotted(t);
    const result = succeeded(await byId({ dryRun: true }));
    assert.equal(result.deletions[0]!.outcome, 'would-delete');
    assert.match(stdout(), new RegExp(`Dry run: would delete snapshot ${image.id}`));
    assert.deepEqual(local.changes(), [], 'no DELETE sent');
  });
});

describe("a volume-backed image's Cinder snapshots: only those Nova made for it, and no other's", () => {
  const SNAP = '2ef7e34c-a719-44ef-8c77-03f3867acdde';
  /** A volume-backed snapshot of `web` (the action's) naming SNAP, whose Cinder snapshot is as `spec` says. */
  async function naming(t: TestContext, spec: { name?: string; volumeId?: string } = {}) {
    const local = await Local.start(t);
    const web = local.server({ volumeBacked: true });
    local.cinderSnapshot(SNAP, NAME, { volumeId: web.rootVolumeId ?? '', ...spec });
    const image = local.volumeBackedImage({ name: NAME }, [SNAP], { source_instance_id: web.id, managed_by: 'openstack-snapshot-action' });
    return { local, image };
  }
  /** The image is deleted, its Cinder snapshot is not, and the reason is given. */
  const keeps = async ({ local, image }: Awaited<ReturnType<typeof naming>>, reason: RegExp) => {
    const result = succeeded(await deleteMode(local.client(), local.deleteSettings({ imageId: image.id })));
    const [volumeSnapshot] = result.deletions[0]!.volumeSnapshots;
    assert.equal(volumeSnapshot!.outcome, 'kept');
    assert.match(volumeSnapshot!.reason!, reason);
    assert.deepEqual(local.changes(), [`DELETE /v2/images/${image.id}`], 'no DELETE of the Cinder snapshot');
  };

  it('a snapshot someone took by hand (not named "snapshot for <image>")', async (t) =>
    keeps(
      await naming(t, { name: 'manual backup' }),
      /it is named "manual backup", not "snapshot for web-20250101-000000": Nova did not make it for this image/,
    ));

  it("a snapshot of another server's volume", async (t) => {
    const cloud = await naming(t, { volumeId: 'vol-of-db' });
    cloud.local.lc.addVolume({ region: REGION, id: 'vol-of-db', serverId: 'db-server' });
    await keeps(cloud, /it is a snapshot of volume vol-of-db, attached to instance db-server, not to the snapshot's instance/);
  });

  it("another project's snapshot (seen by an admin)", async (t) => {
    const cloud = await naming(t);
    Object.assign(cloud.local.lc.world.region(REGION).volSnaps.get(SNAP) ?? assert.fail(), { projectId: 'other-project' });
    await keeps(cloud, /it belongs to project other-project/);
  });

  it('a snapshot that another remaining image still names', async (t) => {
    const cloud = await naming(t);
    cloud.local.volumeBackedImage({ id: 'copy-of-it', name: 'copy' }, [SNAP]);
    await keeps(cloud, /snapshot copy-of-it still names it/);
  });

  it('a volume created from its Cinder snapshot puts the image in use: refused', async (t) => {
    const { local, image } = await naming(t);
    local.lc.addVolume({ region: REGION, id: 'restored-vol', snapshotId: SNAP });
    await assert.rejects(
      deleteMode(local.client(), local.deleteSettings({ imageId: image.id })),
      new RegExp(`in use: volume restored-vol was created from its volume snapshot ${SNAP}`),
    );
    assert.deepEqual(local.changes(), []);
  });
});
