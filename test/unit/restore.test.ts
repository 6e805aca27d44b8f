import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import nock from 'nock';
import { MANAGED_BY } from '../../src/lib/constants.ts';
import { restore } from '../../src/modes/restore/restore.ts';
import {
  BOOT_IMAGE_ID,
  COMPUTE_ORIGIN,
  COMPUTE_PATH,
  failed,
  IMAGE_ORIGIN,
  imageBody,
  mockAuth,
  newCloud,
  PROJECT_ID,
  restoreSettings,
  serverBody,
  SERVER_ID,
  SERVER_PATH,
  type ServerOptions,
  stdout,
  succeeded,
  unmatched,
  useNock,
  volumeBackedImageBody,
} from '../support/nock.ts';

useNock();

const SNAPSHOT_ID = '5e0c1f7a-2b3d-4c5e-8f90-a1b2c3d4e5f6';
const OTHER_SERVER = '9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a';
const snapshot = (overrides: Record<string, unknown> = {}) =>
  imageBody({ id: SNAPSHOT_ID, name: 'web-20250102-000000', managed_by: MANAGED_BY, source_instance_id: SERVER_ID, ...overrides });
const rebuilt = (options: ServerOptions = {}): ServerOptions => ({ imageId: SNAPSHOT_ID, ...options });

/** Glance's listing of the instance's active managed snapshots, newest first. */
const newestListed = (...images: Record<string, unknown>[]) =>
  nock(IMAGE_ORIGIN)
    .get('/v2/images')
    .query({ limit: '1000', owner: PROJECT_ID, status: 'active', sort: 'created_at:desc', managed_by: MANAGED_BY, source_instance_id: SERVER_ID })
    .reply(200, { images });

/** Nova: the server as it is, then each look after the rebuild; returns the rebuild bodies. Without `after`, no rebuild is expected. */
function nova(before: ServerOptions = {}, ...after: ServerOptions[]): unknown[] {
  mockAuth();
  const bodies: unknown[] = [];
  const scope = nock(COMPUTE_ORIGIN)
    .get(SERVER_PATH)
    .reply(200, { server: serverBody(before) });
  if (!after.length) return bodies;
  scope.post(`${SERVER_PATH}/action`, (body: unknown) => (bodies.push(body), true)).reply(202, { server: { id: SERVER_ID } });
  for (const look of after) scope.get(SERVER_PATH).reply(200, { server: serverBody(look) });
  return bodies;
}

