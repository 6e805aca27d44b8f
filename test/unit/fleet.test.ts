import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import nock from 'nock';
import { create } from '../../src/modes/create/create.ts';
import { NotFoundError } from '../../src/openstack/errors.ts';
import {
  COMPUTE_ORIGIN,
  COMPUTE_PATH,
  createSettings,
  failed,
  IMAGE_ORIGIN,
  imageBody,
  mockAuth,
  newCloud,
  selection,
  serverBody,
  SERVER_ID,
  SERVER_PATH,
  type ServerOptions,
  stdout,
  succeeded,
  unmatched,
  useNock,
} from '../support/nock.ts';

useNock();

const DETAIL = `${COMPUTE_PATH}/servers/detail`;
const idOf = (n: number) => `00000000-0000-4000-8000-00000000000${n}`;
const web = (n: number, options: ServerOptions = {}) => serverBody({ id: idOf(n), name: `web-${n}`, ...options });
const listing = (query: Record<string, string>, ...servers: ReturnType<typeof serverBody>[]) =>
  nock(COMPUTE_ORIGIN)
    .get(DETAIL)
    .query({ limit: '1000', ...query })
    .reply(200, { servers });

/**
 * Each server's createImage (202 with an image ID, or `status`), and Glance's listing by `id=in:`,
 * which shows each image active; returns the listings' ID sets as they come.
 */
function snapshots(...servers: { n: number; status?: number }[]): string[][] {
  for (const { n, status } of servers) {
    const scope = nock(COMPUTE_ORIGIN).post(`${COMPUTE_PATH}/servers/${idOf(n)}/action`);
    if (status) scope.reply(status, { badRequest: { code: status, message: `web-${n} refused` } });
    else scope.reply(202, { image_id: `image-${n}` });
  }
  const listings: string[][] = [];
  nock(IMAGE_ORIGIN)
    .persist()
    .get('/v2/images')
    .query((q) => String(q.id).startsWith('in:'))
    // nock 15 hands reply functions the fetch Request.
    .reply((request: Request) => {
      const ids = new URL(request.url).searchParams.get('id')!.slice(3).split(',');
      listings.push(ids);
      return [200, { images: ids.map((id) => imageBody({ id, status: 'active' })) }];
    });
  return listings;
}

describe('fleets: which servers', () => {
  it('several names: one listing, each matched exactly (web-1 is not web-10), one snapshot each', async () => {
    mockAuth();
    listing({}, web(1), web(2), serverBody({ id: 'ten', name: 'web-10' }));
    snapshots({ n: 1 }, { n: 2 });
    const { result } = await create(newCloud(), createSettings({ servers: selection('web-1', 'web-2') }));
    assert.equal(result?.mode, 'fleet');
    assert.deepEqual(
      result.items.map((item) => [item.server.name, item.result?.mode === 'create' && item.result.image.id]),
      [
        ['web-1', 'image-1'],
        ['web-2', 'image-2'],
      ],
    );
    assert.deepEqual(unmatched, []);
  });

  it('a line that matches no server is an error before any snapshot', async () => {
    mockAuth();
    listing({}, web(1));
    await assert.rejects(
      create(newCloud(), createSettings({ servers: selection('web-1', 'web-9') })),
      (error: Error) => error instanceof NotFoundError && error.key === 'web-9',
    );
    assert.deepEqual(unmatched, [], 'no createImage');
  });

  it("tags are Nova's filter, metadata is matched here; names and the selector add up", async () => {
    mockAuth();
    listing({ tags: 'role-web' }, web(1, { tags: ['role-web'], metadata: { tier: 'front' } }), web(2, { tags: ['role-web'], metadata: { tier: 'back' } }));
    snapshots({ n: 1 });
    const { result } = await create(newCloud(), createSettings({ servers: { names: [], tags: ['role-web'], metadata: { tier: 'front' }, allowEmpty: false } }));
    assert.deepEqual(result?.mode === 'fleet' && result.items.map((item) => item.server.name), ['web-1']);
    assert.deepEqual(unmatched, []);
  });

  it('a selector that matches nothing is an error, unless allow-empty-selection', async () => {
    mockAuth();
    listing({ tags: 'nope' });
    await assert.rejects(
      create(newCloud(), createSettings({ servers: { ...selection(), tags: ['nope'] } })),
      /No instance has tag nope: .*allow-empty-selection: true/,
    );
    mockAuth();
    listing({ tags: 'nope' });
    const { result, failure } = await create(newCloud(), createSettings({ servers: { ...selection(), tags: ['nope'], allowEmpty: true } }));
    assert.deepEqual([result?.mode === 'fleet' && result.items.length, failure], [0, undefined]);
  });
});

