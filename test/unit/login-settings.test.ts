// How the inputs, OS_* and clouds.yaml choose a login: auth-type, the cloud of clouds.yaml with
// secure.yaml merged (inputs and OS_* winning), and the problems each names.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';

import { cloudsPlaces, loadCloud, loadYamlParser } from '../../src/settings/clouds-yaml.ts';
import { readSettings } from '../../src/settings/settings.ts';
import { captureStdout, clearActionEnv as clearEnv, setInputs as inputs, settingsProblems as problems, stdout, freshStepEachTest } from '../support/step.ts';
import { VALID_YAML, YAML_CASES } from '../support/yaml-cases.ts';

const PROJECT_ID = '5f3b8a1c9d2e4f60a7b8c9d0e1f2a3b4';

const BASE = { 'auth-url': 'https://auth.cloud.ovh.net/v3', region: 'GRA11', instance: 'web', 'project-id': PROJECT_ID };
const CLOUD_PASSWORD = 'pw-from-secure-yaml';
const CLOUD_SECRET = 'ac-secret-from-secure-yaml';

let dir = '';
// The steps load the YAML parser before readSettings (loadSettings), only when a cloud is named.
before(loadYamlParser);
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
    [
      'clouds:',
      '  ovh:',
      '    auth:',
      `      password: ${CLOUD_PASSWORD}`,
      '  appcred:',
      '    auth:',
      `      application_credential_secret: ${CLOUD_SECRET}`,
      '',
    ].join('\n'),
  );
});
after(() => rmSync(dir, { recursive: true, force: true }));
freshStepEachTest();

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
    assert.match(
      found[0]!,
      /^auth-type: "kerberos" is not a login .*password, v3password, application-credential, v3applicationcredential, token, v3token, oidc-client-credentials, v3oidcclientcredentials, github-oidc$/,
    );
  });

  it('a token login without a token or a project names both inputs', () => {
    inputs({ 'auth-url': BASE['auth-url'], region: 'GRA11', instance: 'web', 'auth-type': 'token' });
    assert.deepEqual(
      problems().map((p) => p.split(':')[0]),
      ['token', 'project-id or project-name'],
    );
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
    assert.deepEqual(
      problems().map((p) => p.split(':')[0]),
      ['identity-provider', 'client-id', 'client-secret', 'discovery-endpoint'],
    );
  });

  it('a bad value from an OS_* variable names the variable (OS_AUTH_TYPE, OS_INTERFACE, OS_AUTH_URL)', () => {
    inputs({ region: 'GRA11', instance: 'web', 'project-id': PROJECT_ID, username: 'u', password: 'p' });
    Object.assign(process.env, { OS_AUTH_TYPE: 'kerberos', OS_INTERFACE: 'private', OS_AUTH_URL: 'ftp://auth.example/v3' });
    const found = problems();
    assert.deepEqual(found, [
      'OS_INTERFACE: "private" is not an endpoint interface; use public, internal or admin',
      'OS_AUTH_URL: "ftp://auth.example/v3" is not an http(s) URL; e.g. https://auth.cloud.ovh.net/v3',
      `OS_AUTH_TYPE: "kerberos" is not a login this action knows; use password, v3password, application-credential, v3applicationcredential, token, v3token, oidc-client-credentials, v3oidcclientcredentials, github-oidc`,
    ]);
  });

  it('a bad value from clouds.yaml names its key and cloud', () => {
    const files = mkdtempSync(join(tmpdir(), 'osa-bad-type-'));
    writeFileSync(join(files, 'clouds.yaml'), 'clouds:\n  c:\n    auth_type: kerberos\n');
    process.env.OS_CLIENT_CONFIG_FILE = join(files, 'clouds.yaml');
    inputs({ ...BASE, cloud: 'c', username: 'u', password: 'p' });
    const found = problems();
    assert.equal(found.length, 1, found.join('\n'));
    assert.match(found[0]!, /^auth_type of cloud "c" in clouds\.yaml: "kerberos" is not a login this action knows; /);
    rmSync(files, { recursive: true });
  });

  describe('oidc-client-credentials endpoints', () => {
    const oidc = { ...BASE, 'auth-type': 'oidc-client-credentials', 'identity-provider': 'idp', 'client-id': 'sa-1', 'client-secret': 'sa-secret-1' };
    const warnings = () =>
      stdout()
        .split('\n')
        .filter((line) => line.startsWith('::warning'));

    it('credentials in the URL are masked before anything can print them, removed, and warned of', () => {
      inputs({ ...oidc, 'discovery-endpoint': 'https://joe:d1sc%3Avery@iam.ovh.example/.well-known/openid-configuration' });
      process.env.OS_ACCESS_TOKEN_ENDPOINT = 'https://ann:t0ken-pw@iam.ovh.example/token';
      const { credentials } = readSettings();
      assert.ok(credentials.method === 'federated' && credentials.bearer.kind === 'oidc-client-credentials');
      assert.equal(credentials.bearer.tokenEndpoint, 'https://iam.ovh.example/token');
      const lines = stdout().split('\n');
      // As the runner reads the mask command (% is written %25).
      const masks = lines.filter((line) => line.startsWith('::add-mask::')).map((line) => line.slice('::add-mask::'.length).replace(/%25/g, '%'));
      for (const secret of ['joe:d1sc%3Avery', 'd1sc%3Avery', 'd1sc:very', 'ann:t0ken-pw', 't0ken-pw']) assert.ok(masks.includes(secret), secret);
      assert.deepEqual(
        lines.filter((line) => !line.startsWith('::add-mask::') && /d1sc|t0ken-pw/.test(line)),
        [],
      );
      assert.deepEqual(warnings(), [
        '::warning::discovery-endpoint: the user name and password in the URL are not used (the client authenticates with client-id and client-secret) and were removed',
        '::warning::OS_ACCESS_TOKEN_ENDPOINT: the user name and password in the URL are not used (the client authenticates with client-id and client-secret) and were removed',
      ]);
    });

    it('credentials in a URL that is not http(s) are not shown either', () => {
      inputs({ ...oidc, 'discovery-endpoint': 'ftp://joe:d1sc0very@iam.ovh.example/x' });
      assert.deepEqual(problems(), ['discovery-endpoint: "ftp://***@iam.ovh.example/x" is not an http(s) URL']);
    });

    it('http:// to another machine is warned of; to this one (loopback) it is not', () => {
      inputs({ ...oidc, 'access-token-endpoint': 'http://iam.ovh.example/token' });
      readSettings();
      assert.deepEqual(warnings(), [
        '::warning::access-token-endpoint is http://iam.ovh.example: the client secret and every token travel unencrypted; use https',
      ]);
      clearEnv();
      captureStdout();
      inputs({ ...oidc, 'discovery-endpoint': 'http://127.0.0.1:8080/.well-known/openid-configuration' });
      readSettings();
      assert.deepEqual(warnings(), []);
    });
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
    assert.match(
      found[0]!,
      new RegExp(`^cloud: "ovh" was asked for .*no clouds\\.yaml in ${empty}/\\.config/openstack/clouds\\.yaml, /etc/openstack/clouds\\.yaml$`),
    );
    writeFileSync(join(empty, 'clouds.yaml'), 'clouds: {}\n');
    found.length = 0;
    loadCloud('ovh', {}, found, empty, empty);
    assert.match(found[0]!, /, \/etc\/openstack\/clouds\.yaml \(\.\/clouds\.yaml, in the workspace, is read only when OS_CLIENT_CONFIG_FILE names it\)$/);
    rmSync(empty, { recursive: true });
  });

  it('the places: OS_CLIENT_CONFIG_FILE (relative to the current directory), ~/.config/openstack, /etc/openstack; the first that exists is read', () => {
    assert.deepEqual(cloudsPlaces({ OS_CLIENT_CONFIG_FILE: '/x/c.yaml' }, '/work', '/home/u'), [
      '/x/c.yaml',
      '/home/u/.config/openstack/clouds.yaml',
      '/etc/openstack/clouds.yaml',
    ]);
    assert.deepEqual(cloudsPlaces({ OS_CLIENT_CONFIG_FILE: 'clouds.yaml' }, '/work', '/home/u')[0], '/work/clouds.yaml');
    assert.deepEqual(cloudsPlaces({}, '/work', '/home/u'), ['/home/u/.config/openstack/clouds.yaml', '/etc/openstack/clouds.yaml']);
  });

  describe('the workspace’s ./clouds.yaml (the repository’s content) and secure.yaml', () => {
    let home = '';
    let cwd = '';
    const homeDir = () => join(home, '.config', 'openstack');
    beforeEach(() => {
      home = mkdtempSync(join(tmpdir(), 'osa-home-'));
      cwd = mkdtempSync(join(tmpdir(), 'osa-cwd-'));
      mkdirSync(homeDir(), { recursive: true });
      writeFileSync(join(homeDir(), 'clouds.yaml'), 'clouds:\n  c:\n    region_name: FROM-HOME\n    auth:\n      auth_url: https://keystone.home.example/v3\n');
      writeFileSync(join(homeDir(), 'secure.yaml'), 'clouds:\n  c:\n    auth:\n      password: pw-from-home\n');
      writeFileSync(join(cwd, 'clouds.yaml'), 'clouds:\n  c:\n    region_name: FROM-CWD\n    auth:\n      auth_url: https://collector.example/v3\n');
    });
    afterEach(() => {
      for (const path of [home, cwd]) rmSync(path, { recursive: true });
    });

    it('./clouds.yaml is not read unless OS_CLIENT_CONFIG_FILE names it; the files read are logged', () => {
      const cloud = loadCloud('c', {}, [], cwd, home);
      assert.equal(cloud.get('region'), 'FROM-HOME');
      assert.equal(cloud.get('auth-url'), 'https://keystone.home.example/v3');
      assert.equal(cloud.get('password'), 'pw-from-home');
      assert.ok(
        stdout()
          .split('\n')
          .includes(`Cloud "c" read from ${join(homeDir(), 'clouds.yaml')} and ${join(homeDir(), 'secure.yaml')}`),
        stdout(),
      );
    });

    it('named by OS_CLIENT_CONFIG_FILE, ./clouds.yaml is read, but never with the secure.yaml of another folder', () => {
      const cloud = loadCloud('c', { OS_CLIENT_CONFIG_FILE: 'clouds.yaml' }, [], cwd, home);
      assert.equal(cloud.get('region'), 'FROM-CWD');
      assert.equal(cloud.get('password'), undefined, 'the password of ~/.config/openstack/secure.yaml does not go to this file’s auth_url');
      assert.ok(
        stdout()
          .split('\n')
          .includes(`Cloud "c" read from ${join(cwd, 'clouds.yaml')}`),
        stdout(),
      );
    });

    it('the secure.yaml next to the clouds.yaml, or the one OS_CLIENT_SECURE_FILE names', () => {
      writeFileSync(join(cwd, 'secure.yaml'), 'clouds:\n  c:\n    auth:\n      password: pw-from-cwd\n');
      assert.equal(loadCloud('c', { OS_CLIENT_CONFIG_FILE: 'clouds.yaml' }, [], cwd, home).get('password'), 'pw-from-cwd');
      rmSync(join(cwd, 'secure.yaml'));
      const env = { OS_CLIENT_CONFIG_FILE: 'clouds.yaml', OS_CLIENT_SECURE_FILE: join(homeDir(), 'secure.yaml') };
      assert.equal(loadCloud('c', env, [], cwd, home).get('password'), 'pw-from-home');
    });
  });

  it('values are read as written, as text: 0123 stays 0123, a secret 31 is masked as 31; !!str is allowed, a list is not', () => {
    const files = mkdtempSync(join(tmpdir(), 'osa-text-'));
    writeFileSync(
      join(files, 'clouds.yaml'),
      [
        'clouds:',
        '  c:',
        '    region_name: 0x1F',
        '    auth:',
        '      username: 0042',
        '      password: 0123',
        '      project_id: 1e3',
        '  d:',
        '    auth:',
        '      token: 31',
        '      application_credential_secret: !!str 0099',
        '',
      ].join('\n'),
    );
    const env = { OS_CLIENT_CONFIG_FILE: join(files, 'clouds.yaml') };
    const problems: string[] = [];
    const c = loadCloud('c', env, problems);
    assert.deepEqual([c.get('region'), c.get('username'), c.get('password'), c.get('project-id')], ['0x1F', '0042', '0123', '1e3']);
    const d = loadCloud('d', env, problems);
    assert.deepEqual([d.get('token'), d.get('application-credential-secret')], ['31', '0099']);
    assert.deepEqual(problems, []);
    writeFileSync(join(files, 'clouds.yaml'), 'clouds:\n  e:\n    auth:\n      password: [pw-1, pw-2]\n');
    assert.equal(loadCloud('e', env, problems).get('password'), undefined);
    assert.deepEqual(problems, ['cloud: password of cloud "e" is a list or a mapping; give text']);
    for (const secret of ['0123', '31', '0099']) assert.ok(stdout().split('\n').includes(`::add-mask::${secret}`), secret);
    rmSync(files, { recursive: true });
  });

  it('YAML merge keys (<<:), as the openstack CLI reads them', () => {
    const files = mkdtempSync(join(tmpdir(), 'osa-merge-'));
    writeFileSync(
      join(files, 'clouds.yaml'),
      [
        'defaults: &ovh',
        '  region_name: SBG5',
        '  auth:',
        '    auth_url: https://auth.cloud.ovh.net/v3',
        '    username: u',
        'clouds:',
        '  c:',
        '    <<: *ovh',
        '    interface: internal',
        '',
      ].join('\n'),
    );
    const problems: string[] = [];
    const cloud = loadCloud('c', { OS_CLIENT_CONFIG_FILE: join(files, 'clouds.yaml') }, problems);
    assert.deepEqual(problems, []);
    assert.deepEqual(Object.fromEntries(cloud), { region: 'SBG5', interface: 'internal', 'auth-url': 'https://auth.cloud.ovh.net/v3', username: 'u' });
    rmSync(files, { recursive: true });
  });

  it('a file over 1 MiB is refused, naming it and the cap', () => {
    const files = mkdtempSync(join(tmpdir(), 'osa-big-'));
    const big = join(files, 'clouds.yaml');
    writeFileSync(big, `clouds:\n  c:\n    region_name: X\n${'#'.repeat(1024 * 1024)}\n`);
    const problems: string[] = [];
    assert.equal(loadCloud('c', { OS_CLIENT_CONFIG_FILE: big }, problems).size, 0);
    assert.deepEqual(problems, [`cloud: ${big} is over 1 MiB, more than any clouds.yaml or secure.yaml needs: refused`]);
    rmSync(files, { recursive: true });
  });

  it('a file that is not a regular file (a FIFO) is refused, not read', () => {
    const files = mkdtempSync(join(tmpdir(), 'osa-fifo-'));
    const fifo = join(files, 'clouds.yaml');
    execFileSync('mkfifo', [fifo]);
    const problems: string[] = [];
    assert.equal(loadCloud('c', { OS_CLIENT_CONFIG_FILE: fifo }, problems).size, 0);
    assert.deepEqual(problems, [`cloud: ${fifo} is not a regular file: refused`]);
    rmSync(files, { recursive: true });
  });

  describe('a file that does not parse, or a tag on a secret: the file, line and column, never the text, nothing on stderr', () => {
    const SECRET = 'Yaml-S3cret-that-must-stay-secret';
    let files = '';
    let warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
    let stderr = '';
    const write = process.stderr.write;
    beforeEach(() => {
      files = mkdtempSync(join(tmpdir(), 'osa-bad-yaml-'));
      warnings = [];
      process.on('warning', onWarning);
      stderr = '';
      process.stderr.write = ((chunk: unknown) => ((stderr += String(chunk)), true)) as typeof process.stderr.write;
    });
    afterEach(() => {
      process.stderr.write = write;
      process.off('warning', onWarning);
      rmSync(files, { recursive: true });
    });

    for (const c of YAML_CASES) {
      it(`${c.name} (${c.file})`, async () => {
        for (const name of ['clouds.yaml', 'secure.yaml']) writeFileSync(join(files, name), name === c.file ? c.text(SECRET) : VALID_YAML);
        const problems: string[] = [];
        loadCloud('c', { OS_CLIENT_CONFIG_FILE: join(files, 'clouds.yaml'), OS_CLIENT_SECURE_FILE: join(files, 'secure.yaml') }, problems);
        await new Promise((resolve) => setImmediate(resolve));
        assert.equal(problems.length, 1, problems.join('\n'));
        const where = c.column ? `line ${c.line}, column ${c.column}` : `line ${c.line}: clouds.c.auth.password`;
        assert.ok(problems[0]!.startsWith(`cloud: ${join(files, c.file)}`) && problems[0]!.includes(where), problems[0]);
        assert.deepEqual([warnings, stderr], [[], ''], 'no warning from the parser, nothing on stderr');
        for (const text of [problems[0]!, stdout()]) assert.ok(!text.includes(SECRET.slice(0, 12)), text);
      });
    }
  });
});
