// Credentials go only where the catalog says, and no secret survives in a message: redirects and
// links to another host are refused (that host sees nothing), and a secret a service echoes in an
// error body is removed before the body is cut into a message.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import nock from 'nock';

import { CrossHostError } from '../../src/openstack/errors.ts';
import { Secrets } from '../../src/openstack/secrets.ts';
import {
  AUTH_ORIGIN,
  COMPUTE_ORIGIN,
  COMPUTE_PATH,
  IMAGE_ID,
  IMAGE_ORIGIN,
  mockAuth,
  newCloud,
  PASSWORD_CREDENTIALS,
  SERVER_ID,
  TOKEN,
  unmatched,
  useNock,
  VOLUME_ORIGIN,
  VOLUME_PATH,
} from '../support/nock.ts';

useNock();

const ELSEWHERE = 'https://collector.example';

/** The other host: any request to it fails the test (pending interceptors are checked). */
const elsewhere = () => nock(ELSEWHERE).get(/.*/).reply(200, {}).post(/.*/).reply(201, {});

const refused = async (promise: Promise<unknown>) =>
  assert.rejects(promise, (error: Error) => {
    assert.ok(error instanceof CrossHostError, `${error.name}: ${error.message}`);
    assert.match(error.message, new RegExp(`points to ${ELSEWHERE}, not to https://`));
    return true;
  });

describe('credentials go only to the endpoint they were meant for', () => {
  for (const status of [302, 307]) {
    it(`a ${status} from Glance to another host is refused; the token never reaches it`, async () => {
      mockAuth();
      nock(IMAGE_ORIGIN)
        .get(`/v2/images/${IMAGE_ID}`)
        .reply(status, '', { location: `${ELSEWHERE}/v2/images/${IMAGE_ID}` });
      const other = elsewhere();
      await refused((await newCloud().images()).get(IMAGE_ID));
      assert.equal(other.pendingMocks().length, 2, 'the other host got nothing');
    });
  }

  it('a 307 from Keystone to another host is refused: the password body is not sent there', async () => {
    nock(AUTH_ORIGIN)
      .post('/v3/auth/tokens')
      .reply(307, '', { location: `${ELSEWHERE}/v3/auth/tokens` });
    const other = elsewhere();
    await refused(newCloud().identity.token());
    assert.equal(other.pendingMocks().length, 2);
  });

  it('a 302 from Nova to another host is refused', async () => {
    mockAuth();
    nock(COMPUTE_ORIGIN)
      .get(`${COMPUTE_PATH}/servers/${SERVER_ID}`)
      .reply(302, '', { location: `${ELSEWHERE}/servers/${SERVER_ID}` });
    const other = elsewhere();
    await refused((await newCloud().compute()).getServer(SERVER_ID));
    assert.equal(other.pendingMocks().length, 2);
  });

  it('a redirect within the same endpoint host is followed', async () => {
    mockAuth();
    nock(IMAGE_ORIGIN)
      .get(`/v2/images/${IMAGE_ID}`)
      .reply(301, '', { location: `${IMAGE_ORIGIN}/v2/images/${IMAGE_ID}/` })
      .get(`/v2/images/${IMAGE_ID}/`)
      .reply(200, { id: IMAGE_ID });
    assert.equal((await (await newCloud().images()).get(IMAGE_ID))?.id, IMAGE_ID);
    assert.deepEqual(unmatched, []);
  });

  it("Cinder's next link to another host is refused before it is followed", async () => {
    mockAuth();
    nock(VOLUME_ORIGIN)
      .get(`${VOLUME_PATH}/snapshots`)
      .query(true)
      .reply(200, { snapshots: [{ id: 's-1' }], snapshots_links: [{ rel: 'next', href: `${ELSEWHERE}${VOLUME_PATH}/snapshots?marker=s-1` }] });
    const other = elsewhere();
    await refused((await newCloud().volumes()).snapshotIdsOf(['vol-1']));
    assert.equal(other.pendingMocks().length, 2);
  });
});

describe('a secret a service echoes back is removed before the message is made', () => {
  // Tags and runs of spaces are what the message maker removes: the masked value would no longer match.
  const password = 'pa<w>ss  wo&rd';

  it('from a Keystone error body (HTML or JSON), in every form', async () => {
    for (const body of [
      `<html><body>Bad request: password ${password} rejected</body></html>`,
      { error: { message: `password ${password} rejected`, code: 400 } },
    ]) {
      nock(AUTH_ORIGIN).post('/v3/auth/tokens').reply(400, body);
      const cloud = newCloud({ credentials: { ...(PASSWORD_CREDENTIALS as Extract<typeof PASSWORD_CREDENTIALS, { method: 'password' }>), password } });
      await assert.rejects(cloud.identity.token(), (error: Error) => {
        assert.match(error.message, /answered 400: .*password \*\*\* rejected/);
        for (const form of [password, 'pa ss wo&rd']) assert.ok(!error.message.includes(form), `${form} in: ${error.message}`);
        return true;
      });
    }
  });

  it('from a Glance error body that quotes the token', async () => {
    mockAuth();
    nock(IMAGE_ORIGIN).delete(`/v2/images/${IMAGE_ID}`).reply(409, `<html><h1>409 Conflict</h1>token ${TOKEN} may not delete this</html>`);
    await assert.rejects((await newCloud().images()).delete(IMAGE_ID), (error: Error) => {
      const cause = String((error as { cause?: Error }).cause?.message ?? error.message);
      assert.ok(!cause.includes(TOKEN), cause);
      assert.match(cause, /token \*\*\* may not delete this/);
      return true;
    });
  });
});

describe('Secrets: every form a body may quote a secret in', () => {
  it('as is, JSON, ASCII-only JSON, HTML (with and without quotes), URL-encoded', () => {
    const secrets = new Secrets();
    secrets.add('é<"x">&\'y z');
    const quoted = [
      `é<"x">&'y z`,
      `é<\\"x\\">&'y z`,
      `\\u00e9<\\"x\\">&'y z`,
      `é&lt;&quot;x&quot;&gt;&amp;&#x27;y z`,
      `é&lt;"x"&gt;&amp;'y z`,
      `%C3%A9%3C%22x%22%3E%26'y%20z`,
    ];
    assert.equal(secrets.redact(quoted.join(' | ')), quoted.map(() => '***').join(' | '));
  });

  it('a secret inside a longer one does not leave the rest of the longer one; an empty one matches nothing', () => {
    const secrets = new Secrets();
    secrets.add('abc');
    secrets.add('token-abc-token');
    secrets.add('');
    assert.equal(secrets.redact('token-abc-token and abc'), '*** and ***');
  });
});
