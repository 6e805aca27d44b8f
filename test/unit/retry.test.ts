import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import nock from 'nock';

import { create } from '../../src/modes/create/create.ts';
import { createHttp } from '../../src/openstack/client.ts';
import { statusOf } from '../../src/openstack/errors.ts';
import {
  COMPUTE_ORIGIN,
  IMAGE_ID,
  IMAGE_ORIGIN,
  imageBody,
  mockAuth,
  netError,
  newCloud,
  serverBody,
  SERVER_ID,
  SERVER_PATH,
  createSettings,
  since,
  stdout,
  unmatched,
  useNock,
  succeeded,
} from '../support/nock.ts';

useNock();

const ORIGIN = 'https://api.example.test';
const ACTION = `${SERVER_PATH}/action`;
const BAD_GATEWAY = '<html><body><h1>502 Bad Gateway</h1>The server returned an invalid or incomplete response.</body></html>';

/** A client that counts what it sends. */
function counted() {
  const sent: string[] = [];
  const http = createHttp({ onRequest: (method, url) => sent.push(`${method} ${url.pathname}`) });
  return { http, sent };
}

describe('retries of requests that are safe to repeat', () => {
  it('a GET is retried after a 503 and then succeeds', async () => {
    const { http, sent } = counted();
    nock(ORIGIN).get('/thing').reply(503, { message: 'Service Unavailable' }).get('/thing').reply(200, { ok: true });
    const response = await http<{ ok: boolean }>(`${ORIGIN}/thing`);
    assert.deepEqual(response.body, { ok: true });
    assert.deepEqual(sent, ['GET /thing', 'GET /thing']);
  });

  it('a GET is retried after a connection reset', async () => {
    const { http, sent } = counted();
    nock(ORIGIN).get('/thing').replyWithError(netError('ECONNRESET', 'socket hang up')).get('/thing').reply(200, { ok: true });
    assert.deepEqual((await http(`${ORIGIN}/thing`)).body, { ok: true });
    assert.equal(sent.length, 2);
  });

  it('a 429 is retried after the Retry-After the server asked for', async () => {
    const { http, sent } = counted();
    nock(ORIGIN)
      .get('/thing')
      .reply(429, { error: { status: '429 Too Many Requests', message: 'Too Many Requests' } }, { 'Retry-After': '1' })
      .get('/thing')
      .reply(200, { ok: true });
    const start = Date.now();
    await http(`${ORIGIN}/thing`);
    assert.ok(since(start) >= 950, `waited only ${since(start)} ms`);
    assert.equal(sent.length, 2);
  });

  it('a DELETE (idempotent) is retried after a 503', async () => {
    const { http, sent } = counted();
    nock(ORIGIN).delete('/thing').reply(503).delete('/thing').reply(204);
    assert.equal((await http.delete(`${ORIGIN}/thing`)).statusCode, 204);
    assert.equal(sent.length, 2);
  });

  for (const status of [400, 403, 404, 409]) {
    it(`a ${status} is not retried`, async () => {
      const { http, sent } = counted();
      nock(ORIGIN)
        .get('/thing')
        .times(3)
        .reply(status, { message: `refused with ${status}` });
      await assert.rejects(http(`${ORIGIN}/thing`), (error: Error) => {
        assert.equal(statusOf(error), status);
        assert.match(error.message, new RegExp(`GET ${ORIGIN}/thing answered ${status}: refused with ${status}`));
        return true;
      });
      assert.equal(sent.length, 1);
    });
  }

  it('a plain POST is not retried on a 503', async () => {
    const { http, sent } = counted();
    nock(ORIGIN).post('/thing').times(3).reply(503);
    await assert.rejects(http.post(`${ORIGIN}/thing`, { json: {} }));
    assert.equal(sent.length, 1);
  });
});

