import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import nock from 'nock';

import { deleteMode } from '../../src/modes/delete/delete.ts';
import type { DeleteSettings } from '../../src/settings/delete.ts';
import { StepError } from '../../src/modes/outcome.ts';
import {
  catalog,
  COMPUTE_ORIGIN,
  COMPUTE_PATH,
  glanceNotFound,
  IMAGE_ID,
  IMAGE_ORIGIN,
  imageBody,
  mockAuth,
  newCloud,
  novaVolumeSnapshot,
  project,
  PROJECT_ID,
  serverBody,
  SERVER_ID,
  deleteSettings,
  stdout,
  unmatched,
  useNock,
  useProject,
  VOLUME_ORIGIN,
  VOLUME_PATH,
  volumeBackedImageBody,
  succeeded,
} from '../support/nock.ts';

useNock();
useProject();

const IMAGE_PATH = `/v2/images/${IMAGE_ID}`;
const byId = (overrides: Partial<DeleteSettings> = {}) => deleteSettings(overrides);
const byName = (name: string, overrides: Partial<DeleteSettings> = {}) => deleteSettings({ target: { name }, ...overrides });
const nameQuery = (name: string) => ({ limit: '1000', name, owner: PROJECT_ID });

/** Glance: the image, then its DELETE (204), then 404 once it is gone. Records the order of requests. */
function deletable(image: { id: string }, order: string[] = []) {
  return nock(IMAGE_ORIGIN)
    .delete(`/v2/images/${image.id}`)
    .reply(() => (order.push(`DELETE image ${image.id}`), [204, '']))
    .get(`/v2/images/${image.id}`)
    .reply(404, glanceNotFound(image.id));
}

