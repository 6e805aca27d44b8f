import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { readSettings, SettingsError, type Settings } from '../../src/settings/settings.ts';
import { actionDefaults } from '../support/run-action.ts';
import { captureStdout, clearActionEnv as clearEnv, setInputs as inputs, settingsProblems as problems, stdout, freshStepEachTest } from '../support/step.ts';

const PROJECT_ID = '5f3b8a1c9d2e4f60a7b8c9d0e1f2a3b4';
const PASSWORD = 'Pa55word-that-must-stay-secret';
const APP_SECRET = 'app-cred-secret-that-must-stay-secret';
const IMAGE_UUID = 'e30f3c46-9743-46a5-bf50-6ddf396c50fb';

const PASSWORD_AUTH = {
  'auth-url': 'https://auth.cloud.ovh.net/v3',
  username: 'user-AbCdEf123456',
  password: PASSWORD,
  'project-id': PROJECT_ID,
  region: 'GRA11',
};

/** The settings of the current inputs, which must be of `mode`. */
function readAs<M extends Settings['mode']>(mode: M): Extract<Settings, { mode: M }> {
  const s = readSettings();
  assert.equal(s.mode, mode);
  return s as Extract<Settings, { mode: M }>;
}

/** Exactly one problem, matching `pattern`. */
function onlyProblem(pattern: RegExp): void {
  const found = problems();
  assert.equal(found.length, 1, found.join('\n'));
  assert.match(found[0]!, pattern);
}

freshStepEachTest();

describe('settings: a valid create', () => {
  it('reads the inputs, with the defaults action.yml documents', () => {
    inputs({ ...PASSWORD_AUTH, instance: 'web' });
    const s = readAs('create');
    assert.equal(s.region, 'GRA11');
    assert.equal(s.iface, 'public');
    assert.deepEqual(s.servers, { names: ['web'], tags: [], metadata: {}, allowEmpty: false });
    assert.equal(s.stopInstance, false);
    assert.equal(s.template, '{instance}-{timestamp}');
    assert.equal(s.wait, true);
    assert.equal(s.timeoutMs, 2 * 3_600_000);
    assert.equal(s.rateLimit, 10);
    assert.equal(s.dryRun, false);
    assert.equal(s.retention, undefined);
    assert.deepEqual(s.metadata, {});
    assert.deepEqual(s.credentials, {
      method: 'password',
      authUrl: 'https://auth.cloud.ovh.net/v3',
      username: 'user-AbCdEf123456',
      password: PASSWORD,
      userDomainName: 'Default',
      projectId: PROJECT_ID,
      projectName: undefined,
      projectDomainName: 'Default',
    });
  });

  it('delete: the target is the ID or the exact name; nothing in use is deleted by default', () => {
    inputs({ ...PASSWORD_AUTH, mode: 'delete', 'snapshot-id': IMAGE_UUID });
    const byId = readAs('delete');
    assert.deepEqual(byId.target, { imageId: IMAGE_UUID });
    assert.equal(byId.ignoreMissing, false);
    assert.equal(byId.deleteInUse, false);
    clearEnv();
    inputs({ ...PASSWORD_AUTH, mode: 'delete', 'snapshot-name': 'web-1', 'ignore-missing': 'true', 'delete-in-use': 'true' });
    const byName = readAs('delete');
    assert.deepEqual([byName.target, byName.ignoreMissing, byName.deleteInUse], [{ name: 'web-1' }, true, true]);
  });

  it('adds /v3 to an auth URL without a version, and drops trailing slashes', () => {
    inputs({ ...PASSWORD_AUTH, instance: 'web', 'auth-url': 'https://auth.cloud.ovh.net/' });
    assert.equal(readSettings().credentials.authUrl, 'https://auth.cloud.ovh.net/v3');
    inputs({ 'auth-url': 'https://keystone.example.com:5000/v3/' });
    assert.equal(readSettings().credentials.authUrl, 'https://keystone.example.com:5000/v3');
  });

  it('parses snapshot-properties lines, timeout, wait and the retention inputs of a create', () => {
    inputs({
      ...PASSWORD_AUTH,
      instance: 'web',
      'snapshot-properties': '# a comment\nteam = ops\n\nenv=prod',
      timeout: '1h30m',
      'keep-last': '3',
      'keep-within': '7d',
    });
    const s = readAs('create');
    assert.deepEqual(s.metadata, { team: 'ops', env: 'prod' });
    assert.equal(s.timeoutMs, 90 * 60_000);
    assert.equal(s.wait, true);
    assert.deepEqual(s.retention?.policy, { last: 3, within: 7 * 86_400_000 });
  });

  it('wait: false', () => {
    inputs({ ...PASSWORD_AUTH, instance: 'web', wait: 'false' });
    assert.equal(readAs('create').wait, false);
  });

  it('restore: the snapshot is an ID, an exact name, or the newest (of the names a glob matches)', () => {
    const snapshotOf = (extra: Record<string, string>) => {
      clearEnv();
      inputs({ ...PASSWORD_AUTH, mode: 'restore', instance: 'web', ...extra });
      return readAs('restore').snapshot;
    };
    assert.deepEqual(snapshotOf({ 'snapshot-id': IMAGE_UUID }), { imageId: IMAGE_UUID });
    assert.deepEqual(snapshotOf({ 'snapshot-name': 'web-release-2' }), { name: 'web-release-2' });
    assert.deepEqual(snapshotOf({ 'snapshot-name': 'web-release-*' }), { newest: true, nameGlob: 'web-release-*' });
    assert.deepEqual(snapshotOf({}), { newest: true });
    inputs({ 'allow-other-instance': 'true', 'snapshot-before': 'true', timeout: '20m' });
    const s = readAs('restore');
    assert.deepEqual([s.servers.names, s.allowOtherInstance, s.snapshotBefore, s.timeoutMs], [['web'], true, true, 20 * 60_000]);
  });

  it('prune: snapshot-name is the glob, with the deletion knobs', () => {
    inputs({
      ...PASSWORD_AUTH,
      mode: 'prune',
      'snapshot-name': 'web-*',
      'keep-daily': '7',
      'dry-run': 'true',
      'max-deletes': '20',
      'max-parallel': '8',
      'include-unmanaged': 'true',
    });
    const s = readAs('prune');
    assert.equal(s.nameGlob, 'web-*');
    assert.deepEqual(s.retention, { includeUnmanaged: true, policy: { daily: 7 }, maxDeletes: 20, concurrency: 8 });
    assert.equal(s.dryRun, true);
  });
});

