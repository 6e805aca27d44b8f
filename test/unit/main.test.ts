// main() in this process as the runner starts the step (INPUT_* variables, output and summary
// files) against the local cloud: outputs, the job summary, exit codes, and no secret shown. Each
// output of a create, the summary's table and a prune's dry run are checked through dist/ (e2e/modes.test.ts);
// the refusal of invalid inputs and of a login: the e2e bad-input table (before any request, no
// output) and e2e/secrets (the credential named, its secret masked); here, what only this process
// sets up or counts.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { LocalCloudOptions } from '../local-cloud/cloud.ts';
import { Local, REGION, runMain, type MainRun } from '../support/in-process.ts';

/** A cloud with the server `web`, and its login as inputs. */
async function withServer(t: TestContext, options: LocalCloudOptions = {}, volumeBacked = false) {
  const local = await Local.start(t, { snapshotSeconds: 0, ...options });
  const web = local.server({ volumeBacked });
  return { local, web, login: local.loginInputs };
}

const IMAGE_ID = 'e30f3c46-9743-46a5-bf50-6ddf396c50fb';

/** The tokens the cloud issued. */
const tokens = (local: Local) => [...local.lc.world.tokens.keys()];

/** No secret anywhere but in the ::add-mask:: commands that hide it. */
function assertNoSecrets(run: MainRun, ...secrets: string[]): void {
  const lines = run.stdout.split('\n').filter((line) => !line.startsWith('::add-mask::'));
  for (const secret of secrets) {
    assert.ok(!lines.some((line) => line.includes(secret)), `stdout shows ${secret}`);
    assert.ok(!Object.values(run.outputs).some((value) => value.includes(secret)), `the outputs show ${secret}`);
    assert.ok(!run.summary.includes(secret), `the summary shows ${secret}`);
  }
}

describe('run: create', () => {
  it('the snapshot-size and api-requests outputs, each request, every secret masked, none shown', async (t) => {
    const { local, web, login } = await withServer(t);
    const run = await runMain({ ...login, instance: web.id, 'snapshot-name': 'web-{date}' });
    assert.equal(run.exitCode, undefined, run.errors.join('\n'));
    const out = run.outputs;
    const [image] = local.lc.images(REGION).filter((i) => i.properties.instance_uuid === web.id);
    assert.equal(out['snapshot-id'], image?.id);
    assert.match(out['snapshot-name']!, /^web-\d{8}$/);
    assert.equal(out['snapshot-size'], '65536');
    assert.equal(out['api-requests'], '4');
    assert.deepEqual(local.sent(), [
      'POST /v3/auth/tokens',
      `GET /servers/${web.id}`,
      `POST /servers/${web.id}/action createImage`,
      `GET /v2/images/${image?.id}`,
    ]);
    const lines = run.stdout.split('\n');
    assert.ok(lines.includes(`::add-mask::${login.password}`));
    for (const token of tokens(local)) assert.ok(lines.includes(`::add-mask::${token}`), 'the token is masked');
    assertNoSecrets(run, login.password!, ...tokens(local));
  });

  it('a timeout fails the step but still writes snapshot-id for later steps', async (t) => {
    const { local, web, login } = await withServer(t, { snapshotSeconds: 10 });
    const run = await runMain({ ...login, instance: web.id, timeout: '2s' });
    assert.equal(run.exitCode, 1);
    const imageId = run.outputs['snapshot-id'] ?? '';
    assert.equal(local.lc.image(imageId)?.properties.instance_uuid, web.id);
    assert.match(run.outputs['api-requests']!, /^\d+$/);
    assert.equal(run.errors.length, 1);
    assert.match(
      run.errors[0]!,
      new RegExp(
        `Timed out \\(timeout .*\\) waiting for snapshot ${imageId} to become active, [\\d.]+m?s after the snapshot was requested: it is still queued`,
      ),
    );
    assert.match(run.summary, /<h2>Snapshot not active<\/h2>/);
    assert.ok(run.summary.includes(`<td>${imageId}</td>`), run.summary);
    assert.match(run.summary, /The snapshot goes on in the cloud/);
    assertNoSecrets(run, login.password!, ...tokens(local));
  });

  it('a failed snapshot (killed) also gives snapshot-id, so a later step can delete it', async (t) => {
    const { local, web, login } = await withServer(t);
    local.lc.fault({ match: { action: 'createImage' }, kind: 'image-killed', afterMs: 0 });
    const run = await runMain({ ...login, instance: web.id });
    assert.equal(run.exitCode, 1);
    const imageId = run.outputs['snapshot-id'] ?? '';
    assert.equal(local.lc.image(imageId)?.status, 'killed');
    assert.match(run.summary, new RegExp(`<td>${imageId}</td><td>The snapshot failed: snapshot ${imageId} is killed`));
  });

  it('a failure before any snapshot gives no snapshot-id', async (t) => {
    const local = await Local.start(t);
    const run = await runMain({ ...local.loginInputs, instance: 'web' });
    assert.equal(run.exitCode, 1);
    assert.equal(run.outputs['snapshot-id'], undefined);
    assert.equal(run.outputs['api-requests'], '2');
    assert.match(run.errors[0]!, new RegExp(`No instance named or with ID "web" in region ${REGION}`));
  });
});