describe('delete by image ID', () => {
  it('deletes the image and confirms it is gone', async () => {
    mockAuth();
    nock(IMAGE_ORIGIN).get(IMAGE_PATH).reply(200, imageBody());
    const glance = deletable(imageBody());
    const result = succeeded(await deleteMode(newCloud(), byId()));
    glance.done();
    assert.equal(result.deletions.length, 1);
    assert.equal(result.deletions[0]!.outcome, 'deleted');
    assert.equal(result.deletions[0]!.image.id, IMAGE_ID);
    assert.equal(result.missing, undefined);
    assert.deepEqual(unmatched, []);
  });

  it('an image already gone (404) is a success, with a notice', async () => {
    mockAuth();
    nock(IMAGE_ORIGIN).get(IMAGE_PATH).reply(404, glanceNotFound(IMAGE_ID));
    const result = succeeded(await deleteMode(newCloud(), byId()));
    assert.equal(result.missing, IMAGE_ID);
    assert.deepEqual(result.deletions, []);
    assert.match(stdout(), new RegExp(`::notice::Snapshot ${IMAGE_ID} is already gone: nothing to delete`));
    assert.deepEqual(unmatched, [], 'no DELETE sent');
  });

  it('an image deleted between the look and the DELETE (404 on DELETE) counts as missing', async () => {
    mockAuth();
    nock(IMAGE_ORIGIN)
      .get(IMAGE_PATH)
      .reply(200, imageBody())
      .delete(IMAGE_PATH)
      .reply(404, glanceNotFound(IMAGE_ID))
      .get(IMAGE_PATH)
      .reply(404, glanceNotFound(IMAGE_ID));
    const result = succeeded(await deleteMode(newCloud(), byId()));
    assert.equal(result.deletions[0]!.outcome, 'missing');
  });

  it('a protected image is refused and no DELETE is sent', async () => {
    mockAuth();
    nock(IMAGE_ORIGIN)
      .get(IMAGE_PATH)
      .reply(200, imageBody({ protected: true }));
    await assert.rejects(deleteMode(newCloud(), byId()), (error: Error) => {
      assert.ok(error instanceof StepError);
      assert.match(error.message, new RegExp(`Snapshot ${IMAGE_ID} "web-20250101-000000" is not deleted: it is protected`));
      assert.match(error.message, new RegExp(`openstack image set --unprotected ${IMAGE_ID}`));
      return true;
    });
    assert.deepEqual(unmatched, []);
  });

  it('Glance 409 (in use): a clear error', async () => {
    mockAuth();
    nock(IMAGE_ORIGIN)
      .get(IMAGE_PATH)
      .reply(200, imageBody())
      .delete(IMAGE_PATH)
      .reply(409, { message: 'Image is in use by a store', code: '409 Conflict', title: 'Conflict' });
    await assert.rejects(deleteMode(newCloud(), byId()), (error: Error) => {
      assert.ok(error instanceof StepError);
      assert.match(error.message, new RegExp(`Glance refused to delete snapshot ${IMAGE_ID} \\(web-20250101-000000\\): it is in use`));
      return true;
    });
    assert.deepEqual(unmatched, []);
  });

  it('Glance 403 on DELETE (protected since, or not allowed): a clear error', async () => {
    mockAuth();
    nock(IMAGE_ORIGIN)
      .get(IMAGE_PATH)
      .reply(200, imageBody())
      .delete(IMAGE_PATH)
      .reply(403, { message: `Image ${IMAGE_ID} is protected and cannot be deleted.<br /><br />\n\n\n`, code: '403 Forbidden', title: 'Forbidden' });
    await assert.rejects(deleteMode(newCloud(), byId()), /Glance refused to delete snapshot .*: it is protected \(or this user may not delete it\)/);
  });

  it('waits while Glance still shows the image, and accepts pending_delete', async () => {
    mockAuth();
    const glance = nock(IMAGE_ORIGIN)
      .get(IMAGE_PATH)
      .reply(200, imageBody())
      .delete(IMAGE_PATH)
      .reply(204)
      .get(IMAGE_PATH)
      .reply(200, imageBody({ status: 'active' }))
      .get(IMAGE_PATH)
      .reply(200, imageBody({ status: 'pending_delete' }));
    const result = succeeded(await deleteMode(newCloud(), byId()));
    assert.equal(result.deletions[0]!.outcome, 'deleted');
    glance.done();
  });

  it('an image still shown after the short confirmation is an error that says what it saw and how to check', async () => {
    mockAuth();
    nock(IMAGE_ORIGIN).get(IMAGE_PATH).reply(200, imageBody()).delete(IMAGE_PATH).reply(204).get(IMAGE_PATH).times(30).reply(200, imageBody());
    const started = Date.now();
    await assert.rejects(deleteMode(newCloud(), byId()), new RegExp(`10 s later still shows it as active; check it with: openstack image show ${IMAGE_ID}`));
    assert.ok(Date.now() - started < 15_000, 'bounded by the confirmation, not by timeout (2h by default)');
  });

  it('a 404 to the DELETE while Glance still shows the image: a bounded error, not a two-hour wait', async () => {
    mockAuth();
    nock(IMAGE_ORIGIN)
      .get(IMAGE_PATH)
      .reply(200, imageBody())
      .delete(IMAGE_PATH)
      .reply(404, glanceNotFound(IMAGE_ID))
      .get(IMAGE_PATH)
      .times(30)
      .reply(200, imageBody());
    await assert.rejects(
      deleteMode(newCloud(), byId()),
      new RegExp(`Glance answered 404 to the DELETE of snapshot ${IMAGE_ID}, but 10 s later still shows it as active`),
    );
  });
});

