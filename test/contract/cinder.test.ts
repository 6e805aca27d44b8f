// Cinder as volume.ts uses it: the snapshots of a volume (paged), one snapshot, the volumes and
// who has them attached, deleting a snapshot. Its snapshots come from createImage of the
// volume-backed server, as the action's do.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { OpenStack } from '../support/openstack.ts';
import { poll } from '../support/poll.ts';
import { openTarget, type Target } from './target.ts';

describe('contract: Cinder', () => {
  let target: Target;
  let session: OpenStack;
  let server: { id: string; volumeId: string };
  const snapshots: string[] = [];
  before(async () => {
    target = await openTarget();
    session = await target.login();
    const s = await session.serverNamed(target.volumeServer);
    server = { id: s.id, volumeId: s['os-extended-volumes:volumes_attached'][0].id };
    for (const name of ['cinder-1', 'cinder-2']) {
      const image = await session.image((await session.createImage(server.id, `${target.tag}-${name}`)).body.image_id);
      assert.ok(image);
      snapshots.push((JSON.parse(image.block_device_mapping) as { snapshot_id: string }[])[0]!.snapshot_id);
    }
  });
  after(() => target.close());

  test('the snapshots of a volume, in pages: a full page links to the next by marker', async () => {
    const first = await session.cinder('GET', `/snapshots?${new URLSearchParams({ volume_id: server.volumeId, limit: '1' })}`);
    assert.equal(first.status, 200, first.text);
    assert.equal(first.body.snapshots.length, 1);
    const next = new URL(first.body.snapshots_links.find((l: { rel: string }) => l.rel === 'next').href);
    assert.equal(next.searchParams.get('marker'), first.body.snapshots[0].id);
    assert.equal(next.searchParams.get('volume_id'), server.volumeId);
    const all = await session.cinder('GET', `/snapshots?${new URLSearchParams({ volume_id: server.volumeId, limit: '1000' })}`);
    const ids = all.body.snapshots.map((s: { id: string }) => s.id);
    for (const id of snapshots) assert.ok(ids.includes(id), `${id} is listed`);
    assert.ok(all.body.snapshots.every((s: { volume_id: string }) => s.volume_id === server.volumeId));
  });

  test('GET /snapshots/{id}: id, name, status, volume_id; an unknown one: 404 itemNotFound', async () => {
    const answer = await session.cinder('GET', `/snapshots/${snapshots[0]}`);
    assert.equal(answer.status, 200);
    const snapshot = answer.body.snapshot;
    assert.deepEqual([snapshot.id, snapshot.status, snapshot.volume_id], [snapshots[0], 'available', server.volumeId]);
    assert.equal(snapshot.name, `snapshot for ${target.tag}-cinder-1`);
    const missing = await session.cinder('GET', '/snapshots/00000000-0000-4000-8000-000000000000');
    assert.equal(missing.status, 404);
    assert.match(missing.body.itemNotFound.message, /could not be found/);
  });

  test('GET /volumes/detail: the boot volume, attached to its server, made from no snapshot', async () => {
    const answer = await session.cinder('GET', '/volumes/detail?limit=1000');
    assert.equal(answer.status, 200);
    const volume = answer.body.volumes.find((v: { id: string }) => v.id === server.volumeId);
    assert.ok(volume, 'the boot volume is listed');
    assert.equal(volume.snapshot_id, null);
    assert.deepEqual(
      volume.attachments.map((a: { server_id: string }) => a.server_id),
      [server.id],
    );
  });

  test('DELETE /snapshots/{id}: 202 with no body, then deleting, then 404', async () => {
    const answer = await session.cinder('DELETE', `/snapshots/${snapshots[1]}`);
    assert.equal(answer.status, 202);
    assert.equal(answer.text, '');
    await poll('the snapshot to be gone', async () => {
      const s = await session.cinder('GET', `/snapshots/${snapshots[1]}`);
      if (s.status === 200) assert.equal(s.body.snapshot.status, 'deleting');
      return s.status === 404 ? true : undefined;
    });
    assert.equal((await session.cinder('DELETE', `/snapshots/${snapshots[1]}`)).status, 404);
  });
});
