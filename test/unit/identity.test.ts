import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import nock from 'nock';

import { createHttp } from '../../src/openstack/client.ts';
import { explain } from '../../src/modes/outcome.ts';
import { AuthError, CatalogError } from '../../src/openstack/errors.ts';
import { findEndpoint } from '../../src/openstack/catalog.ts';
import { Identity, type Credentials } from '../../src/openstack/identity.ts';
import {
  APP_SECRET,
  AUTH_ORIGIN,
  AUTH_URL,
  catalog,
  COMPUTE_ORIGIN,
  COMPUTE_PATH,
  mockAuth,
  newCloud,
  PASSWORD,
  PASSWORD_CREDENTIALS,
  PROJECT_ID,
  serverBody,
  SERVER_ID,
  SERVER_PATH,
  TOKEN,
  tokenBody,
  unmatched,
  useNock,
} from '../support/nock.ts';

useNock();

const APP_CREDENTIALS: Credentials = { method: 'application-credential', authUrl: AUTH_URL, id: 'ac-0123456789abcdef', secret: APP_SECRET };
const KEYSTONE_401 = { error: { code: 401, message: 'The request you have made requires authentication.', title: 'Unauthorized' } };

/** Keystone answering with `token`, recording each request body. */
function recordAuth(bodies: unknown[], options: Parameters<typeof mockAuth>[0] = {}) {
  return mockAuth({ ...options, body: (body) => (bodies.push(body), true) });
}

describe('Keystone authentication', () => {
  const BY_NAME: Credentials = {
    method: 'password',
    authUrl: AUTH_URL,
    username: 'ops',
    password: PASSWORD,
    userDomainName: 'users',
    projectName: '1234567890123456',
    projectDomainName: 'projects',
  };
  // Each row: the login, and exactly the body Keystone is sent.
  for (const [what, credentials, auth] of [
    [
      'password, scoped by project ID',
      PASSWORD_CREDENTIALS,
      {
        identity: { methods: ['password'], password: { user: { name: 'user-AbCdEf123456', domain: { name: 'Default' }, password: PASSWORD } } },
        scope: { project: { id: PROJECT_ID } },
      },
    ],
    [
      'password, scoped by project name and domain',
      BY_NAME,
      {
        identity: { methods: ['password'], password: { user: { name: 'ops', domain: { name: 'users' }, password: PASSWORD } } },
        scope: { project: { name: '1234567890123456', domain: { name: 'projects' } } },
      },
    ],
    [
      'application credential: no scope in the body (Keystone refuses one)',
      APP_CREDENTIALS,
      { identity: { methods: ['application_credential'], application_credential: { id: 'ac-0123456789abcdef', secret: APP_SECRET } } },
    ],
  ] as const) {
    it(`${what}: sends exactly that v3 body, reads the token from X-Subject-Token, hands it to onToken (to be masked)`, async () => {
      const bodies: unknown[] = [];
      const scope = recordAuth(bodies);
      const seen: string[] = [];
      const token = await new Identity(createHttp(), credentials, (t) => seen.push(t)).token();
      scope.done();
      assert.deepEqual(bodies, [{ auth }]);
      assert.deepEqual([token.value, token.projectId, seen], [TOKEN, PROJECT_ID, [TOKEN]]);
    });
  }

  it('sends the token as X-Auth-Token to the services', async () => {
    mockAuth();
    const nova = nock(COMPUTE_ORIGIN, { reqheaders: { 'x-auth-token': TOKEN } })
      .get(`${COMPUTE_PATH}/servers/${SERVER_ID}`)
      .reply(200, { server: serverBody() });
    const cloud = newCloud();
    const server = await (await cloud.compute()).getServer(SERVER_ID);
    nova.done();
    assert.equal(server?.id, SERVER_ID);
    assert.equal(cloud.requests, 2);
  });

  it('a 401 from Keystone names the user and domain, is not retried, and does not show the password', async () => {
    let posts = 0;
    nock(AUTH_ORIGIN)
      .post('/v3/auth/tokens')
      .times(3)
      .reply(() => (posts++, [401, KEYSTONE_401]));
    const error = await new Identity(createHttp(), PASSWORD_CREDENTIALS).token().then(
      () => assert.fail('authenticated'),
      (e: unknown) => e as Error,
    );
    assert.ok(error instanceof AuthError);
    assert.match(error.message, /refused the credentials of user user-AbCdEf123456 \(domain Default\)/);
    assert.match(error.message, /https:\/\/auth\.cloud\.ovh\.net\/v3\/auth\/tokens/);
    assert.match(explain(error, { region: 'GRA11' }), /check the password or secret/);
    assert.ok(!error.message.includes(PASSWORD));
    assert.equal(posts, 1);
  });

  it('a 401 for an application credential names the credential', async () => {
    nock(AUTH_ORIGIN).post('/v3/auth/tokens').reply(401, KEYSTONE_401);
    await assert.rejects(new Identity(createHttp(), APP_CREDENTIALS).token(), (error: Error) => {
      assert.match(error.message, /application credential ac-0123456789abcdef/);
      assert.ok(!error.message.includes(APP_SECRET));
      return true;
    });
  });

  it('a failed authentication is not cached: the next call tries again', async () => {
    nock(AUTH_ORIGIN).post('/v3/auth/tokens').reply(401, KEYSTONE_401);
    const scope = mockAuth();
    const identity = new Identity(createHttp(), PASSWORD_CREDENTIALS);
    await assert.rejects(identity.token(), AuthError);
    assert.equal((await identity.token()).value, TOKEN);
    scope.done();
  });

  it('a 201 without X-Subject-Token is an error', async () => {
    nock(AUTH_ORIGIN).post('/v3/auth/tokens').reply(201, tokenBody());
    await assert.rejects(new Identity(createHttp(), PASSWORD_CREDENTIALS).token(), /without an X-Subject-Token header/);
  });

  it('Keystone answering 503 is asked again (a token request creates nothing twice)', async () => {
    nock(AUTH_ORIGIN)
      .post('/v3/auth/tokens')
      .reply(503, { error: { code: 503, message: 'Service Unavailable' } });
    const scope = mockAuth();
    assert.equal((await new Identity(createHttp(), PASSWORD_CREDENTIALS).token()).value, TOKEN);
    scope.done();
  });

  it('concurrent callers share one authentication', async () => {
    const scope = mockAuth({ times: 1 });
    const identity = new Identity(createHttp(), PASSWORD_CREDENTIALS);
    const tokens = await Promise.all([identity.token(), identity.token(), identity.token()]);
    scope.done();
    assert.deepEqual(
      tokens.map((t) => t.value),
      [TOKEN, TOKEN, TOKEN],
    );
    assert.deepEqual(unmatched, []);
  });

  it('a refused login fails its concurrent callers too, without asking Keystone again', async () => {
    const scope = nock(AUTH_ORIGIN).post('/v3/auth/tokens').reply(401, KEYSTONE_401);
    const identity = new Identity(createHttp(), PASSWORD_CREDENTIALS);
    const results = await Promise.allSettled([identity.token(), identity.token()]);
    scope.done();
    assert.deepEqual(
      results.map((r) => r.status === 'rejected' && r.reason instanceof AuthError),
      [true, true],
    );
    assert.deepEqual(unmatched, []);
  });
});

