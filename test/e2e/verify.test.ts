// mode verify as the runner runs it: dist/index.js against the local cloud. The runner contract
// only (what the mode decides is tested in test/unit/verify.test.ts): the outputs, the summary, the
// exit code, and the job cancelled as the runner cancels it (SIGINT, SIGTERM 7.5 s later, SIGKILL
// 2.5 s after) mid-boot: the throwaway deleted before the step ends, the step failed.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MANAGED_BY } from '../../src/lib/constants.ts';
import { assertFailure, describeRun, jsonOutput, passwordInputs, startCloud, step, unique, type LocalCloud } from './harness.ts';

let cloud: LocalCloud;
let creds: Record<string, string>;
before(async () => {
  cloud = await startCloud({ bootSeconds: 0.5, deleteSeconds: 0.3 });
  creds = passwordInputs(cloud);
});
after(() => cloud.stop());

/** A server and an active snapshot of it made by this action. */
function withSnapshot() {
  const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
  const image = cloud.addImage({
    region: 'GRA7',
    name: `${server.name}-<i>1</i>`,
    minDisk: 1,
    properties: { image_type: 'snapshot', instance_uuid: server.id, managed_by: MANAGED_BY, source_instance_id: server.id },
  });
  return { server, image };
}
const throwaways = () => cloud.servers('GRA7').filter((s) => s.name.startsWith('osa-verify-'));

describe('mode verify through dist/index.js', () => {
  test('outputs (verifications, snapshot-id, instance-id), the summary escaped, exit 0, nothing left', async () => {
    const { server, image } = withSnapshot();
    const s = await step(cloud, { ...creds, mode: 'verify', instance: server.name, 'verify-console': 'LAST LINE' });
    assert.equal(s.run.code, 0, describeRun(s));
    const [row] = jsonOutput<Record<string, unknown>[]>(s, 'verifications');
    assert.deepEqual([row?.snapshot_id, row?.result, row?.console_matched], [image.id, 'passed', true]);
    assert.equal(s.run.outputs['snapshot-id'], image.id);
    assert.equal(s.run.outputs['instance-id'], server.id);
    assert.match(s.run.summary, /Snapshots booted on a throwaway server/);
    assert.match(s.run.summary, /-&lt;i&gt;1&lt;\/i&gt;/);
    assert.deepEqual(throwaways(), []);
    assert.equal(cloud.image(image.id)?.properties.verify_result, 'passed');
  });

  test('cancelled mid-boot as the runner cancels: the throwaway is deleted, exit 1 before SIGKILL, nothing written on the snapshot', async () => {
    const { server, image } = withSnapshot();
    cloud.fault({ match: { method: 'POST', path: /\/servers$/ }, kind: 'boot-stuck' });
    const s = await step(
      cloud,
      { ...creds, mode: 'verify', instance: server.name },
      {},
      { cancelOn: { pattern: /Booting throwaway server/, signal: 'runner' } },
    );
    assert.equal(s.run.code, 1, `it ended on its own, failed, not killed\n${describeRun(s)}`);
    assertFailure(s, ['The job was cancelled (SIGINT) while snapshot', 'its throwaway server was removed']);
    assert.ok(s.run.durationMs < 10_000, `before SIGKILL (${s.run.durationMs} ms)`);
    assert.deepEqual(throwaways(), []);
    assert.equal(cloud.image(image.id)?.properties.verify_result, undefined);
  });
});
