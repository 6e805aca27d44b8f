// Real tier: the logins of issue 13 against a real Keystone. A clouds.yaml with its secure.yaml
// (written to a temp dir, found through OS_CLIENT_CONFIG_FILE / OS_CLIENT_SECURE_FILE), an input
// overriding the file's region, and a token login with a token the tier asked Keystone for.
// On the loopback cloud, also federated logins (see below). Results are checked through Glance.
// What it creates: one snapshot of OSA_E2E_INSTANCE and a few tiny images, all tagged
// osa_e2e_run=<tag> and removed by the after hook; the federation setup is removed by its own.

import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { MANAGED_BY } from '../../src/lib/constants.ts';
import { expect, RUN_PROPERTY, send, type OpenStack, type Server } from '../support/openstack.ts';
import { adminCredentials, cleanupRegion, connect, loadConfig, runLog, succeeded } from '../support/real-cloud.ts';
import { errorsOf, runAction, type ActionRun } from '../support/run-action.ts';

const cfg = loadConfig();
const R1 = cfg.region;
const TAG = cfg.tag;
const SLOW = { timeout: 240_000 };

let api: OpenStack;
let server: Server;
let dir = '';

/** The cloud's auth section, split as people do: the secret in secure.yaml, the rest in clouds.yaml. */
function authSections(): { open: Record<string, string>; secret: Record<string, string>; authType?: string } {
  if (cfg.password) {
    const p = cfg.password;
    const project: Record<string, string> = p.projectId
      ? { project_id: p.projectId }
      : { project_name: p.projectName!, project_domain_name: p.projectDomainName };
    return { open: { auth_url: cfg.authUrl, username: p.username, user_domain_name: p.userDomainName, ...project }, secret: { password: p.password } };
  }
  return {
    open: { auth_url: cfg.authUrl, application_credential_id: cfg.appcred!.id },
    secret: { application_credential_secret: cfg.appcred!.secret },
    authType: 'v3applicationcredential',
  };
}

before(async () => {
  api = await connect(cfg);
  server = await api.serverNamed(cfg.instance);
  dir = mkdtempSync(join(tmpdir(), 'osa-real-logins-'));
  const { open, secret, authType } = authSections();
  // The file's region does not exist: only the region input can make the run work.
  const cloud = { auth: open, region_name: 'NOWHERE1', interface: cfg.iface, ...(authType ? { auth_type: authType } : {}) };
  writeFileSync(join(dir, 'clouds.yaml'), stringify({ clouds: { 'osa-real': cloud, 'osa-other': { auth: { auth_url: cfg.authUrl } } } }));
  writeFileSync(join(dir, 'secure.yaml'), stringify({ clouds: { 'osa-real': { auth: secret } } }));
});

after(async () => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (!api) return;
  const removed = await cleanupRegion(api, R1);
  console.log(`# cleanup ${R1}: ${removed.length ? removed.join(', ') : 'nothing left'}`);
  assert.deepEqual(
    (await api.images({ [RUN_PROPERTY]: TAG, owner: api.projectId })).map((i) => i.id),
    [],
    `images of this run left in ${R1}`,
  );
});