describe('token renewal', () => {
  it('a token that already expired (expires_at in the near past) is replaced before the next request', async () => {
    const first = mockAuth({ token: 'old', expiresAt: new Date(Date.now() - 5_000) });
    const identity = new Identity(createHttp(), PASSWORD_CREDENTIALS);
    assert.equal((await identity.token()).value, 'old');
    first.done();
    const second = mockAuth({ token: 'new' });
    assert.equal((await identity.token()).value, 'new');
    second.done();
  });

  it('a token valid for hours is reused', async () => {
    const scope = mockAuth({ times: 1 });
    const identity = new Identity(createHttp(), PASSWORD_CREDENTIALS);
    for (let i = 0; i < 5; i += 1) assert.equal((await identity.token()).value, TOKEN);
    scope.done();
    assert.deepEqual(unmatched, []);
  });

  it('renews a 1-hour token within two minutes of its expiry, not before', async (t) => {
    const start = Date.now();
    t.mock.timers.enable({ apis: ['Date'], now: start });
    try {
      mockAuth({ token: 'first', expiresAt: new Date(start + 3_600_000) });
      const identity = new Identity(createHttp(), PASSWORD_CREDENTIALS);
      assert.equal((await identity.token()).value, 'first');
      t.mock.timers.setTime(start + 3_600_000 - 180_000);
      assert.equal((await identity.token()).value, 'first', 'three minutes left: kept');
      const renewal = mockAuth({ token: 'second', expiresAt: new Date(start + 7_200_000) });
      t.mock.timers.setTime(start + 3_600_000 - 90_000);
      assert.equal((await identity.token()).value, 'second', 'ninety seconds left: renewed');
      renewal.done();
    } finally {
      mock.timers.reset();
    }
  });

  it('renews a short-lived token at a quarter of its remaining life', async () => {
    mockAuth({ token: 'short', expiresAt: new Date(Date.now() + 800) });
    const identity = new Identity(createHttp(), PASSWORD_CREDENTIALS);
    assert.equal((await identity.token()).value, 'short');
    assert.equal((await identity.token()).value, 'short');
    const renewal = mockAuth({ token: 'renewed' });
    await sleep(700);
    assert.equal((await identity.token()).value, 'renewed');
    renewal.done();
  });
});

