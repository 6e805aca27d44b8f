// Restore and fleets as a user runs them: dist/index.js against the local cloud, results checked
// in the cloud's own state. Restore: a snapshot, the server changed, the roll-back. Fleets: one
// failing server among several, and stop-instance with the job cancelled mid-snapshot.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { poll } from '../support/poll.ts';
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
  test("restore twice: the second is not rolled forward onto the first one's backup; a create with keep-last: 2 then keeps the known-good snapshot", async () => {
    const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
    const created = await step(cloud, { ...creds, instance: server.name });
    assertSuccess(created);
    const good = created.run.outputs['snapshot-id']!;
    const bad = cloud.addImage({ region: 'GRA7', name: unique('release'), properties: {} });
    cloud.world.findServer(server.id)!.imageRef = bad.id;

    const first = await step(cloud, { ...creds, mode: 'restore', instance: server.name, 'snapshot-before': 'true' });
    assertSuccess(first);
    const backup = first.run.outputs['backup-snapshot-id']!;
    // The snapshot taken before: its name beside its ID.
    assert.equal(
      tableRows(first, ['Instance', 'Restored from', 'Ran before', 'Snapshot before', 'Status', 'Took'])[0]![3],
      `${cloud.image(backup)!.name} (${backup})`,
    );
    assert.deepEqual([first.run.outputs['snapshot-id'], cloud.image(backup)?.properties.taken_before_restore_of], [good, good]);
    // The roll-back run again (a re-run of the job, or by hand).
    const second = await step(cloud, { ...creds, mode: 'restore', instance: server.name, 'snapshot-before': 'true' });
    assertSuccess(second);
    assert.equal(second.run.outputs['snapshot-id'], good, 'the known-good snapshot again, not the backup of the bad state');
    assert.equal(cloud.server(server.id)!.imageRef, good);
    assert.match(second.run.stdout, new RegExp(`Skipped 1 newer snapshot\\(s\\) taken before a restore \\(snapshot-before\\): ${backup}\\.`));

    // Both backups match the template's glob ({instance}-*): neither counts against keep-last, nor is deleted.
    const next = await step(cloud, { ...creds, instance: server.name, 'keep-last': '2' });
    assertSuccess(next);
    assert.deepEqual(jsonOutput(next, 'deleted-snapshot-ids'), []);
    for (const id of [good, backup, second.run.outputs['backup-snapshot-id']!, next.run.outputs['snapshot-id']!]) assert.ok(cloud.image(id), `${id} stays`);
  });

  test("a server name of 250 characters: the backup's name is shortened to fit, and the restore goes on", async () => {
    const server = cloud.addServer({ region: 'GRA7', name: `${unique('web')}-${'x'.repeat(230)}`.slice(0, 250) });
    seedSnapshots(cloud, server, 1);
    const s = await step(cloud, { ...creds, mode: 'restore', instance: server.id, 'snapshot-before': 'true' });
    assertSuccess(s);
    const backup = cloud.image(s.run.outputs['backup-snapshot-id']!)!;
    assert.ok(backup.name!.length <= 255 && backup.name!.startsWith(server.name.slice(0, 200)), backup.name!);
    assert.match(backup.name!, /-before-restore-\d{8}-\d{6}$/);
    assert.doesNotMatch(s.run.stdout, /snapshot-name/);
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

  test("prune without instance keeps keep-last of each server, never that many of the fleet; a fleet's create prunes each server's own", async () => {
    const prefix = unique('fleet');
    const servers = [1, 2].map((n) => cloud.addServer({ region: 'GRA7', name: `${prefix}-${n}`, tags: [prefix] }));
    const [a, b] = servers.map((server) => seedSnapshots(cloud, server, 3)) as [ReturnType<typeof seedSnapshots>, ReturnType<typeof seedSnapshots>];
    const pruned = await step(cloud, { ...creds, mode: 'prune', 'snapshot-name': `${prefix}-*`, 'keep-last': '2' });
    assertSuccess(pruned);
    assert.deepEqual(sorted(jsonOutput(pruned, 'deleted-snapshot-ids')), sorted(ids([a[2]!, b[2]!])), 'the oldest of each');
    for (const image of [...a.slice(0, 2), ...b.slice(0, 2)]) assert.ok(cloud.image(image.id), `${image.name} stays`);

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

  test('the job cancelled mid-snapshot (SIGTERM) still starts the server it stopped', async () => {
    const server = cloud.addServer({ region: 'GRA7', name: unique('db') });
    const s = await step(
      cloud,
      { ...creds, instance: server.name, 'stop-instance': 'true' },
      {},
      { cancelOn: { pattern: /Snapshot requested/, signal: 'SIGTERM' } },
    );
    assert.notEqual(s.run.code, 0, 'the run was cancelled');
    assert.ok(
      s.records.some((r) => r.action === 'os-start'),
      'os-start was sent before the process ended',
    );
    await poll('the server to run again', () => cloud.server(server.id)?.status === 'ACTIVE');
  });
});
