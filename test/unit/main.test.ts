import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import * as core from '@actions/core';
import nock from 'nock';

import { run } from '../../src/main.ts';
import { actionDefaults, parseOutputs } from '../support/run-action.ts';
import {
  APP_SECRET,
  AUTH_ORIGIN,
  COMPUTE_ORIGIN,
  COMPUTE_PATH,
  IMAGE_ID,
  IMAGE_ORIGIN,
  imageBody,
  clearActionEnv as clearEnv,
  mockAuth,
  mockSnapshotAccepted,
  PASSWORD,
  PROJECT_ID,
  serverBody,
  SERVER_ID,
  SERVER_PATH,
  setInputs,
  stdout,
  TOKEN,
  unmatched,
  useNock,
  useProject,
  novaVolumeSnapshot,
  project,
  VOLUME_ORIGIN,
  VOLUME_PATH,
  volumeBackedImageBody,
} from '../support/nock.ts';

useNock();
useProject();

let dir = '';
let outputFile = '';
let summaryFile = '';

/** Inputs as the runner gives them: action.yml's defaults, then the step's `with:`. */
function inputs(values: Record<string, string>): void {
  setInputs({ ...actionDefaults(), ...values });
}

const PASSWORD_INPUTS = {
  'auth-url': 'https://auth.cloud.ovh.net/v3',
  username: 'user-AbCdEf123456',
  password: PASSWORD,
  'project-id': PROJECT_ID,
  region: 'GRA11',
};

const outputs = () => parseOutputs(readFileSync(outputFile, 'utf8'));
const summary = () => readFileSync(summaryFile, 'utf8');
const errors = () =>
  stdout()
    .split('\n')
    .filter((line) => line.startsWith('::error'));

/** No secret anywhere but in the ::add-mask:: commands that hide it. */
function assertNoSecrets(...secrets: string[]): void {
  const lines = stdout()
    .split('\n')
    .filter((line) => !line.startsWith('::add-mask::'));
  for (const secret of secrets) {
    assert.ok(!lines.some((line) => line.includes(secret)), `stdout shows ${secret}`);
    assert.ok(!readFileSync(outputFile, 'utf8').includes(secret), `the outputs show ${secret}`);
    assert.ok(!summary().includes(secret), `the summary shows ${secret}`);
  }
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'osa-main-'));
  outputFile = join(dir, 'output');
  summaryFile = join(dir, 'summary');
  process.env.GITHUB_OUTPUT = outputFile;
  process.env.GITHUB_STEP_SUMMARY = summaryFile;
});
beforeEach(() => {
  writeFileSync(outputFile, '');
  writeFileSync(summaryFile, '');
  core.summary.emptyBuffer();
  clearEnv();
  process.exitCode = undefined;
});
afterEach(() => {
  clearEnv();
  process.exitCode = undefined;
});
after(() => {
  delete process.env.GITHUB_OUTPUT;
  delete process.env.GITHUB_STEP_SUMMARY;
  rmSync(dir, { recursive: true, force: true });
});

/** Auth, an idle server and an accepted createImage. */
function snapshotAccepted(server = serverBody({ name: 'web' })) {
  mockAuth();
  mockSnapshotAccepted(server);
}