describe('logins', () => {
  test('clouds.yaml with secure.yaml: the cloud input logs in; the region input wins over the file’s', SLOW, async () => {
    const env = { OS_CLIENT_CONFIG_FILE: join(dir, 'clouds.yaml'), OS_CLIENT_SECURE_FILE: join(dir, 'secure.yaml') };
    const run = await runAction(
      {
        mode: 'create',
        cloud: 'osa-real',
        region: R1,
        instance: server.id,
        'snapshot-name': `${TAG}-{instance}-clouds`,
        'snapshot-properties': `${RUN_PROPERTY}=${TAG}`,
      },
      env,
    );
    succeeded(run);
    const { secret } = authSections();
    assert.ok(run.stdout.split('\n').includes(`::add-mask::${Object.values(secret)[0]}`), 'the secret of secure.yaml is masked');
    const image = await api.image(run.outputs['snapshot-id']!);
    assert.ok(image, `image ${run.outputs['snapshot-id']} is not in Glance of ${R1}`);
    assert.equal(image.status, 'active');
    assert.equal(image.owner, api.projectId);
    assert.equal(image.instance_uuid, server.id);
    assert.equal(image.name, `${TAG}-${server.name}-clouds`);
  });

  test('a token login: the tier’s own token, rescoped to the project, deletes an image (gone from Glance)', SLOW, async () => {
    const seeded = await api.seedImage(`${TAG}-token-login`, { managed_by: MANAGED_BY }, { active: false });
    const run = await runAction({
      mode: 'delete',
      'auth-url': cfg.authUrl,
      token: api.token,
      'project-id': api.projectId,
      region: R1,
      'snapshot-id': seeded.id,
    });
    succeeded(run);
    assert.ok(run.stdout.split('\n').includes(`::add-mask::${api.token}`), 'the token is masked');
    assert.match(run.stdout, /as a token \(/);
    assert.equal(await api.image(seeded.id), undefined, 'the image is gone from Glance');
  });

  test('a token Keystone cannot read (it answers 404): an error naming the token input; the image stays', SLOW, async () => {
    const seeded = await api.seedImage(`${TAG}-bad-token`, { managed_by: MANAGED_BY }, { active: false });
    const run = await runAction({
      mode: 'delete',
      'auth-url': cfg.authUrl,
      token: 'gAAAAAB-not-a-token',
      'project-id': api.projectId,
      region: R1,
      'snapshot-id': seeded.id,
    });
    assert.equal(run.code, 1, runLog(run));
    assert.match(errorsOf(run).join('\n'), /check the token input/);
    assert.ok(await api.image(seeded.id), 'the image is still in Glance');
  });
});

// ---------------------------------------------------------------------------------------------
// Federation against the loopback Keystone's own (see the loopback's README, "Keystone
// federation"): an OIDC issuer on loopback, and a front before Keystone that validates the bearer
// JWT and passes its claims as OIDC-iss / OIDC-sub, as mod_auth_openidc does. Keystone is set up
// through its admin API (identity provider, group with member on the project, mapping, protocol)
// and taken down in reverse order. Loopback cloud only: elsewhere this needs the cloud's admin.

const CLIENT_ID = 'osa-real-client';
const CLIENT_SECRET = `osa-real-secret-${TAG}`;
const AUDIENCE = 'osa-real-keystone';

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

/** Every token the issuer or Keystone (seen through the front) handed out: each must be masked. */
const issued: string[] = [];

/** A tiny OIDC issuer: discovery, client credentials grant, and a runner-like ID token URL. */
function startIssuer(keys: { privateKey: KeyObject }): Promise<{ url: string; server: HttpServer }> {
  const server = createServer((request, response) => {
    const url = new URL(request.url!, 'http://x');
    const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const jwt = (aud: string) => {
      const head = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }));
      const now = Math.floor(Date.now() / 1000);
      const body = b64url(JSON.stringify({ iss: issuer, sub: `repo:octo/app:${TAG}`, aud, iat: now, exp: now + 600 }));
      const token = `${head}.${body}.${b64url(sign('sha256', Buffer.from(`${head}.${body}`), keys.privateKey))}`;
      issued.push(token);
      return token;
    };
    const send = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    if (request.method === 'GET' && url.pathname === '/.well-known/openid-configuration') return send(200, { issuer, token_endpoint: `${issuer}/token` });
    // What the runner's ACTIONS_ID_TOKEN_REQUEST_URL answers: {value: <JWT for the audience asked>}.
    if (request.method === 'GET' && url.pathname === '/idtoken') return send(200, { value: jwt(url.searchParams.get('audience') ?? '') });
    if (request.method === 'POST' && url.pathname === '/token') {
      const expected = `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`;
      return request.headers.authorization === expected
        ? send(200, { access_token: jwt(AUDIENCE), token_type: 'Bearer' })
        : send(401, { error: 'invalid_client' });
    }
    send(404, { error: 'not found' });
  });
  return new Promise((done) => server.listen(0, '127.0.0.1', () => done({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server })));
}

