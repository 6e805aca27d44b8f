// Each mode as a user runs it: the built action against the local cloud, checking the inputs,
// outputs and job summary of each kind of run (the runner's contract). What a mode decides (scope,
// refusals, pages, names) is tested in this process in test/unit. One cloud per describe; every test
// makes its own servers and images (unique names), and tests of a describe run one at a time.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MANAGED_BY } from '../../src/lib/constants.ts';
import { poll } from '../support/poll.ts';
import {
  DAY,
  stamp,
  volumeBackedSnapshot,
  HOUR,
  assertSuccess,
  deletes,
  describeRun,
  executedCreates,
  ids,
  jsonOutput,
  managedProps,
  mutating,
  passwordInputs,
  seedSnapshots,
  snapshotsOf,
  sorted,
  startCloud,
  step,
  summaryText,
  tableRows,
  CREATE_TABLE,
  DELETE_TABLE,
  PRUNE_TABLE,
  unique,
  type LocalCloud,
  type Server,
  type Step,
} from './harness.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The outputs and cloud state of a successful image-backed create. */
/** `status`: what snapshot-status must be (a pattern when the cloud moves on after the run, as with wait: false). */
function checkCreated(cloud: LocalCloud, s: Step, server: Server, opts: { status?: string | RegExp; region?: string } = {}) {
  assertSuccess(s);
  const out = s.run.outputs;
  const images = snapshotsOf(cloud, server);
  assert.equal(images.length, 1, `exactly one snapshot of ${server.name}\n${describeRun(s)}`);
  const image = images[0]!;
  assert.equal(executedCreates(s.records, server.id).length, 1, 'one createImage executed');
  assert.equal(out['snapshot-id'], image.id);
  assert.match(out['snapshot-name']!, new RegExp(`^${server.name}-\\d{8}-\\d{6}$`));
  assert.equal(image.name, out['snapshot-name']);
  const status = opts.status ?? 'active';
  if (typeof status === 'string') {
    assert.equal(out['snapshot-status'], status);
    assert.equal(image.status, status);
  } else assert.match(out['snapshot-status']!, status);
  assert.equal(out['instance-id'], server.id);
  assert.equal(out['instance-name'], server.name);
  assert.equal(out['volume-backed'], 'false');
  assert.equal(out['volume-snapshot-ids'], '[]');
  assert.match(out['duration-seconds']!, /^\d+\.\d$/);
  // Without faults every request the action counts reached the cloud.
  assert.equal(Number(out['api-requests']), s.records.length, 'api-requests counts the requests the cloud received');
  // What later runs (and people) find the snapshot by.
  assert.equal(image.properties.managed_by, MANAGED_BY);
  assert.equal(image.properties.source_instance_id, server.id);
  assert.equal(image.properties.source_instance_name, server.name);
  assert.match(image.properties.snapshot_request_id ?? '', UUID);
  assert.equal(image.properties.github_repository, 'octo/app');
  assert.equal(image.properties.github_run_id, '4242');
  assert.equal(image.region, opts.region ?? 'GRA7');
  // The job summary: one row for the snapshot.
  assert.match(summaryText(s.run.summary), /Snapshot created/);
  // A snapshot not active yet has no size: that column, empty, is left out.
  const rows = tableRows(s, out['snapshot-size'] ? CREATE_TABLE : CREATE_TABLE.filter((column) => column !== 'Size'));
  assert.equal(rows.length, 1);
  assert.deepEqual(rows[0]!.slice(0, 4), [image.name, image.id, out['snapshot-status'], `${server.name} (${server.id})`]);
  return image;
}

/** Starts the describe's own cloud before its tests, handing it and its login as inputs to `use`; stops it after. */
function ownCloud(use: (cloud: LocalCloud, creds: Record<string, string>) => void): void {
  let cloud: LocalCloud | undefined;
  before(async () => {
    cloud = await startCloud({ snapshotSeconds: 1 });
    use(cloud, passwordInputs(cloud));
  });
  after(() => cloud?.stop());
}