describe('restore: which snapshot', () => {
  it('the newest active snapshot this action made of the instance: rebuilt from it once, waited for until ACTIVE on it', async () => {
    const bodies = nova({}, rebuilt({ status: 'REBUILD', taskState: 'rebuild_spawning' }), rebuilt());
    // The newest is skipped: it also records another instance, so it is not this one's.
    newestListed(snapshot({ id: 'newer-but-shared', instance_uuid: OTHER_SERVER }), snapshot(), snapshot({ id: 'older' }));
    const result = succeeded(await restore(newCloud(), restoreSettings()));
    assert.deepEqual(bodies, [{ rebuild: { imageRef: SNAPSHOT_ID } }]);
    assert.equal(result.image.id, SNAPSHOT_ID);
    assert.equal(result.previousImageId, BOOT_IMAGE_ID);
    assert.deepEqual([result.server.status, result.server.imageId], ['ACTIVE', SNAPSHOT_ID]);
    assert.match(stdout(), new RegExp(`Restoring snapshot ${SNAPSHOT_ID} .*: the newest active one of instance web`));
    assert.deepEqual(unmatched, []);
  });

  it('a glob in snapshot-name narrows the newest to the names it matches', async () => {
    nova({}, rebuilt());
    newestListed(snapshot({ id: 'nightly', name: 'web-nightly' }), snapshot({ name: 'web-release-2' }));
    const result = succeeded(await restore(newCloud(), restoreSettings({ snapshot: { newest: true, nameGlob: 'web-release-*' } })));
    assert.equal(result.image.id, SNAPSHOT_ID);
  });

  it('snapshot-id: that image; an exact snapshot-name: the one of that name', async () => {
    nova({}, rebuilt());
    nock(IMAGE_ORIGIN).get(`/v2/images/${SNAPSHOT_ID}`).reply(200, snapshot());
    assert.equal(succeeded(await restore(newCloud(), restoreSettings({ snapshot: { imageId: SNAPSHOT_ID } }))).image.id, SNAPSHOT_ID);
    nova({}, rebuilt());
    nock(IMAGE_ORIGIN)
      .get('/v2/images')
      .query({ limit: '1000', name: 'web-release-2', owner: PROJECT_ID })
      .reply(200, { images: [snapshot({ name: 'web-release-2' })] });
    assert.equal(succeeded(await restore(newCloud(), restoreSettings({ snapshot: { name: 'web-release-2' } }))).image.id, SNAPSHOT_ID);
    assert.deepEqual(unmatched, []);
  });

  it('a name two snapshots of the instance have, or none: an error, and no rebuild', async () => {
    nova();
    nock(IMAGE_ORIGIN)
      .get('/v2/images')
      .query(true)
      .reply(200, { images: [snapshot({ name: 'dup' }), snapshot({ id: 'other-dup', name: 'dup' })] });
    await assert.rejects(
      restore(newCloud(), restoreSettings({ snapshot: { name: 'dup' } })),
      /2 snapshots of instance web .* are named "dup": .*Set snapshot-id/,
    );
    nova();
    newestListed();
    await assert.rejects(
      restore(newCloud(), restoreSettings()),
      /There is no active snapshot of instance web .* made by this action: give snapshot-id or snapshot-name/,
    );
    assert.deepEqual(unmatched, []);
  });
});