describe('settings: every problem names the input and what is valid', () => {
  const AUTH_URL = PASSWORD_AUTH['auth-url'];
  const { region: _, ...NO_REGION } = PASSWORD_AUTH;
  const WEB = { ...PASSWORD_AUTH, instance: 'web' };
  const PRUNE = { ...PASSWORD_AUTH, mode: 'prune', 'keep-last': '1' };
  /** The inputs, and the problems they give, in order: no more, no fewer. */
  const REFUSED: [string, Record<string, string>, RegExp[]][] = [
    ['unknown mode', { ...PASSWORD_AUTH, mode: 'backup' }, [/^mode: "backup" is not a mode; use create, delete, prune, restore, copy or verify$/]],
    ['a timeout without a unit', { ...WEB, timeout: '90' }, [/^timeout: "90" has no unit: write 90s, 90m/]],
    ['a timeout that is not a duration', { ...WEB, timeout: 'soon' }, [/^timeout: "soon" is not a duration: use a number followed by s, m, h, d or w/]],
    [
      'malformed snapshot-properties: each bad line, by number',
      { ...WEB, 'snapshot-properties': 'team=ops\nnovalue\nmanaged_by=me\nname=x\nbad/key=1' },
      [
        /^snapshot-properties: line 2 \("novalue"\) is not key=value$/,
        /^snapshot-properties: line 3 .*"managed_by" is set by this action itself/,
        /^snapshot-properties: line 4 .*"name" is an image attribute OpenStack sets itself/,
        /^snapshot-properties: line 5 .*the key must be 1 to 255 of the characters/,
      ],
    ],
    [
      'missing credentials: auth-url, username, password and project are each named',
      { region: 'GRA11', instance: 'web' },
      [
        /^auth-url: required \(or OS_AUTH_URL\), e\.g\. https:\/\/auth\.cloud\.ovh\.net\/v3/,
        /^username: required for password authentication \(or OS_USERNAME\); or give application-credential-id and application-credential-secret/,
        /^password: required for password authentication \(or OS_PASSWORD\)/,
        /^project-id or project-name: required .*OS_TENANT_ID.*OS_TENANT_NAME/,
      ],
    ],
    [
      'an application credential secret without its ID',
      { 'auth-url': AUTH_URL, region: 'GRA11', instance: 'web', 'application-credential-secret': APP_SECRET },
      [/^application-credential-id: required with application-credential-secret/],
    ],
    [
      'an application credential ID without its secret',
      { 'auth-url': AUTH_URL, region: 'GRA11', instance: 'web', 'application-credential-id': 'ac-1' },
      [/^application-credential-secret: required with application-credential-id/],
    ],
    [
      'create without an instance',
      PASSWORD_AUTH,
      [/^instance: required for mode create: the name or ID of the instance \(one a line\), or instance-tags \/ instance-metadata to select instances$/],
    ],
    ['create with a blank instance', { ...PASSWORD_AUTH, instance: '   ' }, [/^instance: is blank; give an instance name or ID$/]],
    [
      'restore with names and tags (they add up, and could rebuild every tagged server)',
      { ...WEB, mode: 'restore', 'instance-tags': 'prod' },
      [
        /^instance and instance-tags \/ instance-metadata: mode restore takes the instances by name or by selector, not both: they add up, so instance-tags: prod rebuilds every instance it picks besides those named/,
      ],
    ],
    [
      'restore with names and metadata',
      { ...WEB, mode: 'restore', 'instance-metadata': 'role=db' },
      [/^instance and instance-tags \/ instance-metadata: mode restore/],
    ],
    [
      'instance-metadata with a bad key',
      { ...WEB, 'instance-metadata': 'bad/key=1' },
      [/^instance-metadata: line 1 .*the key must be 1 to 255 of the characters/],
    ],
    ['no region anywhere', { ...NO_REGION, instance: 'web' }, [/^region: required \(or OS_REGION_NAME\), e\.g\. GRA11/]],
    [
      'delete with both snapshot-id and snapshot-name',
      { ...PASSWORD_AUTH, mode: 'delete', 'snapshot-id': IMAGE_UUID, 'snapshot-name': 'web-1' },
      [/^snapshot-id and snapshot-name: give one of them, not both/],
    ],
    ['delete with neither', { ...PASSWORD_AUTH, mode: 'delete' }, [/^snapshot-id or snapshot-name: mode delete needs the ID or the exact name/]],
    [
      'delete with retention inputs',
      { ...PASSWORD_AUTH, mode: 'delete', 'snapshot-id': IMAGE_UUID, 'keep-last': '2' },
      [/^keep-\*: retention inputs are for modes prune and create/],
    ],
    ...['latest', 'abc', `${IMAGE_UUID}x`].map((value): [string, Record<string, string>, RegExp[]] => [
      `snapshot-id "${value}" is not a snapshot ID`,
      { ...PASSWORD_AUTH, mode: 'delete', 'snapshot-id': value },
      [new RegExp(`^snapshot-id: "${value}" is not a snapshot ID; give the UUID of the snapshot`)],
    ]),
    [
      'snapshot-name given but blank (prune)',
      { ...PRUNE, 'snapshot-name': '  ' },
      [/^snapshot-name: is blank; give a name or a glob, or leave the input out to cover every name$/],
    ],
    [
      'snapshot-name given but blank (create)',
      { ...WEB, 'snapshot-name': ' ' },
      [/^snapshot-name: is blank; give a name template, or leave the input out for the default/],
    ],
    ['delete-in-use outside delete', { ...PRUNE, 'delete-in-use': 'true' }, [/^delete-in-use: only for mode delete/]],
    [
      'snapshot-id outside delete',
      { ...WEB, 'snapshot-id': IMAGE_UUID },
      [/^snapshot-id: only for modes delete, restore, copy and verify; mode create makes a new snapshot/],
    ],
    [
      'prune without a policy: names every keep-* input',
      { ...PASSWORD_AUTH, mode: 'prune' },
      [/^keep-last, keep-within, keep-hourly, keep-daily, keep-weekly, keep-monthly, keep-yearly: mode prune needs at least one/],
    ],
    ...['0', '-1', '1.5', 'three'].map((value): [string, Record<string, string>, RegExp[]] => [
      `keep-last "${value}"`,
      { ...PRUNE, 'keep-last': value },
      [new RegExp(`^keep-last: "${value.replace('.', '\\.')}" is not valid; use a whole number from 1 up$`)],
    ]),
    ['keep-within of zero', { ...PASSWORD_AUTH, mode: 'prune', 'keep-within': '0d' }, [/^keep-within: "0d" adds up to zero/]],
    [
      'max-parallel outside 1 to 32, and max-deletes of 0',
      { ...PRUNE, 'max-parallel': '33', 'max-deletes': '0' },
      [/^max-parallel: "33" is not valid; use a whole number from 1 to 32$/, /^max-deletes: "0" is not valid; use a whole number from 1 up$/],
    ],
    [
      'an unknown template token lists the valid ones',
      { ...WEB, 'snapshot-name': '{instance}-{build}' },
      [/^snapshot-name: unknown \{build\}; valid tokens are \{instance\} \{instance_id\} \{region\} \{date\} \{time\} \{timestamp\} \{sha\}/],
    ],
    ['a stray brace in the template', { ...WEB, 'snapshot-name': '{instance}-}' }, [/^snapshot-name: it has a "\{" or "\}" that is not part of a \{token\}/]],
    ...['https://auth.cloud.ovh.net/v2.0', 'https://auth.cloud.ovh.net/v2.0/', 'http://keystone:5000/v2'].map(
      (url): [string, Record<string, string>, RegExp[]] => [
        `a Keystone v2 URL (${url})`,
        { ...WEB, 'auth-url': url },
        [/^auth-url: ".*" is Keystone v2, which is gone; use the \/v3 URL$/],
      ],
    ),
    ['an auth URL that is not http(s)', { ...WEB, 'auth-url': 'auth.cloud.ovh.net/v3' }, [/^auth-url: "auth\.cloud\.ovh\.net\/v3" is not an http\(s\) URL/]],
    [
      'a boolean that is not true or false',
      { ...WEB, wait: 'yes' },
      [/^wait: "yes" is not a boolean; use true or false, or captured \(until each disk is captured; the post step waits for active\)$/],
    ],
    [
      'retention inputs on a create that does not wait',
      { ...WEB, wait: 'false', 'keep-last': '3' },
      [/^wait: keep-\* inputs prune only after the new snapshot is active, so they need wait: true \(or captured: the post step prunes\)$/],
    ],
    [
      'an unknown interface, and a rate limit that is not a number',
      { ...WEB, interface: 'private', 'rate-limit': 'fast' },
      [/^interface: "private" is not an endpoint interface; use public, internal or admin$/, /^rate-limit: "fast" is not valid; use requests per second/],
    ],
  ];
  for (const [what, given, expected] of REFUSED)
    it(what, () => {
      inputs(given);
      const found = problems();
      assert.equal(found.length, expected.length, found.join('\n'));
      expected.forEach((pattern, i) => assert.match(found[i]!, pattern));
    });

  it('a selector alone is what restore takes; create adds names and a selector up', () => {
    inputs({ ...PASSWORD_AUTH, mode: 'restore', 'instance-tags': 'prod' });
    assert.deepEqual(readAs('restore').servers, { names: [], tags: ['prod'], metadata: {}, allowEmpty: false });
    inputs({ mode: 'create', instance: 'web' });
    assert.deepEqual(readAs('create').servers.names, ['web'], 'create still adds them up');
  });

  it("instance-metadata takes server metadata keys by Nova's rules, also those that are image attribute names", () => {
    inputs({ ...PASSWORD_AUTH, 'instance-metadata': 'status=prod\nname=web\nos_glance_x=1\nmanaged_by=me' });
    assert.deepEqual(readAs('create').servers.metadata, { status: 'prod', name: 'web', os_glance_x: '1', managed_by: 'me' });
  });

  it('an input under its name before the renames: each named with its new name, even given empty, never ignored', () => {
    inputs({ ...PASSWORD_AUTH, mode: 'restore', instance: 'web', 'image-id': '', metadata: 'a=b', 'stop-server': 'true', concurrency: '2' });
    assert.deepEqual(
      problems().filter((p) => /was renamed/.test(p)),
      [
        'image-id was renamed snapshot-id; give it as snapshot-id (the old name is not read)',
        'metadata was renamed snapshot-properties; give it as snapshot-properties (the old name is not read)',
        'stop-server was renamed stop-instance; give it as stop-instance (the old name is not read)',
        'concurrency was renamed max-parallel; give it as max-parallel (the old name is not read)',
      ],
    );
  });

  it('reports every problem at once', () => {
    inputs({ mode: 'prune', timeout: 'forever', 'snapshot-properties': 'oops', 'keep-last': '0', 'auth-url': 'https://auth.cloud.ovh.net/v2.0' });
    let error: unknown;
    try {
      readSettings();
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof SettingsError);
    const text = error.message;
    assert.match(text, /^Invalid inputs:\n- /);
    for (const input of ['region:', 'auth-url:', 'username:', 'password:', 'project-id or project-name:', 'timeout:', 'snapshot-properties:', 'keep-last:']) {
      assert.ok(text.includes(`\n- ${input}`), `${input} missing from:\n${text}`);
    }
    // The invalid keep-last is the policy's problem; "no policy at all" would be a second, wrong one.
    assert.ok(!text.includes('needs at least one'), text);
    assert.equal(error.problems.length, 8, text);
  });
});

