// Glance as image.ts uses it: an image by ID, listings filtered on base attributes and custom
// properties, newest first, in pages linked by a relative `next`; deletion and its refusals.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { send, type OpenStack } from '../support/openstack.ts';
import { localOnly, openTarget, type Target } from './target.ts';

describe('contract: Glance', () => {
  let target: Target;
  let session: OpenStack;
  let set: string[];
  const listing = (query: Record<string, string>) => `/v2/images?${new URLSearchParams({ owner: session.projectId, contract_set: target.tag, ...query })}`;
  before(async () => {
    target = await openTarget();
    session = await target.login();
    set = [];
    for (const i of [1, 2, 3]) set.push(await target.seedImage(`${target.tag}-listed-${i}`, { contract_set: target.tag }));
  });
  after(() => target.close());

  test('GET /v2/images/{id}: the base attributes image.ts reads, custom properties at the top level', async () => {
    const image = await session.image(set[0]!);
    assert.ok(image);
    assert.equal(image.id, set[0]);
    assert.equal(image.name, `${target.tag}-listed-1`);
    assert.equal(image.status, 'active');
    assert.equal(image.owner, session.projectId);
    assert.equal(image.protected, false);
    assert.equal(typeof image.size, 'number');
    for (const key of ['created_at', 'updated_at']) assert.match(image[key], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(image.contract_set, target.tag);
  });

  test('id=in:a,b: those images in one listing (how a fleet looks at its new snapshots); an unknown ID is just not listed', async () => {
    const answer = await session.glance(
      'GET',
      `/v2/images?${new URLSearchParams({ limit: '1000', id: `in:${set[0]},${set[2]},00000000-0000-4000-8000-000000000000` })}`,
    );
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(answer.body.images.map((i: { id: string }) => i.id).sort(), [set[0], set[2]].sort());
  });

  test('an unknown image: 404', async () => {
    assert.equal((await session.glance('GET', '/v2/images/00000000-0000-4000-8000-000000000000')).status, 404);
  });

  test('filters on owner, status and a custom property, newest first, in pages: `next` is a path from the root with the marker, the last page has none', async () => {
    const first = await session.glance('GET', listing({ status: 'active', sort: 'created_at:desc', limit: '2' }));
    assert.equal(first.status, 200, first.text);
    assert.equal(first.body.images.length, 2);
    assert.match(first.body.next, /^\/v2\/images\?/);
    assert.equal(new URLSearchParams(first.body.next.split('?')[1]).get('marker'), first.body.images[1].id);
    const second = await session.glance('GET', first.body.next);
    assert.equal(second.body.images.length, 1);
    assert.equal(second.body.next, undefined);
    const listed = [...first.body.images, ...second.body.images];
    assert.deepEqual(listed.map((i) => i.id).sort(), [...set].sort());
    const created = listed.map((i) => Date.parse(i.created_at));
    assert.deepEqual(
      created,
      [...created].sort((a, b) => b - a),
      'newest first',
    );
  });

  test('a page that holds the last images exactly still links to a next one, which is empty and links nowhere', async () => {
    const full = await session.glance('GET', listing({ limit: '3' }));
    assert.equal(full.body.images.length, 3);
    assert.ok(full.body.next, 'a full page has a next link, last or not');
    const after = await session.glance('GET', full.body.next);
    assert.deepEqual([after.body.images, after.body.next], [[], undefined]);
  });

  test("a filter that matches nothing lists nothing; without a limit (Glance's default page size) the three are listed", async () => {
    assert.deepEqual((await session.glance('GET', listing({ status: 'queued' }))).body.images, []);
    assert.deepEqual((await session.glance('GET', listing({ contract_set: `${target.tag}-none` }))).body.images, []);
    assert.equal((await session.glance('GET', listing({}))).body.images.length, 3);
  });

  test('a marker Glance does not know: 400', async () => {
    assert.equal((await session.glance('GET', listing({ marker: '00000000-0000-4000-8000-000000000000' }))).status, 400);
  });

  test('DELETE: 204, then the image is 404, and deleting it again is 404', async () => {
    const id = await target.seedImage(`${target.tag}-doomed`, {});
    assert.equal((await session.glance('DELETE', `/v2/images/${id}`)).status, 204);
    assert.equal((await session.glance('GET', `/v2/images/${id}`)).status, 404);
    assert.equal((await session.glance('DELETE', `/v2/images/${id}`)).status, 404);
  });

  test('DELETE of a protected image: 403, the JSON message says so (the action asks for JSON)', async () => {
    const id = await target.seedImage(`${target.tag}-protected`, {}, { protected: true });
    const answer = await session.glance('DELETE', `/v2/images/${id}`);
    assert.equal(answer.status, 403);
    assert.match(answer.body.message, new RegExp(`^Image ${id} is protected and cannot be deleted\\.`));
    assert.equal(answer.body.code, '403 Forbidden');
    assert.ok(await session.image(id));
  });

  test('DELETE of an image in use in the store: 409', localOnly('the loopback cloud cannot put an image in use in its store'), async () => {
    const id = await target.seedImage(`${target.tag}-busy`, {});
    target.local!.markInUse(id);
    const answer = await session.glance('DELETE', `/v2/images/${id}`);
    assert.equal(answer.status, 409);
    assert.match(answer.body.message, /could not be deleted because it is in use/);
  });

  test('the unversioned root: 300 with the current v2 version (what the openstack CLI discovers)', async () => {
    const answer = await send('GET', `${session.endpoint(['image'])}/`);
    assert.equal(answer.status, 300);
    const current = answer.body.versions.find((v: { status: string }) => v.status === 'CURRENT');
    assert.match(current.id, /^v2\.\d+$/);
    assert.match(current.links[0].href, /\/v2\/$/);
  });

  test('without a token: 401 with Www-Authenticate', async () => {
    const answer = await send('GET', `${session.endpoint(['image'])}/v2/images?limit=1`);
    assert.equal(answer.status, 401);
    assert.match(answer.headers.get('www-authenticate') ?? '', /^Keystone uri=/);
  });
});
