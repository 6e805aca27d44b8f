import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import nock from 'nock';

import { explain } from '../../src/modes/outcome.ts';
import { AmbiguousError, NotFoundError } from '../../src/openstack/errors.ts';
import { literalFragment } from '../../src/openstack/compute.ts';
import { BOOT_IMAGE_ID, COMPUTE_ORIGIN, COMPUTE_PATH, mockAuth, newCloud, PROJECT_ID, serverBody, SERVER_ID, unmatched, useNock } from '../support/nock.ts';

useNock();

const DETAIL = `${COMPUTE_PATH}/servers/detail`;
const OLD_NOVA_406 = { computeFault: { code: 406, message: 'Version 2.45 is not supported by the API. Minimum is 2.1 and maximum is 2.38.' } };
const ID_2 = '11111111-2222-4333-8444-555555555555';
const ID_3 = '66666666-7777-4888-9999-000000000000';

async function compute() {
  mockAuth();
  return await newCloud().compute();
}

describe('literalFragment', () => {
  it('keeps a plain name whole', () => {
    assert.equal(literalFragment('web'), 'web');
    assert.equal(literalFragment('web-2'), 'web-2');
  });

  it('takes the longest run without regex or LIKE metacharacters', () => {
    assert.equal(literalFragment('web.1 (blue)'), 'blue');
    assert.equal(literalFragment('db_primary.prod'), 'primary');
    assert.equal(literalFragment('a+b|c[d]e{f}g^h$i?j*k\\l%m'), 'a');
    assert.equal(literalFragment('app-server.staging'), 'app-server');
  });

  it('gives nothing for a name made of metacharacters only', () => {
    assert.equal(literalFragment('...'), '');
    assert.equal(literalFragment('()'), '');
  });
});