describe('settings: OS_* fallbacks', () => {
  const AUTH_URL = 'https://auth.cloud.ovh.net/v3';
  const ENV = { OS_AUTH_URL: AUTH_URL, OS_USERNAME: 'u', OS_PASSWORD: PASSWORD, OS_REGION_NAME: 'GRA11' };
  const NEW_AND_OLD = { ...ENV, OS_PROJECT_ID: 'p-new', OS_TENANT_ID: 'p-old' };
  /** The password login of ENV, in the project given. */
  const password = (project: { projectId?: string; projectName?: string }) => ({
    method: 'password',
    authUrl: AUTH_URL,
    username: 'u',
    password: PASSWORD,
    userDomainName: 'Default',
    projectId: undefined,
    projectName: undefined,
    projectDomainName: 'Default',
    ...project,
  });
  // Each row: the environment, the inputs beside instance, and the region, interface and login read.
  const cases: [string, Record<string, string>, Record<string, string>, string, string, Settings['credentials'] | object][] = [
    [
      'reads an openrc (OS_TENANT_ID as the project, OS_INTERFACE=internalURL)',
      {
        OS_AUTH_URL: AUTH_URL,
        OS_USERNAME: 'user-openrc',
        OS_PASSWORD: PASSWORD,
        OS_TENANT_ID: PROJECT_ID,
        OS_TENANT_NAME: '1234567890123456',
        OS_REGION_NAME: 'SBG5',
        OS_USER_DOMAIN_NAME: 'users',
        OS_PROJECT_DOMAIN_NAME: 'projects',
        OS_INTERFACE: 'internalURL',
      },
      {},
      'SBG5',
      'internal',
      {
        ...password({ projectId: PROJECT_ID, projectName: '1234567890123456' }),
        username: 'user-openrc',
        userDomainName: 'users',
        projectDomainName: 'projects',
      },
    ],
    [
      'OS_TENANT_NAME when there is no project ID',
      { ...ENV, OS_TENANT_NAME: '1234567890123456' },
      {},
      'GRA11',
      'public',
      password({ projectName: '1234567890123456' }),
    ],
    ['OS_PROJECT_ID wins over OS_TENANT_ID', NEW_AND_OLD, {}, 'GRA11', 'public', password({ projectId: 'p-new' })],
    ['an input wins over both', NEW_AND_OLD, { 'project-id': 'p-input', region: 'DE1' }, 'DE1', 'public', password({ projectId: 'p-input' })],
    [
      'application credential from OS_APPLICATION_CREDENTIAL_*',
      { OS_AUTH_URL: AUTH_URL, OS_APPLICATION_CREDENTIAL_ID: 'ac-env', OS_APPLICATION_CREDENTIAL_SECRET: APP_SECRET, OS_REGION_NAME: 'GRA11' },
      {},
      'GRA11',
      'public',
      { method: 'application-credential', authUrl: AUTH_URL, id: 'ac-env', secret: APP_SECRET },
    ],
  ];
  for (const [name, env, given, region, iface, credentials] of cases) {
    it(name, () => {
      Object.assign(process.env, env);
      inputs({ instance: 'web', ...given });
      const s = readSettings();
      assert.deepEqual([s.region, s.iface, s.credentials], [region, iface, credentials]);
    });
  }
});

