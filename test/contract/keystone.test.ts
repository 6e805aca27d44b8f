// Keystone as identity.ts uses it: tokens by password and by application credential, the catalog
// it reads endpoints from, the 401s it re-authenticates on.
import { CatalogError } from '../../src/openstack/errors.ts';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { appcredAuth, passwordAuth, send, type OpenStack } from '../support/openstack.ts';
import { localOnly, openTarget, type Target } from './target.ts';

describe('contract: Keystone', () => {
  let target: Target;
  let session: OpenStack;
  before(async () => {
    target = await openTarget();
    session = await target.login();
  });
  after(() => target.close());

  test('password, project by name: 201, the token in X-Subject-Token, its expiry, project and catalog in the body', async () => {
    const answer = await send('POST', `${target.authUrl}/auth/tokens`, { json: passwordAuth(target.password) });
    assert.equal(answer.status, 201);
    assert.ok(answer.headers.get('x-subject-token'));
    const token = answer.body.token;
    assert.ok(Date.parse(token.expires_at) > Date.now() + 600_000, `expires_at ${token.expires_at} is hours away`);
    assert.match(token.project.id, /^[0-9a-f]{32}$/);
    assert.deepEqual(token.methods, ['password']);
    assert.ok(Array.isArray(token.catalog));
  });

  test('password, project by ID: the same project', async () => {
    const answer = await send('POST', `${target.authUrl}/auth/tokens`, { json: passwordAuth(target.password, { project: { id: session.projectId } }) });
    assert.equal(answer.status, 201);
    assert.equal(answer.body.token.project.id, session.projectId);
  });

  test('the catalog: compute, image and identity in both regions, Cinder (volumev3) in the first only, each with public, internal and admin', () => {
    for (const region of [target.region, target.region2]) {
      for (const type of ['compute', 'image', 'identity']) {
        const urls = (['public', 'internal', 'admin'] as const).map((iface) => session.endpoint([type], region, iface));
        assert.ok(
          urls.every((url) => /^https?:\/\//.test(url)),
          `${type} in ${region}: ${urls.join(', ')}`,
        );
      }
    }
    assert.ok(session.endpoint(['block-storage', 'volumev3'], target.region));
    const noRegion = (region: string) => (error: Error) => error instanceof CatalogError && error.problem === 'region' && error.region === region;
    assert.throws(() => session.endpoint(['block-storage', 'volumev3'], target.region2), noRegion(target.region2));
    assert.throws(() => session.endpoint(['compute'], 'NOWHERE'), noRegion('NOWHERE'));
  });

  test('application credential: 201, its own scope; asking for a scope is refused (401)', async () => {
    const answer = await send('POST', `${target.authUrl}/auth/tokens`, { json: appcredAuth(target.appcred) });
    assert.equal(answer.status, 201, answer.text);
    assert.ok(answer.headers.get('x-subject-token'));
    assert.deepEqual(answer.body.token.methods, ['application_credential']);
    assert.equal(answer.body.token.project.id, session.projectId);
    const scoped = { auth: { ...appcredAuth(target.appcred).auth, scope: { project: { id: session.projectId } } } };
    assert.equal((await send('POST', `${target.authUrl}/auth/tokens`, { json: scoped })).status, 401);
  });

  test('a wrong password or secret: 401 {"error": {"message"}} with WWW-Authenticate', async () => {
    for (const json of [passwordAuth({ ...target.password, password: 'not-the-password' }), appcredAuth({ ...target.appcred, secret: 'not-the-secret' })]) {
      const answer = await send('POST', `${target.authUrl}/auth/tokens`, { json });
      assert.equal(answer.status, 401);
      assert.equal(typeof answer.body.error.message, 'string');
      assert.match(answer.headers.get('www-authenticate') ?? '', /^Keystone uri=/);
    }
  });

  test("GET /v3 without a token: the version document (the openstack CLI, the benchmarks' yardstick, starts there)", async () => {
    const answer = await send('GET', target.authUrl);
    assert.equal(answer.status, 200);
    assert.match(answer.body.version.id, /^v3\.\d+$/);
    assert.equal(answer.body.version.status, 'stable');
  });

  test('an unknown token: 401 from Nova, Glance and Cinder (what makes the action authenticate again)', async () => {
    const bogus = { token: 'gAAAAAnot-a-token' };
    // Before anything else: even a microversion Nova would refuse gets the 401.
    const nova = await send('GET', `${session.endpoint(['compute'])}/servers/detail?limit=1`, {
      ...bogus,
      headers: { 'openstack-api-version': 'compute 2.999' },
    });
    const glance = await send('GET', `${session.endpoint(['image'])}/v2/images?limit=1`, bogus);
    const cinder = await send('GET', `${session.endpoint(['volumev3'])}/snapshots?limit=1`, bogus);
    assert.deepEqual([nova.status, glance.status, cinder.status], [401, 401, 401]);
  });

  // Last: it moves the cloud's clock past every token's expiry.
  test('a token past its expiry is refused (401)', localOnly('the clock cannot be moved'), async () => {
    const cloud = target.local!;
    const answer = await send('POST', `${target.authUrl}/auth/tokens`, { json: passwordAuth(target.password) });
    const token = answer.headers.get('x-subject-token')!;
    const images = `${session.endpoint(['image'])}/v2/images?limit=1`;
    assert.equal((await send('GET', images, { token })).status, 200);
    cloud.advance(Date.parse(answer.body.token.expires_at) - cloud.world.now() + 1_000);
    assert.equal((await send('GET', images, { token })).status, 401);
  });
});
