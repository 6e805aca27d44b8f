import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import nock from 'nock';

import { createHttp } from '../../src/openstack/client.ts';
import { statusOf } from '../../src/openstack/errors.ts';
import { COMPUTE_ORIGIN, IMAGE_ID, mockAuth, netError, newCloud, SERVER_ID, SERVER_PATH, since, useNock } from '../support/nock.ts';

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
