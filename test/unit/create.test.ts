import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import nock from 'nock';
import { Refusal, type Outcome } from '../../src/modes/outcome.ts';

import { create } from '../../src/modes/create/create.ts';
import {
  COMPUTE_ORIGIN,
  IMAGE_ID,
  IMAGE_ORIGIN,
  imageBody,
  mockAuth,
  mockSnapshotAccepted,
  newCloud,
  PROJECT_ID,
  serverBody,
  SERVER_ID,
  SERVER_PATH,
  createSettings,
  failed,
  succeeded,
  retention,
  since,
  stdout,
  unmatched,
  useNock,
  useProject,
  volumeBackedImageBody,
} from '../support/nock.ts';

useNock();

const IMAGE_PATH = `/v2/images/${IMAGE_ID}`;

/** Auth, the server (idle unless told), and a createImage answering 202 {image_id}; returns the POST bodies. */
function snapshotAccepted(server = serverBody({ name: 'web' })) {
  mockAuth();
  return mockSnapshotAccepted(server);
}

/** Glance answering the image's GETs with these statuses, one each, in order. */
function imageStatuses(...statuses: string[]) {
  const scope = nock(IMAGE_ORIGIN);
  for (const status of statuses) scope.get(IMAGE_PATH).reply(200, imageBody({ id: IMAGE_ID, status, size: status === 'active' ? 65536 : null }));
  return scope;
}

const failure = async (outcome: Promise<Outcome<unknown>>) => failed(await outcome);

describe('create: the request', () => {
  it('names the snapshot from the template and tags it with the action, the instance, a request ID, metadata and provenance', async () => {
    const bodies = snapshotAccepted();
    imageStatuses('active');
    const result = succeeded(
      await create(
        newCloud(),
        createSettings({
          template: '{instance}-{region}-{sha}-{run_id}',
          metadata: { team: 'ops' },
          provenance: { repository: 'octo/app', sha: '0123456789abcdef', runId: '4242', runAttempt: '1', workflow: 'deploy', refName: 'main' },
        }),
      ),
    );
    assert.equal(bodies.length, 1);
    const { name, metadata } = bodies[0]!.createImage;
    assert.equal(name, 'web-GRA11-0123456-4242');
    assert.equal(result.image.name, name);
    const { snapshot_request_id: requestId, ...rest } = metadata;
    assert.match(requestId!, /^[0-9a-f-]{36}$/);
    assert.deepEqual(rest, {
      team: 'ops',
      github_repository: 'octo/app',
      github_sha: '0123456789abcdef',
      github_run_id: '4242',
      github_run_attempt: '1',
      github_workflow: 'deploy',
      github_ref_name: 'main',
      managed_by: 'openstack-snapshot-action',
      source_instance_id: SERVER_ID,
      source_instance_name: 'web',
    });
  });

  it('the default name is {instance}-{timestamp} in UTC', async () => {
    const bodies = snapshotAccepted();
    imageStatuses('active');
    await create(newCloud(), createSettings());
    assert.match(bodies[0]!.createImage.name, /^web-\d{8}-\d{6}$/);
  });
});

describe('create: an old Nova (before 2.45)', () => {
  it('falls back after the 406 and reads the image ID from the Location header', async () => {
    mockAuth();
    const old = { computeFault: { code: 406, message: 'Version 2.45 is not supported by the API. Minimum is 2.1 and maximum is 2.38.' } };
    const refused = nock(COMPUTE_ORIGIN, { reqheaders: { 'openstack-api-version': 'compute 2.45' } })
      .get(SERVER_PATH)
      .reply(406, old);
    const plain = nock(COMPUTE_ORIGIN, { badheaders: ['openstack-api-version'] })
      .get(SERVER_PATH)
      .reply(200, { server: serverBody({ name: 'web' }) })
      .post(`${SERVER_PATH}/action`)
      .reply(202, '', { Location: `http://127.0.0.1:9292/images/${IMAGE_ID}`, 'Content-Type': 'text/html; charset=UTF-8' });
    imageStatuses('active');
    const result = succeeded(await create(newCloud(), createSettings()));
    refused.done();
    plain.done();
    assert.equal(result.image.id, IMAGE_ID);
    assert.match(stdout(), new RegExp(`Snapshot requested: ${IMAGE_ID} .*\\(Nova microversion 2\\.1\\)`));
  });
});