describe('run: create', () => {
  it('writes every output and a summary table, and shows no secret', async () => {
    inputs({ ...PASSWORD_INPUTS, instance: SERVER_ID, 'snapshot-name': 'web-{date}' });
    snapshotAccepted();
    nock(IMAGE_ORIGIN)
      .get(`/v2/images/${IMAGE_ID}`)
      .reply(200, imageBody({ id: IMAGE_ID, status: 'active', size: 65536 }));
    await run();
    assert.equal(process.exitCode, undefined, errors().join('\n'));
    const out = outputs();
    assert.equal(out['snapshot-id'], IMAGE_ID);
    assert.match(out['snapshot-name']!, /^web-\d{8}$/);
    assert.equal(out['snapshot-status'], 'active');
    assert.equal(out['snapshot-size'], '65536');
    assert.equal(out['instance-id'], SERVER_ID);
    assert.equal(out['instance-name'], 'web');
    assert.equal(out['volume-backed'], 'false');
    assert.equal(out['volume-snapshot-ids'], '[]');
    assert.match(out['duration-seconds']!, /^\d+\.\d$/);
    assert.equal(out['api-requests'], '4');
    const s = summary();
    assert.match(s, /<h2>Snapshot created<\/h2>/);
    assert.match(s, /<table>/);
    assert.ok(s.includes(`<td>${IMAGE_ID}</td>`), s);
    assert.ok(stdout().split('\n').includes(`::add-mask::${PASSWORD}`));
    assert.ok(stdout().split('\n').includes(`::add-mask::${TOKEN}`), 'the token is masked');
    assertNoSecrets(PASSWORD, TOKEN);
    assert.deepEqual(unmatched, []);
  });

  it('a volume-backed server: volume-backed and volume-snapshot-ids outputs', async () => {
    inputs({ ...PASSWORD_INPUTS, instance: SERVER_ID });
    snapshotAccepted(serverBody({ name: 'web', volumeBacked: true }));
    nock(IMAGE_ORIGIN)
      .get(`/v2/images/${IMAGE_ID}`)
      .reply(200, volumeBackedImageBody(['snap-a'], { id: IMAGE_ID }));
    await run();
    assert.equal(process.exitCode, undefined, errors().join('\n'));
    assert.equal(outputs()['volume-backed'], 'true');
    assert.equal(outputs()['volume-snapshot-ids'], '["snap-a"]');
    assert.equal(outputs()['snapshot-size'], '0');
  });

  it('a timeout fails the step but still writes snapshot-id for later steps', async () => {
    inputs({ ...PASSWORD_INPUTS, instance: SERVER_ID, timeout: '2s' });
    snapshotAccepted();
    nock(IMAGE_ORIGIN)
      .get(`/v2/images/${IMAGE_ID}`)
      .times(10)
      .reply(200, imageBody({ id: IMAGE_ID, status: 'queued', size: null }));
    nock(COMPUTE_ORIGIN)
      .get(SERVER_PATH)
      .reply(200, { server: serverBody({ name: 'web', taskState: 'image_uploading' }) });
    await run();
    assert.equal(process.exitCode, 1);
    assert.equal(outputs()['snapshot-id'], IMAGE_ID);
    assert.match(outputs()['api-requests']!, /^\d+$/);
    assert.equal(errors().length, 1);
    assert.match(
      errors()[0]!,
      new RegExp(
        `Timed out \\(timeout .*\\) waiting for snapshot ${IMAGE_ID} to become active, [\\d.]+m?s after the snapshot was requested: it is still queued`,
      ),
    );
    assert.match(summary(), /<h2>Snapshot not active<\/h2>/);
    assert.ok(summary().includes(`<td>${IMAGE_ID}</td>`), summary());
    assert.match(summary(), /The snapshot goes on in the cloud/);
    assertNoSecrets(PASSWORD, TOKEN);
  });

  it('a failed snapshot (killed) also gives snapshot-id, so a later step can delete it', async () => {
    inputs({ ...PASSWORD_INPUTS, instance: SERVER_ID });
    snapshotAccepted();
    nock(IMAGE_ORIGIN)
      .get(`/v2/images/${IMAGE_ID}`)
      .reply(200, imageBody({ id: IMAGE_ID, status: 'killed' }));
    await run();
    assert.equal(process.exitCode, 1);
    assert.equal(outputs()['snapshot-id'], IMAGE_ID);
    assert.match(summary(), new RegExp(`<td>${IMAGE_ID}</td><td>The snapshot failed: snapshot ${IMAGE_ID} is killed`));
  });

  it('a failure before any snapshot gives no snapshot-id', async () => {
    inputs({ ...PASSWORD_INPUTS, instance: 'web' });
    mockAuth();
    nock(COMPUTE_ORIGIN).get(`${COMPUTE_PATH}/servers/detail`).query(true).reply(200, { servers: [] });
    await run();
    assert.equal(process.exitCode, 1);
    assert.equal(outputs()['snapshot-id'], undefined);
    assert.equal(outputs()['api-requests'], '2');
    assert.match(errors()[0]!, /No instance named or with ID "web" in region GRA11/);
  });
});

