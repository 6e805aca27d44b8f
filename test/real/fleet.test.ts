// Several real servers in one step on the loopback cloud: selected by a Nova server tag, each
// stopped, snapshotted and started again (checked through Nova), one snapshot each (checked
// through Glance), and the per-server outputs. The servers are booted here and deleted at the end.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isIdle, RUN_PROPERTY, type OpenStack, type Server } from '../support/openstack.ts';
import { authInputs, cleanupRegion, connect, loadConfig, runLog } from '../support/real-cloud.ts';
import { runAction } from '../support/run-action.ts';

const cfg = loadConfig();
const R1 = cfg.region;
const TAG = cfg.tag;

let api: OpenStack;
const servers: Server[] = [];

before(async () => {
  api = await connect(cfg);
});

after(async () => {
  if (!api) return;
  for (const server of servers) await api.deleteServer(server.id).catch((error: Error) => console.log(`# cleanup: ${error.message}`));
  console.log(`# cleanup ${R1}: ${(await cleanupRegion(api, R1)).join(', ') || 'nothing left'}`);
});

describe('a fleet on the real cloud', () => {
  test('three servers by tag: each stopped, snapshotted, started again; one snapshot each', { timeout: 420_000 }, async (t) => {
    if (!cfg.loopback) return t.skip('boots servers: only on the loopback cloud, where it costs nothing');
    const main = await api.serverNamed(cfg.instance);
    const imageRef = main.image.id;
    for (const n of [1, 2, 3]) {
      servers.push(await api.createServer({ name: `${TAG}-fleet-${n}`, imageRef, flavorRef: 'osl-tiny', tags: [`${TAG}-fleet`] }));
    }
    assert.deepEqual(
      servers.map((s) => s.status),
      ['ACTIVE', 'ACTIVE', 'ACTIVE'],
    );

    const started = Date.now();
    const run = await runAction({
      mode: 'create',
      region: R1,
      'instance-tags': `${TAG}-fleet`,
      'stop-instance': 'true',
      'max-parallel': '3',
      'snapshot-name': `${TAG}-fleet-{instance}-{timestamp}`,
      'snapshot-properties': `${RUN_PROPERTY}=${TAG}`,
      ...authInputs(cfg),
    });
    const wallMs = Date.now() - started;
    assert.equal(run.code, 0, runLog(run));
    const rows = JSON.parse(run.outputs.snapshots ?? '[]') as {
      instance_id: string;
      snapshot_id: string;
      status: string;
      consistency: string;
      downtime_seconds: number;
    }[];
    assert.deepEqual(rows.map((r) => r.instance_id).sort(), servers.map((s) => s.id).sort());
    for (const server of servers) {
      const row = rows.find((r) => r.instance_id === server.id)!;
      assert.deepEqual([row.status, row.consistency], ['active', 'stopped']);
      assert.ok(row.downtime_seconds > 0);
      const image = await api.image(row.snapshot_id);
      assert.equal(image?.status, 'active');
      assert.equal(image?.source_instance_id, server.id, 'the snapshot is of that server');
      assert.ok(isIdle(await api.server(server.id)), `${server.name} runs again`);
    }
    const requests = Number(run.outputs['api-requests']);
    console.log(`# fleet of 3 with stop-instance: ${wallMs} ms wall, ${requests} API requests, downtime ${rows.map((r) => r.downtime_seconds).join(', ')} s`);
  });
});
