// stop-instance when the job is cancelled, as the runner cancels it: SIGINT, SIGTERM 7.5 s later,
// SIGKILL 2.5 s after that. dist/index.js against the local cloud (its os-stop and os-start take
// 0.5 s, a snapshot's task 7.6 s: Nova refuses os-start until it is over). From the first signal
// nothing new is stopped or snapshotted, every server the run stopped runs again (or is named), the
// step fails on its own before SIGKILL. And a start that Nova accepts but never does fails the step.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { poll } from '../support/poll.ts';
import { assertFailure, describeRun, jsonOutput, passwordInputs, startCloud, step, unique, type LocalCloud, type Step } from './harness.ts';

let cloud: LocalCloud;
let creds: Record<string, string>;
before(async () => {
  cloud = await startCloud({ snapshotSeconds: 7.6, powerSeconds: 0.5 });
  creds = passwordInputs(cloud);
});
after(() => cloud.stop());

const actionsOn = (s: Step, id: string) => s.records.filter((r) => r.action && r.path.includes(id)).map((r) => `${r.action} ${r.status}`);
const runs = (id: string) => cloud.server(id)?.status === 'ACTIVE' && cloud.server(id)?.taskState === null;
type Row = { instance_id: string; snapshot_id: string | null; status: string; error: string | null };

describe('stop-instance, the job cancelled as the runner cancels it', () => {
  test('during the upload (Nova refuses os-start for 7.6 s): it keeps asking through SIGTERM, the server runs again, exit 1 before SIGKILL, snapshot-id kept', async () => {
    const server = cloud.addServer({ region: 'GRA7', name: unique('db') });
    const s = await step(
      cloud,
      { ...creds, instance: server.name, 'stop-instance': 'true' },
      {},
      { cancelOn: { pattern: /Snapshot requested/, signal: 'runner' } },
    );
    assert.equal(s.run.code, 1, `it ended on its own, failed, not killed\n${describeRun(s)}`);
    const actions = actionsOn(s, server.id);
    assert.deepEqual(
      actions.filter((a) => a.endsWith('202')),
      ['os-stop 202', 'createImage 202', 'os-start 202'],
      actions.join(', '),
    );
    assert.ok(actions.filter((a) => a === 'os-start 409').length >= 2, 'it asked again while Nova refused');
    await poll('the server to run again', () => runs(server.id));
    assertFailure(s, ['The job was cancelled (SIGINT) after snapshot', 'it goes on in the cloud']);
    assert.match(s.run.stdout, /SIGTERM: the job is already cancelled; starting the 1 instance\(s\) this run stopped/, 'the second signal did not kill it');
    const image = cloud.images('GRA7').find((i) => i.properties.source_instance_id === server.id);
    assert.ok(image && s.run.outputs['snapshot-id'] === image.id, `snapshot-id names the snapshot (${s.run.outputs['snapshot-id']})`);
  });

  test('while the server is being stopped: no createImage is sent, it is started again, the step fails', async () => {
    const server = cloud.addServer({ region: 'GRA7', name: unique('db') });
    const s = await step(
      cloud,
      { ...creds, instance: server.name, 'stop-instance': 'true' },
      {},
      { cancelOn: { pattern: /Stopping instance/, signal: 'runner' } },
    );
    assert.equal(s.run.code, 1, describeRun(s));
    const actions = actionsOn(s, server.id);
    assert.ok(!actions.some((a) => a.startsWith('createImage')), `no snapshot after the signal: ${actions.join(', ')}`);
    assert.deepEqual(
      actions.filter((a) => a.endsWith('202')),
      ['os-stop 202', 'os-start 202'],
    );
    await poll('the server to run again', () => runs(server.id));
    assertFailure(s, [`The job was cancelled (SIGINT) while instance ${server.name} was being stopped`]);
    assert.match(s.run.stdout, new RegExp(`Started instance ${server.name} again after the cancel`));
  });

  test('a fleet: no server is begun after the signal; the one stopped runs again; a row for each', async () => {
    const tag = unique('fleet');
    const servers = [1, 2, 3].map((n) => cloud.addServer({ region: 'GRA7', name: `${tag}-${n}`, tags: [tag] }));
    const s = await step(
      cloud,
      { ...creds, 'instance-tags': tag, 'stop-instance': 'true', 'max-parallel': '1' },
      {},
      { cancelOn: { pattern: /Stopping instance/, signal: 'runner' } },
    );
    assert.equal(s.run.code, 1, describeRun(s));
    const touched = servers.filter((server) => actionsOn(s, server.id).length);
    assert.equal(touched.length, 1, `only the server under way when the signal came: ${touched.map((x) => x.name).join(', ')}`);
    assert.ok(!s.records.some((r) => r.action === 'createImage'), 'no snapshot');
    for (const server of servers) await poll(`${server.name} to run again`, () => runs(server.id));
    const rows = jsonOutput<Row[]>(s, 'snapshots');
    assert.deepEqual(rows.map((r) => [r.instance_id, r.status]).sort(), servers.map((x) => [x.id, 'failed']).sort());
    for (const row of rows) assert.match(row.error ?? '', /^The job was cancelled \(SIGINT\) (before|while) instance/);
    assertFailure(s, ['3 of 3 instance(s) failed', 'it was not touched']);
  });

  test('a createImage whose answer does not come before SIGKILL: the server is named as down, with the command, and the step fails before it', async () => {
    const server = cloud.addServer({ region: 'GRA7', name: unique('db') });
    cloud.fault({ match: { action: 'createImage', path: new RegExp(server.id) }, kind: 'delay', ms: 15_000 });
    const secondAction = /(→ POST \S+\/action[\s\S]*){2}/;
    const s = await step(cloud, { ...creds, instance: server.name, 'stop-instance': 'true' }, {}, { cancelOn: { pattern: secondAction, signal: 'runner' } });
    assert.equal(s.run.code, 1, `it ended on its own, failed, not killed\n${describeRun(s)}`);
    assert.match(
      s.run.stdout,
      new RegExp(
        `::warning::Instance ${server.name} \\(${server.id}\\) was stopped for the snapshot and is still down: start it with: openstack server start ${server.id}`,
      ),
    );
    assertFailure(s, ['The job was cancelled (SIGINT) and the runner ends it now']);
  });
});

describe('stop-instance: os-start accepted, but the server never runs', () => {
  test('the step fails naming the server, with the image and no downtime', async () => {
    const fast = await startCloud({ snapshotSeconds: 0.5, powerSeconds: 0.2 });
    try {
      const server = fast.addServer({ region: 'GRA7', name: unique('db') });
      // A front that answers 202 and drops the request: Nova never starts it.
      fast.fault({ match: { action: 'os-start' }, kind: 'status', status: 202, body: '' });
      const s = await step(fast, { ...passwordInputs(fast), instance: server.name, 'stop-instance': 'true', timeout: '4s' });
      assertFailure(s, [
        `Instance ${server.name} (${server.id}) was started again (Nova accepted os-start) but was not seen running: it is still SHUTOFF`,
        'its downtime is unknown',
        `openstack server start ${server.id}`,
      ]);
      assert.equal(s.run.outputs['downtime-seconds'], '');
      assert.equal(s.run.outputs['snapshot-status'], 'active');
      assert.ok(s.run.outputs['snapshot-id']);
    } finally {
      await fast.stop();
    }
  });
});