describe('run: invalid inputs and refused credentials', () => {
  it('invalid inputs fail before any request, with every problem', async () => {
    inputs({ mode: 'prune', password: PASSWORD, region: 'GRA11' });
    await run();
    assert.equal(process.exitCode, 1);
    assert.deepEqual(unmatched, []);
    assert.equal(errors().length, 1);
    assert.match(errors()[0]!, /Invalid inputs:%0A- auth-url: required/);
    assert.equal(outputs()['api-requests'], undefined);
    assertNoSecrets(PASSWORD);
  });

  it('Keystone refusing an application credential: a clear error that shows no secret', async () => {
    inputs({
      'auth-url': 'https://auth.cloud.ovh.net/v3',
      region: 'GRA11',
      instance: 'web',
      'application-credential-id': 'ac-1',
      'application-credential-secret': APP_SECRET,
    });
    nock(AUTH_ORIGIN)
      .post('/v3/auth/tokens')
      .reply(401, { error: { code: 401, message: 'The request you have made requires authentication.', title: 'Unauthorized' } });
    await run();
    assert.equal(process.exitCode, 1);
    assert.match(errors()[0]!, /Keystone refused the credentials of application credential ac-1/);
    assert.ok(stdout().split('\n').includes(`::add-mask::${APP_SECRET}`));
    assertNoSecrets(APP_SECRET);
  });
});

describe('run: the job summary of a step that fails on its inputs or its login', () => {
  it('invalid inputs: a heading and each problem, escaped; still no output', async () => {
    inputs({ ...PASSWORD_INPUTS, mode: '<img src=x>|' });
    await run();
    assert.equal(process.exitCode, 1);
    assert.equal(
      summary(),
      '<h2>Invalid input</h2>\n<ul><li>mode: &quot;&lt;img src=x&gt;&#124;&quot; is not a mode; use create, delete, prune or restore</li></ul>\n',
    );
    assert.deepEqual(outputs(), {});
  });

  it('a refused login: the region and mode, a heading and the error, escaped; the outputs as before', async () => {
    inputs({ ...PASSWORD_INPUTS, username: '<b>me</b>', instance: 'web' });
    nock(AUTH_ORIGIN)
      .post('/v3/auth/tokens')
      .reply(401, { error: { code: 401, message: 'The request you have made requires authentication.', title: 'Unauthorized' } });
    await run();
    assert.equal(process.exitCode, 1);
    const error = errors()[0]!;
    assert.match(error, /Keystone refused the credentials of user <b>me<\/b>/);
    const message = error
      .replace(/^::error::/, '')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;');
    assert.equal(summary(), `<p><b>Region</b> GRA11 · <b>Mode</b> create</p>\n<h2>Failed</h2>\n<p>${message}</p>\n`);
    assert.deepEqual(outputs(), { 'api-requests': '1' });
  });
});

const managed = (id: string, hoursAgo: number, extra: Record<string, unknown> = {}) =>
  imageBody({
    id,
    name: `web-${id}`,
    created_at: new Date(Date.now() - hoursAgo * 3_600_000).toISOString(),
    managed_by: 'openstack-snapshot-action',
    ...extra,
  });