describe('createImage: retried only when Nova cannot have acted', () => {
  async function compute() {
    mockAuth();
    return await newCloud().compute();
  }

  it('retried after a 429 (a rate limiter answers before Nova sees the request)', async () => {
    const c = await compute();
    let posts = 0;
    nock(COMPUTE_ORIGIN)
      .post(ACTION)
      .reply(() => (posts++, [429, { error: { status: '429 Too Many Requests', message: 'Too Many Requests' } }, { 'Retry-After': '1' }]))
      .post(ACTION)
      .reply(() => (posts++, [202, { image_id: IMAGE_ID }]));
    const start = Date.now();
    assert.equal(await c.createImage(SERVER_ID, 'snap', {}, 5_000), IMAGE_ID);
    assert.ok(since(start) >= 950, `Retry-After not honoured: ${since(start)} ms`);
    assert.equal(posts, 2);
  });

  it('retried after a refused connection', async () => {
    const c = await compute();
    let posts = 0;
    nock(COMPUTE_ORIGIN)
      .post(ACTION)
      .reply(() => {
        posts++;
        throw netError('ECONNREFUSED');
      })
      .post(ACTION)
      .reply(() => (posts++, [202, { image_id: IMAGE_ID }]));
    assert.equal(await c.createImage(SERVER_ID, 'snap', {}, 5_000), IMAGE_ID);
    assert.equal(posts, 2);
  });

  for (const status of [500, 502, 503, 504]) {
    it(`not retried after a ${status} (Nova may have made the image)`, async () => {
      const c = await compute();
      let posts = 0;
      nock(COMPUTE_ORIGIN)
        .post(ACTION)
        .times(5)
        .reply(() => (posts++, [status, BAD_GATEWAY, { 'Content-Type': 'text/html' }]));
      await assert.rejects(c.createImage(SERVER_ID, 'snap', {}, 5_000), (error: Error) => statusOf(error) === status);
      assert.equal(posts, 1);
    });
  }

  for (const code of ['ECONNRESET', 'ETIMEDOUT', 'EPIPE']) {
    it(`not retried after ${code}`, async () => {
      const c = await compute();
      let posts = 0;
      nock(COMPUTE_ORIGIN)
        .post(ACTION)
        .times(5)
        .reply(() => {
          posts++;
          throw netError(code);
        });
      await assert.rejects(c.createImage(SERVER_ID, 'snap', {}, 5_000));
      assert.equal(posts, 1);
    });
  }

  it('not retried after its own request timeout', async () => {
    const c = await compute();
    let posts = 0;
    nock(COMPUTE_ORIGIN)
      .post(ACTION)
      .times(5)
      .reply(async () => {
        posts++;
        await sleep(1_500);
        return [202, { image_id: IMAGE_ID }];
      });
    const start = Date.now();
    await assert.rejects(c.createImage(SERVER_ID, 'snap', {}, 300), (error: Error) => {
      assert.equal((error as Error & { code?: string }).code, 'ETIMEDOUT');
      return true;
    });
    assert.ok(since(start) < 1_400, `took ${since(start)} ms: the request timeout did not apply`);
    await sleep(1_300);
    assert.equal(posts, 1);
  });
});

