// How the inputs, OS_* and clouds.yaml choose a login: auth-type, the cloud of clouds.yaml with
// secure.yaml merged (inputs and OS_* winning), and the problems each names.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';

import { configPlaces, loadCloud } from '../../src/clouds-yaml.ts';
import { readSettings, SettingsError } from '../../src/settings.ts';
import { captureStdout, clearActionEnv as clearEnv, PROJECT_ID, releaseStdout, setInputs as inputs, stdout } from '../support/nock.ts';

const BASE = { 'auth-url': 'https://auth.cloud.ovh.net/v3', region: 'GRA11', instance: 'web', 'project-id': PROJECT_ID };
const CLOUD_PASSWORD = 'pw-from-secure-yaml';
const CLOUD_SECRET = 'ac-secret-from-secure-yaml';

function problems(): string[] {
  try {
    readSettings();
  } catch (error) {
    assert.ok(error instanceof SettingsError, String(error));
    return error.problems;
  }
  assert.fail('the inputs were accepted');
}

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'osa-clouds-'));
  writeFileSync(
    join(dir, 'clouds.yaml'),
    [
      'clouds:',
      '  ovh:',
      '    auth:',
      '      auth_url: https://auth.cloud.ovh.net/v3',
      '      username: user-from-yaml',
      `      project_id: ${PROJECT_ID}`,
      '      user_domain_id: d-0001',
      '    region_name: SBG5',
      '    interface: internal',
      '  appcred:',
      '    auth_type: v3applicationcredential',
      '    auth:',
      '      auth_url: https://auth.cloud.ovh.net/v3',
      '      application_credential_id: ac-from-yaml',
      '    region_name: GRA11',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'secure.yaml'),
    ['clouds:', '  ovh:', '    auth:', `      password: ${CLOUD_PASSWORD}`, '  appcred:', '    auth:', `      application_credential_secret: ${CLOUD_SECRET}`, ''].join('\n'),
  );
});
after(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(() => {
  clearEnv();
  captureStdout();
});
afterEach(() => {
  releaseStdout();
  clearEnv();
});

const useFiles = () => {
  process.env.OS_CLIENT_CONFIG_FILE = join(dir, 'clouds.yaml');
  process.env.OS_CLIENT_SECURE_FILE = join(dir, 'secure.yaml');
};

describe('auth-type', () => {
  it('OS_AUTH_TYPE in the CLI’s words picks the login (v3token)', () => {
    inputs({ ...BASE, username: 'u', password: 'p', token: 'tok-1' });
    process.env.OS_AUTH_TYPE = 'v3token';
    const s = readSettings();
    assert.equal(s.credentials.method, 'token');
  });

  it('the input wins over OS_AUTH_TYPE', () => {
    inputs({ ...BASE, 'auth-type': 'password', username: 'u', password: 'p' });
    process.env.OS_AUTH_TYPE = 'v3token';
    assert.equal(readSettings().credentials.method, 'password');
  });

  it('unset: an application credential when its ID is given, a token when only a token is, else password', () => {
    inputs({ ...BASE, 'application-credential-id': 'ac', 'application-credential-secret': 's' });
    assert.equal(readSettings().credentials.method, 'application-credential');
    clearEnv();
    inputs({ ...BASE, token: 'tok' });
    assert.equal(readSettings().credentials.method, 'token');
    clearEnv();
    inputs({ ...BASE, username: 'u', password: 'p' });
    assert.equal(readSettings().credentials.method, 'password');
  });

  it('an unknown value is an input error naming the valid ones', () => {
    inputs({ ...BASE, 'auth-type': 'kerberos', username: 'u', password: 'p' });
    const found = problems();
    assert.equal(found.length, 1, found.join('\n'));
    assert.match(found[0]!, /^auth-type: "kerberos" is not a login .*password, v3password, application-credential, v3applicationcredential, token, v3token, oidc-client-credentials, v3oidcclientcredentials, github-oidc$/);
  });

  it('a token login without a token or a project names both inputs', () => {
    inputs({ 'auth-url': BASE['auth-url'], region: 'GRA11', instance: 'web', 'auth-type': 'token' });
    assert.deepEqual(problems().map((p) => p.split(':')[0]), ['token', 'project-id or project-name']);
  });

  it('oidc-client-credentials: the OVH variables, masked; scope and protocol default', () => {
    inputs({ region: 'GRA11', instance: 'web', 'project-id': PROJECT_ID });
    Object.assign(process.env, {
      OS_AUTH_URL: 'https://auth.cloud.ovh.net/v3',
      OS_AUTH_TYPE: 'v3oidcclientcredentials',
      OS_CLIENT_ID: 'sa-1',
      OS_CLIENT_SECRET: 'sa-secret-1',
      OS_IDENTITY_PROVIDER: 'ovhcloud-emea',
      OS_DISCOVERY_ENDPOINT: 'https://iam.ovh.example/.well-known/openid-configuration',
    });
    const { credentials } = readSettings();
    assert.deepEqual(credentials, {
      method: 'federated',
      authUrl: 'https://auth.cloud.ovh.net/v3',
      identityProvider: 'ovhcloud-emea',
      protocol: 'openid',
      bearer: {
        kind: 'oidc-client-credentials',
        clientId: 'sa-1',
        clientSecret: 'sa-secret-1',
        discoveryEndpoint: 'https://iam.ovh.example/.well-known/openid-configuration',
        scope: 'openid',
        tokenType: 'access_token',
      },
      projectId: PROJECT_ID,
      projectName: undefined,
      projectDomainName: 'Default',
    });
    assert.ok(stdout().split('\n').includes('::add-mask::sa-secret-1'));
  });

  it('oidc-client-credentials without its inputs names each', () => {
    inputs({ ...BASE, 'auth-type': 'oidc-client-credentials' });
    assert.deepEqual(problems().map((p) => p.split(':')[0]), ['identity-provider', 'client-id', 'client-secret', 'discovery-endpoint']);
  });

  describe('github-oidc', () => {
    afterEach(() => {
      delete process.env.ACTIONS_ID_TOKEN_REQUEST_URL;
    });

    it('no ID token from the runner: the permissions snippet to add', () => {
      inputs({ ...BASE, 'auth-type': 'github-oidc', 'identity-provider': 'github' });
      const found = problems();
      assert.equal(found.length, 1, found.join('\n'));
      assert.match(found[0]!, /^auth-type: github-oidc needs an ID token from GitHub.*: permissions: \{ id-token: write, contents: read \}$/);
    });

    it('with the runner’s ID token URL: a federated login whose audience defaults to the Keystone origin', () => {
      process.env.ACTIONS_ID_TOKEN_REQUEST_URL = 'https://runner.example/token?x=1';
      inputs({ ...BASE, 'auth-type': 'github-oidc', 'identity-provider': 'github' });
      const { credentials } = readSettings();
      assert.equal(credentials.method, 'federated');
      assert.ok(credentials.method === 'federated' && credentials.bearer.kind === 'external');
      assert.match(credentials.bearer.subject, /audience https:\/\/auth\.cloud\.ovh\.net\)/);
    });
  });
});