describe('run: the job summary of a step that fails on its inputs or its login', () => {
  it('invalid inputs: a heading and each problem, escaped; still no output', async (t) => {
    const local = await Local.start(t);
    const run = await runMain({ ...local.loginInputs, mode: '<img src=x>|' });
    assert.equal(run.exitCode, 1);
    assert.equal(
      run.summary,
      '<h2>Invalid input</h2>\n<ul><li>mode: &quot;&lt;img src=x&gt;&#124;&quot; is not a mode; use create, delete, prune, restore, copy or verify</li></ul>\n',
    );
    assert.deepEqual(run.outputs, {});
  });

  it('a refused login: the region and mode, a heading and the error, escaped; the outputs as before', async (t) => {
    const local = await Local.start(t);
    const run = await runMain({ ...local.loginInputs, username: '<b>me</b>', instance: 'web' });
    assert.equal(run.exitCode, 1);
    const error = run.errors[0]!;
    assert.match(error, /Keystone refused the credentials of user <b>me<\/b>/);
    const message = error
      .replace(/^::error::/, '')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;');
    assert.equal(run.summary, `<p><b>Region</b> ${REGION} · <b>Mode</b> create</p>\n<h2>Failed</h2>\n<p>${message}</p>\n`);
    assert.deepEqual(run.outputs, { 'api-requests': '1' });
  });
});