describe('findServer', () => {
  it('by UUID: GET /servers/{id}, no listing', async () => {
    const c = await compute();
    const scope = nock(COMPUTE_ORIGIN)
      .get(`${COMPUTE_PATH}/servers/${SERVER_ID}`)
      .reply(200, { server: serverBody({ name: 'web' }) });
    const server = await c.findServer(SERVER_ID);
    scope.done();
    assert.deepEqual(server, {
      id: SERVER_ID,
      name: 'web',
      status: 'ACTIVE',
      taskState: null,
      projectId: PROJECT_ID,
      volumeBacked: false,
      volumeIds: [],
      imageId: BOOT_IMAGE_ID,
      flavorId: undefined,
      fault: undefined,
      metadata: {},
      tags: [],
      createdAt: new Date('2025-01-01T00:00:00Z'),
    });
    assert.deepEqual(unmatched, []);
  });

  it('reads task_state and volume-backed ("image": "")', async () => {
    const c = await compute();
    nock(COMPUTE_ORIGIN)
      .get(`${COMPUTE_PATH}/servers/${SERVER_ID}`)
      .reply(200, { server: serverBody({ taskState: 'image_uploading', volumeBacked: true }) });
    const server = await c.findServer(SERVER_ID);
    assert.equal(server.taskState, 'image_uploading');
    assert.equal(server.volumeBacked, true);
  });

  it('by name: the filter is a superset, and only the exact name is kept (web, not web-2 or webhook)', async () => {
    const c = await compute();
    const scope = nock(COMPUTE_ORIGIN)
      .get(DETAIL)
      .query({ limit: '1000', name: 'web' })
      .reply(200, {
        servers: [serverBody({ id: ID_2, name: 'web-2' }), serverBody({ id: SERVER_ID, name: 'web' }), serverBody({ id: ID_3, name: 'webhook' })],
      });
    const server = await c.findServer('web');
    scope.done();
    assert.equal(server.id, SERVER_ID);
  });

  it('a name with regex metacharacters is filtered by a literal fragment and matched exactly', async () => {
    const c = await compute();
    const scope = nock(COMPUTE_ORIGIN)
      .get(DETAIL)
      .query({ limit: '1000', name: 'blue' })
      .reply(200, {
        servers: [
          serverBody({ id: ID_2, name: 'webX1 (blue)' }),
          serverBody({ id: ID_3, name: 'web.1 blue' }),
          serverBody({ id: SERVER_ID, name: 'web.1 (blue)' }),
        ],
      });
    const server = await c.findServer('web.1 (blue)');
    scope.done();
    assert.equal(server.id, SERVER_ID);
  });

  it('a name without any literal part lists every server (no name filter)', async () => {
    const c = await compute();
    const scope = nock(COMPUTE_ORIGIN)
      .get(DETAIL)
      .query({ limit: '1000' })
      .reply(200, { servers: [serverBody({ id: ID_2, name: '.+' }), serverBody({ id: SERVER_ID, name: '...' })] });
    assert.equal((await c.findServer('...')).id, SERVER_ID);
    scope.done();
  });

  it('none found: the error names the instance and the region', async () => {
    const c = await compute();
    nock(COMPUTE_ORIGIN)
      .get(DETAIL)
      .query({ limit: '1000', name: 'web' })
      .reply(200, { servers: [serverBody({ name: 'web-2' })] });
    await assert.rejects(c.findServer('web'), (error: Error) => {
      assert.ok(error instanceof NotFoundError);
      assert.deepEqual([error.kind, error.key], ['server', 'web']);
      assert.match(explain(error, { region: 'GRA11' }), /No instance named or with ID "web" in region GRA11: check the instance input/);
      return true;
    });
  });

  it('a UUID that is not a server (404) is looked for as a name, then reported missing', async () => {
    const c = await compute();
    const scope = nock(COMPUTE_ORIGIN)
      .get(`${COMPUTE_PATH}/servers/${SERVER_ID}`)
      .reply(404, { itemNotFound: { code: 404, message: `Instance ${SERVER_ID} could not be found.` } })
      .get(DETAIL)
      .query({ limit: '1000', name: SERVER_ID })
      .reply(200, { servers: [] });
    await assert.rejects(c.findServer(SERVER_ID), (error: Error) => error instanceof NotFoundError && error.key === SERVER_ID);
    scope.done();
  });

  it('several with the name: the error lists their IDs', async () => {
    const c = await compute();
    nock(COMPUTE_ORIGIN)
      .get(DETAIL)
      .query({ limit: '1000', name: 'web' })
      .reply(200, { servers: [serverBody({ id: SERVER_ID, name: 'web' }), serverBody({ id: ID_2, name: 'web' })] });
    await assert.rejects(c.findServer('web'), (error: Error) => {
      assert.ok(error instanceof AmbiguousError);
      assert.deepEqual(error.ids, [SERVER_ID, ID_2]);
      const words = explain(error, { region: 'GRA11' });
      assert.match(words, /2 instances are named "web" in region GRA11/);
      assert.ok(words.includes(SERVER_ID) && words.includes(ID_2), words);
      assert.match(words, /set the instance input to the ID/);
      return true;
    });
  });

  it('follows servers_links pages (the next link is resolved against the catalog endpoint)', async () => {
    const c = await compute();
    const page = (marker: string) => `${COMPUTE_ORIGIN}${DETAIL}?limit=1000&name=web&marker=${marker}`;
    const scope = nock(COMPUTE_ORIGIN)
      .get(DETAIL)
      .query({ limit: '1000', name: 'web' })
      .reply(200, { servers: [serverBody({ id: ID_2, name: 'web-1' })], servers_links: [{ rel: 'next', href: page(ID_2) }] })
      .get(DETAIL)
      .query({ limit: '1000', name: 'web', marker: ID_2 })
      // Nova behind a proxy may put its own host in the link: the path's query is all that is used.
      .reply(200, {
        servers: [serverBody({ id: ID_3, name: 'web-3' })],
        servers_links: [{ rel: 'next', href: `http://nova-internal:8774/v2.1/servers/detail?limit=1000&name=web&marker=${ID_3}` }],
      })
      .get(DETAIL)
      .query({ limit: '1000', name: 'web', marker: ID_3 })
      .reply(200, { servers: [serverBody({ id: SERVER_ID, name: 'web' })] });
    assert.equal((await c.findServer('web')).id, SERVER_ID);
    scope.done();
  });

  it('an exact match on two pages is still ambiguous', async () => {
    const c = await compute();
    nock(COMPUTE_ORIGIN)
      .get(DETAIL)
      .query({ limit: '1000', name: 'web' })
      .reply(200, {
        servers: [serverBody({ id: ID_2, name: 'web' })],
        servers_links: [{ rel: 'next', href: `${COMPUTE_ORIGIN}${DETAIL}?limit=1000&name=web&marker=${ID_2}` }],
      })
      .get(DETAIL)
      .query({ limit: '1000', name: 'web', marker: ID_2 })
      .reply(200, { servers: [serverBody({ id: SERVER_ID, name: 'web' })] });
    await assert.rejects(c.findServer('web'), /2 servers are named "web"/);
  });
});

