// Mode restore against the local cloud, in this process: which snapshot, what is refused before
// any change, the rebuild and its wait, the backups snapshot-before takes, and a snapshot still uploading.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { MANAGED_BY } from '../../src/lib/constants.ts';
import { create } from '../../src/modes/create/create.ts';
import { restore } from '../../src/modes/restore/restore.ts';
import type { RestoreSettings } from '../../src/settings/restore.ts';
import type { ImageSpec, LocalCloudOptions, Server, ServerSpec } from '../local-cloud/cloud.ts';
import { failed, Local, REGION, selection, succeeded } from '../support/in-process.ts';
import { stdout } from '../support/step.ts';

const SNAPSHOT_ID = '5e0c1f7a-2b3d-4c5e-8f90-a1b2c3d4e5f6';
const BACKUP_ID = '0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9';
const OTHER_SERVER = '9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a';

/**
 * A cloud with the server `web` (as `server` says) and its snapshot SNAPSHOT_ID (active, the
 * action's); `restored` restores it with these settings.
 */
async function withSnapshot(t: TestContext, server: Partial<ServerSpec> = {}, options: LocalCloudOptions = {}) {
  const local = await Local.start(t, { rebuildSeconds: 0.2, snapshotSeconds: 0, ...options });
  const web = local.server(server);
  const snapshot = local.snapshot(web, { id: SNAPSHOT_ID, name: 'web-20250102-000000', createdAt: '2025-01-02T00:00:00Z' });
  const restored = (overrides: Partial<RestoreSettings> = {}) => restore(local.client(), local.restoreSettings({ servers: selection(web.name), ...overrides }));
  return { local, web, snapshot, restored };
}

/** The rebuilds sent, by image. */
const rebuilds = (local: Local) => local.lc.requests.filter((r) => r.action === 'rebuild').map((r) => (r.args as { imageRef: string }).imageRef);

const removeImage = (local: Local, id: string) => local.lc.world.deleteImage(local.lc.world.findImage(id) ?? assert.fail(`no image ${id}`));

/** SNAPSHOT_ID replaced by an image as `spec` says. */
function replaced(local: Local, spec: Omit<ImageSpec, 'region'>): void {
  removeImage(local, SNAPSHOT_ID);
  local.lc.addImage({ region: REGION, ...spec, id: SNAPSHOT_ID });
}

const serverPath = (server: Server) => new RegExp(`/servers/${server.id}$`);

/** From the rebuild on, the cloud's clock is moved forward by `steps[i]` ms as the i-th look at the server arrives. */
function clockAtLooks(local: Local, server: Server, ...steps: number[]): void {
  local.lc.once({ action: 'rebuild' }, () =>
    steps.forEach((ms, i) => local.lc.once({ method: 'GET', path: serverPath(server) }, () => local.lc.advance(ms), i)),
  );
}

/** The looks at the server after the rebuild was sent. */
const looksAfterRebuild = (local: Local, server: Server) => {
  const sent = local.sent();
  return sent.slice(sent.findIndex((r) => r.endsWith(' rebuild'))).filter((r) => r === `GET /servers/${server.id}`).length;
};