describe('run: prune and delete', () => {
  /** A cloud with the action's snapshots n1, n2, … of a server, n1 made an hour ago, each an hour before the last, and its login. */
  async function withSnapshots(t: TestContext, count: number) {
    const local = await Local.start(t);
    const server = { id: '7d1e4a52-3c6b-4e8f-9a0d-1b2c3d4e5f60' };
    for (let i = 1; i <= count; i++) local.snapshot(server, { id: `n${i}`, name: `web-n${i}`, createdAt: new Date(Date.now() - i * 3_600_000) });
    return { local, server, login: local.loginInputs };
  }

  it('a fleet create with keep-*: kept-snapshot-ids also names what its prunes held (in use)', async (t) => {
    const local = await Local.start(t);
    const [web, api] = [local.server(), local.server({ name: 'api' })];
    const old = local.snapshot(web, { name: 'web-old', createdAt: new Date(Date.now() - 3_600_000) });
    local.server({ name: 'clone', imageRef: old.id });
    const run = await runMain({ ...local.loginInputs, instance: 'web\napi', 'keep-last': '1' });
    assert.equal(run.exitCode, undefined, run.errors.join('\n'));
    const created = local.lc.images(REGION).filter((i) => i.id !== old.id && [web.id, api.id].includes(i.properties.source_instance_id ?? ''));
    assert.equal(created.length, 2);
    assert.deepEqual(JSON.parse(run.outputs['kept-snapshot-ids'] ?? '').sort(), [...created.map((i) => i.id), old.id].sort());
    assert.ok(local.lc.image(old.id), 'the snapshot a server was booted from stays');
  });

  it('prune: deleted and kept outputs, and a table of decisions', async (t) => {
    const { local, server, login } = await withSnapshots(t, 2);
    local.cinderSnapshot('cs-1', 'web-n3');
    const createdAt = new Date(Date.now() - 3 * 3_600_000);
    local.volumeBackedImage({ id: 'n3', name: 'web-n3', createdAt }, ['cs-1'], { managed_by: 'openstack-snapshot-action', source_instance_id: server.id });
    const run = await runMain({ ...login, mode: 'prune', 'keep-last': '2' });
    assert.equal(run.exitCode, undefined, run.errors.join('\n'));
    const out = run.outputs;
    assert.equal(out['deleted-snapshot-ids'], '["n3"]');
    assert.equal(out['deleted-count'], '1');
    assert.equal(out['kept-snapshot-ids'], '["n1","n2"]');
    assert.equal(out['volume-snapshot-ids'], '["cs-1"]');
    // auth, the listing; the checks: servers, volumes, the project's images, the Cinder snapshot; two DELETEs.
    assert.equal(out['api-requests'], '8');
    assert.equal(local.lc.requests.length, 8);
    assert.match(run.summary, /<h2>Prune<\/h2>/);
    assert.match(run.summary, /Policy: keep-last 2\. In scope: 3; kept: 2; deleted: 1\. Space freed: 0 B, and 1 volume snapshot\(s\) \(sized by Cinder\)\.\n/);
    assert.match(run.summary, /<td>n1<\/td>.*<td>kept \(last, newest\)<\/td>/s);
    assert.match(run.summary, /<td>n3<\/td>.*<td>deleted<\/td>/s);
    assertNoSecrets(run, login.password!, ...tokens(local));
  });

  it('prune refused by max-deletes fails the step, deletes nothing and says why in the summary', async (t) => {
    const { local, login } = await withSnapshots(t, 3);
    const run = await runMain({ ...login, mode: 'prune', 'keep-last': '1', 'max-deletes': '1' });
    assert.equal(run.exitCode, 1);
    assert.match(run.errors[0]!, /Prune refused: the policy would delete 2 snapshots, more than max-deletes \(1\)/);
    assert.match(run.summary, /<b>Refused:<\/b>/);
    assert.match(run.summary, /deleted: 0\./);
    assert.equal(run.outputs['deleted-count'], '0');
    assert.deepEqual(local.changes(), []);
  });

  it('prune with a failed deletion fails the step after deleting the rest; planned-snapshot-ids names it too (what it tried)', async (t) => {
    const { local, login } = await withSnapshots(t, 3);
    local.lc.markInUse('n2');
    const run = await runMain({ ...login, mode: 'prune', 'keep-last': '1' });
    assert.equal(run.exitCode, 1);
    assert.match(run.errors[0]!, /1 snapshot\(s\) could not be deleted/);
    assert.deepEqual(JSON.parse(run.outputs['planned-snapshot-ids'] ?? '').sort(), ['n2', 'n3']);
    assert.equal(run.outputs['deleted-snapshot-ids'], '["n3"]');
    assert.match(run.summary, /<td>n2<\/td>.*<td>failed: Glance refused to delete snapshot n2/s);
  });

  it('delete of an image already gone succeeds, and says so', async (t) => {
    const { login } = await withSnapshots(t, 0);
    const run = await runMain({ ...login, mode: 'delete', 'snapshot-id': IMAGE_ID });
    assert.equal(run.exitCode, undefined, run.errors.join('\n'));
    assert.equal(run.outputs['deleted-count'], '0');
    assert.equal(run.outputs['deleted-snapshot-ids'], '[]');
    assert.match(run.summary, new RegExp(`Nothing to delete: ${IMAGE_ID} was not found`));
  });
});