/** The claims of a bearer JWT signed by the issuer for AUDIENCE, else undefined. */
function validClaims(authorization: string | undefined, issuer: string, publicKey: KeyObject): { iss: string; sub: string } | undefined {
  const [head, body, signature] = (authorization?.replace(/^Bearer /, '') ?? '').split('.');
  if (!head || !body || !signature) return undefined;
  if (!verify('sha256', Buffer.from(`${head}.${body}`), publicKey, Buffer.from(signature, 'base64url'))) return undefined;
  const claims = JSON.parse(Buffer.from(body, 'base64url').toString()) as { iss: string; sub: string; aud: string; exp: number };
  return claims.iss === issuer && claims.aud === AUDIENCE && claims.exp * 1000 > Date.now() ? claims : undefined;
}

/** The front before Keystone: federation requests need a valid bearer (its claims are forwarded); the rest passes through. */
function startFront(keystone: URL, issuer: string, publicKey: KeyObject): Promise<{ url: string; server: HttpServer }> {
  const server = createServer((request, response) => {
    const headers = Object.fromEntries(Object.entries(request.headers).filter(([name]) => !/^(host|oidc-|authorization$)/i.test(name)));
    if (request.url!.includes('/OS-FEDERATION/identity_providers/')) {
      const claims = validClaims(request.headers.authorization, issuer, publicKey);
      if (!claims) {
        response.writeHead(401, { 'content-type': 'application/json' });
        return response.end(JSON.stringify({ error: { code: 401, message: 'bearer token refused by the front', title: 'Unauthorized' } }));
      }
      Object.assign(headers, { 'oidc-iss': claims.iss, 'oidc-sub': claims.sub });
    }
    const upstream = httpRequest({ host: keystone.hostname, port: keystone.port, method: request.method, path: request.url, headers }, (answer) => {
      const token = answer.headers['x-subject-token'];
      if (typeof token === 'string') issued.push(token);
      response.writeHead(answer.statusCode!, answer.headers);
      answer.pipe(response);
    });
    request.pipe(upstream);
  });
  return new Promise((done) => server.listen(0, '127.0.0.1', () => done({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server })));
}

/** Keystone's admin API with the loopback admin's token; each call must answer one of `ok`. */
let adminToken = '';
const admin = async (method: string, path: string, json?: unknown, ok = [200, 201, 204]) =>
  expect(await send(method, `${cfg.authUrl}${path}`, { token: adminToken, json }), ...ok).body ?? {};