describe('restore refuses, before any change', () => {
  const refused = async (image: Record<string, unknown>, why: RegExp, server: ServerOptions = {}) => {
    nova(server);
    nock(IMAGE_ORIGIN).get(`/v2/images/${SNAPSHOT_ID}`).reply(200, image);
    await assert.rejects(restore(newCloud(), restoreSettings({ snapshot: { imageId: SNAPSHOT_ID } })), why);
    assert.deepEqual(unmatched, [], 'no rebuild sent');
  };
  it('an image that is not active', () => refused(snapshot({ status: 'queued' }), /is not restored onto instance web: it is queued, not active/));
  it("another project's image", () => refused(snapshot({ owner: 'other-project' }), /it belongs to project other-project/));
  it("another instance's snapshot", () =>
    refused(snapshot({ source_instance_id: OTHER_SERVER, instance_uuid: OTHER_SERVER }), /it is a snapshot of 9f8e.*; set allow-other-instance: true/));
  it('the empty image of a volume-backed snapshot', () =>
    refused(
      volumeBackedImageBody(['snap-1'], { id: SNAPSHOT_ID, managed_by: MANAGED_BY, source_instance_id: SERVER_ID }),
      /volume-backed instance: its data is in Cinder snapshots/,
    ));
  it("a disk larger than the flavor's", async () => {
    nock(COMPUTE_ORIGIN)
      .get(`${COMPUTE_PATH}/flavors/d2-2`)
      .reply(200, { flavor: { id: 'd2-2', disk: 25 } });
    await refused(snapshot({ min_disk: 50 }), /its disk needs 50 GiB, more than the 25 GiB root disk of the instance's flavor d2-2/, { flavorId: 'd2-2' });
  });
  it('a volume-backed server: nothing is looked up or sent, and the error says what to do instead', async () => {
    nova({ volumeBacked: true });
    await assert.rejects(restore(newCloud(), restoreSettings()), /is volume-backed: it is not rebuilt, and nothing was changed.*openstack volume revert/);
    assert.deepEqual(unmatched, []);
  });

  it("allow-other-instance: true restores another instance's snapshot", async () => {
    nova({}, rebuilt());
    nock(IMAGE_ORIGIN)
      .get(`/v2/images/${SNAPSHOT_ID}`)
      .reply(200, snapshot({ source_instance_id: OTHER_SERVER, instance_uuid: OTHER_SERVER }));
    succeeded(await restore(newCloud(), restoreSettings({ snapshot: { imageId: SNAPSHOT_ID }, allowOtherInstance: true })));
  });

  it('dry run: says what it would rebuild and sends nothing', async () => {
    nova();
    newestListed(snapshot());
    const result = succeeded(await restore(newCloud(), restoreSettings({ dryRun: true, snapshotBefore: true })));
    assert.equal(result.dryRun, true);
    assert.match(
      stdout(),
      new RegExp(
        `Dry run: would rebuild instance web \\(${SERVER_ID}\\) from snapshot ${SNAPSHOT_ID} after a snapshot of it as it is now; it runs image ${BOOT_IMAGE_ID} now`,
      ),
    );
    assert.deepEqual(unmatched, []);
  });
});

describe('restore: the rebuild and its wait', () => {
  it("ERROR: fails at once with Nova's fault", async () => {
    nova({}, rebuilt({ status: 'ERROR', fault: 'No valid host was found.' }));
    newestListed(snapshot());
    const failure = failed(await restore(newCloud(), restoreSettings()));
    assert.match(failure.message, /The rebuild of instance web .* failed: Nova put it in ERROR: No valid host was found\. See: openstack server show/);
  });

  it('a SHUTOFF server is rebuilt and stays SHUTOFF, and the log says so', async () => {
    // As the loopback Nova shows it: spawned (ACTIVE, no task) before it is powered off again.
    nova(
      { status: 'SHUTOFF' },
      rebuilt({ status: 'SHUTOFF', taskState: 'rebuilding' }),
      rebuilt({ status: 'ACTIVE' }),
      rebuilt({ status: 'ACTIVE', taskState: 'powering-off' }),
      rebuilt({ status: 'SHUTOFF' }),
    );
    newestListed(snapshot());
    const result = succeeded(await restore(newCloud(), restoreSettings()));
    assert.equal(result.server.status, 'SHUTOFF');
    assert.ok(nock.isDone(), 'every look was made: it did not stop at the ACTIVE in between');
    assert.match(stdout(), /Instance web is SHUTOFF: Nova rebuilds it and leaves it SHUTOFF/);
  });

  it('timeout: says what the server is still doing and how to check it', async () => {
    nova({}, ...Array.from({ length: 10 }, () => rebuilt({ status: 'REBUILD', taskState: 'rebuild_spawning' })));
    newestListed(snapshot());
    const failure = failed(await restore(newCloud(), restoreSettings({ timeoutMs: 1_200 })));
    assert.match(
      failure.message,
      /^Timed out \(timeout [\d.]+s\) waiting for the rebuild of instance web .*: it is still REBUILD with task_state rebuild_spawning\. The rebuild goes on.*openstack server show/,
    );
  });

  it('a rebuild whose answer was lost is looked for, not sent again: under way, it is waited for', async () => {
    mockAuth();
    let posts = 0;
    nock(COMPUTE_ORIGIN)
      .get(SERVER_PATH)
      .reply(200, { server: serverBody() })
      .post(`${SERVER_PATH}/action`)
      .reply(() => (posts++, [503, { computeFault: { code: 503, message: 'Service Unavailable' } }]))
      .get(SERVER_PATH)
      .reply(200, { server: serverBody(rebuilt({ status: 'REBUILD', taskState: 'rebuilding' })) })
      .get(SERVER_PATH)
      .reply(200, { server: serverBody(rebuilt()) });
    newestListed(snapshot());
    succeeded(await restore(newCloud(), restoreSettings()));
    assert.equal(posts, 1);
    assert.match(stdout(), /got no clear answer, but Nova shows it under way/);
  });

  it('a lost answer with no rebuild to be seen: an error, and still one POST', async () => {
    mockAuth();
    let posts = 0;
    nock(COMPUTE_ORIGIN)
      .get(SERVER_PATH)
      .times(2)
      .reply(200, { server: serverBody() })
      .post(`${SERVER_PATH}/action`)
      .reply(() => (posts++, [502, 'Bad Gateway']));
    newestListed(snapshot());
    await assert.rejects(
      restore(newCloud(), restoreSettings()),
      /got no clear answer \(502\) and Nova shows no rebuild under way \(ACTIVE, task_state none\)\. It is not sent again/,
    );
    assert.equal(posts, 1);
  });

  it('a 409 (the server became busy) is waited out, then the rebuild is sent again', async () => {
    mockAuth();
    const bodies: unknown[] = [];
    nock(COMPUTE_ORIGIN)
      .get(SERVER_PATH)
      .reply(200, { server: serverBody() })
      .post(`${SERVER_PATH}/action`)
      .reply(409, { conflictingRequest: { code: 409, message: "Cannot 'rebuild' instance while it is in task_state image_snapshot" } })
      .get(SERVER_PATH)
      .reply(200, { server: serverBody() })
      .post(`${SERVER_PATH}/action`, (body: unknown) => (bodies.push(body), true))
      .reply(202, {})
      .get(SERVER_PATH)
      .reply(200, { server: serverBody(rebuilt()) });
    newestListed(snapshot());
    succeeded(await restore(newCloud(), restoreSettings()));
    assert.equal(bodies.length, 1);
    assert.deepEqual(unmatched, []);
  });

  it('snapshot-before: the server is snapshotted (tagged with what is restored) and active before the rebuild', async () => {
    const BACKUP_ID = '0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9';
    const order: string[] = [];
    mockAuth();
    type Action = { createImage?: { metadata: Record<string, string> }; rebuild?: unknown };
    nock(COMPUTE_ORIGIN)
      .get(SERVER_PATH)
      .times(2)
      .reply(200, { server: serverBody() })
      .post(`${SERVER_PATH}/action`, (body: Action) => !!body.createImage && !!order.push(`createImage ${body.createImage.metadata.taken_before_restore_of}`))
      .reply(202, { image_id: BACKUP_ID })
      .post(`${SERVER_PATH}/action`, (body: Action) => !!body.rebuild && !!order.push('rebuild'))
      .reply(202, {})
      .get(SERVER_PATH)
      .reply(200, { server: serverBody(rebuilt()) });
    nock(IMAGE_ORIGIN)
      .get(`/v2/images/${BACKUP_ID}`)
      .reply(200, imageBody({ id: BACKUP_ID, status: 'active' }));
    newestListed(snapshot());
    const result = succeeded(await restore(newCloud(), restoreSettings({ snapshotBefore: true })));
    assert.deepEqual(order, [`createImage ${SNAPSHOT_ID}`, 'rebuild']);
    assert.equal(result.backup?.image.id, BACKUP_ID);
    assert.deepEqual(unmatched, []);
  });
});

describe('restore: the backups taken before a restore (snapshot-before)', () => {
  const BACKUP_ID = '0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9';
  // As restore's snapshot-before makes them: the action's marks, the instance, and what was being restored.
  const backup = (overrides: Record<string, unknown> = {}) =>
    snapshot({ id: BACKUP_ID, name: 'web-before-restore-20250103-000000', taken_before_restore_of: SNAPSHOT_ID, ...overrides });

  it('the newest skips them (a re-run must not roll forward onto the state just rolled back from), and says which and why', async () => {
    const bodies = nova({}, rebuilt());
    newestListed(backup(), backup({ id: 'backup-2' }), snapshot());
    const result = succeeded(await restore(newCloud(), restoreSettings()));
    assert.equal(result.image.id, SNAPSHOT_ID);
    assert.deepEqual(bodies, [{ rebuild: { imageRef: SNAPSHOT_ID } }]);
    assert.match(
      stdout(),
      new RegExp(`Skipped 2 newer snapshot\\(s\\) taken before a restore \\(snapshot-before\\): ${BACKUP_ID}, backup-2\\. .*snapshot-id or .*snapshot-name`),
    );
  });

  it('a glob that matches their names skips them too', async () => {
    nova({}, rebuilt());
    newestListed(backup(), snapshot());
    const result = succeeded(await restore(newCloud(), restoreSettings({ snapshot: { newest: true, nameGlob: 'web-*' } })));
    assert.equal(result.image.id, SNAPSHOT_ID);
  });

  it('only backups: an error that names them and how to restore one, and no rebuild', async () => {
    nova();
    newestListed(backup());
    await assert.rejects(
      restore(newCloud(), restoreSettings()),
      new RegExp(
        `There is no active snapshot of instance web .* made by this action.*1 taken before a restore \\(${BACKUP_ID}\\), which only its snapshot-id or exact snapshot-name restores`,
      ),
    );
    assert.deepEqual(unmatched, []);
  });

  it('given by snapshot-id, or named exactly: restored', async () => {
    nova({}, rebuilt({ imageId: BACKUP_ID }));
    nock(IMAGE_ORIGIN).get(`/v2/images/${BACKUP_ID}`).reply(200, backup());
    assert.equal(succeeded(await restore(newCloud(), restoreSettings({ snapshot: { imageId: BACKUP_ID } }))).image.id, BACKUP_ID);
    nova({}, rebuilt({ imageId: BACKUP_ID }));
    const name = 'web-before-restore-20250103-000000';
    nock(IMAGE_ORIGIN)
      .get('/v2/images')
      .query({ limit: '1000', name, owner: PROJECT_ID })
      .reply(200, { images: [backup()] });
    assert.equal(succeeded(await restore(newCloud(), restoreSettings({ snapshot: { name } }))).image.id, BACKUP_ID);
    assert.deepEqual(unmatched, []);
  });
});

describe('restore: snapshot-before, its name and the states it needs', () => {
  it("a server name of 250 characters: the backup's name is shortened to Glance's 255, the server's name kept whole", async () => {
    const BACKUP_ID = '0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9';
    const name = `${'w'.repeat(249)}é`;
    const sent: { name: string; metadata: Record<string, string> }[] = [];
    mockAuth();
    nock(COMPUTE_ORIGIN)
      .get(SERVER_PATH)
      .times(2)
      .reply(200, { server: serverBody({ name }) })
      .post(
        `${SERVER_PATH}/action`,
        (body: { createImage?: { name: string; metadata: Record<string, string> } }) => !!body.createImage && !!sent.push(body.createImage),
      )
      .reply(202, { image_id: BACKUP_ID })
      .post(`${SERVER_PATH}/action`, (body: { rebuild?: unknown }) => !!body.rebuild)
      .reply(202, {})
      .get(SERVER_PATH)
      .reply(200, { server: serverBody(rebuilt({ name })) });
    nock(IMAGE_ORIGIN)
      .get(`/v2/images/${BACKUP_ID}`)
      .reply(200, imageBody({ id: BACKUP_ID, status: 'active' }));
    newestListed(snapshot());
    succeeded(await restore(newCloud(), restoreSettings({ snapshotBefore: true })));
    const [backup] = sent;
    assert.ok(backup && backup.name.length <= 255, `${backup?.name.length} characters`);
    assert.match(backup.name, /^w{200,}-before-restore-\d{8}-\d{6}$/);
    assert.equal(backup.metadata.source_instance_name, name);
  });

  it('a dry run of a server in ERROR refuses as the real run does (Nova cannot snapshot it), sending nothing', async () => {
    const refusal = /Instance web .* is ERROR: Nova can snapshot an instance that is ACTIVE, SHUTOFF, SUSPENDED or PAUSED/;
    nova({ status: 'ERROR' });
    newestListed(snapshot());
    await assert.rejects(restore(newCloud(), restoreSettings({ snapshotBefore: true })), refusal);
    nova({ status: 'ERROR' });
    newestListed(snapshot());
    await assert.rejects(restore(newCloud(), restoreSettings({ snapshotBefore: true, dryRun: true })), refusal);
    assert.deepEqual(unmatched, []);
  });
});