describe('delete by exact name', () => {
  it('finds the one image with the name in this project and deletes it', async () => {
    mockAuth();
    const image = imageBody({ name: 'web-release-1.2' });
    nock(IMAGE_ORIGIN)
      .get('/v2/images')
      .query(nameQuery('web-release-1.2'))
      .reply(200, { images: [image] });
    const glance = deletable(image);
    const result = succeeded(await deleteMode(newCloud(), byName('web-release-1.2')));
    glance.done();
    assert.equal(result.deletions[0]!.image.id, IMAGE_ID);
    assert.deepEqual(unmatched, []);
  });

  it('several images with the name: an error listing them, nothing deleted', async () => {
    mockAuth();
    nock(IMAGE_ORIGIN)
      .get('/v2/images')
      .query(nameQuery('nightly'))
      .reply(200, {
        images: [
          imageBody({ id: 'img-a', name: 'nightly', created_at: '2025-01-02T00:00:00Z' }),
          imageBody({ id: 'img-b', name: 'nightly', created_at: '2025-01-01T00:00:00Z' }),
        ],
      });
    await assert.rejects(deleteMode(newCloud(), byName('nightly')), (error: Error) => {
      assert.match(
        error.message,
        /2 snapshots are named "nightly": img-a \(created 2025-01-02T00:00:00Z\), img-b \(created 2025-01-01T00:00:00Z\)\. Set snapshot-id/,
      );
      return true;
    });
    assert.deepEqual(unmatched, []);
  });

  it('with an instance, only that instance’s images count (by source_instance_id or instance_uuid)', async () => {
    mockAuth();
    nock(COMPUTE_ORIGIN).get(`${COMPUTE_PATH}/servers/${SERVER_ID}`).reply(200, { server: serverBody() });
    const mine = imageBody({ id: 'mine', name: 'nightly', instance_uuid: SERVER_ID });
    nock(IMAGE_ORIGIN)
      .get('/v2/images')
      .query(nameQuery('nightly'))
      .reply(200, { images: [imageBody({ id: 'theirs', name: 'nightly', instance_uuid: 'another-server' }), mine] });
    const glance = deletable(mine);
    const result = succeeded(await deleteMode(newCloud(), byName('nightly', { instance: SERVER_ID })));
    glance.done();
    assert.equal(result.deletions[0]!.image.id, 'mine');
    assert.deepEqual(unmatched, []);
  });

  it('none with the name: an error naming it and the region', async () => {
    mockAuth();
    nock(IMAGE_ORIGIN).get('/v2/images').query(nameQuery('nope')).reply(200, { images: [] });
    await assert.rejects(
      deleteMode(newCloud(), byName('nope')),
      /No snapshot named "nope" in region GRA11\. Check snapshot-name \(matched exactly\) and region, or set ignore-missing: true/,
    );
  });

  it('none with the name and ignore-missing: success with a notice', async () => {
    mockAuth();
    nock(IMAGE_ORIGIN).get('/v2/images').query(nameQuery('nope')).reply(200, { images: [] });
    const result = succeeded(await deleteMode(newCloud(), byName('nope', { ignoreMissing: true })));
    assert.equal(result.missing, 'nope');
    assert.deepEqual(result.deletions, []);
    assert.match(stdout(), /::notice::No snapshot named "nope" in region GRA11: nothing to delete \(ignore-missing\)/);
  });
});