describe('settings: credentials choice and masking', () => {
  it('prefers the application credential when its ID is given, even with a password too', () => {
    inputs({ ...PASSWORD_AUTH, instance: 'web', 'application-credential-id': 'ac-1', 'application-credential-secret': APP_SECRET });
    assert.deepEqual(readSettings().credentials, {
      method: 'application-credential',
      authUrl: 'https://auth.cloud.ovh.net/v3',
      id: 'ac-1',
      secret: APP_SECRET,
    });
  });

  it('masks the password and the secret as soon as they are read', () => {
    inputs({ ...PASSWORD_AUTH, instance: 'web', 'application-credential-id': 'ac-1', 'application-credential-secret': APP_SECRET });
    readSettings();
    const lines = stdout().split('\n');
    assert.ok(lines.includes(`::add-mask::${PASSWORD}`), stdout());
    assert.ok(lines.includes(`::add-mask::${APP_SECRET}`), stdout());
  });

  it('masks them even when the inputs are otherwise invalid', () => {
    Object.assign(process.env, { OS_PASSWORD: PASSWORD });
    inputs({ mode: 'nope' });
    problems();
    assert.ok(stdout().split('\n').includes(`::add-mask::${PASSWORD}`), stdout());
  });
});

describe('settings: URLs that carry credentials or send them in clear', () => {
  const masks = () =>
    stdout()
      .split('\n')
      .filter((l) => l.startsWith('::add-mask::'))
      .map((l) => l.slice('::add-mask::'.length).replace(/%25/g, '%'));

  it('an auth-url with user:password@: masked, removed from the URL, and a warning says so', () => {
    inputs({ ...PASSWORD_AUTH, instance: 'web', 'auth-url': 'https://joe:s3cr%40t@auth.cloud.ovh.net/v3' });
    const s = readSettings();
    assert.equal(s.credentials.authUrl, 'https://auth.cloud.ovh.net/v3');
    assert.ok(masks().includes('s3cr%40t') && masks().includes('s3cr@t'), 'the password, as given and decoded, is masked');
    assert.match(stdout(), /::warning::auth-url: the user name and password in the URL are not used/);
  });

  it('an invalid auth-url with credentials is reported without them', () => {
    inputs({ ...PASSWORD_AUTH, instance: 'web', 'auth-url': 'ftp://joe:hunter2@auth' });
    onlyProblem(/^auth-url: "ftp:\/\/\*\*\*@auth" is not an http\(s\) URL/);
    assert.ok(masks().includes('hunter2'));
  });

  it('http:// to another host warns that secrets travel in clear; to loopback it does not', () => {
    inputs({ ...PASSWORD_AUTH, instance: 'web', 'auth-url': 'http://keystone.example:5000/v3' });
    readSettings();
    assert.match(stdout(), /::warning::auth-url is http:\/\/keystone\.example:5000: the password or secret, and every token, travel unencrypted; use https/);
    captureStdout();
    inputs({ ...PASSWORD_AUTH, instance: 'web', 'auth-url': 'http://127.0.0.1:5000/v3' });
    readSettings();
    assert.doesNotMatch(stdout(), /::warning::/);
  });

  it('a malformed proxy variable is an input error naming it, without its password, which is masked', () => {
    inputs({ ...PASSWORD_AUTH, instance: 'web' });
    const found = (() => {
      try {
        readSettings({ ...process.env, HTTPS_PROXY: 'http://proxy:pa ss@[bad' });
      } catch (error) {
        return (error as SettingsError).problems;
      }
      return [];
    })();
    assert.deepEqual(found, [
      'HTTPS_PROXY: "http://***@[bad" is not a valid proxy URL; e.g. http://proxy.example:3128 (or http://user:password@proxy.example:3128)',
    ]);
    assert.ok(masks().includes('pa ss'));
  });
});

describe('settings: the defaults action.yml declares are the code’s', () => {
  // The runner applies action.yml's defaults; a bare `node dist/index.js` (and the OS_* path) relies on the code's.
  for (const [mode, extra] of [
    ['create', { instance: 'web', 'keep-last': '2' }],
    ['delete', { 'snapshot-id': IMAGE_UUID }],
    ['prune', { 'keep-daily': '7' }],
    ['restore', { instance: 'web' }],
  ] as const) {
    it(`${mode}: the same settings with and without action.yml's defaults`, () => {
      const given = { ...PASSWORD_AUTH, mode, ...extra };
      inputs(given);
      const bare = readSettings();
      clearEnv();
      inputs({ ...actionDefaults(), ...given });
      assert.deepEqual(readSettings(), bare);
    });
  }
});