describe('create: waiting for the image', () => {
  it('queued → saving → active: succeeds with the image, its size and the number of polls', async () => {
    snapshotAccepted();
    const glance = imageStatuses('queued', 'saving', 'active');
    const result = succeeded(await create(newCloud(), createSettings()));
    glance.done();
    assert.equal(result.image.id, IMAGE_ID);
    assert.equal(result.image.status, 'active');
    assert.equal(result.image.size, 65536);
    assert.equal(result.polls, 3);
    assert.deepEqual(result.volumeSnapshotIds, []);
    assert.equal(result.server.volumeBacked, false);
    const log = stdout();
    for (const status of ['queued', 'saving', 'active']) assert.match(log, new RegExp(`snapshot ${IMAGE_ID}: ${status}`));
    assert.deepEqual(unmatched, []);
  });

  it('killed: fails at once, naming the image and how to clean it up', async () => {
    snapshotAccepted();
    imageStatuses('queued', 'killed');
    const error = await failure(create(newCloud(), createSettings()));
    assert.equal(error.imageId, IMAGE_ID);
    assert.match(
      error.message,
      new RegExp(`snapshot ${IMAGE_ID} is killed\\. Nothing will make it active; delete it \\(mode: delete, snapshot-id: ${IMAGE_ID}\\)`),
    );
    assert.ok(nock.isDone(), 'no poll after killed');
  });

  for (const status of ['deleted', 'pending_delete', 'deactivated']) {
    it(`${status}: fails at the first poll that shows it`, async () => {
      snapshotAccepted();
      imageStatuses(status);
      const start = Date.now();
      const error = await failure(create(newCloud(), createSettings()));
      assert.match(error.message, new RegExp(`is ${status}\\. Nothing will make it active`));
      assert.ok(since(start) < 900, 'no second poll');
      assert.deepEqual(unmatched, []);
    });
  }

  it('404 mid-wait: the image is gone (Nova deletes it when the snapshot fails)', async () => {
    snapshotAccepted();
    nock(IMAGE_ORIGIN)
      .get(IMAGE_PATH)
      .reply(200, imageBody({ id: IMAGE_ID, status: 'queued' }))
      .get(IMAGE_PATH)
      .reply(404, { message: `No image found with ID ${IMAGE_ID}`, code: '404 Not Found', title: 'Not Found' });
    const error = await failure(create(newCloud(), createSettings()));
    assert.equal(error.imageId, IMAGE_ID);
    assert.match(error.message, new RegExp(`snapshot ${IMAGE_ID} disappeared while it was being made`));
    assert.match(error.message, new RegExp(`openstack server show ${SERVER_ID}`));
  });

  it('timeout: names the image, its last status and the server task_state, says the snapshot goes on and how to check it', async () => {
    snapshotAccepted();
    nock(IMAGE_ORIGIN)
      .get(IMAGE_PATH)
      .times(10)
      .reply(200, imageBody({ id: IMAGE_ID, status: 'saving', size: null }));
    nock(COMPUTE_ORIGIN)
      .get(SERVER_PATH)
      .reply(200, { server: serverBody({ name: 'web', taskState: 'image_uploading' }) });
    const start = Date.now();
    const error = await failure(create(newCloud(), createSettings({ timeoutMs: 1_500 })));
    assert.ok(since(start) >= 1_400 && since(start) < 3_500, `took ${since(start)} ms`);
    assert.equal(error.imageId, IMAGE_ID);
    assert.match(
      error.message,
      new RegExp(
        `^Timed out \\(timeout [\\d.]+s\\) waiting for snapshot ${IMAGE_ID} to become active, [\\d.]+m?s after the snapshot was requested: it is still saving`,
      ),
    );
    assert.match(error.message, /instance web has task_state image_uploading/);
    assert.match(error.message, /The snapshot goes on in the cloud/);
    assert.match(error.message, new RegExp(`openstack image show ${IMAGE_ID} -c status`));
    assert.match(error.message, new RegExp(`mode delete with snapshot-id ${IMAGE_ID}`));
    assert.deepEqual(unmatched, []);
  });

  it('timeout while the server is gone too: still names the image and its status', async () => {
    snapshotAccepted();
    nock(IMAGE_ORIGIN)
      .get(IMAGE_PATH)
      .times(10)
      .reply(200, imageBody({ id: IMAGE_ID, status: 'queued' }));
    nock(COMPUTE_ORIGIN)
      .get(SERVER_PATH)
      .reply(404, { itemNotFound: { code: 404, message: 'Instance could not be found.' } });
    const error = await failure(create(newCloud(), createSettings({ timeoutMs: 1_000 })));
    assert.match(
      error.message,
      new RegExp(`snapshot ${IMAGE_ID} to become active, [\\d.]+m?s after the snapshot was requested: it is still queued\\. The snapshot goes on`),
    );
  });

  it('a createImage that uses up the whole timeout: the image is still looked at, and reported as queued, not gone', async () => {
    mockAuth();
    nock(COMPUTE_ORIGIN)
      .get(SERVER_PATH)
      .reply(200, { server: serverBody({ name: 'web' }) })
      .post(`${SERVER_PATH}/action`)
      .reply(async () => {
        await sleep(1_200);
        return [202, { image_id: IMAGE_ID }];
      })
      .get(SERVER_PATH)
      .reply(200, { server: serverBody({ name: 'web', taskState: 'image_uploading' }) });
    // Glance takes a realistic moment to answer (the real one: ~10 ms).
    nock(IMAGE_ORIGIN)
      .get(IMAGE_PATH)
      .delay(50)
      .reply(200, imageBody({ id: IMAGE_ID, status: 'queued' }));
    const error = await failure(create(newCloud(), createSettings({ timeoutMs: 1_000 })));
    assert.equal(error.imageId, IMAGE_ID);
    assert.match(error.message, /: it is still queued, and instance web has task_state image_uploading\./);
    assert.doesNotMatch(error.message, /disappeared/);
    assert.deepEqual(unmatched, []);
  });

  it('a volume-backed server: the image is active at the first poll and its Cinder snapshots are reported', async () => {
    const snapshots = ['0cd5c12a-8597-42cd-aa55-e1d16458aacb', '1de6d23b-9608-43de-bb66-f2e27569bbdc'];
    snapshotAccepted(serverBody({ name: 'web', volumeBacked: true }));
    nock(IMAGE_ORIGIN)
      .get(IMAGE_PATH)
      .reply(200, volumeBackedImageBody(snapshots, { id: IMAGE_ID }));
    const start = Date.now();
    const result = succeeded(await create(newCloud(), createSettings()));
    assert.ok(since(start) < 900, 'no second poll');
    assert.equal(result.server.volumeBacked, true);
    assert.equal(result.polls, 1);
    assert.equal(result.image.size, 0);
    assert.deepEqual(result.volumeSnapshotIds, snapshots);
    assert.match(stdout(), /volume-backed/);
  });

  it('wait: false looks at the image once and returns it as it is', async () => {
    snapshotAccepted();
    const glance = imageStatuses('queued');
    const result = succeeded(await create(newCloud(), createSettings({ wait: false })));
    glance.done();
    assert.equal(result.image.status, 'queued');
    assert.equal(result.polls, 1);
    assert.deepEqual(unmatched, []);
  });

  it('a server that stays busy past the timeout: no createImage, and the error says what to check', async () => {
    mockAuth();
    nock(COMPUTE_ORIGIN)
      .get(SERVER_PATH)
      .times(10)
      .reply(200, { server: serverBody({ name: 'web', taskState: 'image_snapshot_pending' }) });
    await assert.rejects(create(newCloud(), createSettings({ timeoutMs: 1_200 })), (error: Error) => {
      assert.match(
        error.message,
        new RegExp(`Timed out waiting for instance web \\(${SERVER_ID}\\) to be free: it is still ACTIVE with task_state image_snapshot_pending`),
      );
      assert.match(error.message, /openstack server show/);
      return true;
    });
    assert.deepEqual(unmatched, []);
  });
});

