// Nova's rebuild, as the restore mode will send it (POST /servers/{id}/action {"rebuild":
// {"imageRef"}} at the action's microversion): the answer, the task states, the server after it,
// and the refusals. On a server of the run's own, rebuilt with its own snapshot.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { OpenStack } from '../support/openstack.ts';
import { poll } from '../support/poll.ts';
import { localOnly, openTarget, type Target, watchTasks } from './target.ts';

const REBUILDING: [string, string][] = [
  ['rebuilding', 'REBUILD'],
  ['rebuild_block_device_mapping', 'REBUILD'],
  ['rebuild_spawning', 'REBUILD'],
];

describe('contract: Nova rebuild', () => {
  let target: Target;
  let session: OpenStack;
  let serverId: string;
  let bootImage: string;
  let snapshot: string;
  const rebuild = (id: string, imageRef: string, version?: string) =>
    session.nova('POST', `/servers/${id}/action`, { json: { rebuild: { imageRef } }, version });
  /** The states seen are Nova's, in its order (some are too short to be seen every time). */
  const inOrder = (seen: [string | null, string][], states: [string | null, string][]) =>
    assert.deepEqual(
      seen,
      states.filter((state) => seen.some((s) => JSON.stringify(s) === JSON.stringify(state))),
      JSON.stringify(seen),
    );

  before(async () => {
    target = await openTarget();
    session = await target.login();
    serverId = await target.scratchServer();
    bootImage = (await session.server(serverId)).image.id;
    snapshot = (await session.createImage(serverId, `${target.tag}-rebuild-from`)).body.image_id;
    await poll('the snapshot to be active', async () => ((await session.image(snapshot))?.status === 'active' ? true : undefined));
    await watchTasks(session, serverId);
  });
  after(() => target.close());

  test('an image Glance does not have: 400 "Cannot find image for rebuild"', async () => {
    const answer = await rebuild(serverId, '00000000-0000-4000-8000-000000000000');
    assert.equal(answer.status, 400);
    assert.equal(answer.body.badRequest.message, 'Cannot find image for rebuild');
  });

  test('an image that is not active: 400 "Image <id> is not active."', async () => {
    const queued = await target.seedImage(`${target.tag}-queued`, {}, { active: false });
    const answer = await rebuild(serverId, queued);
    assert.equal(answer.status, 400);
    assert.equal(answer.body.badRequest.message, `Image ${queued} is not active.`);
  });

  test('202 with the server: REBUILD, the new image already, the same id, name, flavor, addresses and metadata; Location is the server', async () => {
    const before = await session.server(serverId);
    const answer = await rebuild(serverId, snapshot);
    assert.equal(answer.status, 202, answer.text);
    const server = answer.body.server;
    assert.equal(server.status, 'REBUILD');
    assert.equal(server.image.id, snapshot);
    for (const key of ['id', 'name', 'addresses', 'metadata']) assert.deepEqual(server[key], before[key], key);
    assert.equal(server.flavor.id, before.flavor.id);
    assert.equal(typeof server.adminPass, 'string');
    assert.equal(server['OS-EXT-STS:task_state'], undefined, 'before 2.75 the answer has the base attributes only');
    assert.match(answer.headers.get('location') ?? '', new RegExp(`/servers/${serverId}$`));

    // While it runs, Nova refuses another rebuild and a snapshot.
    const again = await rebuild(serverId, snapshot);
    assert.equal(again.status, 409);
    assert.match(again.body.conflictingRequest.message, new RegExp(`^Cannot 'rebuild' instance ${serverId} while it is in task_state rebuild`));
    const createImage = await session.createImage(serverId, `${target.tag}-during-rebuild`);
    assert.equal(createImage.status, 409);
    assert.match(createImage.body.conflictingRequest.message, /^Cannot 'createImage' instance .* while it is in task_state rebuild/);

    const { seen, server: done } = await watchTasks(session, serverId);
    inOrder(seen, REBUILDING);
    assert.equal(done.status, 'ACTIVE');
    assert.equal(done.image.id, snapshot);
    for (const key of ['id', 'name', 'addresses', 'metadata']) assert.deepEqual(done[key], before[key], key);
    assert.deepEqual(done.flavor, before.flavor);
  });

  test('a stopped server: REBUILD, then ACTIVE (with no task for a moment, then powering-off), then SHUTOFF again', async () => {
    await target.setState(serverId, 'SHUTOFF');
    const answer = await rebuild(serverId, bootImage);
    assert.equal(answer.status, 202, answer.text);
    // Not done at the first moment with no task: a restore that waits for that would see ACTIVE.
    const { seen, server } = await watchTasks(session, serverId, (s) => s.status === 'SHUTOFF' && s['OS-EXT-STS:task_state'] === null);
    inOrder(seen, [...REBUILDING, [null, 'ACTIVE'], ['powering-off', 'ACTIVE']]);
    assert.deepEqual([server.status, server.image.id], ['SHUTOFF', bootImage]);
    await target.setState(serverId, 'ACTIVE');
  });

  test('a paused server: 409 naming the vm_state (rebuild is allowed when ACTIVE, SHUTOFF or ERROR)', async () => {
    await target.setState(serverId, 'PAUSED');
    const answer = await rebuild(serverId, snapshot);
    assert.equal(answer.status, 409);
    assert.equal(answer.body.conflictingRequest.message, `Cannot 'rebuild' instance ${serverId} while it is in vm_state paused`);
  });

  test('a volume-backed server with another image, before 2.93: 400, its boot volume cannot be reimaged', async () => {
    const server = await session.serverNamed(target.volumeServer);
    const answer = await rebuild(server.id, snapshot);
    assert.equal(answer.status, 400);
    assert.equal(answer.body.badRequest.message, `Image ${snapshot} is unacceptable: Unable to rebuild with a different image for a volume-backed server.`);
    assert.equal((await session.server(server.id))['OS-EXT-STS:task_state'], null, 'refused before anything changed');
  });

  test(
    'a volume-backed server at 2.93: 202, then the reimage fails in nova-compute: ERROR, the boot volume left reserved',
    localOnly('on the loopback cloud this breaks the shared volume-backed server (its README)'),
    async () => {
      const server = await session.serverNamed(target.volumeServer);
      const volumeId = server['os-extended-volumes:volumes_attached'][0].id;
      const answer = await rebuild(server.id, snapshot, '2.93');
      assert.equal(answer.status, 202, answer.text);
      assert.equal(answer.body.server.image, '');
      const { seen, server: after } = await watchTasks(session, server.id);
      inOrder(seen, REBUILDING);
      assert.equal(after.status, 'ERROR');
      const volumes = await session.cinder('GET', '/volumes/detail?limit=1000');
      const volume = volumes.body.volumes.find((v: { id: string }) => v.id === volumeId);
      assert.deepEqual([volume.status, volume.attachments], ['reserved', []]);
    },
  );
});