describe('re-authentication on a 401 from a service', () => {
  const NOVA_401 = { error: { code: 401, message: 'The request you have made requires authentication.', title: 'Unauthorized' } };

  it('authenticates again once and repeats the request with the new token', async () => {
    mockAuth({ token: 'revoked' });
    mockAuth({ token: 'fresh' });
    const seen: string[] = [];
    nock(COMPUTE_ORIGIN, { reqheaders: { 'x-auth-token': 'revoked' } })
      .get(SERVER_PATH)
      .reply(401, NOVA_401);
    const ok = nock(COMPUTE_ORIGIN, { reqheaders: { 'x-auth-token': 'fresh' } })
      .get(SERVER_PATH)
      .reply(200, { server: serverBody() });
    const cloud = newCloud({ onToken: (t) => seen.push(t) });
    const server = await (await cloud.compute()).getServer(SERVER_ID);
    ok.done();
    assert.equal(server?.id, SERVER_ID);
    assert.deepEqual(seen, ['revoked', 'fresh']);
    assert.ok(nock.isDone(), nock.pendingMocks().join(', '));
  });

  it('repeats a createImage POST with its body after the 401 (Nova refused it before acting)', async () => {
    mockAuth({ token: 'revoked' });
    mockAuth({ token: 'fresh' });
    const bodies: unknown[] = [];
    nock(COMPUTE_ORIGIN, { reqheaders: { 'x-auth-token': 'revoked' } })
      .post(`${SERVER_PATH}/action`, (b) => (bodies.push(b), true))
      .reply(401, NOVA_401);
    nock(COMPUTE_ORIGIN, { reqheaders: { 'x-auth-token': 'fresh' } })
      .post(`${SERVER_PATH}/action`, (b) => (bodies.push(b), true))
      .reply(202, { image_id: 'img-after-reauth' });
    const compute = await newCloud().compute();
    assert.equal(await compute.createImage(SERVER_ID, 'snap', { a: 'b' }, 5_000), 'img-after-reauth');
    assert.equal(bodies.length, 2);
    assert.deepEqual(bodies[1], bodies[0]);
    assert.deepEqual(bodies[0], { createImage: { name: 'snap', metadata: { a: 'b' } } });
  });

  it('concurrent requests refused with the same token share one re-authentication', async () => {
    mockAuth({ token: 'revoked' });
    let authentications = 0;
    // The new token takes a while to come: the other 401s arrive meanwhile.
    nock(AUTH_ORIGIN)
      .post('/v3/auth/tokens')
      .times(5)
      .reply(async () => {
        authentications++;
        await sleep(300);
        return [201, tokenBody(), { 'X-Subject-Token': 'fresh' }];
      });
    const paths = ['a', 'b', 'c', 'd'].map((id) => `${COMPUTE_PATH}/servers/${id}`);
    paths.forEach((path, i) => {
      nock(COMPUTE_ORIGIN, { reqheaders: { 'x-auth-token': 'revoked' } })
        .get(path)
        .delay(i * 60)
        .reply(401, NOVA_401);
      nock(COMPUTE_ORIGIN, { reqheaders: { 'x-auth-token': 'fresh' } })
        .get(path)
        .reply(200, { server: serverBody({ id: path.split('/').pop()! }) });
    });
    const compute = await newCloud().compute();
    const servers = await Promise.all(['a', 'b', 'c', 'd'].map((id) => compute.getServer(id)));
    assert.deepEqual(
      servers.map((s) => s?.id),
      ['a', 'b', 'c', 'd'],
    );
    assert.equal(authentications, 1);
  });

  it('when Keystone then refuses the credentials, the request fails with that clear error', async () => {
    mockAuth({ token: 'revoked' });
    nock(AUTH_ORIGIN).post('/v3/auth/tokens').reply(401, KEYSTONE_401);
    nock(COMPUTE_ORIGIN).get(SERVER_PATH).reply(401, NOVA_401);
    const compute = await newCloud().compute();
    await assert.rejects(compute.getServer(SERVER_ID), /Keystone refused the credentials of user user-AbCdEf123456/);
    assert.deepEqual(unmatched, []);
  });

  it('does not loop: a second 401 with the new token fails the request', async () => {
    const auth = mockAuth({ token: 'a' });
    mockAuth({ token: 'b' });
    let gets = 0;
    nock(COMPUTE_ORIGIN)
      .get(SERVER_PATH)
      .times(5)
      .reply(() => (gets++, [401, NOVA_401]));
    const extraAuth = mockAuth({ token: 'c' });
    const compute = await newCloud().compute();
    await assert.rejects(compute.getServer(SERVER_ID), (error: Error) => {
      assert.match(error.message, /answered 401/);
      return true;
    });
    auth.done();
    assert.equal(gets, 2, 'the request is sent once with each token');
    assert.equal(extraAuth.isDone(), false, 'no third authentication');
  });
});