describe('restore: which snapshot', () => {
  it('the newest active snapshot this action made of the instance: rebuilt from it once, waited for until ACTIVE on it', async (t) => {
    const { local, web, restored } = await withSnapshot(t);
    // The newest is skipped: it also records another instance, so it is not this one's.
    local.snapshot(web, { id: 'newer-but-shared', name: 'web-shared', createdAt: '2025-01-03T00:00:00Z' }, { instance_uuid: OTHER_SERVER });
    local.snapshot(web, { id: 'older', name: 'web-older', createdAt: '2025-01-01T00:00:00Z' });
    const result = succeeded(await restored());
    assert.deepEqual(rebuilds(local), [SNAPSHOT_ID]);
    assert.equal(result.image.id, SNAPSHOT_ID);
    assert.equal(result.previousImageId, web.imageRef);
    assert.deepEqual([result.server.status, result.server.imageId], ['ACTIVE', SNAPSHOT_ID]);
    assert.deepEqual([local.lc.server(web.id)?.status, local.lc.server(web.id)?.imageRef], ['ACTIVE', SNAPSHOT_ID]);
    assert.match(stdout(), new RegExp(`Restoring snapshot ${SNAPSHOT_ID} .*: the newest active one of instance web`));
    assert.deepEqual(local.changes(), [`POST /servers/${web.id}/action rebuild`]);
  });

  it('a glob in snapshot-name narrows the newest to the names it matches', async (t) => {
    const { local, web, restored } = await withSnapshot(t);
    local.snapshot(web, { id: 'nightly', name: 'web-nightly', createdAt: '2025-01-03T00:00:00Z' });
    assert.equal(succeeded(await restored({ snapshot: { newest: true, nameGlob: 'web-2025*' } })).image.id, SNAPSHOT_ID);
  });

  it('snapshot-id: that image; an exact snapshot-name: the one of that name', async (t) => {
    const { local, restored } = await withSnapshot(t);
    assert.equal(succeeded(await restored({ snapshot: { imageId: SNAPSHOT_ID } })).image.id, SNAPSHOT_ID);
    assert.equal(succeeded(await restored({ snapshot: { name: 'web-20250102-000000' } })).image.id, SNAPSHOT_ID);
    assert.deepEqual(local.listings().at(-1), { limit: '1000', name: 'web-20250102-000000', owner: local.lc.demo.projectId });
    assert.deepEqual(rebuilds(local), [SNAPSHOT_ID, SNAPSHOT_ID]);
  });

  it('a name two snapshots of the instance have, or none: an error, and no rebuild', async (t) => {
    const { local, web, restored } = await withSnapshot(t);
    const dups = [local.snapshot(web, { name: 'dup' }), local.snapshot(web, { name: 'dup' })];
    await assert.rejects(restored({ snapshot: { name: 'dup' } }), /2 snapshots of instance web .* are named "dup": .*Set snapshot-id/);
    for (const { id } of [...dups, { id: SNAPSHOT_ID }]) removeImage(local, id);
    await assert.rejects(restored(), /There is no active snapshot of instance web .* made by this action: give snapshot-id or snapshot-name/);
    assert.deepEqual(local.changes(), []);
  });
});