describe('federated logins through the loopback Keystone', { skip: !cfg.loopback && 'the loopback cloud only (the setup needs the cloud’s admin)' }, () => {
  const IDP = `${TAG}-idp`;
  const MAPPING = `${TAG}-mapping`;
  const PROTOCOL = 'mapped'; // Keystone's [auth] methods enable "mapped" by default
  const undo: (() => Promise<unknown>)[] = [];
  let issuer: { url: string; server: HttpServer };
  let front: { url: string; server: HttpServer };

  before(async () => {
    const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
    issuer = await startIssuer(keys);
    undo.push(() => new Promise((done) => issuer.server.close(done)));
    front = await startFront(new URL(cfg.authUrl), issuer.url, keys.publicKey);
    undo.push(() => new Promise((done) => front.server.close(done)));
    adminToken = (await connect(cfg, adminCredentials(cfg))).token;
    await admin('PUT', `/OS-FEDERATION/identity_providers/${IDP}`, { identity_provider: { enabled: true, remote_ids: [issuer.url] } });
    undo.push(() => admin('DELETE', `/OS-FEDERATION/identity_providers/${IDP}`));
    const group = (await admin('POST', '/groups', { group: { name: `${TAG}-group`, domain_id: 'default' } })).group.id as string;
    undo.push(() => admin('DELETE', `/groups/${group}`));
    const member = ((await admin('GET', '/roles?name=member')).roles as { id: string }[])[0]!.id;
    await admin('PUT', `/projects/${api.projectId}/groups/${group}/roles/${member}`);
    const rules = [
      {
        remote: [{ type: 'HTTP_OIDC_SUB' }, { type: 'HTTP_OIDC_ISS', any_one_of: [issuer.url] }],
        local: [{ user: { name: '{0}', type: 'ephemeral' }, group: { id: group } }],
      },
    ];
    await admin('PUT', `/OS-FEDERATION/mappings/${MAPPING}`, { mapping: { rules } });
    undo.push(() => admin('DELETE', `/OS-FEDERATION/mappings/${MAPPING}`));
    await admin('PUT', `/OS-FEDERATION/identity_providers/${IDP}/protocols/${PROTOCOL}`, {
      protocol: { mapping_id: MAPPING, remote_id_attribute: 'HTTP_OIDC_ISS' },
    });
    undo.push(() => admin('DELETE', `/OS-FEDERATION/identity_providers/${IDP}/protocols/${PROTOCOL}`));
  });

  after(async () => {
    for (const step of undo.reverse()) await step();
  });

  const federated = () => ({ 'auth-url': `${front.url}/v3`, 'identity-provider': IDP, protocol: PROTOCOL, 'project-id': api.projectId, region: R1 });
  /** `secrets` (at least the bearer, the unscoped and the scoped token) masked, and shown nowhere else. */
  const assertMasked = (run: ActionRun, secrets: string[]) => {
    assert.ok(secrets.length >= 3, `tokens seen: ${secrets.length}`);
    const lines = run.stdout.split('\n');
    for (const secret of secrets) {
      assert.ok(lines.includes(`::add-mask::${secret}`), `not masked: ${secret.slice(0, 12)}…`);
      assert.ok(
        !lines.some((line) => !line.startsWith('::add-mask::') && line.includes(secret)) && !run.stderr.includes(secret),
        `shown: ${secret.slice(0, 12)}…`,
      );
    }
    issued.length = 0;
  };
  const seed = (kase: string) => api.seedImage(`${TAG}-${kase}`, { managed_by: MANAGED_BY }, { active: false });

  test(
    'oidc-client-credentials: issuer → validating front → Keystone → rescoped; deletes an image (gone from Glance); the secret and tokens masked',
    SLOW,
    async () => {
      const image = await seed('oidc');
      const run = await runAction({
        ...federated(),
        mode: 'delete',
        'snapshot-id': image.id,
        'auth-type': 'oidc-client-credentials',
        'client-id': CLIENT_ID,
        'client-secret': CLIENT_SECRET,
        'discovery-endpoint': `${issuer.url}/.well-known/openid-configuration`,
      });
      succeeded(run);
      assertMasked(run, [CLIENT_SECRET, ...issued]);
      assert.equal(await api.image(image.id), undefined, 'the image is gone from Glance');
    },
  );

  test('github-oidc: the runner’s ID token for the audience, exchanged the same way', SLOW, async () => {
    const image = await seed('github');
    const run = await runAction(
      { ...federated(), mode: 'delete', 'snapshot-id': image.id, 'auth-type': 'github-oidc', 'oidc-audience': AUDIENCE },
      { ACTIONS_ID_TOKEN_REQUEST_URL: `${issuer.url}/idtoken?api-version=2.0`, ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'runner-request-token' },
    );
    succeeded(run);
    assertMasked(run, issued);
    assert.equal(await api.image(image.id), undefined, 'the image is gone from Glance');
  });
  // A wrong audience or client secret is refused by this test's own front and issuer, not by the cloud:
  // the words the action gives are tested in test/unit/logins.test.ts and login-run.test.ts.
});
