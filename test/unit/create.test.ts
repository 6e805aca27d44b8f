// Mode create against the local cloud, in this process: the request, the wait for the image, and
// the prune after it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create } from '../../src/modes/create/create.ts';
import { Refusal } from '../../src/modes/outcome.ts';
import { CrossHostError } from '../../src/openstack/errors.ts';
import { failed, Local, REGION, retention, succeeded } from '../support/in-process.ts';
import { stdout } from '../support/step.ts';

/** The requests of a create of one server by name that made `imageId` and looked at it `looks` times. */
const createdAndLooked = (server: { id: string }, imageId: string, looks: number) => [
  'POST /v3/auth/tokens',
  'GET /servers/detail?limit=1000&name=web',
  `POST /servers/${server.id}/action createImage`,
  ...Array<string>(looks).fill(`GET /v2/images/${imageId}`),
];

describe('create: the request', () => {
  it('names the snapshot from the template and tags it with the action, the instance, a request ID, metadata and provenance', async (t) => {
    const local = await Local.start(t, { snapshotSeconds: 0 });
    const web = local.server();
    const provenance = { repository: 'octo/app', sha: '0123456789abcdef', runId: '4242', runAttempt: '1', workflow: 'deploy', refName: 'main' };
    const settings = local.createSettings({ template: '{instance}-{region}-{sha}-{run_id}', metadata: { team: 'ops' }, provenance });
    const result = succeeded(await create(local.client(), settings));
    assert.deepEqual(local.changes(), [`POST /servers/${web.id}/action createImage`]);
    const [{ name, metadata }] = local.argsOf<{ name: string; metadata: Record<string, string> }>('createImage');
    assert.equal(name, `web-${REGION}-0123456-4242`);
    assert.equal(result.image.name, name);
    assert.equal(local.lc.image(result.image.id)?.name, name);
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
      source_instance_id: web.id,
      source_instance_name: 'web',
    });
  });

  it('the default name is {instance}-{timestamp} in UTC', async (t) => {
    const local = await Local.start(t, { snapshotSeconds: 0 });
    local.server();
    const { image } = succeeded(await create(local.client(), local.createSettings()));
    assert.match(local.lc.image(image.id)?.name ?? '', /^web-\d{8}-\d{6}$/);
  });
});

describe('create: an old Nova (before 2.45)', () => {
  it('falls back after the 406 and reads the image ID from the Location header', async (t) => {
    const local = await Local.start(t, { snapshotSeconds: 0, maxMicroversion: '2.38' });
    const web = local.server();
    const result = succeeded(await create(local.client(), local.createSettings()));
    // Refused at 2.45, then asked again, and everything after, at the base version.
    assert.deepEqual(
      local.lc.requests.filter((r) => r.service === 'compute').map((r) => `${r.status} ${r.action ?? r.method}`),
      ['406 GET', '200 GET', '202 createImage'],
    );
    assert.equal(local.lc.image(result.image.id)?.properties.instance_uuid, web.id);
    assert.match(stdout(), new RegExp(`Snapshot requested: ${result.image.id} .*\\(Nova microversion 2\\.1\\)`));
  });
});