describe('restore refuses, before any change', () => {
  /** The restore of snapshot-id SNAPSHOT_ID, once `make` has made it so, is refused for `why`. */
  const refused = async (t: TestContext, why: RegExp, make: (local: Local, web: Server) => void, server: Partial<ServerSpec> = {}) => {
    const { local, web, restored } = await withSnapshot(t, server);
    make(local, web);
    await assert.rejects(restored({ snapshot: { imageId: SNAPSHOT_ID } }), why);
    assert.deepEqual(local.changes(), [], 'no rebuild sent');
  };
  /** SNAPSHOT_ID is another instance's snapshot. */
  const othersSnapshot = (local: Local) =>
    replaced(local, { name: 'theirs', properties: { managed_by: MANAGED_BY, source_instance_id: OTHER_SERVER, instance_uuid: OTHER_SERVER } });

  it('an image that is not active', (t) =>
    refused(t, /is not restored onto instance web: it is queued, not active/, (local) => void local.lc.setImage(SNAPSHOT_ID, { status: 'queued' })));
  it("another project's image", (t) =>
    refused(t, /it belongs to project other-project/, (local) =>
      replaced(local, { name: 'theirs', owner: 'other-project', visibility: 'public', properties: { image_type: 'snapshot' } }),
    ));
  it("another instance's snapshot", (t) => refused(t, /it is a snapshot of 9f8e.*; set allow-other-instance: true/, othersSnapshot));
  it('the empty image of a volume-backed snapshot', (t) =>
    refused(t, /volume-backed instance: its data is in Cinder snapshots/, (local, web) => {
      removeImage(local, SNAPSHOT_ID);
      local.volumeBackedImage({ id: SNAPSHOT_ID, name: 'bfv' }, ['snap-1'], { managed_by: MANAGED_BY, source_instance_id: web.id });
    }));
  it("a disk larger than the flavor's", (t) =>
    refused(
      t,
      /its disk needs 50 GiB, more than the 25 GiB root disk of the instance's flavor d2-2/,
      (local, web) => replaced(local, { name: 'big', minDisk: 50, properties: { managed_by: MANAGED_BY, source_instance_id: web.id } }),
      { flavorId: 'd2-2' },
    ));

  it('a volume-backed server: nothing is looked up or sent, and the error says what to do instead', async (t) => {
    const { local, restored } = await withSnapshot(t, { volumeBacked: true });
    await assert.rejects(restored(), /is volume-backed: it is not rebuilt, and nothing was changed.*openstack volume revert/);
    assert.deepEqual(local.sent(), ['POST /v3/auth/tokens', 'GET /servers/detail?limit=1000&name=web']);
  });

  it("allow-other-instance: true restores another instance's snapshot", async (t) => {
    const { local, restored } = await withSnapshot(t);
    othersSnapshot(local);
    succeeded(await restored({ snapshot: { imageId: SNAPSHOT_ID }, allowOtherInstance: true }));
    assert.deepEqual(rebuilds(local), [SNAPSHOT_ID]);
  });

  it('dry run: says what it would rebuild and sends nothing', async (t) => {
    const { local, web, restored } = await withSnapshot(t);
    const result = succeeded(await restored({ dryRun: true, snapshotBefore: true }));
    assert.equal(result.dryRun, true);
    assert.match(
      stdout(),
      new RegExp(
        `Dry run: would rebuild instance web \\(${web.id}\\) from snapshot ${SNAPSHOT_ID} after a snapshot of it as it is now; it runs image ${web.imageRef} now`,
      ),
    );
    assert.deepEqual(local.changes(), []);
  });
});