describe('fleets: one failure does not stop the others', () => {
  it("the images are watched together: one Glance listing looks at several servers' snapshots, no GET per image", async () => {
    mockAuth();
    listing({}, web(1), web(2), web(3));
    const listings = snapshots({ n: 1 }, { n: 2 }, { n: 3 });
    const { result } = await create(newCloud(), createSettings({ servers: selection('web-1', 'web-2', 'web-3') }));
    assert.deepEqual(result?.mode === 'fleet' && result.items.map((item) => item.result?.mode === 'create' && item.result.image.status), [
      'active',
      'active',
      'active',
    ]);
    assert.ok(listings.length < 3, `${listings.length} listings for 3 images: ${JSON.stringify(listings)}`);
    assert.deepEqual(listings.flat().sort(), ['image-1', 'image-2', 'image-3']);
    assert.deepEqual(unmatched, [], 'no GET of a single image');
  });

  it('the others are snapshotted; the step fails at the end, naming the one that failed and why', async () => {
    mockAuth();
    listing({}, web(1), web(2), web(3));
    snapshots({ n: 1 }, { n: 2, status: 400 }, { n: 3 });
    const outcome = await create(newCloud(), createSettings({ servers: selection('web-1', 'web-2', 'web-3'), concurrency: 2 }));
    assert.match(failed(outcome).message, /^1 of 3 instance\(s\) failed: web-2: .*answered 400: web-2 refused/);
    assert.deepEqual(
      outcome.result?.mode === 'fleet' && outcome.result.items.map((item) => (item.result?.mode === 'create' ? item.result.image.status : 'failed')),
      ['active', 'failed', 'active'],
    );
    assert.match(stdout(), /^\[web-2\] ::warning::|\[web-2\] /m);
    assert.deepEqual(unmatched, []);
  });
});

describe('stop-instance: a consistent snapshot', () => {
  /** Nova's answers to os-stop, createImage and os-start, in the order they come; returns the actions sent. */
  function nova(looks: ServerOptions[], createStatus = 202) {
    const actions: string[] = [];
    const scope = nock(COMPUTE_ORIGIN);
    // nock 15 hands reply functions the fetch Request.
    scope
      .post(`${SERVER_PATH}/action`)
      .times(3)
      .reply(async (request: Request) => {
        const action = Object.keys((await request.json()) as object)[0]!;
        actions.push(action);
        if (action !== 'createImage') return [202];
        return createStatus === 202 ? [202, { image_id: 'image-s' }] : [createStatus, { badRequest: { code: createStatus, message: 'no' } }];
      });
    for (const look of looks) scope.get(SERVER_PATH).reply(200, { server: serverBody(look) });
    return actions;
  }

  it('stops, snapshots, starts again once the disk is captured, and reports the downtime', async () => {
    mockAuth();
    nock(COMPUTE_ORIGIN).get(SERVER_PATH).reply(200, { server: serverBody() });
    const actions = nova([
      { status: 'SHUTOFF' },
      { status: 'SHUTOFF', taskState: 'image_snapshot' },
      { status: 'SHUTOFF', taskState: 'image_uploading' },
      { status: 'SHUTOFF', taskState: 'powering-on' },
      {},
    ]);
    nock(IMAGE_ORIGIN)
      .get('/v2/images/image-s')
      .reply(200, imageBody({ id: 'image-s', status: 'active' }));
    const result = succeeded(await create(newCloud(), createSettings({ servers: selection(SERVER_ID), stopInstance: true })));
    assert.deepEqual(actions, ['os-stop', 'createImage', 'os-start']);
    assert.equal(result.mode === 'create' && result.consistency, 'stopped');
    assert.ok(result.mode === 'create' && result.downtimeMs !== undefined);
    assert.match(stdout(), /Started instance web again: it was down/);
    assert.ok(nock.isDone(), 'it waited until the server was ACTIVE again');
    assert.deepEqual(unmatched, []);
  });

  it('a failed snapshot still starts the server again', async () => {
    mockAuth();
    nock(COMPUTE_ORIGIN).get(SERVER_PATH).reply(200, { server: serverBody() });
    const actions = nova([{ status: 'SHUTOFF' }], 400);
    await assert.rejects(create(newCloud(), createSettings({ stopInstance: true })), /answered 400/);
    assert.deepEqual(actions, ['os-stop', 'createImage', 'os-start']);
  });

  it('a server already SHUTOFF is left so; a running one with a guest agent is quiesced, without one crash-consistent', async () => {
    mockAuth();
    nock(COMPUTE_ORIGIN)
      .get(SERVER_PATH)
      .reply(200, { server: serverBody({ status: 'SHUTOFF' }) })
      .post(`${SERVER_PATH}/action`, (body: Record<string, unknown>) => 'createImage' in body)
      .reply(202, { image_id: 'image-s' });
    nock(IMAGE_ORIGIN)
      .get('/v2/images/image-s')
      .reply(200, imageBody({ id: 'image-s', status: 'active' }));
    const off = succeeded(await create(newCloud(), createSettings({ stopInstance: true })));
    assert.equal(off.mode === 'create' && off.consistency, 'stopped');
    for (const [agent, consistency] of [
      ['yes', 'quiesced'],
      [undefined, 'crash-consistent'],
    ] as const) {
      mockAuth();
      nock(COMPUTE_ORIGIN).get(SERVER_PATH).reply(200, { server: serverBody() }).post(`${SERVER_PATH}/action`).reply(202, { image_id: 'image-s' });
      nock(IMAGE_ORIGIN)
        .get('/v2/images/image-s')
        .reply(200, imageBody({ id: 'image-s', status: 'active', hw_qemu_guest_agent: agent }));
      const running = succeeded(await create(newCloud(), createSettings()));
      assert.equal(running.mode === 'create' && running.consistency, consistency);
    }
    assert.deepEqual(unmatched, []);
  });
});
