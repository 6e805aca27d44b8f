// What the in-process mode tests (test/unit, against the local cloud) rely on beyond the other
// contract files: a token login (identity.ts rescopes the token given), the root disk of a
// server's flavor (restore refuses a snapshot that needs more), and Nova's fault of a server in
// ERROR (restore's words for a failed rebuild).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { passwordAuth, send, type OpenStack } from '../support/openstack.ts';
import { localOnly, openTarget, type Target } from './target.ts';

describe('contract: a rescoped token, a flavor, a fault', () => {
  let target: Target;
  let session: OpenStack;
  before(async () => {
    target = await openTarget();
    session = await target.login();
  });
  after(() => target.close());

  const rescope = (token: string, projectId: string) => ({
    auth: { identity: { methods: ['token'], token: { id: token } }, scope: { project: { id: projectId } } },
  });

  test('a token rescoped to the project: 201, a new token of that project, expiring with the one given; an unknown token: 404', async () => {
    const issued = await send('POST', `${target.authUrl}/auth/tokens`, { json: passwordAuth(target.password) });
    const token = issued.headers.get('x-subject-token') ?? '';
    const rescoped = await send('POST', `${target.authUrl}/auth/tokens`, { json: rescope(token, session.projectId) });
    assert.equal(rescoped.status, 201, rescoped.text);
    assert.notEqual(rescoped.headers.get('x-subject-token') ?? token, token);
    assert.equal(rescoped.body.token.project.id, session.projectId);
    assert.equal(rescoped.body.token.expires_at, issued.body.token.expires_at);
    assert.ok(Array.isArray(rescoped.body.token.catalog));
    assert.equal((await send('POST', `${target.authUrl}/auth/tokens`, { json: rescope('gAAAAAnot-a-token', session.projectId) })).status, 404);
  });

  test("GET /flavors/{id} of a server's flavor (at 2.45 the server names it by ID): its root disk in GiB", async () => {
    const server = await session.server((await session.serverNamed(target.server)).id);
    assert.equal(typeof server.flavor.id, 'string');
    const answer = await session.nova('GET', `/flavors/${server.flavor.id}`);
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.body.flavor.id, server.flavor.id);
    assert.equal(typeof answer.body.flavor.disk, 'number');
    assert.equal((await session.nova('GET', '/flavors/no-such-flavor')).status, 404);
  });

  test(
    'a rebuild that fails on the compute host: ERROR, and `fault.message` says why',
    localOnly('the loopback cloud cannot be made to fail a rebuild of the shared server'),
    async () => {
      const cloud = target.local!;
      const server = cloud.addServer({ region: target.region, name: `${target.tag}-failing` });
      cloud.fault({ match: { action: 'rebuild' }, kind: 'rebuild-error', message: 'No valid host was found.' });
      assert.equal((await session.nova('POST', `/servers/${server.id}/action`, { json: { rebuild: { imageRef: server.imageRef } } })).status, 202);
      cloud.advance(60_000);
      const failed = await session.server(server.id);
      assert.equal(failed.status, 'ERROR');
      assert.equal(failed.fault.message, 'No valid host was found.');
    },
  );
});