describe('restore: the rebuild and its wait', () => {
  it("ERROR: fails at once with Nova's fault", async (t) => {
    const { local, restored } = await withSnapshot(t);
    local.lc.fault({ match: { action: 'rebuild' }, kind: 'rebuild-error', message: 'No valid host was found.' });
    const failure = failed(await restored());
    assert.match(failure.message, /The rebuild of instance web .* failed: Nova put it in ERROR: No valid host was found\. See: openstack server show/);
  });

  it('a SHUTOFF server is rebuilt and stays SHUTOFF, and the log says so', async (t) => {
    const { local, web, restored } = await withSnapshot(t, { status: 'SHUTOFF' }, { rebuildSeconds: 100 });
    // As the loopback Nova shows it: REBUILD, spawned (ACTIVE, no task), ACTIVE powering-off, SHUTOFF.
    clockAtLooks(local, web, 0, 102_000, 8_000, 15_000);
    const result = succeeded(await restored());
    assert.equal(result.server.status, 'SHUTOFF');
    assert.equal(looksAfterRebuild(local, web), 4, 'every look was made: it did not stop at the ACTIVE in between');
    assert.match(stdout(), /Instance web is SHUTOFF: Nova rebuilds it and leaves it SHUTOFF/);
  });

  it('timeout: says what the server is still doing and how to check it', async (t) => {
    const { local, web, restored } = await withSnapshot(t, {}, { rebuildSeconds: 100 });
    clockAtLooks(local, web, 50_000);
    const failure = failed(await restored({ timeoutMs: 1_200 }));
    assert.match(
      failure.message,
      /^Timed out \(timeout [\d.]+s\) waiting for the rebuild of instance web .*: it is still REBUILD with task_state rebuild_spawning\. The rebuild goes on.*openstack server show/,
    );
  });

  it('a rebuild whose answer was lost is looked for, not sent again: under way, it is waited for', async (t) => {
    const { local, restored } = await withSnapshot(t);
    local.lc.fault({ match: { action: 'rebuild' }, kind: 'lose-response' });
    succeeded(await restored());
    assert.deepEqual(rebuilds(local), [SNAPSHOT_ID]);
    assert.match(stdout(), /got no clear answer, but Nova shows it under way/);
  });

  it('a lost answer with no rebuild to be seen: an error, and still one POST', async (t) => {
    const { local, restored } = await withSnapshot(t);
    local.lc.fault({ match: { action: 'rebuild' }, kind: 'status', status: 502, body: 'Bad Gateway' });
    await assert.rejects(restored(), /got no clear answer \(502\) and Nova shows no rebuild under way \(ACTIVE, task_state none\)\. It is not sent again/);
    assert.deepEqual(rebuilds(local), [SNAPSHOT_ID]);
  });

  it('a 409 (the server became busy) is waited out, then the rebuild is sent again', async (t) => {
    const { local, restored } = await withSnapshot(t);
    const busy = { conflictingRequest: { code: 409, message: "Cannot 'rebuild' instance while it is in task_state image_snapshot" } };
    local.lc.fault({ match: { action: 'rebuild' }, kind: 'status', status: 409, body: busy });
    succeeded(await restored());
    assert.deepEqual(
      local.lc.requests.filter((r) => r.action === 'rebuild').map((r) => r.status),
      [409, 202],
    );
  });

  it('snapshot-before: the server is snapshotted (tagged with what is restored) and active before the rebuild', async (t) => {
    const { local, web, restored } = await withSnapshot(t);
    const result = succeeded(await restored({ snapshotBefore: true }));
    assert.deepEqual(local.changes(), [`POST /servers/${web.id}/action createImage`, `POST /servers/${web.id}/action rebuild`]);
    const backup = local.lc.image(result.backup?.image.id ?? '');
    assert.deepEqual([backup?.status, backup?.properties.taken_before_restore_of], ['active', SNAPSHOT_ID]);
    assert.ok(local.sent().indexOf(`GET /v2/images/${backup?.id}`) < local.sent().indexOf(`POST /servers/${web.id}/action rebuild`), 'active before');
  });
});

describe('restore: the backups taken before a restore (snapshot-before)', () => {
  const BACKUP_NAME = 'web-before-restore-20250103-000000';
  /** As restore's snapshot-before makes them: the action's marks, the instance, and what was being restored. */
  const backup = (local: Local, web: Server, id = BACKUP_ID, createdAt = '2025-01-04T00:00:00Z') =>
    local.snapshot(web, { id, name: BACKUP_NAME, createdAt }, { taken_before_restore_of: SNAPSHOT_ID });

  it('the newest skips them (a re-run must not roll forward onto the state just rolled back from), and says which and why', async (t) => {
    const { local, web, restored } = await withSnapshot(t);
    backup(local, web);
    backup(local, web, 'backup-2', '2025-01-03T00:00:00Z');
    const result = succeeded(await restored());
    assert.equal(result.image.id, SNAPSHOT_ID);
    assert.deepEqual(rebuilds(local), [SNAPSHOT_ID]);
    assert.match(
      stdout(),
      new RegExp(`Skipped 2 newer snapshot\\(s\\) taken before a restore \\(snapshot-before\\): ${BACKUP_ID}, backup-2\\. .*snapshot-id or .*snapshot-name`),
    );
  });

  it('a glob that matches their names skips them too', async (t) => {
    const { local, web, restored } = await withSnapshot(t);
    backup(local, web);
    assert.equal(succeeded(await restored({ snapshot: { newest: true, nameGlob: 'web-*' } })).image.id, SNAPSHOT_ID);
  });

  it('only backups: an error that names them and how to restore one, and no rebuild', async (t) => {
    const { local, web, restored } = await withSnapshot(t);
    backup(local, web);
    removeImage(local, SNAPSHOT_ID);
    await assert.rejects(
      restored(),
      new RegExp(
        `There is no active snapshot of instance web .* made by this action.*1 taken before a restore \\(${BACKUP_ID}\\), which only its snapshot-id or exact snapshot-name restores`,
      ),
    );
    assert.deepEqual(local.changes(), []);
  });

  it('given by snapshot-id, or named exactly: restored', async (t) => {
    const { local, web, restored } = await withSnapshot(t);
    backup(local, web);
    assert.equal(succeeded(await restored({ snapshot: { imageId: BACKUP_ID } })).image.id, BACKUP_ID);
    assert.equal(succeeded(await restored({ snapshot: { name: BACKUP_NAME } })).image.id, BACKUP_ID);
    assert.deepEqual(rebuilds(local), [BACKUP_ID, BACKUP_ID]);
  });
});

