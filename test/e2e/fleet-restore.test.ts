// Restore and fleets as a user runs them: dist/index.js against the local cloud, results checked
// in the cloud's own state. Restore: a snapshot, the server changed, the roll-back. Fleets: one
// failing server among several, and stop-instance (a job cancelled mid-snapshot: e2e/cancel.test.ts).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  assertFailure,
  assertSuccess,
  ids,
  jsonOutput,
  passwordInputs,
  seedSnapshots,
  snapshotsOf,
  sorted,
  startCloud,
  step,
  summaryText,
  tableRows,
  unique,
  type LocalCloud,
} from './harness.ts';

let cloud: LocalCloud;
let creds: Record<string, string>;
before(async () => {
  cloud = await startCloud({ snapshotSeconds: 1, rebuildSeconds: 1, powerSeconds: 0.5 });
  creds = passwordInputs(cloud);
});
after(() => cloud.stop());

const rebuilds = (s: Awaited<ReturnType<typeof step>>) => s.records.filter((r) => r.action === 'rebuild' && r.status === 202);
type Row = {
  instance_id: string;
  instance_name: string;
  snapshot_id: string | null;
  status: string;
  error: string | null;
  consistency?: string;
  downtime_seconds?: number | null;
};

describe('mode restore', () => {
  test('snapshot, the server changed, restore: it runs the snapshot again, ACTIVE, with its ID and name', async () => {
    const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
    const created = await step(cloud, { ...creds, instance: server.name });
    assertSuccess(created);
    const snapshot = created.run.outputs['snapshot-id']!;
    // The bad release: the server now runs another image.
    const other = cloud.addImage({ region: 'GRA7', name: unique('release'), properties: {} });
    cloud.world.findServer(server.id)!.imageRef = other.id;

    const s = await step(cloud, { ...creds, mode: 'restore', instance: server.name });
    assertSuccess(s);
    assert.equal(rebuilds(s).length, 1, 'one rebuild');
    assert.deepEqual([s.run.outputs['snapshot-id'], s.run.outputs['previous-image-id'], s.run.outputs['instance-id']], [snapshot, other.id, server.id]);
    const now = cloud.server(server.id)!;
    assert.deepEqual([now.status, now.taskState, now.imageRef, now.name], ['ACTIVE', null, snapshot, server.name]);
    assert.match(s.run.summary, /Instance restored/);
    // No snapshot was taken before: that column, empty, is left out.
    const [row] = tableRows(s, ['Instance', 'Restored from', 'Ran before', 'Status', 'Took']);
    assert.deepEqual(row!.slice(0, 4), [`${server.name} (${server.id})`, `${created.run.outputs['snapshot-name']} (${snapshot})`, other.id, 'ACTIVE']);
  });
});

describe('restore: the backups it takes (snapshot-before)', () => {
  // Which snapshot a later restore or create's prune takes, backups among them: test/unit/restore.test.ts, create.test.ts.
  test('the backup: its ID an output, its name beside it in the summary, what it was taken before in its properties', async () => {
    const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
    const created = await step(cloud, { ...creds, instance: server.name });
    assertSuccess(created);
    const good = created.run.outputs['snapshot-id']!;
    cloud.world.findServer(server.id)!.imageRef = cloud.addImage({ region: 'GRA7', name: unique('release'), properties: {} }).id;
    const s = await step(cloud, { ...creds, mode: 'restore', instance: server.name, 'snapshot-before': 'true' });
    assertSuccess(s);
    const backup = s.run.outputs['backup-snapshot-id']!;
    assert.equal(
      tableRows(s, ['Instance', 'Restored from', 'Ran before', 'Snapshot before', 'Status', 'Took'])[0]![3],
      `${cloud.image(backup)!.name} (${backup})`,
    );
    assert.deepEqual([s.run.outputs['snapshot-id'], cloud.image(backup)?.properties.taken_before_restore_of], [good, good]);
  });
});

