// Token, OIDC client-credentials and federated logins against nock: what each sends, how each
// renews, and each refusal worded with the input to fix.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import nock from 'nock';

import { explain } from '../../src/modes/outcome.ts';
import { createHttp } from '../../src/openstack/client.ts';
import { CrossHostError } from '../../src/openstack/errors.ts';
import type { ClientCredentials } from '../../src/openstack/federation.ts';
import { Identity, type Credentials } from '../../src/openstack/identity.ts';
import { LoginError, type LoginStage } from '../../src/openstack/login-errors.ts';
import { AUTH_ORIGIN, AUTH_URL, mockAuth, PROJECT_ID, TOKEN, unmatched, useNock } from '../support/nock.ts';
import { ACCESS_TOKEN, CLIENT, CLIENT_SECRET, FEDERATION_PATH, GIVEN_TOKEN, ISSUER, mockFederation, mockIssuer, UNSCOPED } from './login-fixtures.ts';

useNock();

const KEYSTONE_401 = { error: { code: 401, message: 'The request you have made requires authentication.', title: 'Unauthorized' } };

const federated = (bearer: Extract<Credentials, { method: 'federated' }>['bearer'] = CLIENT): Credentials => ({
  method: 'federated',
  authUrl: AUTH_URL,
  identityProvider: 'ovhcloud-emea',
  protocol: 'openid',
  bearer,
  projectId: PROJECT_ID,
  projectDomainName: 'Default',
});
const rescope = (token: string) => ({ auth: { identity: { methods: ['token'], token: { id: token } }, scope: { project: { id: PROJECT_ID } } } });

