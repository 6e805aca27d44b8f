// The SECRETS CHECK. With step debug on (RUNNER_DEBUG=1, ACTIONS_STEP_DEBUG=true), no password,
// application-credential secret or Keystone token (the local cloud's own record of every token
// it issued) may appear in stdout, stderr, GITHUB_OUTPUT or GITHUB_STEP_SUMMARY, except in the
// `::add-mask::` lines themselves; and every secret a run was given or issued must have been
// masked.
//
// harness.step() makes these checks on EVERY e2e run, so the fault matrix (whose re-authenticating
// scenarios must issue a second token: faults.test.ts), the bad-input table and the mode tests are
// all covered with debug on. This file runs a representative set with explicit assertions, and
// proves the detector itself works.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  STEP_DEBUG,
  appCredentialInputs,
  assertFailure,
  assertSuccess,
  cloudSecrets,
  findLeaks,
  maskedValues,
  passwordInputs,
  seedSnapshots,
  startCloud,
  step,
  tokenPosts,
  unique,
  type ActionRun,
  type LocalCloud,
  type Step,
} from './harness.ts';

/** Debug was really on (else "nothing leaked" proves little), and the run's own secrets were masked. */
function checkDebugAndMasks(s: Step, expectTokens: number): void {
  if (s.records.length > 0) assert.ok(/^::debug::→ (GET|POST) /m.test(s.run.stdout), 'debug request logs are in the output');
  assert.equal(s.newTokens.length, expectTokens, 'tokens issued to this run');
  const masked = maskedValues(s.run);
  for (const secret of s.given) assert.ok(masked.has(secret.value), `${secret.label} was masked`);
  assert.deepEqual(s.leaks, []);
}