describe('create: waiting for the image', () => {
  it('queued → saving → active: succeeds with the image, its size and the number of polls', async (t) => {
    // A snapshot of 100 s: queued at the first look, saving at the second (60 s in), active at the third.
    const local = await Local.start(t, { snapshotSeconds: 100 });
    const web = local.server();
    const look = { method: 'GET', path: /\/v2\/images\// };
    local.lc.once(look, () => local.lc.advance(60_000), 1);
    local.lc.once(look, () => local.lc.advance(50_000), 2);
    const result = succeeded(await create(local.client(), local.createSettings()));
    assert.equal(local.lc.image(result.image.id)?.status, 'active');
    assert.equal(result.image.status, 'active');
    assert.equal(result.image.size, 65536);
    assert.equal(result.polls, 3);
    assert.deepEqual(result.volumeSnapshotIds, []);
    assert.equal(result.server.volumeBacked, false);
    for (const status of ['queued', 'saving', 'active']) assert.match(stdout(), new RegExp(`snapshot ${result.image.id}: ${status}`));
    assert.deepEqual(local.sent(), createdAndLooked(web, result.image.id, result.polls), 'one GET per poll, nothing else');
  });

  it('killed: fails at once, naming the image and how to clean it up', async (t) => {
    const local = await Local.start(t);
    const web = local.server();
    local.lc.fault({ match: { action: 'createImage' }, kind: 'image-killed', afterMs: 0 });
    const error = failed(await create(local.client(), local.createSettings()));
    const imageId = error.imageId ?? '';
    assert.equal(local.lc.image(imageId)?.status, 'killed');
    assert.match(
      error.message,
      new RegExp(`snapshot ${imageId} is killed\\. Nothing will make it active; delete it \\(mode: delete, snapshot-id: ${imageId}\\)`),
    );
    assert.deepEqual(local.sent(), createdAndLooked(web, imageId, 1), 'no poll after killed');
  });

  for (const status of ['deleted', 'pending_delete', 'deactivated']) {
    it(`${status}: fails at the first poll that shows it`, async (t) => {
      const local = await Local.start(t);
      const web = local.server();
      local.lc.fault({ match: { action: 'createImage' }, kind: 'image-killed', afterMs: 0, status });
      const error = failed(await create(local.client(), local.createSettings()));
      assert.match(error.message, new RegExp(`is ${status}\\. Nothing will make it active`));
      assert.deepEqual(local.sent(), createdAndLooked(web, error.imageId ?? '', 1), 'no second poll');
    });
  }

  it('404 mid-wait: the image is gone (Nova deletes it when the snapshot fails)', async (t) => {
    const local = await Local.start(t);
    const web = local.server();
    local.lc.fault({ match: { action: 'createImage' }, kind: 'image-vanish', afterMs: 100 });
    const error = failed(await create(local.client(), local.createSettings()));
    assert.ok(error.imageId && local.lc.requests.some((r) => r.path.endsWith(`/v2/images/${error.imageId}`) && r.status === 404));
    assert.match(error.message, new RegExp(`snapshot ${error.imageId} disappeared while it was being made`));
    assert.match(error.message, new RegExp(`openstack server show ${web.id}`));
  });

  it('timeout: names the image, its last status and the server task_state, says the snapshot goes on and how to check it', async (t) => {
    // A snapshot of 100 s, 60 s in at the first look: saving, the server's task_state image_uploading.
    const local = await Local.start(t, { snapshotSeconds: 100 });
    const web = local.server();
    local.lc.once({ method: 'GET', path: /\/v2\/images\// }, () => local.lc.advance(60_000));
    const start = Date.now();
    const error = failed(await create(local.client(), local.createSettings({ timeoutMs: 1_500 })));
    const took = Date.now() - start;
    assert.ok(took >= 1_400 && took < 3_500, `took ${took} ms`);
    const imageId = error.imageId ?? '';
    assert.ok(local.lc.image(imageId));
    assert.match(
      error.message,
      new RegExp(
        `^Timed out \\(timeout [\\d.]+s\\) waiting for snapshot ${imageId} to become active, [\\d.]+m?s after the snapshot was requested: it is still saving`,
      ),
    );
    assert.match(error.message, /instance web has task_state image_uploading/);
    assert.match(error.message, /The snapshot goes on in the cloud/);
    assert.match(error.message, new RegExp(`openstack image show ${imageId} -c status`));
    assert.match(error.message, new RegExp(`mode delete with snapshot-id ${imageId}`));
    const looks = local.sent().filter((r) => r === `GET /v2/images/${imageId}`).length;
    assert.deepEqual(local.sent(), [...createdAndLooked(web, imageId, looks), `GET /servers/${web.id}`]);
  });

  it('timeout while the server is gone too: still names the image and its status', async (t) => {
    const local = await Local.start(t, { snapshotSeconds: 10 });
    const web = local.server();
    local.lc.fault({
      match: { method: 'GET', path: new RegExp(`/servers/${web.id}$`) },
      kind: 'status',
      status: 404,
      body: { itemNotFound: { code: 404, message: 'Instance could not be found.' } },
    });
    const error = failed(await create(local.client(), local.createSettings({ timeoutMs: 1_000 })));
    assert.match(
      error.message,
      new RegExp(`snapshot ${error.imageId} to become active, [\\d.]+m?s after the snapshot was requested: it is still queued\\. The snapshot goes on`),
    );
  });

  it('a createImage that uses up the whole timeout: the image is still looked at, and reported as queued, not gone', async (t) => {
    // Nova makes the image at once and answers 1.2 s later; 10 s into a snapshot of 100 s, the image is queued.
    const local = await Local.start(t, { snapshotSeconds: 100 });
    const web = local.server();
    local.lc.once({ method: 'GET', path: /\/v2\/images\// }, () => local.lc.advance(10_000));
    local.lc.fault({ match: { action: 'createImage' }, kind: 'delay', ms: 1_200 });
    const error = failed(await create(local.client(), local.createSettings({ timeoutMs: 1_000 })));
    const imageId = error.imageId ?? '';
    assert.ok(local.lc.image(imageId));
    assert.match(error.message, /: it is still queued, and instance web has task_state image_pending_upload\./);
    assert.doesNotMatch(error.message, /disappeared/);
    assert.deepEqual(local.sent(), [...createdAndLooked(web, imageId, 1), `GET /servers/${web.id}`]);
  });

  it('a volume-backed server: the image is active at the first poll and its Cinder snapshots are reported', async (t) => {
    const local = await Local.start(t);
    const web = local.server({ volumeBacked: true });
    const result = succeeded(await create(local.client(), local.createSettings()));
    assert.equal(result.server.volumeBacked, true);
    assert.equal(result.polls, 1);
    assert.equal(result.image.size, 0);
    const made = local.lc.volumeSnapshots(REGION).map((s) => s.id);
    assert.equal(made.length, 1);
    assert.deepEqual(result.volumeSnapshotIds, made);
    assert.match(stdout(), /volume-backed/);
    assert.deepEqual(local.sent(), createdAndLooked(web, result.image.id, 1), 'no second poll');
  });

  it('wait: false looks at the image once and returns it as it is', async (t) => {
    const local = await Local.start(t, { snapshotSeconds: 10 });
    const web = local.server();
    const result = succeeded(await create(local.client(), local.createSettings({ wait: false })));
    assert.equal(result.image.status, 'queued');
    assert.equal(result.polls, 1);
    assert.deepEqual(local.sent(), createdAndLooked(web, result.image.id, 1));
  });

  it('a server that stays busy past the timeout: no createImage, and the error says what to check', async (t) => {
    const local = await Local.start(t);
    const web = local.server({ taskState: 'image_snapshot_pending' });
    await assert.rejects(create(local.client(), local.createSettings({ timeoutMs: 1_200 })), (error: Error) => {
      assert.match(
        error.message,
        new RegExp(`Timed out waiting for instance web \\(${web.id}\\) to be free: it is still ACTIVE with task_state image_snapshot_pending`),
      );
      assert.match(error.message, /openstack server show/);
      return true;
    });
    assert.deepEqual(local.changes(), []);
  });
});

describe('create with retention: prune after the snapshot is active', () => {
  /** A cloud whose server `web` has these older snapshots (by ID, name and creation), and a create of it under `policy`. */
  async function withSnapshots(t: Parameters<typeof Local.start>[0], olders: [string, string, string, Record<string, string>?][], last = 2) {
    const local = await Local.start(t, { snapshotSeconds: 0 });
    const web = local.server();
    for (const [id, name, createdAt, properties] of olders) local.snapshot(web, { id, name, createdAt }, properties);
    const settings = local.createSettings({ retention: retention({ policy: { last }, maxDeletes: 10, concurrency: 2 }) });
    return { local, web, settings };
  }

  it("deletes only the instance's older snapshots that the template names, beyond the policy; never counts nor deletes the backups a restore took (snapshot-before), though the glob matches them", async (t) => {
    const backup = { taken_before_restore_of: 'old-1' };
    const { local, web, settings } = await withSnapshots(t, [
      ['backup-2', 'web-before-restore-backup-2', '2024-01-04T00:00:00Z', backup],
      ['backup-1', 'web-before-restore-backup-1', '2024-01-03T00:00:00Z', backup],
      ['old-1', 'web-20240102-000000', '2024-01-02T00:00:00Z'],
      ['other-template', 'nightly-web', '2024-01-01T12:00:00Z'],
      ['old-2', 'web-20240101-000000', '2024-01-01T00:00:00Z'],
    ]);
    const result = succeeded(await create(local.client(), settings));
    // Were the backups counted, keep-last 2 would keep backup-2 and delete backup-1 and old-1.
    assert.deepEqual(
      result.prune!.decisions.map((d) => [d.snapshot.id, d.keep]),
      [
        [result.image.id, true],
        ['old-1', true],
        ['old-2', false],
      ],
    );
    assert.deepEqual(local.listings(), [
      {
        limit: '1000',
        owner: local.lc.demo.projectId,
        status: 'active',
        sort: 'created_at:desc',
        managed_by: 'openstack-snapshot-action',
        source_instance_id: web.id,
      },
    ]);
    assert.deepEqual(local.changes(), [`POST /servers/${web.id}/action createImage`, 'DELETE /v2/images/old-2']);
  });

  it('when the new snapshot is not listed, nothing is pruned', async (t) => {
    const { local, web, settings } = await withSnapshots(
      t,
      [
        ['old-1', 'web-20240102-000000', '2024-01-02T00:00:00Z'],
        ['old-2', 'web-20240101-000000', '2024-01-01T00:00:00Z'],
      ],
      1,
    );
    // Someone deletes the new snapshot just as the prune lists the instance's.
    local.lc.once({ service: 'image', path: /managed_by=/ }, () => {
      const made = local.lc.world.findImage(local.lc.images(REGION).find((i) => i.properties.snapshot_request_id)?.id ?? '');
      if (made) local.lc.world.deleteImage(made);
    });
    const { result, failure } = await create(local.client(), settings);
    assert.equal(result?.mode, 'create');
    assert.ok(failure instanceof Refusal, 'the step fails for it');
    assert.equal(failure.reason, 'the new snapshot was not listed');
    assert.deepEqual(result.prune?.deletions, []);
    assert.equal(failure.message, 'Prune refused: the new snapshot was not listed');
    assert.match(stdout(), /pruning is skipped/);
    assert.deepEqual(local.changes(), [`POST /servers/${web.id}/action createImage`]);
  });

  it('a snapshot that did not become active prunes nothing', async (t) => {
    const { local, web, settings } = await withSnapshots(t, [['old-1', 'web-20240102-000000', '2024-01-02T00:00:00Z']], 1);
    local.lc.fault({ match: { action: 'createImage' }, kind: 'image-killed', afterMs: 0 });
    failed(await create(local.client(), settings));
    assert.deepEqual(local.listings(), [], 'no listing');
    assert.deepEqual(local.changes(), [`POST /servers/${web.id}/action createImage`], 'no deletion');
  });
});

describe('create: at most one snapshot however createImage fails', () => {
  const BAD_GATEWAY = '<html><body><h1>502 Bad Gateway</h1>The server returned an invalid or incomplete response.</body></html>';
  type Sent = { name: string; metadata: Record<string, string> };

  for (const [label, fault, code] of [
    ['a 502', { kind: 'status', status: 502, body: BAD_GATEWAY, headers: { 'Content-Type': 'text/html' }, executed: true }, '502'],
    ['a connection reset', { kind: 'lose-response' }, 'ECONNRESET'],
  ] as const) {
    it(`after ${label} (Nova acted), finds the image by snapshot_request_id and adopts it: one POST only`, async (t) => {
      const local = await Local.start(t, { snapshotSeconds: 0.3 });
      local.server();
      local.lc.fault({ match: { action: 'createImage' }, ...fault });
      const result = succeeded(await create(local.client(), local.createSettings()));
      const [sent, ...more] = local.argsOf<Sent>('createImage');
      assert.deepEqual(more, [], 'no second snapshot');
      const requestId = sent.metadata.snapshot_request_id;
      assert.deepEqual(local.listings()[0], { limit: '1000', snapshot_request_id: requestId });
      assert.equal(local.lc.image(result.image.id)?.properties.snapshot_request_id, requestId);
      assert.equal(result.image.status, 'active');
      assert.match(stdout(), new RegExp(`::warning::createImage failed without a clear answer \\(${code}\\)`));
      assert.match(stdout(), new RegExp(`The snapshot was made after all: ${result.image.id}`));
    });
  }

  it('when no image carries the request ID and the server is idle, sends createImage again with the same request ID', async (t) => {
    const local = await Local.start(t, { snapshotSeconds: 0 });
    local.server();
    local.lc.fault({ match: { action: 'createImage' }, kind: 'status', status: 502, body: BAD_GATEWAY, headers: { 'Content-Type': 'text/html' } });
    const result = succeeded(await create(local.client(), local.createSettings()));
    const posts = local.argsOf<Sent>('createImage');
    assert.equal(posts.length, 2);
    assert.equal(local.listings().length, 1, 'looked for it once');
    assert.equal(posts[0].metadata.snapshot_request_id, posts[1]?.metadata.snapshot_request_id);
    assert.match(posts[0].metadata.snapshot_request_id ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(posts[0].name, posts[1]?.name);
    assert.deepEqual(
      local.lc.images(REGION).filter((i) => i.properties.snapshot_request_id),
      [local.lc.image(result.image.id)],
    );
  });

  it('a 409 (the server became busy with another snapshot) is waited out: task_state back to null, then one more POST', async (t) => {
    const local = await Local.start(t, { snapshotSeconds: 0.5 });
    const web = local.server();
    // Someone else's snapshot starts just before this one arrives.
    local.lc.once({ action: 'createImage' }, () => local.lc.world.startImageSnapshot(local.lc.world.findServer(web.id) ?? assert.fail(), 'by hand', {}, null));
    const result = succeeded(await create(local.client(), local.createSettings()));
    assert.deepEqual(
      local.lc.requests.filter((r) => r.action === 'createImage').map((r) => r.status),
      [409, 202],
    );
    assert.ok(local.lc.image(result.image.id)?.properties.snapshot_request_id);
    assert.match(stdout(), /Nova answered 409/);
  });

  it('a server busy at the start is waited for before the first POST', async (t) => {
    const local = await Local.start(t, { snapshotSeconds: 0 });
    const web = local.server({ status: 'REBOOT' });
    local.lc.once({ method: 'GET', path: new RegExp(`/servers/${web.id}$`) }, () => local.lc.setServer(web.id, { status: 'ACTIVE' }), 1);
    succeeded(await create(local.client(), local.createSettings()));
    assert.equal(local.argsOf('createImage').length, 1);
    assert.match(stdout(), /Instance web is REBOOT \(task_state rebooting\): waiting until it can be snapshotted/);
  });

  it('a server in a state Nova cannot snapshot is refused without a POST', async (t) => {
    const local = await Local.start(t);
    local.server({ status: 'ERROR' });
    await assert.rejects(
      create(local.client(), local.createSettings()),
      /is ERROR: Nova can snapshot an instance that is ACTIVE, SHUTOFF, SUSPENDED or PAUSED/,
    );
    assert.deepEqual(local.changes(), []);
  });

  for (const status of [400, 403]) {
    it(`a ${status} (Nova refused it) fails at once without a search or a second POST`, async (t) => {
      const local = await Local.start(t);
      local.server();
      const body = { [status === 400 ? 'badRequest' : 'forbidden']: { code: status, message: 'Policy does not allow this' } };
      local.lc.fault({ match: { action: 'createImage' }, kind: 'status', status, body });
      await assert.rejects(create(local.client(), local.createSettings()), new RegExp(`answered ${status}: Policy does not allow this`));
      assert.equal(local.argsOf('createImage').length, 1);
      assert.deepEqual(local.listings(), []);
    });
  }

  it('a createImage redirected to another host fails once: the token never reaches it, no image search, no second POST', async (t) => {
    const local = await Local.start(t);
    const elsewhere = await Local.start(t);
    local.server();
    local.lc.fault({ match: { action: 'createImage' }, kind: 'status', status: 307, body: '', headers: { Location: `${elsewhere.lc.url}/action` } });
    await assert.rejects(create(local.client(), local.createSettings()), (error: Error) => {
      assert.ok(error instanceof CrossHostError, `${error.name}: ${error.message}`);
      assert.match(error.message, new RegExp(`points to ${elsewhere.lc.url}, not to http://`));
      return true;
    });
    assert.deepEqual(elsewhere.sent(), [], 'the other host got nothing');
    assert.equal(local.argsOf('createImage').length, 1);
    assert.deepEqual(local.listings(), []);
  });
});