describe('run: prune and delete', () => {
  it('prune: deleted and kept outputs, and a table of decisions', async () => {
    inputs({ ...PASSWORD_INPUTS, mode: 'prune', 'keep-last': '2' });
    mockAuth();
    nock(IMAGE_ORIGIN)
      .get('/v2/images')
      .query(true)
      .reply(200, {
        images: [
          managed('n1', 1),
          managed('n2', 2),
          volumeBackedImageBody(['cs-1'], {
            id: 'n3',
            name: 'web-n3',
            created_at: new Date(Date.now() - 3 * 3_600_000).toISOString(),
            managed_by: 'openstack-snapshot-action',
            source_instance_id: SERVER_ID,
          }),
        ],
      })
      .delete('/v2/images/n3')
      .reply(204);
    nock(VOLUME_ORIGIN).delete(`${VOLUME_PATH}/snapshots/cs-1`).reply(202);
    project.volumeSnapshots.push(novaVolumeSnapshot('cs-1', 'web-n3'));
    await run();
    assert.equal(process.exitCode, undefined, errors().join('\n'));
    const out = outputs();
    assert.equal(out['deleted-snapshot-ids'], '["n3"]');
    assert.equal(out['deleted-count'], '1');
    assert.equal(out['kept-snapshot-ids'], '["n1","n2"]');
    assert.equal(out['volume-snapshot-ids'], '["cs-1"]');
    // auth, the listing; the checks: servers, volumes, the project's images, the Cinder snapshot; two DELETEs.
    assert.equal(out['api-requests'], '8');
    const s = summary();
    assert.match(s, /<h2>Prune<\/h2>/);
    assert.match(s, /Policy: keep-last 2\. In scope: 3; kept: 2; deleted: 1\. Space freed: 0 B, and 1 volume snapshot\(s\) \(sized by Cinder\)\.\n/);
    assert.match(s, /<td>n1<\/td>.*<td>kept \(last, newest\)<\/td>/s);
    assert.match(s, /<td>n3<\/td>.*<td>deleted<\/td>/s);
    assertNoSecrets(PASSWORD, TOKEN);
  });

  it('prune dry-run: the summary says what would go; nothing is deleted', async () => {
    inputs({ ...PASSWORD_INPUTS, mode: 'prune', 'keep-last': '1', 'dry-run': 'true' });
    mockAuth();
    // n3's size is not known yet to Glance: the space is at least the others'.
    nock(IMAGE_ORIGIN)
      .get('/v2/images')
      .query(true)
      .reply(200, { images: [managed('n1', 1), managed('n2', 2), managed('n3', 3, { size: null })] });
    await run();
    assert.equal(process.exitCode, undefined, errors().join('\n'));
    assert.equal(outputs()['deleted-count'], '0');
    assert.match(summary(), /<h2>Prune \(dry run\)<\/h2>/);
    assert.match(summary(), /<td>n2<\/td>.*<td>would delete<\/td>/s);
    assert.match(summary(), /would delete: 2\. Would free: at least 64\.0 KiB\.\n/);
    assert.deepEqual(unmatched, []);
  });

  it('prune refused by max-deletes fails the step, deletes nothing and says why in the summary', async () => {
    inputs({ ...PASSWORD_INPUTS, mode: 'prune', 'keep-last': '1', 'max-deletes': '1' });
    mockAuth();
    nock(IMAGE_ORIGIN)
      .get('/v2/images')
      .query(true)
      .reply(200, { images: [managed('n1', 1), managed('n2', 2), managed('n3', 3)] });
    await run();
    assert.equal(process.exitCode, 1);
    assert.match(errors()[0]!, /Prune refused: the policy would delete 2 snapshots, more than max-deletes \(1\)/);
    assert.match(summary(), /<b>Refused:<\/b>/);
    assert.match(summary(), /deleted: 0\./);
    assert.equal(outputs()['deleted-count'], '0');
    assert.deepEqual(unmatched, []);
  });

  it('prune with a failed deletion fails the step after deleting the rest', async () => {
    inputs({ ...PASSWORD_INPUTS, mode: 'prune', 'keep-last': '1' });
    mockAuth();
    nock(IMAGE_ORIGIN)
      .get('/v2/images')
      .query(true)
      .reply(200, { images: [managed('n1', 1), managed('n2', 2), managed('n3', 3)] })
      .delete('/v2/images/n2')
      .reply(409, { message: 'in use', code: '409 Conflict' })
      .delete('/v2/images/n3')
      .reply(204);
    await run();
    assert.equal(process.exitCode, 1);
    assert.match(errors()[0]!, /1 snapshot\(s\) could not be deleted/);
    assert.equal(outputs()['deleted-snapshot-ids'], '["n3"]');
    assert.match(summary(), /<td>n2<\/td>.*<td>failed: Glance refused to delete snapshot n2/s);
  });

  it('delete by snapshot-id: outputs and summary', async () => {
    inputs({ ...PASSWORD_INPUTS, mode: 'delete', 'snapshot-id': IMAGE_ID });
    mockAuth();
    nock(IMAGE_ORIGIN)
      .get(`/v2/images/${IMAGE_ID}`)
      .reply(200, imageBody())
      .delete(`/v2/images/${IMAGE_ID}`)
      .reply(204)
      .get(`/v2/images/${IMAGE_ID}`)
      .reply(404, { message: 'not found' });
    await run();
    assert.equal(process.exitCode, undefined, errors().join('\n'));
    assert.equal(outputs()['deleted-snapshot-ids'], JSON.stringify([IMAGE_ID]));
    assert.equal(outputs()['deleted-count'], '1');
    assert.match(summary(), /<h2>Snapshot deleted<\/h2>/);
    assert.ok(summary().includes(`<td>${IMAGE_ID}</td>`));
    assertNoSecrets(PASSWORD, TOKEN);
  });

  it('delete of an image already gone succeeds, and says so', async () => {
    inputs({ ...PASSWORD_INPUTS, mode: 'delete', 'snapshot-id': IMAGE_ID });
    mockAuth();
    nock(IMAGE_ORIGIN).get(`/v2/images/${IMAGE_ID}`).reply(404, { message: 'not found' });
    await run();
    assert.equal(process.exitCode, undefined, errors().join('\n'));
    assert.equal(outputs()['deleted-count'], '0');
    assert.match(summary(), new RegExp(`Nothing to delete: ${IMAGE_ID} was not found`));
  });
});