describe('delete a volume-backed snapshot: its Cinder snapshots go too', () => {
  const SNAP_A = '0cd5c12a-8597-42cd-aa55-e1d16458aacb';
  const SNAP_B = '1de6d23b-9608-43de-bb66-f2e27569bbdc';
  const NAME = 'web-20250101-000000';
  beforeEach(() => project.volumeSnapshots.push(novaVolumeSnapshot(SNAP_A, NAME), novaVolumeSnapshot(SNAP_B, NAME)));

  it('DELETEs each Cinder snapshot after the image; a Cinder 404 counts as already gone', async () => {
    mockAuth();
    const order: string[] = [];
    const image = volumeBackedImageBody([SNAP_A, SNAP_B]);
    nock(IMAGE_ORIGIN).get(IMAGE_PATH).reply(200, image);
    deletable(image, order);
    const cinder = nock(VOLUME_ORIGIN)
      .delete(`${VOLUME_PATH}/snapshots/${SNAP_A}`)
      .reply(() => (order.push(`DELETE snapshot ${SNAP_A}`), [202, '', { 'Content-Type': 'text/html' }]))
      .delete(`${VOLUME_PATH}/snapshots/${SNAP_B}`)
      .reply(() => (order.push(`DELETE snapshot ${SNAP_B}`), [404, { itemNotFound: { code: 404, message: `Snapshot ${SNAP_B} could not be found.` } }]));
    const result = succeeded(await deleteMode(newCloud(), byId()));
    cinder.done();
    assert.deepEqual(order, [`DELETE image ${IMAGE_ID}`, `DELETE snapshot ${SNAP_A}`, `DELETE snapshot ${SNAP_B}`]);
    assert.deepEqual(result.deletions[0]!.volumeSnapshots, [
      { id: SNAP_A, outcome: 'deleted' },
      { id: SNAP_B, outcome: 'missing' },
    ]);
    assert.deepEqual(unmatched, []);
  });

  it('a Cinder snapshot that cannot be deleted is a warning with the command to finish by hand', async () => {
    mockAuth();
    const image = volumeBackedImageBody([SNAP_A]);
    nock(IMAGE_ORIGIN).get(IMAGE_PATH).reply(200, image);
    deletable(image);
    nock(VOLUME_ORIGIN)
      .delete(`${VOLUME_PATH}/snapshots/${SNAP_A}`)
      .reply(403, { forbidden: { code: 403, message: 'Policy does not allow volume:delete_snapshot' } });
    const result = succeeded(await deleteMode(newCloud(), byId()));
    assert.equal(result.deletions[0]!.volumeSnapshots[0]!.outcome, 'failed');
    assert.match(stdout(), new RegExp(`::warning::Could not delete volume snapshot ${SNAP_A} .*openstack volume snapshot delete ${SNAP_A}`));
  });

  it('no Cinder in the catalog: the image is deleted, each volume snapshot is left with a warning', async () => {
    mockAuth({ catalog: catalog({ volume: false }) });
    const image = volumeBackedImageBody([SNAP_A, SNAP_B]);
    nock(IMAGE_ORIGIN).get(IMAGE_PATH).reply(200, image);
    deletable(image);
    const result = succeeded(await deleteMode(newCloud(), byId()));
    assert.equal(result.deletions[0]!.outcome, 'deleted');
    assert.deepEqual(
      result.deletions[0]!.volumeSnapshots.map((v) => [v.id, v.outcome]),
      [
        [SNAP_A, 'kept'],
        [SNAP_B, 'kept'],
      ],
    );
    assert.match(stdout(), /::warning::Volume snapshot .* is left alone: Cinder cannot be reached: .*no block-storage or volumev3 service/);
    assert.deepEqual(unmatched, []);
  });

  it('a protected volume-backed image keeps its Cinder snapshots', async () => {
    mockAuth();
    nock(IMAGE_ORIGIN)
      .get(IMAGE_PATH)
      .reply(200, volumeBackedImageBody([SNAP_A], { protected: true }));
    await assert.rejects(deleteMode(newCloud(), byId()), /is protected/);
    assert.deepEqual(unmatched, []);
  });

  it('an image Glance refuses to delete keeps its Cinder snapshots', async () => {
    mockAuth();
    nock(IMAGE_ORIGIN)
      .get(IMAGE_PATH)
      .reply(200, volumeBackedImageBody([SNAP_A]))
      .delete(IMAGE_PATH)
      .reply(409, { message: 'in use', code: '409 Conflict' });
    await assert.rejects(deleteMode(newCloud(), byId()), /in use/);
    assert.deepEqual(unmatched, [], 'no Cinder DELETE');
  });
});

describe('delete refuses what it was not asked to delete, before any DELETE', () => {
  const refused = async (overrides: Record<string, unknown>, why: RegExp, options = {}) => {
    mockAuth();
    nock(IMAGE_ORIGIN).get(IMAGE_PATH).reply(200, imageBody(overrides));
    await assert.rejects(deleteMode(newCloud(), byId(options)), (error: Error) => {
      assert.match(error.message, new RegExp(`^Snapshot ${IMAGE_ID} "[^"]*" is not deleted: `));
      assert.match(error.message, why);
      return true;
    });
    assert.deepEqual(unmatched, [], 'no DELETE sent');
  };

  it("another project's image (an admin credential could delete it)", () =>
    refused({ owner: 'other-project', visibility: 'public' }, /it belongs to project other-project, not to this one/));
  it('an image that is not an instance snapshot', () =>
    refused({ image_type: undefined, managed_by: undefined, instance_uuid: undefined, source_instance_id: undefined }, /it is not an instance snapshot/));
  it('with instance, a snapshot of another server', async () => {
    nock(COMPUTE_ORIGIN).get(`${COMPUTE_PATH}/servers/${SERVER_ID}`).reply(200, { server: serverBody() });
    await refused(
      { instance_uuid: 'other-server', source_instance_id: 'other-server' },
      new RegExp(`it is not a snapshot of instance web \\(${SERVER_ID}\\); it records other-server`),
      { instance: SERVER_ID },
    );
  });
  it('an image a server was booted from; delete-in-use: true deletes it', async () => {
    project.servers.push(serverBody({ id: 'booted-1', name: 'clone' }));
    project.servers[0]!.image = { id: IMAGE_ID, links: [] };
    await refused({}, /in use: instance clone \(booted-1\) was booted from it\. Set delete-in-use: true/);
    mockAuth();
    nock(IMAGE_ORIGIN).get(IMAGE_PATH).reply(200, imageBody());
    const glance = deletable(imageBody());
    await deleteMode(newCloud(), byId({ deleteInUse: true }));
    glance.done();
  });
  it('dry run: says what it would delete and sends no DELETE', async () => {
    mockAuth();
    nock(IMAGE_ORIGIN).get(IMAGE_PATH).reply(200, imageBody());
    const result = succeeded(await deleteMode(newCloud(), byId({ dryRun: true })));
    assert.equal(result.deletions[0]!.outcome, 'would-delete');
    assert.match(stdout(), new RegExp(`Dry run: would delete snapshot ${IMAGE_ID}`));
    assert.deepEqual(unmatched, [], 'no DELETE sent');
  });
});