// The groups run side by side, each on its own cloud (so the records a run makes are its own); the
// tests of a group run one at a time.
describe('modes', { concurrency: true }, () => {
  describe('create: how the instance and cloud are given', { concurrency: 1 }, () => {
    let cloud: LocalCloud;
    let creds: Record<string, string>;
    ownCloud((c, i) => ([cloud, creds] = [c, i]));

    test('by name', async () => {
      const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
      const s = await step(cloud, { ...creds, instance: server.name });
      checkCreated(cloud, s, server);
      assert.ok(
        s.records.some((r) => r.path.includes('/servers/detail')),
        'looked the name up in the server list',
      );
    });

    test('in region SBG5', async () => {
      const name = unique('web');
      // A namesake in GRA7 must not be touched.
      const gra = cloud.addServer({ region: 'GRA7', name });
      const server = cloud.addServer({ region: 'SBG5', name });
      const s = await step(cloud, { ...passwordInputs(cloud, 'SBG5'), instance: name });
      checkCreated(cloud, s, server, { region: 'SBG5' });
      assert.equal(snapshotsOf(cloud, gra).length, 0);
      const regional = s.records.filter((r) => r.service === 'compute' || r.service === 'image');
      assert.ok(regional.length > 0 && regional.every((r) => r.region === 'SBG5'), 'every Nova and Glance request went to SBG5');
    });

    test('through the internal endpoints (interface: internal)', async () => {
      const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
      const s = await step(cloud, { ...creds, instance: server.name, interface: 'internal' });
      checkCreated(cloud, s, server);
      const services = s.records.filter((r) => r.service === 'compute' || r.service === 'image');
      assert.ok(services.length > 0 && services.every((r) => r.interface === 'internal'), 'Nova and Glance were reached through their internal URLs');
    });
  });

  describe('create: kinds of instance and options', { concurrency: 1 }, () => {
    let cloud: LocalCloud;
    let creds: Record<string, string>;
    ownCloud((c, i) => ([cloud, creds] = [c, i]));

    test('wait: false returns before the snapshot is active', async () => {
      const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
      const s = await step(cloud, { ...creds, instance: server.name, wait: 'false' });
      const image = checkCreated(cloud, s, server, { status: /^(queued|saving)$/ });
      const polls = s.records.filter((r) => r.method === 'GET' && r.path.endsWith(`/v2/images/${image.id}`));
      assert.equal(polls.length, 1, 'looked at the image once, no waiting');
      // The cloud carries on and finishes it.
      await poll('the cloud to finish the snapshot', () => cloud.image(image.id)?.status === 'active');
    });

    // What the prune after a create may delete, and when: test/unit/create.test.ts.
    test('with keep-last: the outputs and the summary of the create and of its prune', async () => {
      const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
      const old = seedSnapshots(cloud, server, 3);
      const s = await step(cloud, { ...creds, instance: server.name, 'keep-last': '2' });
      assertSuccess(s);
      const created = s.run.outputs['snapshot-id']!;
      assert.equal(cloud.image(created)?.status, 'active');
      // The new one and the newest old one are kept; the two older ones go.
      assert.deepEqual(sorted(jsonOutput(s, 'kept-snapshot-ids')), sorted([created, old[0]!.id]));
      assert.deepEqual(sorted(jsonOutput(s, 'deleted-snapshot-ids')), sorted([old[1]!.id, old[2]!.id]));
      assert.equal(s.run.outputs['deleted-count'], '2');
      for (const gone of [old[1]!, old[2]!]) assert.equal(cloud.image(gone.id), undefined);
      const text = summaryText(s.run.summary);
      assert.match(text, /Snapshot created/);
      assert.deepEqual(
        tableRows(s, CREATE_TABLE).map((r) => r[1]),
        [created],
      );
      assert.match(text, /Policy: keep-last 2\. In scope: 4; kept: 2; deleted: 2\./);
      const rows = tableRows(s, PRUNE_TABLE);
      assert.deepEqual(
        rows.map((r) => [r[2], r[5]]),
        [
          [created, 'kept (last, newest)'],
          [old[0]!.id, 'kept (last)'],
          [old[1]!.id, 'deleted'],
          [old[2]!.id, 'deleted'],
        ],
      );
    });

    // Found by this suite: the create's prune used to overwrite volume-snapshot-ids with the IDs it deleted.
    test('a volume-backed server with keep-last: a Cinder snapshot behind an empty image; volume-snapshot-ids are the new snapshot’s', async () => {
      const server = cloud.addServer({ region: 'GRA7', name: unique('db'), volumeBacked: true });
      const { image: old, volumeSnapshotId: oldVolume } = volumeBackedSnapshot(cloud, server, {
        name: `${server.name}-${stamp(new Date(Date.now() - DAY))}`,
        createdAt: new Date(Date.now() - DAY),
      });
      const volumesBefore = new Set(cloud.volumeSnapshots('GRA7').map((v) => v.id));
      const s = await step(cloud, { ...creds, instance: server.name, 'keep-last': '1' });
      assertSuccess(s);
      const fresh = cloud.volumeSnapshots('GRA7').filter((v) => !volumesBefore.has(v.id));
      assert.equal(fresh.length, 1, 'one Cinder snapshot made');
      const image = cloud.image(s.run.outputs['snapshot-id']!);
      assert.equal(image?.properties.source_instance_id, server.id);
      assert.ok(image.properties.block_device_mapping?.includes(fresh[0]!.id));
      assert.equal(s.run.outputs['volume-backed'], 'true');
      assert.equal(s.run.outputs['snapshot-size'], '0');
      assert.equal(s.run.outputs['snapshot-status'], 'active');
      assert.equal(tableRows(s, CREATE_TABLE)[0]![3], `${server.name} (${server.id}), volume-backed`);
      assert.equal(cloud.image(old.id), undefined, 'the old snapshot was pruned');
      await poll("the pruned snapshot's Cinder snapshot to go", () => !cloud.volumeSnapshots('GRA7').some((v) => v.id === oldVolume));
      // action.yml: volume-snapshot-ids of create are "those behind the new image".
      assert.deepEqual(jsonOutput(s, 'volume-snapshot-ids'), [fresh[0]!.id], 'volume-snapshot-ids names the new snapshot, not the pruned one');
    });
  });

  describe('delete', { concurrency: 1 }, () => {
    let cloud: LocalCloud;
    let creds: Record<string, string>;
    ownCloud((c, i) => ([cloud, creds] = [c, i]));

    test('by ID', async () => {
      const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
      const [target, neighbour] = seedSnapshots(cloud, server, 2);
      const s = await step(cloud, { ...creds, mode: 'delete', 'snapshot-id': target!.id });
      assertSuccess(s);
      assert.equal(cloud.image(target!.id), undefined);
      assert.ok(cloud.image(neighbour!.id));
      assert.deepEqual(jsonOutput(s, 'deleted-snapshot-ids'), [target!.id]);
      assert.equal(s.run.outputs['deleted-count'], '1');
      assert.equal(s.run.outputs['volume-snapshot-ids'], '[]');
      assert.equal(deletes(s.records).length, 1);
      assert.match(summaryText(s.run.summary), /Snapshot deleted/);
      // No volume snapshots: that column, empty, is left out.
      assert.deepEqual(tableRows(s, ['Snapshot', 'Snapshot ID']), [[target!.name, target!.id]]);
    });

    test('a volume-backed snapshot: the Cinder snapshot goes too', async () => {
      const server = cloud.addServer({ region: 'GRA7', name: unique('db'), volumeBacked: true });
      const { image, volumeSnapshotId } = volumeBackedSnapshot(cloud, server, { name: `${server.name}-1` });
      const volume = { id: volumeSnapshotId };
      const keepVolume = cloud.addVolumeSnapshot({ region: 'GRA7', name: 'unrelated' });
      const s = await step(cloud, { ...creds, mode: 'delete', 'snapshot-id': image!.id });
      assertSuccess(s);
      assert.equal(cloud.image(image!.id), undefined);
      await poll('the Cinder snapshot to go', () => !cloud.volumeSnapshots('GRA7').some((v) => v.id === volume.id));
      assert.ok(cloud.volumeSnapshots('GRA7').some((v) => v.id === keepVolume.id));
      assert.deepEqual(jsonOutput(s, 'volume-snapshot-ids'), [volume.id]);
      assert.deepEqual(tableRows(s, DELETE_TABLE), [[image!.name, image!.id, `${volume.id} (deleted)`]]);
    });
  });

  describe('prune', { concurrency: 1 }, () => {
    let cloud: LocalCloud;
    let creds: Record<string, string>;
    ownCloud((c, i) => ([cloud, creds] = [c, i]));

    test('the summary: region and mode first, a group per instance, the space freed, the kept reasons explained; the deletions folded in the log', async () => {
      const prefix = unique('sum');
      const [a, b] = ['a', 'b'].map((n) => cloud.addServer({ region: 'GRA7', name: `${prefix}-${n}` })) as [Server, Server];
      const snapshot = (server: Server, hoursAgo: number, size: number) =>
        cloud.addImage({
          region: 'GRA7',
          name: `${server.name}-${hoursAgo}h`,
          createdAt: new Date(Date.now() - hoursAgo * HOUR),
          size,
          properties: managedProps(server),
        });
      const MiB = 1024 ** 2;
      // Interleaved in time: the table groups them anyway.
      const [a1, b2, a25, b26, a49] = [
        snapshot(a, 1, 3 * 1024 * MiB),
        snapshot(b, 2, 100 * MiB),
        snapshot(a, 25, 1536 * MiB),
        snapshot(b, 26, 200 * MiB),
        snapshot(a, 49, 512 * MiB),
      ];
      // A volume-backed snapshot taken by hand records no instance.
      const { image: byHand } = volumeBackedSnapshot(cloud, a, { name: `${prefix}-hand`, createdAt: new Date(Date.now() - 30 * HOUR), properties: {} });
      const s = await step(cloud, { ...creds, mode: 'prune', 'snapshot-name': `${prefix}-*`, 'include-unmanaged': 'true', 'keep-last': '1' });
      assertSuccess(s);
      const text = summaryText(s.run.summary);
      assert.match(text, /^Region GRA7 · Mode prune\n+Prune\n/);
      // 1.5 GiB + 512 MiB + 200 MiB.
      assert.match(text, /In scope: 6; kept: 3; deleted: 3\. Space freed: 2\.2 GiB\.\n/);
      const label = (server: Server) => `${server.name} (${server.id})`;
      assert.deepEqual(
        tableRows(s, PRUNE_TABLE).map((r) => [r[0], r[2], r[4], r[5]]),
        [
          [label(a), a1.id, '3.0 GiB', 'kept (last, newest)'],
          [label(a), a25.id, '1.5 GiB', 'deleted'],
          [label(a), a49.id, '512.0 MiB', 'deleted'],
          [label(b), b2.id, '100.0 MiB', 'kept (last, newest)'],
          [label(b), b26.id, '200.0 MiB', 'deleted'],
          ['(none recorded)', byHand.id, '0 B', 'kept (last, newest)'],
        ],
      );
      assert.match(text, /\n\nKept:\nlast: one of the newest \(keep-last\)\nnewest: the newest snapshot \(not dated in the future\): always kept$/);
      // In the log, the deletions are one folded group.
      const lines = s.run.stdout.split('\n');
      const [start, end] = [lines.indexOf('::group::Deleting 3 snapshot(s)'), lines.indexOf('::endgroup::')];
      assert.ok(start >= 0 && end > start, s.run.stdout);
      assert.deepEqual(
        sorted(lines.slice(start + 1, end).filter((l) => !l.startsWith('::debug::'))),
        sorted([a25, b26, a49].map((i) => `Deleted snapshot ${i.id} "${i.name}"`)),
      );
    });

    test('dry-run deletes nothing and says what it would delete', async () => {
      const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
      const snaps = seedSnapshots(cloud, server, 4);
      // The oldest's size is not known yet to Glance: the space is at least the others'.
      cloud.world.findImage(snaps[3]!.id)!.size = null;
      const s = await step(cloud, { ...creds, mode: 'prune', instance: server.name, 'keep-last': '1', 'dry-run': 'true' });
      assertSuccess(s);
      assert.equal(mutating(s.records).length, 0, 'no mutating request');
      assert.deepEqual(sorted(ids(snapshotsOf(cloud, server))), sorted(ids(snaps)));
      assert.equal(s.run.outputs['deleted-count'], '0');
      assert.match(s.run.stdout, /::notice title=openstack-snapshot-action::Dry run: 3 snapshot\(s\) would be deleted, 1 kept/);
      const text = summaryText(s.run.summary);
      assert.match(text, /Prune \(dry run\)/);
      assert.match(text, /^Region GRA7 · Mode prune \(dry run: nothing changed\)\n/);
      assert.match(text, /In scope: 4; kept: 1; would delete: 3\. Would free: at least 128\.0 KiB\.\n/);
      assert.match(s.run.stdout, /^::group::Would delete 3 snapshot\(s\)\n(Dry run: would delete snapshot .*\n){3}::endgroup::$/m);
      assert.deepEqual(
        tableRows(s, PRUNE_TABLE).map((r) => r[5]),
        ['kept (last, newest)', 'would delete', 'would delete', 'would delete'],
      );
    });

    // Which pages are asked for is tested in this process (test/unit/prune.test.ts); here, the summary's cap.
    test('more than one Glance page in scope: all are decided; the summary lists 500 rows and says how many more', async () => {
      const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
      const now = Date.now();
      const snaps = cloud.addImages('GRA7', 1_005, (i) => ({
        name: `${server.name}-${String(i).padStart(4, '0')}`,
        createdAt: new Date(now - (i + 1) * HOUR),
        properties: managedProps(server),
      }));
      const s = await step(cloud, { ...creds, mode: 'prune', instance: server.name, 'keep-last': '1000' });
      assertSuccess(s);
      assert.deepEqual(sorted(jsonOutput(s, 'deleted-snapshot-ids')), sorted(ids(snaps.slice(1_000))));
      assert.equal(jsonOutput(s, 'kept-snapshot-ids').length, 1_000);
      assert.match(summaryText(s.run.summary), /In scope: 1005; kept: 1000; deleted: 5\./);
      assert.match(summaryText(s.run.summary), /… and 505 more/);
      assert.equal(tableRows(s, PRUNE_TABLE).length, 500);
    });
  });
});
