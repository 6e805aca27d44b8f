// Nova's os-stop / os-start, as stop-instance sends them (POST /servers/{id}/action {"os-stop": null}
// at the action's microversion), and the server tags a fleet is selected by (2.26): the answers,
// the task states, and the refusals. On a server of the run's own.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { OpenStack } from '../support/openstack.ts';
import { poll } from '../support/poll.ts';
import { openTarget, type Target, watchTasks } from './target.ts';

describe('contract: Nova os-stop, os-start and server tags', () => {
  let target: Target;
  let session: OpenStack;
  let serverId: string;
  const power = (action: 'os-stop' | 'os-start') => session.nova('POST', `/servers/${serverId}/action`, { json: { [action]: null } });

  before(async () => {
    target = await openTarget();
    session = await target.login();
    serverId = await target.scratchServer();
  });
  after(() => target.close());

  test('os-stop: 202, ACTIVE with task powering-off, then SHUTOFF; a second os-stop: 409 naming the vm_state', async () => {
    const answer = await power('os-stop');
    assert.equal(answer.status, 202, answer.text);
    const { seen, server } = await watchTasks(session, serverId, (s) => s.status === 'SHUTOFF' && s['OS-EXT-STS:task_state'] === null);
    assert.deepEqual(
      seen.filter(([task]) => task),
      seen.length ? [['powering-off', 'ACTIVE']] : [],
      JSON.stringify(seen),
    );
    assert.equal(server['OS-EXT-STS:vm_state'], 'stopped');
    const again = await power('os-stop');
    assert.equal(again.status, 409);
    assert.equal(again.body.conflictingRequest.message, `Cannot 'stop' instance ${serverId} while it is in vm_state stopped`);
  });

  test('os-start while a snapshot of the stopped server is under way: 409 naming the task_state; then 202, powering-on, ACTIVE', async () => {
    const snapshot = await session.createImage(serverId, `${target.tag}-stopped`);
    assert.equal(snapshot.status, 202, snapshot.text);
    const refused = await power('os-start');
    assert.equal(refused.status, 409, refused.text);
    assert.match(refused.body.conflictingRequest.message, new RegExp(`^Cannot 'start' instance ${serverId} while it is in task_state image_`));
    await poll('the snapshot task to end', async () => ((await session.server(serverId))['OS-EXT-STS:task_state'] === null ? true : undefined));
    const answer = await power('os-start');
    assert.equal(answer.status, 202, answer.text);
    const { seen } = await watchTasks(session, serverId, (s) => s.status === 'ACTIVE' && s['OS-EXT-STS:task_state'] === null);
    assert.deepEqual(
      seen.filter(([task]) => task),
      seen.length ? [['powering-on', 'SHUTOFF']] : [],
      JSON.stringify(seen),
    );
  });

  test('tags: shown from 2.26, and tags= lists only the servers with all of them', async () => {
    const tag = `${target.tag}-role`;
    await target.tagServer(serverId, tag);
    const listed = await session.nova('GET', `/servers/detail?${new URLSearchParams({ limit: '1000', tags: tag })}`);
    assert.equal(listed.status, 200, listed.text);
    assert.deepEqual(
      listed.body.servers.map((s: { id: string; tags: string[] }) => [s.id, s.tags]),
      [[serverId, [tag]]],
    );
    const none = await session.nova('GET', `/servers/detail?${new URLSearchParams({ limit: '1000', tags: `${tag},other` })}`);
    assert.deepEqual(none.body.servers, []);
    const old = await session.nova('GET', `/servers/${serverId}`, { version: null });
    assert.equal(old.body.server.tags, undefined, 'no tags below 2.26');
  });
});