describe('restore: snapshot-before, its name and the states it needs', () => {
  it("a server name of 250 characters: the backup's name is shortened to Glance's 255, the server's name kept whole", async (t) => {
    const name = `${'w'.repeat(249)}é`;
    const { local, restored } = await withSnapshot(t, { name });
    succeeded(await restored({ snapshotBefore: true }));
    const [sent] = local.argsOf<{ name: string; metadata: Record<string, string> }>('createImage');
    assert.ok(sent.name.length <= 255, `${sent.name.length} characters`);
    assert.match(sent.name, /^w{200,}-before-restore-\d{8}-\d{6}$/);
    assert.equal(sent.metadata.source_instance_name, name);
    assert.doesNotMatch(stdout(), /snapshot-name/, 'no word of an input the user did not give');
  });

  it('a dry run of a server in ERROR refuses as the real run does (Nova cannot snapshot it), sending nothing', async (t) => {
    const refusal = /Instance web .* is ERROR: Nova can snapshot an instance that is ACTIVE, SHUTOFF, SUSPENDED or PAUSED/;
    const { local, restored } = await withSnapshot(t, { status: 'ERROR' });
    await assert.rejects(restored({ snapshotBefore: true }), refusal);
    await assert.rejects(restored({ snapshotBefore: true, dryRun: true }), refusal);
    assert.deepEqual(local.changes(), []);
  });
});

describe('restore of a snapshot still uploading (wait: captured)', () => {
  /** A cloud whose snapshots upload for a while, the servers `web` and `db`, and a snapshot of `of` taken with wait: captured, still saving. */
  async function uploading(t: TestContext, of: 'web' | 'db') {
    const local = await Local.start(t, { captureSeconds: 0.5, uploadSeconds: 3, rebuildSeconds: 0.2 });
    const web = local.server();
    local.server({ name: 'db' });
    const taken = succeeded(await create(local.client(), local.createSettings({ servers: selection(of), captured: true, uploadTimeoutMs: 60_000 })));
    assert.equal(taken.image.status, 'saving');
    const id = taken.image.id;
    const restored = (overrides: Partial<RestoreSettings> = {}) => restore(local.client(), local.restoreSettings({ snapshot: { imageId: id }, ...overrides }));
    return { local, web, id, restored };
  }

  it('this server’s own snapshot, saving: waits until it is active, then rebuilds', async (t) => {
    const { local, web, id, restored } = await uploading(t, 'web');
    succeeded(await restored());
    assert.match(stdout(), new RegExp(`Snapshot ${id} of instance web is still saving \\(its upload runs\\): waiting until it is active before the rebuild`));
    assert.deepEqual(rebuilds(local), [id]);
    assert.equal(local.lc.server(web.id)?.imageRef, id);
    assert.equal(local.lc.image(id)?.status, 'active');
  });

  it('another server’s snapshot still saving is refused before any change', async (t) => {
    const { local, id, restored } = await uploading(t, 'db');
    const before = local.changes().length;
    await assert.rejects(restored({ allowOtherInstance: true }), (error: Error) => {
      for (const words of [`Snapshot ${id}`, 'is not restored onto instance', 'not active']) assert.ok(error.message.includes(words), error.message);
      return true;
    });
    assert.deepEqual(local.changes().slice(before), []);
  });
});