describe('create with retention: prune after the snapshot is active', () => {
  useProject();
  const managed = (id: string, name: string, createdAt: string) =>
    imageBody({ id, name, created_at: createdAt, managed_by: 'openstack-snapshot-action', source_instance_id: SERVER_ID });

  it("deletes only the instance's older snapshots that the template names, beyond the policy", async () => {
    snapshotAccepted();
    imageStatuses('active');
    const now = new Date().toISOString();
    const list = nock(IMAGE_ORIGIN)
      .get('/v2/images')
      .query({
        limit: '1000',
        owner: PROJECT_ID,
        status: 'active',
        sort: 'created_at:desc',
        managed_by: 'openstack-snapshot-action',
        source_instance_id: SERVER_ID,
      })
      .reply(200, {
        images: [
          managed(IMAGE_ID, 'web-20990101-000000', now),
          managed('old-1', 'web-20240102-000000', '2024-01-02T00:00:00Z'),
          managed('other-template', 'nightly-web', '2024-01-01T12:00:00Z'),
          managed('old-2', 'web-20240101-000000', '2024-01-01T00:00:00Z'),
        ],
      });
    const deleted = nock(IMAGE_ORIGIN).delete('/v2/images/old-2').reply(204);
    const result = succeeded(await create(newCloud(), createSettings({ retention: retention({ policy: { last: 2 }, maxDeletes: 10, concurrency: 2 }) })));
    list.done();
    deleted.done();
    assert.deepEqual(
      result.prune!.decisions.map((d) => [d.snapshot.id, d.keep]),
      [
        [IMAGE_ID, true],
        ['old-1', true],
        ['old-2', false],
      ],
    );
    assert.deepEqual(unmatched, []);
  });

  it("never counts nor deletes the backups a restore took (snapshot-before), though the template's glob matches their names", async () => {
    snapshotAccepted();
    imageStatuses('active');
    const now = new Date().toISOString();
    const backup = (id: string, createdAt: string) => ({ ...managed(id, `web-before-restore-${id}`, createdAt), taken_before_restore_of: 'known-good' });
    nock(IMAGE_ORIGIN)
      .get('/v2/images')
      .query({
        limit: '1000',
        owner: PROJECT_ID,
        status: 'active',
        sort: 'created_at:desc',
        managed_by: 'openstack-snapshot-action',
        source_instance_id: SERVER_ID,
      })
      .reply(200, {
        images: [
          managed(IMAGE_ID, 'web-20990101-000000', now),
          backup('backup-2', '2024-01-04T00:00:00Z'),
          backup('backup-1', '2024-01-03T00:00:00Z'),
          managed('known-good', 'web-20240102-000000', '2024-01-02T00:00:00Z'),
        ],
      });
    const result = succeeded(await create(newCloud(), createSettings({ retention: retention({ policy: { last: 2 }, maxDeletes: 10, concurrency: 2 }) })));
    assert.deepEqual(
      result.prune!.decisions.map((d) => [d.snapshot.id, d.keep]),
      [
        [IMAGE_ID, true],
        ['known-good', true],
      ],
    );
    assert.deepEqual(result.prune!.deletions, []);
    assert.deepEqual(unmatched, [], 'no DELETE');
  });

  it('when the new snapshot is not listed, nothing is pruned', async () => {
    snapshotAccepted();
    imageStatuses('active');
    nock(IMAGE_ORIGIN)
      .get('/v2/images')
      .query(true)
      .reply(200, {
        images: [managed('old-1', 'web-20240102-000000', '2024-01-02T00:00:00Z'), managed('old-2', 'web-20240101-000000', '2024-01-01T00:00:00Z')],
      });
    const { result, failure } = await create(newCloud(), createSettings({ retention: retention({ policy: { last: 1 }, maxDeletes: 10, concurrency: 2 }) }));
    assert.equal(result?.mode, 'create');
    assert.ok(failure instanceof Refusal, 'the step fails for it');
    assert.equal(failure.reason, 'the new snapshot was not listed');
    assert.deepEqual(result.prune?.deletions, []);
    assert.equal(failure.message, 'Prune refused: the new snapshot was not listed');
    assert.match(stdout(), /pruning is skipped/);
    assert.deepEqual(unmatched, []);
  });

  it('a snapshot that did not become active prunes nothing', async () => {
    snapshotAccepted();
    imageStatuses('killed');
    await failure(create(newCloud(), createSettings({ retention: retention({ policy: { last: 1 }, maxDeletes: 10, concurrency: 2 }) })));
    assert.deepEqual(unmatched, [], 'no listing, no deletion');
  });
});