describe('catalog: region and interface', () => {
  const entries = catalog();

  const both = [
    {
      type: 'compute',
      endpoints: [
        { interface: 'public', region_id: 'region', url: 'https://lower.example/v2.1' },
        { interface: 'public', region_id: 'REGION', url: 'https://upper.example/v2.1' },
      ],
    },
  ];
  const old = [{ type: 'image', endpoints: [{ interface: 'public', region: 'RegionOne', url: 'http://10.0.0.1/image/' }] }];
  for (const [name, given, types, region, url] of [
    ['picks the region given, exactly (GRA11)', entries, ['compute'], 'GRA11', `${COMPUTE_ORIGIN}${COMPUTE_PATH}`],
    ['picks the region given, exactly (SBG5)', entries, ['compute'], 'SBG5', `https://compute.sbg5.cloud.ovh.net${COMPUTE_PATH}`],
    ['matches the region case-insensitively when no exact match exists', entries, ['compute'], 'gra11', `${COMPUTE_ORIGIN}${COMPUTE_PATH}`],
    ['prefers the exact case when the catalog has both (REGION)', both, ['compute'], 'REGION', 'https://upper.example/v2.1'],
    ['prefers the exact case when the catalog has both (region)', both, ['compute'], 'region', 'https://lower.example/v2.1'],
    ['reads the old `region` field when `region_id` is missing', old, ['image'], 'RegionOne', 'http://10.0.0.1/image'],
    ['accepts volumev3 for block-storage', entries, ['block-storage', 'volumev3'], 'GRA11', /^https:\/\/volume\.compute\.gra11/],
  ] as const) {
    it(name, () => {
      const found = findEndpoint(given, [...types], region, 'public');
      if (typeof url === 'string') assert.equal(found, url);
      else assert.match(found, url);
    });
  }

  it('a region not in the catalog: the error lists the regions the catalog has', () => {
    assert.throws(
      () => findEndpoint(entries, ['compute'], 'BHS5', 'public'),
      (error: Error) => {
        assert.ok(error instanceof CatalogError);
        assert.deepEqual([error.problem, error.region, error.offered], ['region', 'BHS5', ['GRA11', 'SBG5']]);
        const words = explain(error, { region: 'BHS5' });
        assert.match(words, /Region "BHS5" is not in the catalog/);
        assert.match(words, /regions are GRA11, SBG5/);
        assert.match(words, /OS_REGION_NAME/);
        return true;
      },
    );
  });

  it('a service missing from the catalog is named', () => {
    assert.throws(
      () => findEndpoint(catalog({ volume: false }), ['block-storage', 'volumev3'], 'GRA11', 'public'),
      (error: Error) => /no block-storage or volumev3 service/.test(explain(error, { region: 'GRA11' })),
    );
  });

  it('an interface the region lacks: the error says which it has', () => {
    assert.throws(
      () => findEndpoint(entries, ['compute'], 'SBG5', 'internal'),
      (error: Error) => /SBG5 has no internal endpoint \(it has: public\); set the interface input/.test(explain(error, { region: 'SBG5' })),
    );
  });

  it('a region absent from the catalog fails the cloud with the list, after one authentication', async () => {
    const auth = mockAuth();
    await assert.rejects(newCloud({ region: 'WAW1' }).compute(), (error: Error) =>
      /Region "WAW1" is not in the catalog for compute: this project's regions are GRA11, SBG5/.test(explain(error, { region: 'WAW1' })),
    );
    auth.done();
    assert.deepEqual(unmatched, []);
  });
});