describe('secrets', { concurrency: true }, () => {
  describe('the leak detector', () => {
    const fake = (stdout: string, extra: Partial<ActionRun> = {}): ActionRun => ({
      code: 0,
      stdout,
      stderr: '',
      outputs: {},
      summary: '',
      durationMs: 1,
      ...extra,
    });
    const secret = { label: 'password', value: 's3cr3t-value' };

    test('finds a secret escaped as a workflow command carries it', () => {
      const odd = { label: 'password', value: 'p%ss:w,rd' };
      assert.deepEqual(findLeaks(fake('::add-mask::p%25ss:w,rd'), [odd]), []);
      assert.ok(maskedValues(fake('::add-mask::p%25ss:w,rd')).has(odd.value));
      assert.equal(findLeaks(fake('::error::refused p%25ss:w,rd'), [odd]).length, 1);
      assert.equal(findLeaks(fake('::warning title=p%25ss%3Aw%2Crd::x'), [odd]).length, 1);
    });

    test('finds a secret in every stream, but not in ::add-mask:: lines', () => {
      assert.deepEqual(findLeaks(fake('::add-mask::s3cr3t-value\nall fine'), [secret]), []);
      const leaks = findLeaks(
        fake('::debug::→ POST x s3cr3t-value', { stderr: 'at s3cr3t-value', outputs: { o: 'xs3cr3t-valuex' }, summary: '<td>s3cr3t-value</td>' }),
        [secret],
      );
      assert.deepEqual(
        leaks.map((l) => l.where),
        ['stdout', 'stderr', 'GITHUB_OUTPUT', 'GITHUB_STEP_SUMMARY'],
      );
      assert.ok(
        leaks.every((l) => !l.line.includes(secret.value)),
        'the report itself does not repeat the secret',
      );
    });

    test('every token the cloud issued is looked for', async () => {
      // Plant a "token" whose value the run's output contains (the input error quotes "bogus").
      const cloud = await startCloud();
      try {
        const s = await step(cloud, { mode: 'bogus' });
        cloud.world.tokens.set('bogus', {
          id: 'bogus',
          projectId: '',
          userId: '',
          methods: [],
          issuedAt: 0,
          expiresAt: 0,
          revoked: true,
          auditId: '',
          appCred: false,
        });
        assert.ok(
          findLeaks(s.run, cloudSecrets(cloud)).some((l) => l.secret.startsWith('token')),
          'a value the cloud calls a token is reported',
        );
      } finally {
        await cloud.stop();
      }
    });
  });

  describe('representative runs', { concurrency: 1 }, () => {
    let cloud: LocalCloud;
    before(async () => {
      cloud = await startCloud({ snapshotSeconds: 1 });
    });
    after(() => cloud.stop());

    test('create (password)', async () => {
      const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
      const s = await step(cloud, { ...passwordInputs(cloud), instance: server.name });
      assertSuccess(s);
      checkDebugAndMasks(s, 1);
      assert.ok(s.given.some((g) => g.label === 'password'));
    });

    test('create with the token expiring mid-wait (401, second token)', async () => {
      const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
      cloud.fault({ kind: 'expire-token', match: { service: 'image', method: 'GET', path: /\/v2\/images\/[0-9a-f-]{36}$/ } });
      try {
        const s = await step(cloud, { ...passwordInputs(cloud), instance: server.name });
        assertSuccess(s);
        assert.equal(tokenPosts(s.records).length, 2);
        assert.ok(s.records.some((r) => r.status === 401));
        checkDebugAndMasks(s, 2);
      } finally {
        cloud.clearFaults();
      }
    });

    // A name that stops workflow commands, logged before a token renewal, would leave the new
    // token's ::add-mask:: unread by the runner: the token would show in clear later on.
    test('prune of snapshots whose names try to stop commands, with the token renewed after they are logged', async () => {
      const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
      seedSnapshots(cloud, server, 3, { name: (i) => `${server.name}-${i}\n::stop-commands::zzz\r::stop-commands::yyy` });
      cloud.fault({ kind: 'expire-token', match: { service: 'image', method: 'DELETE' } });
      try {
        const s = await step(cloud, { ...passwordInputs(cloud), mode: 'prune', instance: server.name, 'keep-last': '1', 'max-parallel': '1' });
        assertSuccess(s);
        assert.equal(tokenPosts(s.records).length, 2, 'a second token, issued after the names were logged');
        checkDebugAndMasks(s, 2);
        assert.deepEqual(
          s.run.stdout.split(/\r\n|\r|\n/).filter((l) => /^\s*::stop-commands::/.test(l)),
          [],
          'no line stops the commands',
        );
      } finally {
        cloud.clearFaults();
      }
    });

    test('credentials in the auth-url are masked, removed from the URL, and never shown', async () => {
      const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
      const inputs = passwordInputs(cloud);
      const authUrl = inputs['auth-url']!.replace('://', '://joe:url-pa55%3Aw0rd@');
      const s = await step(cloud, { ...inputs, 'auth-url': authUrl, instance: server.name });
      assertSuccess(s);
      assert.match(s.run.stdout, /::warning::auth-url: the user name and password in the URL are not used/);
      assert.ok(
        s.given.some((g) => g.value === 'url-pa55:w0rd'),
        'the decoded password is one of the secrets checked',
      );
    });

    test('delete', async () => {
      const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
      const [image] = seedSnapshots(cloud, server, 1);
      const s = await step(cloud, { ...passwordInputs(cloud), mode: 'delete', 'snapshot-id': image!.id });
      assertSuccess(s);
      checkDebugAndMasks(s, 1);
    });

    test('a failing authentication (wrong password)', async () => {
      // Characters a workflow command escapes (% : ,) too.
      const wrong = `wr%ng:${unique('pw')},Zq9`;
      const s = await step(cloud, { ...passwordInputs(cloud), password: wrong, instance: 'whatever' });
      assertFailure(s, ['Keystone refused the credentials of user demo', 'check the password or secret']);
      assert.equal(s.records.filter((r) => r.status === 401).length, 1);
      checkDebugAndMasks(s, 0);
      assert.ok(maskedValues(s.run).has(wrong), 'the wrong password was masked too');
    });

    test('a failing authentication (wrong application credential secret)', async () => {
      const wrong = `${cloud.demo.appCredSecret.slice(0, -4)}beef`;
      const s = await step(cloud, { ...appCredentialInputs(cloud), 'application-credential-secret': wrong, instance: 'whatever' });
      assertFailure(s, [`Keystone refused the credentials of application credential ${cloud.demo.appCredId}`]);
      checkDebugAndMasks(s, 0);
    });

    test('application credential (create)', async () => {
      const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
      const s = await step(cloud, { ...appCredentialInputs(cloud), instance: server.name });
      assertSuccess(s);
      checkDebugAndMasks(s, 1);
      assert.ok(s.given.some((g) => g.label === 'application-credential-secret'));
      assert.equal(cloud.world.tokens.get(s.newTokens[0]!)?.appCred, true, 'the token came from the application credential');
      assert.match(s.run.stdout, new RegExp(`as application credential ${cloud.demo.appCredId}`));
    });

    test('OS_* environment (openrc) credentials', async () => {
      const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
      const s = await step(cloud, { instance: server.name }, cloud.openrc());
      assertSuccess(s);
      checkDebugAndMasks(s, 1);
      assert.ok(s.given.some((g) => g.label === 'OS_PASSWORD'));
      assert.equal(cloud.world.tokens.get(s.newTokens[0]!)?.appCred, false);
    });

    test('the debug environment is the one the runner sets', () => {
      assert.deepEqual(STEP_DEBUG, { RUNNER_DEBUG: '1', ACTIONS_STEP_DEBUG: 'true' });
    });
  });

  // The runner's working directory is the checked-out repository: its clouds.yaml is the
  // repository's content, and must not take the password of ~/.config/openstack/secure.yaml.
  test('a clouds.yaml in the workspace is not read (unless named): the password goes only to its own cloud', async () => {
    const cloud = await startCloud();
    const collected: string[] = [];
    const collector = createServer((request, response) => {
      collected.push(`${request.method} ${request.url}`);
      response.writeHead(401).end();
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const dir = mkdtempSync(join(tmpdir(), 'osa-e2e-workspace-'));
    try {
      const home = join(dir, 'home');
      const workspace = join(dir, 'workspace');
      mkdirSync(join(home, '.config', 'openstack'), { recursive: true });
      mkdirSync(workspace);
      const auth = [`      auth_url: ${cloud.authUrl}`, `      username: ${cloud.demo.username}`, `      project_name: ${cloud.demo.projectName}`];
      writeFileSync(join(home, '.config', 'openstack', 'clouds.yaml'), ['clouds:', '  c:', '    region_name: GRA7', '    auth:', ...auth, ''].join('\n'));
      writeFileSync(
        join(home, '.config', 'openstack', 'secure.yaml'),
        ['clouds:', '  c:', '    auth:', `      password: ${cloud.demo.password}`, ''].join('\n'),
      );
      const { port } = collector.address() as AddressInfo;
      writeFileSync(
        join(workspace, 'clouds.yaml'),
        [
          'clouds:',
          '  c:',
          '    region_name: GRA7',
          '    auth:',
          `      auth_url: http://127.0.0.1:${port}/v3`,
          `      username: ${cloud.demo.username}`,
          `      project_name: x`,
          '',
        ].join('\n'),
      );
      const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
      const s = await step(cloud, { instance: server.name, cloud: 'c' }, { HOME: home }, { cwd: workspace });
      assertSuccess(s);
      assert.deepEqual(collected, [], 'nothing went to the workspace file’s auth_url');
      assert.ok(maskedValues(s.run).has(cloud.demo.password), 'the password of secure.yaml was masked');
      const read = `Cloud "c" read from ${join(home, '.config', 'openstack', 'clouds.yaml')} and ${join(home, '.config', 'openstack', 'secure.yaml')}`;
      assert.ok(s.run.stdout.split('\n').includes(read), s.run.stdout);
    } finally {
      collector.close();
      await cloud.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