describe('create mode: at most one snapshot however createImage fails', () => {
  interface Post {
    requestId: string;
    name: string;
  }

  /** Nova's createImage, recording each POST's snapshot_request_id. */
  function novaAction(posts: Post[], ...replies: ((p: Post) => nock.ReplyFnResult | Error)[]) {
    const scope = nock(COMPUTE_ORIGIN);
    for (const reply of replies) {
      let post: Post;
      scope
        .post(ACTION, (body: { createImage: { name: string; metadata: Record<string, string> } }) => {
          post = { requestId: body.createImage.metadata.snapshot_request_id!, name: body.createImage.name };
          return true;
        })
        .reply(() => {
          posts.push(post);
          const result = reply(post);
          if (result instanceof Error) throw result;
          return result;
        });
    }
    return scope;
  }

  const reset = () => netError('ECONNRESET', 'socket hang up');
  const idle = () => serverBody({ id: SERVER_ID, name: 'web' });

  for (const [label, failure] of [
    ['a 502', (): nock.ReplyFnResult => [502, BAD_GATEWAY, { 'Content-Type': 'text/html' }]],
    ['a connection reset', reset],
  ] as const) {
    it(`after ${label}, finds the image by snapshot_request_id and adopts it: one POST only`, async () => {
      mockAuth();
      const posts: Post[] = [];
      nock(COMPUTE_ORIGIN).get(SERVER_PATH).reply(200, { server: idle() });
      novaAction(posts, failure);
      const search = nock(IMAGE_ORIGIN)
        .get('/v2/images')
        .query((q) => q.limit === '1000' && q.snapshot_request_id === posts[0]?.requestId && Object.keys(q).length === 2)
        .reply(() => [
          200,
          {
            images: [imageBody({ id: IMAGE_ID, status: 'queued', snapshot_request_id: posts[0]!.requestId })],
            first: '/v2/images',
            schema: '/v2/schemas/images',
          },
        ]);
      nock(IMAGE_ORIGIN)
        .get(`/v2/images/${IMAGE_ID}`)
        .reply(200, imageBody({ id: IMAGE_ID, status: 'active' }));

      const result = succeeded(await create(newCloud(), createSettings()));
      search.done();
      assert.equal(posts.length, 1, 'no second snapshot');
      assert.equal(result.image.id, IMAGE_ID);
      assert.equal(result.image.status, 'active');
      assert.match(stdout(), new RegExp(`::warning::createImage failed without a clear answer \\(${label === 'a 502' ? '502' : 'ECONNRESET'}\\)`));
      assert.match(stdout(), new RegExp(`The snapshot was made after all: ${IMAGE_ID}`));
      assert.deepEqual(unmatched, []);
    });
  }

  it('when no image carries the request ID and the server is idle, sends createImage again with the same request ID', async () => {
    mockAuth();
    const posts: Post[] = [];
    nock(COMPUTE_ORIGIN).get(SERVER_PATH).times(3).reply(200, { server: idle() });
    novaAction(
      posts,
      () => [502, BAD_GATEWAY, { 'Content-Type': 'text/html' }],
      () => [202, { image_id: IMAGE_ID }],
    );
    const search = nock(IMAGE_ORIGIN)
      .get('/v2/images')
      .query((q) => q.snapshot_request_id === posts[0]?.requestId)
      .reply(200, { images: [] });
    nock(IMAGE_ORIGIN)
      .get(`/v2/images/${IMAGE_ID}`)
      .reply(200, imageBody({ id: IMAGE_ID }));

    const result = succeeded(await create(newCloud(), createSettings()));
    search.done();
    assert.equal(posts.length, 2);
    assert.equal(posts[0]!.requestId, posts[1]!.requestId);
    assert.match(posts[0]!.requestId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(posts[0]!.name, posts[1]!.name);
    assert.equal(result.image.id, IMAGE_ID);
    assert.deepEqual(unmatched, []);
  });

  it('a 409 (server busy with another snapshot) is waited out: task_state back to null, then one more POST', async () => {
    mockAuth();
    const posts: Post[] = [];
    nock(COMPUTE_ORIGIN)
      .get(SERVER_PATH)
      .reply(200, { server: idle() })
      .get(SERVER_PATH)
      .reply(200, { server: serverBody({ name: 'web', taskState: 'image_uploading' }) })
      .get(SERVER_PATH)
      .reply(200, { server: idle() });
    novaAction(
      posts,
      () => [
        409,
        { conflictingRequest: { code: 409, message: `Cannot 'createImage' instance ${SERVER_ID} while it is in task_state image_snapshot_pending` } },
      ],
      () => [202, { image_id: IMAGE_ID }],
    );
    nock(IMAGE_ORIGIN)
      .get(`/v2/images/${IMAGE_ID}`)
      .reply(200, imageBody({ id: IMAGE_ID }));

    const result = succeeded(await create(newCloud(), createSettings()));
    assert.equal(posts.length, 2);
    assert.equal(result.image.id, IMAGE_ID);
    assert.match(stdout(), /Nova answered 409/);
    assert.ok(nock.isDone(), nock.pendingMocks().join(', '));
    assert.deepEqual(unmatched, []);
  });

  it('a server busy at the start is waited for before the first POST', async () => {
    mockAuth();
    const posts: Post[] = [];
    nock(COMPUTE_ORIGIN)
      .get(SERVER_PATH)
      .reply(200, { server: serverBody({ name: 'web', status: 'REBOOT' }) })
      .get(SERVER_PATH)
      .reply(200, { server: idle() });
    novaAction(posts, () => [202, { image_id: IMAGE_ID }]);
    nock(IMAGE_ORIGIN)
      .get(`/v2/images/${IMAGE_ID}`)
      .reply(200, imageBody({ id: IMAGE_ID }));
    await create(newCloud(), createSettings());
    assert.equal(posts.length, 1);
    assert.match(stdout(), /Instance web is REBOOT: waiting until it can be snapshotted/);
  });

  it('a server in a state Nova cannot snapshot is refused without a POST', async () => {
    mockAuth();
    nock(COMPUTE_ORIGIN)
      .get(SERVER_PATH)
      .times(2)
      .reply(200, { server: serverBody({ name: 'web', status: 'ERROR' }) });
    await assert.rejects(create(newCloud(), createSettings()), /is ERROR: Nova can snapshot an instance that is ACTIVE, SHUTOFF, SUSPENDED or PAUSED/);
    assert.deepEqual(unmatched, []);
  });

  for (const status of [400, 403]) {
    it(`a ${status} (Nova refused it) fails at once without a search or a second POST`, async () => {
      mockAuth();
      const posts: Post[] = [];
      nock(COMPUTE_ORIGIN).get(SERVER_PATH).reply(200, { server: idle() });
      novaAction(
        posts,
        () => [status, { [status === 400 ? 'badRequest' : 'forbidden']: { code: status, message: 'Policy does not allow this' } }],
        () => [202, { image_id: IMAGE_ID }],
      );
      await assert.rejects(create(newCloud(), createSettings()), new RegExp(`answered ${status}: Policy does not allow this`));
      assert.equal(posts.length, 1);
      assert.deepEqual(unmatched, []);
    });
  }
});