describe('fleets', () => {
  test('three servers, one failing: the others are snapshotted, the step fails naming it, one row each', async () => {
    const servers = [1, 2, 3].map((n) => cloud.addServer({ region: 'GRA7', name: unique(`web-${n}`), tags: ['fleet-a'] }));
    cloud.fault({
      match: { action: 'createImage', path: new RegExp(servers[1]!.id) },
      kind: 'status',
      status: 400,
      body: { badRequest: { code: 400, message: 'quota exceeded' } },
    });
    const s = await step(cloud, { ...creds, 'instance-tags': 'fleet-a', 'max-parallel': '2' });
    assertFailure(s, [`1 of 3 instance(s) failed: ${servers[1]!.name}:`, 'quota exceeded']);
    const rows = jsonOutput<Row[]>(s, 'snapshots');
    assert.deepEqual(rows.map((r) => r.instance_id).sort(), servers.map((x) => x.id).sort());
    for (const [i, server] of servers.entries()) {
      const row = rows.find((r) => r.instance_id === server.id)!;
      if (i === 1) assert.deepEqual([row.status, snapshotsOf(cloud, server).length], ['failed', 0]);
      else assert.deepEqual([row.status, row.snapshot_id, row.error], ['active', snapshotsOf(cloud, server)[0]?.id, null]);
    }
    assert.match(s.run.stdout, new RegExp(`\\[${servers[1]!.name}\\] `), 'each server says which lines are its own');
    // One failed: the Error column is there.
    assert.equal(tableRows(s, ['Instance', 'Snapshot', 'Status', 'Took', 'Consistency', 'Error']).length, 3);
  });

  // keep-last per server in mode prune: test/unit/prune.test.ts.
  test("a fleet's create with keep-last prunes each server's own: its oldest, after its new one", async () => {
    const prefix = unique('fleet');
    const servers = [1, 2].map((n) => cloud.addServer({ region: 'GRA7', name: `${prefix}-${n}`, tags: [prefix] }));
    const [a, b] = servers.map((server) => seedSnapshots(cloud, server, 2)) as [ReturnType<typeof seedSnapshots>, ReturnType<typeof seedSnapshots>];
    const created = await step(cloud, { ...creds, 'instance-tags': prefix, 'keep-last': '2' });
    assertSuccess(created);
    assert.deepEqual(sorted(jsonOutput(created, 'deleted-snapshot-ids')), sorted(ids([a[1]!, b[1]!])), "each server's oldest, after its new one");
    for (const server of servers) assert.equal(snapshotsOf(cloud, server).length, 2, `${server.name} keeps two`);
    // None failed: no Error column; what the prunes freed (64 KiB each) under the table.
    assert.equal(tableRows(created, ['Instance', 'Snapshot', 'Status', 'Took', 'Consistency']).length, 2);
    assert.match(summaryText(created.run.summary), /\nPruned after the snapshots: deleted 2 snapshot\(s\)\. Space freed: 128\.0 KiB\.$/);
    // The instances' lines, interleaved, are one folded group in the log.
    const lines = created.run.stdout.split('\n');
    const [start, end] = [lines.indexOf('::group::Snapshots of 2 instance(s)'), lines.indexOf('::endgroup::')];
    assert.ok(start >= 0 && end > start && lines.lastIndexOf('::endgroup::') === end, created.run.stdout);
    for (const server of servers)
      assert.ok(
        lines.slice(start + 1, end).some((l) => l.startsWith(`[${server.name}] Deleted snapshot `)),
        `${server.name}'s deletions are in the group`,
      );
  });

  test('stop-instance: stopped for the snapshot, running again after it, with the downtime', async () => {
    const server = cloud.addServer({ region: 'GRA7', name: unique('db') });
    const s = await step(cloud, { ...creds, instance: server.name, 'stop-instance': 'true' });
    assertSuccess(s);
    const actions = s.records.filter((r) => r.action && r.status === 202).map((r) => r.action);
    assert.deepEqual(actions, ['os-stop', 'createImage', 'os-start']);
    assert.equal(s.run.outputs.consistency, 'stopped');
    assert.ok(Number(s.run.outputs['downtime-seconds']) > 0);
    assert.deepEqual([cloud.server(server.id)!.status, cloud.server(server.id)!.taskState], ['ACTIVE', null]);
  });
});
