// What only the local cloud has: its fault injection, its clock and its request log, as the e2e
// tests use them (each fault does what fault-scenarios.ts relies on, and nothing else happens).
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { LocalCloud } from '../local-cloud/cloud.ts';
import { send, type OpenStack } from '../support/openstack.ts';
import { localOnly, openTarget, type Target } from './target.ts';

describe("contract: the local cloud's faults, clock and request log", localOnly("these are the test double's own"), () => {
  let target: Target;
  let cloud: LocalCloud;
  let session: OpenStack;
  let serverId: string;
  before(async () => {
    target = await openTarget();
    cloud = target.local!;
    session = await target.login();
    serverId = await target.scratchServer();
  });
  beforeEach(() => cloud.clearFaults());
  after(() => target.close());
  const image = () => cloud.addImage({ region: 'GRA7', name: 'faulted' }).id;
  const imagePath = (id: string) => new RegExp(`/v2/images/${id}$`);
  const lastRecord = () => cloud.requests.at(-1)!;

  test('every request is recorded: service, region, interface, status, whether it mutates, the server action', async () => {
    cloud.resetRequests();
    await session.nova('GET', `/servers/${serverId}`);
    await send('GET', `${session.endpoint(['image'], 'SBG5', 'internal')}/v2/images?limit=1`, { token: session.token });
    await session.createImage(serverId, `${target.tag}-recorded`);
    const [get, list, create] = cloud.requests;
    assert.deepEqual([get!.service, get!.region, get!.interface, get!.status, get!.mutating], ['compute', 'GRA7', 'public', 200, false]);
    assert.deepEqual([list!.service, list!.region, list!.interface], ['image', 'SBG5', 'internal']);
    assert.deepEqual([create!.action, create!.status, create!.mutating], ['createImage', 202, true]);
    cloud.advance(2_000);
  });

  test("status: as many times as said, after the first N matches, with the given headers; a 5xx is a front end's HTML page, a 429 OVH's JSON", async () => {
    const id = image();
    cloud.fault({ kind: 'status', status: 503, match: { service: 'image', path: imagePath(id) }, times: 2, after: 1 });
    cloud.fault({ kind: 'status', status: 429, headers: { 'Retry-After': '2' }, match: { service: 'image', region: 'SBG5' } });
    const statuses = [];
    for (let i = 0; i < 4; i += 1) statuses.push((await session.glance('GET', `/v2/images/${id}`)).status);
    assert.deepEqual(statuses, [200, 503, 503, 200]);
    const limited = await session.glance('GET', '/v2/images?limit=1', { region: 'SBG5' });
    assert.deepEqual([limited.status, limited.headers.get('retry-after'), limited.body.error.message], [429, '2', 'Too Many Requests']);
    cloud.fault({ kind: 'status', status: 502, match: { service: 'compute' } });
    const front = await session.nova('GET', `/servers/${serverId}`);
    assert.deepEqual([front.status, front.headers.get('content-type')], [502, 'text/html']);
    assert.equal(lastRecord().fault, 'status');
    assert.deepEqual(
      cloud.faults.map((f) => f.applied),
      [2, 1, 1],
    );
  });

  test('reset: the connection is closed and the request is not executed', async () => {
    const id = image();
    cloud.fault({ kind: 'reset', match: { method: 'DELETE', path: imagePath(id) } });
    await assert.rejects(session.glance('DELETE', `/v2/images/${id}`));
    assert.ok(cloud.image(id), 'not deleted');
    assert.deepEqual([lastRecord().status, lastRecord().fault], [0, 'reset']);
  });

  test('lose-response: the request is executed, then the connection is closed with no answer', async () => {
    const id = image();
    cloud.fault({ kind: 'lose-response', match: { method: 'DELETE', path: imagePath(id) } });
    await assert.rejects(session.glance('DELETE', `/v2/images/${id}`));
    assert.equal(cloud.image(id), undefined, 'deleted');
  });

  test('delay: the answer is held (executed at once), or the request itself (beforeExecute)', async () => {
    const [held, waiting] = [image(), image()];
    cloud.fault({ kind: 'delay', ms: 300, match: { path: imagePath(held) } });
    cloud.fault({ kind: 'delay', ms: 300, beforeExecute: true, match: { path: imagePath(waiting) } });
    const started = Date.now();
    const answers = [session.glance('DELETE', `/v2/images/${held}`), session.glance('DELETE', `/v2/images/${waiting}`)];
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual([cloud.image(held), !!cloud.image(waiting)], [undefined, true]);
    assert.deepEqual(
      (await Promise.all(answers)).map((a) => a.status),
      [204, 204],
    );
    assert.ok(Date.now() - started >= 300);
  });

  test('expire-token: 401, and the token stays refused; a new one works', async () => {
    const own = await target.login();
    cloud.fault({ kind: 'expire-token', match: { service: 'compute' } });
    assert.equal((await own.nova('GET', `/servers/${serverId}`)).status, 401);
    assert.equal((await own.glance('GET', '/v2/images?limit=1')).status, 401);
    assert.equal((await (await target.login()).glance('GET', '/v2/images?limit=1')).status, 200);
  });

  test('the clock walks a snapshot: queued, saving at half-time, active; the task_state clears with it', async () => {
    const id = (await session.createImage(serverId, `${target.tag}-clocked`)).body.image_id;
    assert.equal(cloud.image(id)?.status, 'queued');
    cloud.advance(600);
    assert.equal(cloud.image(id)?.status, 'saving');
    assert.equal(cloud.server(serverId)?.taskState, 'image_uploading');
    cloud.advance(500);
    assert.deepEqual([cloud.image(id)?.status, cloud.server(serverId)?.taskState], ['active', null]);
  });

  for (const [kind, outcome] of [
    ['image-killed', 'killed'],
    ['image-vanish', undefined],
    ['stuck', 'queued'],
  ] as const) {
    test(`${kind}: the next image-backed createImage's image ends ${outcome ?? 'deleted (Nova deletes it on error)'}; the server is free again`, async () => {
      cloud.fault({ kind, match: { action: 'createImage' } });
      const volumeBacked = (await session.serverNamed(target.volumeServer)).id;
      assert.equal((await session.createImage(volumeBacked, `${target.tag}-not-faulted`)).status, 202);
      assert.equal(cloud.faults[0]!.applied, 0, 'a volume-backed snapshot takes no snapshot fault');
      const id = (await session.createImage(serverId, `${target.tag}-${kind}`)).body.image_id;
      cloud.advance(60_000);
      assert.equal(cloud.image(id)?.status, outcome);
      assert.equal(cloud.server(serverId)?.taskState, null);
    });
  }
});
