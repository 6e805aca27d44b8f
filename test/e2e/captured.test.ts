// wait: captured, as the runner runs it: the main step returns once the disk is captured and leaves
// the snapshot to the post step (dist/post/index.js), which gets the STATE_* variables the runner
// passes from GITHUB_STATE. The local cloud times the two phases: capture (image queued), upload (saving).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mainThenPost } from '../support/post-step.ts';
import { DIST_POST } from '../support/run-action.ts';
import {
  assertFailure,
  assertSuccess,
  cloudSecrets,
  deletes,
  describeRun,
  executedCreates,
  jsonOutput,
  mutating,
  passwordInputs,
  seedSnapshots,
  snapshotsOf,
  startCloud,
  step,
  summaryText,
  unique,
  type LocalCloud,
  type Server,
} from './harness.ts';

const CAPTURE_S = 1;
const UPLOAD_S = 4;
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

describe('wait: captured, then the post step', () => {
  let cloud: LocalCloud;
  before(async () => {
    cloud = await startCloud({ captureSeconds: CAPTURE_S, uploadSeconds: UPLOAD_S });
  });
  after(() => cloud.stop());

  const inputs = (server: Server, extra: Record<string, string> = {}) => ({ ...passwordInputs(cloud), instance: server.name, wait: 'captured', ...extra });
  const run = (i: Record<string, string>, env: Record<string, string | undefined>, options: object) => step(cloud, i, env, options);
  const only = (s: Server) => {
    const images = snapshotsOf(cloud, s);
    assert.equal(images.length, 1, `one snapshot of ${s.name}`);
    return images[0]!;
  };

  test('returns while Glance shows the image saving; the post step ends with it active; GITHUB_STATE holds IDs only', async () => {
    const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
    let midway = '';
    const { main, post, state } = await mainThenPost(run, inputs(server), {}, async () => {
      midway = only(server).status;
    });
    assertSuccess(main);
    const out = main.run.outputs;
    assert.equal(out['snapshot-status'], 'saving', describeRun(main));
    assert.equal(midway, 'saving', 'Glance still shows the upload when the main step has ended');
    assert.match(out['captured-at']!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.match(summaryText(main.run.summary), /The job goes on before the upload ended:/);
    // Only IDs and a time: the post step logs in again.
    assert.deepEqual(Object.keys(state), ['uploading']);
    assert.match(state.uploading!, new RegExp(`^\\[\\["${UUID}","${UUID}",\\d+\\]\\]$`));
    assert.equal(JSON.parse(state.uploading!)[0][0], out['snapshot-id']);
    for (const secret of [...cloudSecrets(cloud), ...main.newTokens.map((value) => ({ value }))]) assert.ok(!state.uploading!.includes(secret.value));

    assertSuccess(post);
    assert.equal(only(server).status, 'active');
    assert.equal(only(server).id, out['snapshot-id']);
    assert.ok(post.newTokens.length >= 1, 'the post step logged in again');
    const text = summaryText(post.run.summary);
    assert.match(text, /Uploads finished by the post step/);
    assert.match(
      post.run.stdout,
      new RegExp(`Snapshot ${out['snapshot-id']} of instance ${server.name} is active: captured at .*, uploaded by .*, 65536 bytes`),
    );
    assert.equal(executedCreates([...main.records, ...post.records], server.id).length, 1);
    assert.deepEqual(
      mutating(post.records).filter((r) => r.service !== 'identity'),
      [],
      'the post step without keep-* changes nothing',
    );
  });

  test('the prune after create waits for the post step, and runs once the snapshot is active', async () => {
    const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
    const [old] = seedSnapshots(cloud, server, 1);
    let standing = false;
    const { main, post } = await mainThenPost(run, inputs(server, { 'keep-last': '1' }), {}, async () => {
      standing = !!cloud.image(old!.id);
    });
    assertSuccess(main);
    assert.deepEqual(deletes(main.records), [], 'nothing deleted by the main step');
    assert.ok(standing, 'the older snapshot stands while the new one uploads');
    assertSuccess(post);
    assert.equal(cloud.image(old!.id), undefined, 'the post step pruned the older snapshot');
    assert.equal(snapshotsOf(cloud, server).length, 1);
    assert.match(summaryText(post.run.summary), /Prune/);
  });

  test('an upload that fails after the capture fails the post step, naming the image, the instance and Nova’s reason; nothing is deleted', async () => {
    const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
    const [old] = seedSnapshots(cloud, server, 1);
    cloud.fault({ kind: 'image-killed', afterMs: (CAPTURE_S + 1) * 1000, match: { action: 'createImage', path: new RegExp(`/servers/${server.id}/action$`) } });
    const { main, post } = await mainThenPost(run, inputs(server, { 'keep-last': '1' }));
    assertSuccess(main);
    const id = main.run.outputs['snapshot-id']!;
    const error = assertFailure(post, [
      `snapshot ${id}`,
      `instance ${server.name} (${server.id})`,
      'is killed',
      "Nova's reason",
      'compute_snapshot_instance Error',
      'microversion 2.84',
      'roll back from the one before it',
    ]);
    assert.ok(error);
    assert.deepEqual(deletes(post.records), []);
    assert.ok(cloud.image(old!.id), 'the older snapshot is kept: it is the roll-back point');
  });

  test('an image deleted in Glance mid-upload fails the post step; Nova recorded no error', async () => {
    const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
    const { main, post } = await mainThenPost(run, inputs(server), {}, async () => {
      const image = cloud.world.region('GRA7').images.get(only(server).id);
      assert.ok(image);
      cloud.world.deleteImage(image);
    });
    assertSuccess(main);
    assertFailure(post, [`snapshot ${main.run.outputs['snapshot-id']}`, 'disappeared', 'Nova recorded no error', 'deleted or its upload stopped outside Nova']);
  });

  test('a post step with nothing to do says so in one line, sending nothing', async () => {
    const before = cloud.requests.length;
    // No secret among the inputs: a post step with nothing to do reads none (and logs one fixed line).
    const s = await step(cloud, { region: 'GRA7' }, {}, { entry: DIST_POST });
    assertSuccess(s);
    assert.equal(cloud.requests.length, before);
    const lines = s.run.stdout.split('\n').filter((l) => l && !l.startsWith('::'));
    assert.deepEqual(lines, ['Post step: no snapshot was left uploading (wait: captured): nothing to do']);
  });

  test('a re-run of the step reuses the snapshot its first attempt took: same outputs, no second snapshot', async () => {
    const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
    const runner = { GITHUB_JOB: 'deploy', GITHUB_ACTION: 'snapshot' };
    const first = await step(cloud, inputs(server), { ...runner, GITHUB_RUN_ATTEMPT: '1' });
    assertSuccess(first);
    const again = await step(cloud, inputs(server), { ...runner, GITHUB_RUN_ATTEMPT: '2' });
    assertSuccess(again);
    assert.equal(again.run.outputs['snapshot-id'], first.run.outputs['snapshot-id']);
    assert.equal(again.run.outputs['snapshot-name'], first.run.outputs['snapshot-name']);
    assert.deepEqual(executedCreates(again.records, server.id), [], 'no second createImage');
    assert.match(again.run.stdout, /Re-run: snapshot .* was taken by an earlier attempt of this step .*attempt 1.*reused, no second snapshot taken/);
    assert.match(summaryText(again.run.summary), /Re-run:/);
    // Another step of the same run takes its own.
    const other = await step(cloud, inputs(server), { ...runner, GITHUB_ACTION: 'snapshot-2' });
    assertSuccess(other);
    assert.notEqual(other.run.outputs['snapshot-id'], first.run.outputs['snapshot-id']);
    assert.equal(executedCreates(other.records, server.id).length, 1);
  });

  test('a fleet returns once every disk is captured, with one server listing per look', async () => {
    const tag = unique('fleet');
    const servers = [0, 1, 2].map(() => cloud.addServer({ region: 'GRA7', name: unique('node'), tags: [tag] }));
    const { main, post } = await mainThenPost(run, { ...passwordInputs(cloud), 'instance-tags': tag, wait: 'captured' });
    assertSuccess(main);
    const rows = jsonOutput<{ status: string; captured_at: string }[]>(main, 'snapshots');
    assert.deepEqual(
      rows.map((r) => r.status),
      ['saving', 'saving', 'saving'],
    );
    assert.ok(rows.every((r) => r.captured_at));
    const perServer = main.records.filter((r) => r.method === 'GET' && servers.some((s) => r.path.endsWith(`/servers/${s.id}`)));
    const listings = main.records.filter((r) => r.method === 'GET' && r.path.includes('/servers/detail') && r.path.includes('changes-since'));
    assert.ok(listings.length >= 2, `the capture was watched through listings (${listings.length})\n${describeRun(main)}`);
    assert.deepEqual(perServer, [], 'no server was polled on its own');
    assertSuccess(post);
    for (const s of servers) assert.equal(only(s).status, 'active');
  });
});
