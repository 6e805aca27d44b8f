// The whole action logging in through federation: every secret and token of the flow is masked
// (::add-mask::) and shows nowhere else.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import nock from 'nock';

import { runMain, type MainRun } from '../support/in-process.ts';
import {
  COMPUTE_ORIGIN,
  IMAGE_ID,
  IMAGE_ORIGIN,
  imageBody,
  mockAuth,
  PROJECT_ID,
  serverBody,
  SERVER_ID,
  SERVER_PATH,
  TOKEN,
  unmatched,
  useNock,
} from '../support/nock.ts';
import { stdout } from '../support/step.ts';
import { ACCESS_TOKEN, CLIENT_ID, CLIENT_SECRET, ISSUER, mockFederation, mockIssuer, UNSCOPED } from './login-fixtures.ts';

useNock();

const RUNNER = 'https://pipelines.actions.example';
const GITHUB_ID_TOKEN = 'eyJ-github-id-token-that-must-stay-secret';
const REQUEST_TOKEN = 'runner-request-token';

afterEach(() => {
  delete process.env.ACTIONS_ID_TOKEN_REQUEST_URL;
  delete process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
});

const BASE = {
  'auth-url': 'https://auth.cloud.ovh.net/v3',
  'project-id': PROJECT_ID,
  region: 'GRA11',
  instance: SERVER_ID,
  'identity-provider': 'ovhcloud-emea',
};

/** The project's token, and a snapshot of the server that is active at once. */
function snapshotWorks(): void {
  mockAuth();
  nock(COMPUTE_ORIGIN).get(SERVER_PATH).reply(200, { server: serverBody() }).post(`${SERVER_PATH}/action`).reply(202, { image_id: IMAGE_ID });
  nock(IMAGE_ORIGIN).get(`/v2/images/${IMAGE_ID}`).reply(200, imageBody());
}

/** main() with the BASE inputs, an oidc-client-credentials login and `extra`. */
const oidc = (extra: Record<string, string>) =>
  runMain({ ...BASE, 'auth-type': 'oidc-client-credentials', 'client-id': CLIENT_ID, 'client-secret': CLIENT_SECRET, ...extra });

/** Each secret masked, and shown nowhere but in its mask command (stdout, outputs, summary). */
function assertMasked(step: MainRun, ...secrets: string[]): void {
  const lines = step.stdout.split('\n');
  const files = [...Object.values(step.outputs), step.summary];
  for (const secret of secrets) {
    assert.ok(lines.includes(`::add-mask::${secret}`), `${secret} is masked`);
    assert.ok(!lines.some((line) => !line.startsWith('::add-mask::') && line.includes(secret)), `stdout shows ${secret}`);
    for (const text of files) assert.ok(!text.includes(secret), `a file shows ${secret}`);
  }
}

describe('run: federated logins', () => {
  it('oidc-client-credentials: client secret, access token, unscoped and scoped tokens are all masked', async () => {
    mockIssuer();
    mockFederation();
    snapshotWorks();
    const step = await oidc({ 'discovery-endpoint': `${ISSUER}/.well-known/openid-configuration` });
    assert.equal(step.exitCode, undefined, step.errors.join('\n'));
    assert.match(step.stdout, /as OIDC client sa-0123456789 via identity provider ovhcloud-emea \(protocol openid\)/);
    assertMasked(step, CLIENT_SECRET, ACCESS_TOKEN, UNSCOPED, TOKEN);
    assert.deepEqual(unmatched, []);
  });

  it('github-oidc: the runner’s ID token is asked for with the audience, exchanged, and masked', async () => {
    process.env.ACTIONS_ID_TOKEN_REQUEST_URL = `${RUNNER}/idtoken?api-version=2.0`;
    process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN = REQUEST_TOKEN;
    const runner = nock(RUNNER)
      .get('/idtoken')
      .query({ 'api-version': '2.0', audience: 'keystone-gra' })
      .matchHeader('authorization', `Bearer ${REQUEST_TOKEN}`)
      .reply(200, { value: GITHUB_ID_TOKEN });
    mockFederation(GITHUB_ID_TOKEN);
    snapshotWorks();
    const step = await runMain({ ...BASE, 'auth-type': 'github-oidc', 'oidc-audience': 'keystone-gra' });
    assert.equal(step.exitCode, undefined, step.errors.join('\n'));
    runner.done();
    assertMasked(step, GITHUB_ID_TOKEN, UNSCOPED, TOKEN);
    assert.deepEqual(unmatched, []);
  });

  it('an issuer that echoes the Authorization header: the basic credentials (base64 of id:secret) are masked before the request, and shown nowhere', async () => {
    const basic = Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64');
    let authorization = '';
    nock(ISSUER)
      .post('/token')
      .matchHeader('authorization', (value) => ((authorization = value ?? ''), true))
      .reply(() => {
        // Masked before the request left: the mask command is already out.
        assert.ok(stdout().split('\n').includes(`::add-mask::${basic}`), 'masked before the request');
        return [403, `Forbidden: Authorization: ${authorization}`, { 'content-type': 'text/plain' }];
      });
    const step = await oidc({ 'access-token-endpoint': `${ISSUER}/token` });
    assert.equal(step.exitCode, 1);
    assert.match(step.errors.join('\n'), /POST https:\/\/iam\.ovh\.example\/token answered 403: Forbidden: Authorization: Basic \*\*\*/);
    assertMasked(step, CLIENT_SECRET, basic);
  });

  it('user:password in the discovery endpoint: masked, never sent nor shown (debug lines included), with a warning', async () => {
    const password = 'd1sc0very-pa55';
    // The discovery document is asked for without the URL's credentials (no basic auth of them).
    // Once refused, then answered: the retry's debug line names the URL too.
    nock(ISSUER, { badheaders: ['authorization'] })
      .get('/.well-known/openid-configuration')
      .reply(503, 'busy')
      .get('/.well-known/openid-configuration')
      .reply(200, { token_endpoint: `${ISSUER}/token` });
    nock(ISSUER).post('/token').reply(200, { access_token: ACCESS_TOKEN });
    mockFederation();
    snapshotWorks();
    const step = await oidc({ 'discovery-endpoint': `https://joe:${password}@iam.ovh.example/.well-known/openid-configuration` });
    assert.equal(step.exitCode, undefined, step.errors.join('\n'));
    assert.match(step.stdout, /::debug::retry #1 of GET https:\/\/iam\.ovh\.example\/\.well-known\/openid-configuration/);
    assert.match(step.stdout, /::warning::discovery-endpoint: the user name and password in the URL are not used/);
    assertMasked(step, password, `joe:${password}`);
    assert.ok(!step.stdout.split('\n').some((line) => !line.startsWith('::add-mask::') && line.includes('joe')), 'the user name is not shown either');
    assert.deepEqual(unmatched, []);
  });

  it('a bad client secret fails the step with the inputs to fix, the secret masked', async () => {
    nock(ISSUER).post('/token').reply(401, { error: 'invalid_client' });
    const step = await oidc({ 'access-token-endpoint': `${ISSUER}/token` });
    assert.equal(step.exitCode, 1);
    assert.match(step.errors.join('\n'), /OIDC issuer refused client sa-0123456789 .*check client-id and client-secret/);
    assertMasked(step, CLIENT_SECRET);
  });
});