/** The refusal `promise` ends in: a LoginError of `stage` whose words name `input`. */
async function refusedAt(promise: Promise<unknown>, stage: LoginStage, input: RegExp): Promise<string> {
  const error = await promise.then(
    () => assert.fail('logged in'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof LoginError, String(error));
  assert.equal(error.stage, stage);
  const words = explain(error, { region: 'GRA11' });
  assert.match(words, input);
  return words;
}

describe('token login', () => {
  const credentials: Credentials = { method: 'token', authUrl: AUTH_URL, token: GIVEN_TOKEN, projectId: PROJECT_ID, projectDomainName: 'Default' };

  it('rescopes the given token to the project', async () => {
    const scope = mockAuth({ body: (body) => (assert.deepEqual(body, rescope(GIVEN_TOKEN)), true) });
    const token = await new Identity(createHttp(), credentials).token();
    scope.done();
    assert.equal(token.value, TOKEN);
    assert.equal(token.refreshMarginMs, 0, 'kept until it expires: asking again would give the same expiry');
  });

  it('a token Keystone refuses at once: the token input, and the project', async () => {
    nock(AUTH_ORIGIN).post('/v3/auth/tokens').reply(401, KEYSTONE_401);
    await refusedAt(new Identity(createHttp(), credentials).token(), 'token', /check the token input .*project-id/);
  });

  it('a token Keystone cannot read (its 404 to an unknown or expired Fernet token): the same words as a refusal', async () => {
    nock(AUTH_ORIGIN)
      .post('/v3/auth/tokens')
      .reply(404, { error: { code: 404, message: 'Could not recognize Fernet token', title: 'Not Found' } });
    await refusedAt(new Identity(createHttp(), credentials).token(), 'token', /check the token input .*project-id/);
  });

  it('expired during the run: says it cannot be renewed and points to application credentials', async () => {
    mockAuth({ expiresAt: new Date(Date.now() + 150) });
    nock(AUTH_ORIGIN).post('/v3/auth/tokens').reply(401, KEYSTONE_401);
    const identity = new Identity(createHttp(), credentials);
    await identity.token();
    await sleep(200);
    const words = await refusedAt(identity.token(), 'expired', /a token login cannot renew its token.*application-credential-id/);
    assert.match(words, /when renewing: it has expired \(or was revoked\)/);
    assert.deepEqual(unmatched, []);
  });
});

describe('oidc-client-credentials (keystoneauth v3oidcclientcredentials)', () => {
  it('discovery → client credentials grant (basic auth) → federation with the bearer → rescoped token; the basic credentials and every token to onToken', async () => {
    const issuer = mockIssuer();
    const federation = mockFederation();
    const keystone = mockAuth({ body: (body) => (assert.deepEqual(body, rescope(UNSCOPED)), true) });
    const seen: string[] = [];
    const token = await new Identity(createHttp(), federated(), (t) => seen.push(t)).token();
    for (const scope of [issuer, federation, keystone]) scope.done();
    assert.equal(token.value, TOKEN);
    assert.equal(token.projectId, PROJECT_ID);
    assert.deepEqual(seen, [Buffer.from(`${CLIENT.clientId}:${CLIENT.clientSecret}`).toString('base64'), ACCESS_TOKEN, UNSCOPED, TOKEN]);
  });

  it('the token endpoint given directly, and id_token asked for', async () => {
    nock(ISSUER).post('/token').reply(200, { access_token: 'not-this-one', id_token: 'the-id-token' });
    const federation = mockFederation('the-id-token');
    mockAuth();
    const source: ClientCredentials = { ...CLIENT, discoveryEndpoint: undefined, tokenEndpoint: `${ISSUER}/token`, tokenType: 'id_token' };
    await new Identity(createHttp(), federated(source)).token();
    federation.done();
  });

  it('renewal repeats the whole flow', async () => {
    mockIssuer({ times: 2 });
    mockFederation(ACCESS_TOKEN, 2);
    mockAuth({ expiresAt: new Date(Date.now() + 200) });
    const second = mockAuth({ token: 'second-token' });
    const identity = new Identity(createHttp(), federated());
    await identity.token();
    await sleep(170);
    assert.equal((await identity.token()).value, 'second-token');
    second.done();
    assert.deepEqual(unmatched, []);
  });

  it('a bad client secret (issuer 401): names client-id and client-secret, shows no secret', async () => {
    nock(ISSUER)
      .get('/.well-known/openid-configuration')
      .reply(200, { token_endpoint: `${ISSUER}/oauth2/token` })
      .post('/oauth2/token')
      .reply(401, { error: 'invalid_client', error_description: `client secret ${CLIENT_SECRET} is wrong` });
    const words = await refusedAt(new Identity(createHttp(), federated()).token(), 'issuer', /check client-id and client-secret/);
    assert.ok(!words.includes(CLIENT_SECRET));
  });

  it('a token_endpoint on another origin is refused: the secret is not sent there', async () => {
    nock(ISSUER).get('/.well-known/openid-configuration').reply(200, { token_endpoint: 'https://collector.example/token' });
    const other = nock('https://collector.example').post('/token').reply(200, { access_token: 'x' });
    await assert.rejects(new Identity(createHttp(), federated()).token(), CrossHostError);
    assert.equal(other.pendingMocks().length, 1);
  });

  for (const [status, why] of [
    [401, 'a wrong audience or a rejected assertion'],
    [404, 'an identity provider or protocol unknown to Keystone'],
  ] as const) {
    it(`${why} (Keystone ${status} on the federation URL): names identity-provider, protocol and the audience`, async () => {
      mockIssuer();
      nock(AUTH_ORIGIN)
        .post(FEDERATION_PATH)
        .reply(status, { error: { code: status, message: 'refused', title: 'x' } });
      const words = await refusedAt(new Identity(createHttp(), federated()).token(), 'federation', /check identity-provider and protocol .*oidc-audience/);
      assert.match(words, new RegExp(`ovhcloud-emea.*\\(${status}\\)`));
    });
  }

  it('a mapping that gives no project (rescope 401): names the project inputs and the mapping', async () => {
    mockIssuer();
    mockFederation();
    nock(AUTH_ORIGIN).post('/v3/auth/tokens').reply(401, KEYSTONE_401);
    await refusedAt(new Identity(createHttp(), federated()).token(), 'scope', /mapping gives no role on that project: check project-id/);
  });

  it('a project by name in a domain given by ID: rescoped there, and a refusal names that domain and project-domain-id', async () => {
    mockIssuer();
    mockFederation();
    const bodies: unknown[] = [];
    nock(AUTH_ORIGIN)
      .post('/v3/auth/tokens', (body) => (bodies.push(body), true))
      .reply(401, KEYSTONE_401);
    const credentials = { ...federated(), projectId: undefined, projectName: 'web', projectDomainId: 'd-0001' } as Credentials;
    const words = await refusedAt(
      new Identity(createHttp(), credentials).token(),
      'scope',
      /to project web \(domain d-0001\) .*check project-id \/ project-name and project-domain-name \/ project-domain-id/,
    );
    assert.deepEqual((bodies[0] as { auth: { scope: unknown } }).auth.scope, { project: { name: 'web', domain: { id: 'd-0001' } } }, words);
  });
});

describe('an external bearer (github-oidc, handed in as a function)', () => {
  it('asks for a new bearer at each login', async () => {
    const bearers = ['gh-id-token-1', 'gh-id-token-2'];
    let asked = 0;
    mockFederation('gh-id-token-1');
    mockFederation('gh-id-token-2');
    mockAuth({ expiresAt: new Date(Date.now() + 200) });
    mockAuth({ token: 'second-token' });
    const identity = new Identity(createHttp(), federated({ kind: 'external', subject: 'the job', get: async () => bearers[asked++]! }));
    await identity.token();
    await sleep(170);
    assert.equal((await identity.token()).value, 'second-token');
    assert.equal(asked, 2);
    assert.deepEqual(unmatched, []);
  });
});
