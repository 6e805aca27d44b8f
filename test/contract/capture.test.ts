// The two phases of an image-backed snapshot, as wait: captured relies on them: the server's task
// states in order (image_snapshot_pending, image_snapshot, image_pending_upload while the disk is
// captured, image_uploading while it is uploaded, then none), the image queued until the capture
// ends and saving only after it; the servers listing with changes-since; and what Nova records of
// the createImage (os-instance-actions: events from 2.51; their details, 2.84, only for an admin by default).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { OpenStack } from '../support/openstack.ts';
import { poll } from '../support/poll.ts';
import { openTarget, type Target } from './target.ts';

const ORDER = ['image_snapshot_pending', 'image_snapshot', 'image_pending_upload', 'image_uploading', null];
const CAPTURING = new Set(['image_snapshot_pending', 'image_snapshot', 'image_pending_upload']);

describe('contract: a snapshot’s capture, then its upload', () => {
  let target: Target;
  let session: OpenStack;
  let serverId: string;
  let imageId: string;
  let requestId: string;
  let since: string;
  before(async () => {
    // Phases long enough to be seen by a poll every 100 ms on a loaded machine (the loopback cloud's default: 2 s each).
    target = await openTarget({ captureSeconds: 2, uploadSeconds: 2 });
    session = await target.login();
    serverId = await target.scratchServer();
  });
  after(() => target.close());

  test('task states in order, the image queued while the disk is captured and saving only once image_uploading is shown', async () => {
    since = new Date(Date.now() - 60_000).toISOString().replace(/\.\d+Z$/, 'Z');
    const answer = await session.createImage(serverId, 'phases');
    assert.equal(answer.status, 202, answer.text);
    imageId = answer.body.image_id;
    requestId = answer.headers.get('x-openstack-request-id') ?? '';
    assert.match(requestId, /^req-[0-9a-f-]{36}$/);
    const seen: [string | null, string][] = [];
    await poll(
      'the snapshot to end',
      async () => {
        // The image first, then the server: a capture seen on the server had the image queued before it,
        // and an upload seen in Glance has the server in image_uploading (or done) after it.
        const image = await session.image(imageId);
        const server = await session.server(serverId);
        const pair: [string | null, string] = [server['OS-EXT-STS:task_state'], image?.status ?? 'gone'];
        if (JSON.stringify(seen.at(-1)) !== JSON.stringify(pair)) seen.push(pair);
        return pair[0] === null && pair[1] === 'active' ? true : undefined;
      },
      { timeoutMs: 120_000 },
    );
    const states = seen.map(([task]) => task).filter((task, i, all) => task !== all[i - 1]);
    const ranks = states.map((task) => ORDER.indexOf(task));
    assert.ok(
      ranks.every((rank, i) => rank >= 0 && (i === 0 || rank > ranks[i - 1]!)),
      `task states in order: ${JSON.stringify(seen)}`,
    );
    assert.ok(states.includes('image_pending_upload') && states.includes('image_uploading'), `both phases seen: ${JSON.stringify(seen)}`);
    for (const [task, status] of seen) {
      if (CAPTURING.has(task ?? '')) assert.equal(status, 'queued', `the image is queued while the disk is captured: ${JSON.stringify(seen)}`);
      if (status === 'saving') assert.ok(task === 'image_uploading' || task === null, `saving only once image_uploading is shown: ${JSON.stringify(seen)}`);
    }
    assert.ok(
      seen.some(([task, status]) => task === 'image_uploading' && status === 'saving'),
      `the upload seen as image_uploading + saving: ${JSON.stringify(seen)}`,
    );
  });

  test('GET /servers/detail?changes-since: the server snapshotted since then is listed', async () => {
    const answer = await session.nova('GET', `/servers/detail?${new URLSearchParams({ limit: '1000', 'changes-since': since })}`);
    assert.equal(answer.status, 200, answer.text);
    assert.ok(answer.body.servers.some((s: { id: string }) => s.id === serverId));
    const future = await session.nova('GET', `/servers/detail?${new URLSearchParams({ 'changes-since': '2999-01-01T00:00:00Z' })}`);
    assert.deepEqual(future.body.servers, []);
  });

  test('os-instance-actions: the createImage under its request ID; its event compute_snapshot_instance from 2.51, without details for a non-admin at 2.84 (admin-only by default)', async () => {
    const list = await session.nova('GET', `/servers/${serverId}/os-instance-actions`, { version: '2.84' });
    assert.equal(list.status, 200, list.text);
    const action = list.body.instanceActions.find((a: { request_id: string }) => a.request_id === requestId);
    assert.equal(action?.action, 'createImage', list.text);
    const at = (version: string) => session.nova('GET', `/servers/${serverId}/os-instance-actions/${requestId}`, { version });
    const detail = (await at('2.84')).body.instanceAction;
    assert.equal(detail.message, null);
    const [event] = detail.events;
    assert.deepEqual([event.event, event.result, 'details' in event], ['compute_snapshot_instance', 'Success', false]);
    const older = (await at('2.51')).body.instanceAction;
    assert.equal(older.events[0].event, 'compute_snapshot_instance');
    assert.equal('details' in older.events[0], false);
  });
});