describe('clouds.yaml', () => {
  it('the cloud of OS_CLOUD, with secure.yaml merged: auth, user domain ID, region and interface; secrets masked', () => {
    useFiles();
    process.env.OS_CLOUD = 'ovh';
    inputs({ instance: 'web' });
    const s = readSettings();
    assert.equal(s.region, 'SBG5');
    assert.equal(s.iface, 'internal');
    assert.deepEqual(s.credentials, {
      method: 'password',
      authUrl: 'https://auth.cloud.ovh.net/v3',
      username: 'user-from-yaml',
      password: CLOUD_PASSWORD,
      userDomainName: 'Default',
      userDomainId: 'd-0001',
      projectId: PROJECT_ID,
      projectName: undefined,
      projectDomainName: 'Default',
    });
    assert.ok(stdout().split('\n').includes(`::add-mask::${CLOUD_PASSWORD}`));
  });

  it('inputs win over OS_* and OS_* over the file, as in the openstack CLI', () => {
    useFiles();
    process.env.OS_REGION_NAME = 'BHS5';
    process.env.OS_USERNAME = 'user-from-env';
    inputs({ instance: 'web', cloud: 'ovh', region: 'GRA11' });
    const s = readSettings();
    assert.equal(s.region, 'GRA11');
    assert.equal(s.credentials.method === 'password' && s.credentials.username, 'user-from-env');
  });

  it('auth_type of the cloud picks the login; the secret comes from secure.yaml', () => {
    useFiles();
    inputs({ instance: 'web', cloud: 'appcred' });
    const { credentials } = readSettings();
    assert.deepEqual(credentials, { method: 'application-credential', authUrl: 'https://auth.cloud.ovh.net/v3', id: 'ac-from-yaml', secret: CLOUD_SECRET });
    assert.ok(stdout().split('\n').includes(`::add-mask::${CLOUD_SECRET}`));
  });

  it('a cloud the file lacks: an input error listing its clouds', () => {
    useFiles();
    inputs({ ...BASE, username: 'u', password: 'p', cloud: 'ovh-prod' });
    const found = problems();
    assert.equal(found.length, 1, found.join('\n'));
    assert.equal(found[0], `cloud: no cloud "ovh-prod" in ${join(dir, 'clouds.yaml')}; it has: ovh, appcred`);
  });

  it('no clouds.yaml anywhere: the places looked in', () => {
    const empty = mkdtempSync(join(tmpdir(), 'osa-noclouds-'));
    const found: string[] = [];
    assert.equal(loadCloud('ovh', {}, found, empty, empty).size, 0);
    assert.equal(found.length, 1);
    assert.match(found[0]!, new RegExp(`^cloud: "ovh" was asked for .*no clouds\\.yaml in ${empty}/clouds\\.yaml, ${empty}/\\.config/openstack/clouds\\.yaml, /etc/openstack/clouds\\.yaml$`));
    rmSync(empty, { recursive: true });
  });

  it('the CLI’s order: OS_CLIENT_CONFIG_FILE, ./clouds.yaml, ~/.config/openstack, /etc/openstack; the first that exists is read', () => {
    assert.deepEqual(configPlaces({ OS_CLIENT_CONFIG_FILE: '/x/c.yaml' }, '/work', '/home/u', 'clouds'), [
      '/x/c.yaml',
      '/work/clouds.yaml',
      '/home/u/.config/openstack/clouds.yaml',
      '/etc/openstack/clouds.yaml',
    ]);
    const home = mkdtempSync(join(tmpdir(), 'osa-home-'));
    const cwd = mkdtempSync(join(tmpdir(), 'osa-cwd-'));
    mkdirSync(join(home, '.config', 'openstack'), { recursive: true });
    writeFileSync(join(home, '.config', 'openstack', 'clouds.yaml'), 'clouds:\n  c:\n    region_name: FROM-HOME\n');
    writeFileSync(join(home, '.config', 'openstack', 'secure.yaml'), 'clouds:\n  c:\n    auth:\n      token: tok-from-home\n');
    assert.equal(loadCloud('c', {}, [], cwd, home).get('region'), 'FROM-HOME');
    writeFileSync(join(cwd, 'clouds.yaml'), 'clouds:\n  c:\n    region_name: FROM-CWD\n');
    const cloud = loadCloud('c', {}, [], cwd, home);
    assert.equal(cloud.get('region'), 'FROM-CWD');
    assert.equal(cloud.get('token'), 'tok-from-home', 'secure.yaml is looked for on its own');
    for (const path of [home, cwd]) rmSync(path, { recursive: true });
  });
});