describe('createImage', () => {
  const ACTION = `${COMPUTE_PATH}/servers/${SERVER_ID}/action`;

  it('2.45 and later: sends the microversion and reads {"image_id"}', async () => {
    const c = await compute();
    const bodies: unknown[] = [];
    const scope = nock(COMPUTE_ORIGIN, { reqheaders: { 'openstack-api-version': 'compute 2.45', 'content-type': /application\/json/ } })
      .post(ACTION, (b) => (bodies.push(b), true))
      .reply(202, { image_id: 'e30f3c46-9743-46a5-bf50-6ddf396c50fb' }, { 'Content-Type': 'application/json' });
    const id = await c.createImage(SERVER_ID, 'web-snap', { managed_by: 'x', probe: 'yes' }, 5_000);
    scope.done();
    assert.equal(id, 'e30f3c46-9743-46a5-bf50-6ddf396c50fb');
    assert.deepEqual(bodies, [{ createImage: { name: 'web-snap', metadata: { managed_by: 'x', probe: 'yes' } } }]);
    assert.equal(c.microversion, '2.45');
  });

  it('before 2.45: the 406 makes it fall back to the base version, and the Location header names the image', async () => {
    const c = await compute();
    let posts = 0;
    const refused = nock(COMPUTE_ORIGIN, { reqheaders: { 'openstack-api-version': 'compute 2.45' } })
      .post(ACTION)
      .reply(() => (posts++, [406, OLD_NOVA_406]));
    const accepted = nock(COMPUTE_ORIGIN, { badheaders: ['openstack-api-version'] })
      .post(ACTION)
      .reply(() => {
        posts++;
        return [
          202,
          '',
          { Location: 'http://127.0.0.1:9292/images/087636ee-2b78-407b-ad3a-211a26339f9d', 'Content-Type': 'text/html; charset=UTF-8', 'Content-Length': '0' },
        ];
      });
    const id = await c.createImage(SERVER_ID, 'web-snap', {}, 5_000);
    refused.done();
    accepted.done();
    assert.equal(id, '087636ee-2b78-407b-ad3a-211a26339f9d');
    assert.equal(posts, 2, 'the 406 is refused before Nova acts: one fallback, no more');
    assert.equal(c.microversion, '2.1');

    // What was learnt sticks: the next request goes without the header at once.
    const later = nock(COMPUTE_ORIGIN, { badheaders: ['openstack-api-version'] })
      .get(`${COMPUTE_PATH}/servers/${SERVER_ID}`)
      .reply(200, { server: serverBody() });
    await c.getServer(SERVER_ID);
    later.done();
  });

  it('an old Nova is detected on the first request, whichever it is', async () => {
    const c = await compute();
    const refused = nock(COMPUTE_ORIGIN, { reqheaders: { 'openstack-api-version': 'compute 2.45' } })
      .get(`${COMPUTE_PATH}/servers/${SERVER_ID}`)
      .reply(406, OLD_NOVA_406);
    const plain = nock(COMPUTE_ORIGIN, { badheaders: ['openstack-api-version'] })
      .get(`${COMPUTE_PATH}/servers/${SERVER_ID}`)
      .reply(200, { server: serverBody() });
    assert.equal((await c.findServer(SERVER_ID)).id, SERVER_ID);
    refused.done();
    plain.done();
    assert.equal(c.microversion, '2.1');
  });

  it('a 202 with neither image_id nor Location is an error', async () => {
    const c = await compute();
    nock(COMPUTE_ORIGIN).post(ACTION).reply(202, '');
    await assert.rejects(c.createImage(SERVER_ID, 'web-snap', {}, 5_000), /named no image/);
  });

  it('an error body from Nova is in the message (409 busy)', async () => {
    const c = await compute();
    nock(COMPUTE_ORIGIN)
      .post(ACTION)
      .reply(409, {
        conflictingRequest: { code: 409, message: `Cannot 'createImage' instance ${SERVER_ID} while it is in task_state image_snapshot_pending` },
      });
    await assert.rejects(c.createImage(SERVER_ID, 'web-snap', {}, 5_000), (error: Error) => {
      assert.match(
        error.message,
        /POST https:\/\/compute\.gra11\.cloud\.ovh\.net\/.*\/action answered 409: Cannot 'createImage' instance .* task_state image_snapshot_pending/,
      );
      return true;
    });
  });
});