describe("a volume-backed image's Cinder snapshots: only those Nova made for it, and no other's", () => {
  const SNAP = '2ef7e34c-a719-44ef-8c77-03f3867acdde';
  const NAME = 'web-20250101-000000';
  const image = () => volumeBackedImageBody([SNAP], { source_instance_id: SERVER_ID, managed_by: 'openstack-snapshot-action' });
  /** The image is deleted, its Cinder snapshot is not, and the reason is given. */
  const keeps = async (reason: RegExp) => {
    mockAuth();
    nock(IMAGE_ORIGIN).get(IMAGE_PATH).reply(200, image());
    const glance = deletable(image());
    const result = succeeded(await deleteMode(newCloud(), byId()));
    glance.done();
    const [volumeSnapshot] = result.deletions[0]!.volumeSnapshots;
    assert.equal(volumeSnapshot!.outcome, 'kept');
    assert.match(volumeSnapshot!.reason!, reason);
    assert.deepEqual(unmatched, [], 'no DELETE of the Cinder snapshot');
  };

  it('a snapshot someone took by hand (not named "snapshot for <image>")', () => {
    project.volumeSnapshots.push({ ...novaVolumeSnapshot(SNAP, NAME), name: 'manual backup' });
    return keeps(/it is named "manual backup", not "snapshot for web-20250101-000000": Nova did not make it for this image/);
  });
  it("a snapshot of another server's volume", () => {
    project.volumeSnapshots.push(novaVolumeSnapshot(SNAP, NAME, 'vol-of-db'));
    project.volumes.push({ id: 'vol-of-db', attachments: [{ server_id: 'db-server' }] });
    return keeps(/it is a snapshot of volume vol-of-db, attached to instance db-server, not to the snapshot's instance/);
  });
  it("another project's snapshot (seen by an admin)", () => {
    project.volumeSnapshots.push({ ...novaVolumeSnapshot(SNAP, NAME), 'os-extended-snapshot-attributes:project_id': 'other-project' });
    return keeps(/it belongs to project other-project/);
  });
  it('a snapshot that another remaining image still names', () => {
    project.volumeSnapshots.push(novaVolumeSnapshot(SNAP, NAME));
    project.images.push(volumeBackedImageBody([SNAP], { id: 'copy-of-it' }));
    return keeps(/snapshot copy-of-it still names it/);
  });
  it('a volume created from its Cinder snapshot puts the image in use: refused', async () => {
    project.volumeSnapshots.push(novaVolumeSnapshot(SNAP, NAME));
    project.volumes.push({ id: 'restored-vol', snapshot_id: SNAP });
    mockAuth();
    nock(IMAGE_ORIGIN).get(IMAGE_PATH).reply(200, image());
    await assert.rejects(deleteMode(newCloud(), byId()), new RegExp(`in use: volume restored-vol was created from its volume snapshot ${SNAP}`));
    assert.deepEqual(unmatched, []);
  });
});
