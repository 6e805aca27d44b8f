// Each mode as a user runs it: the built action against the local cloud, checking the outputs,
// the job summary and what the cloud holds afterwards. One cloud per describe; every test makes
// its own servers and images (unique names), and tests of a describe run one at a time, so the
// records a run makes are its own.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  DAY,
  stamp,
  volumeBackedSnapshot,
  HOUR,
  MANAGED_BY,
  assertFailure,
  assertSuccess,
  appCredentialInputs,
  deletes,
  describeRun,
  eventually,
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
  tokenPosts,
  CREATE_TABLE,
  DELETE_TABLE,
  PRUNE_TABLE,
  unique,
  unmanagedProps,
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

// The groups run side by side, each on its own cloud (so the records a run makes are its own); the
// tests of a group run one at a time.
describe('modes', { concurrency: true }, () => {
  describe('create: how the instance and cloud are given', { concurrency: 1 }, () => {
    let cloud: LocalCloud;
    let creds: Record<string, string>;
    before(async () => {
      cloud = await startCloud({ snapshotSeconds: 1 });
      creds = passwordInputs(cloud);
    });
    after(() => cloud.stop());

    test('by name', async () => {
      const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
      const s = await step(cloud, { ...creds, instance: server.name });
      checkCreated(cloud, s, server);
      assert.ok(
        s.records.some((r) => r.path.includes('/servers/detail')),
        'looked the name up in the server list',
      );
    });

    test('by ID', async () => {
      const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
      const s = await step(cloud, { ...creds, instance: server.id });
      checkCreated(cloud, s, server);
      assert.ok(
        s.records.some((r) => r.method === 'GET' && r.path.endsWith(`/servers/${server.id}`)),
        'fetched the server by ID',
      );
      assert.ok(!s.records.some((r) => r.path.includes('/servers/detail')), 'no name lookup for an ID');
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

    test('with an application credential', async () => {
      const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
      const s = await step(cloud, { ...appCredentialInputs(cloud), instance: server.name });
      checkCreated(cloud, s, server);
      assert.equal(s.newTokens.length, 1);
      assert.equal(cloud.world.tokens.get(s.newTokens[0]!)?.appCred, true, 'the token came from the application credential');
      assert.match(s.run.stdout, new RegExp(`as application credential ${cloud.demo.appCredId}`));
    });

    test('with OS_* environment variables only (openrc)', async () => {
      const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
      const s = await step(cloud, { instance: server.name }, cloud.openrc());
      checkCreated(cloud, s, server);
      assert.equal(s.newTokens.length, 1);
      assert.equal(cloud.world.tokens.get(s.newTokens[0]!)?.appCred, false);
    });

    test('through the internal endpoints (interface: internal)', async () => {
      const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
      const s = await step(cloud, { ...creds, instance: server.name, interface: 'internal' });
      checkCreated(cloud, s, server);
      const services = s.records.filter((r) => r.service === 'compute' || r.service === 'image');
      assert.ok(services.length > 0 && services.every((r) => r.interface === 'internal'), 'Nova and Glance were reached through their internal URLs');
    });

    test('a name with regex characters matches only itself', async () => {
      const base = unique('web');
      const name = `${base}.1(prod)`;
      const lookalike = cloud.addServer({ region: 'GRA7', name: `${base}x1(prod)` });
      const server = cloud.addServer({ region: 'GRA7', name });
      const s = await step(cloud, { ...creds, instance: name, 'snapshot-name': '{instance_id}-{timestamp}' });
      assertSuccess(s);
      assert.equal(s.run.outputs['instance-id'], server.id);
      assert.equal(snapshotsOf(cloud, server).length, 1);
      assert.equal(snapshotsOf(cloud, lookalike).length, 0);
    });
  });

  describe('create: kinds of instance and options', { concurrency: 1 }, () => {
    let cloud: LocalCloud;
    let creds: Record<string, string>;
    before(async () => {
      cloud = await startCloud({ snapshotSeconds: 1 });
      creds = passwordInputs(cloud);
    });
    after(() => cloud.stop());

    test('a volume-backed server: Cinder snapshot behind an empty image', async () => {
      const server = cloud.addServer({ region: 'GRA7', name: unique('db'), volumeBacked: true });
      const volumesBefore = new Set(cloud.volumeSnapshots('GRA7').map((v) => v.id));
      const s = await step(cloud, { ...creds, instance: server.name });
      assertSuccess(s);
      const images = cloud.images('GRA7').filter((i) => i.properties.source_instance_id === server.id);
      assert.equal(images.length, 1);
      const image = images[0]!;
      const newVolumes = cloud.volumeSnapshots('GRA7').filter((v) => !volumesBefore.has(v.id));
      assert.equal(newVolumes.length, 1, 'one Cinder snapshot made');
      assert.equal(s.run.outputs['snapshot-id'], image.id);
      assert.equal(s.run.outputs['volume-backed'], 'true');
      assert.deepEqual(jsonOutput(s, 'volume-snapshot-ids'), [newVolumes[0]!.id]);
      assert.equal(s.run.outputs['snapshot-size'], '0');
      assert.equal(s.run.outputs['snapshot-status'], 'active');
      assert.ok(image.properties.block_device_mapping?.includes(newVolumes[0]!.id));
      const [row] = tableRows(s, CREATE_TABLE);
      assert.equal(row![3], `${server.name} (${server.id}), volume-backed`);
    });

    test('a name that is a prefix of another server name snapshots the exact one', async () => {
      const base = unique('web');
      const other = cloud.addServer({ region: 'GRA7', name: `${base}-2` });
      const longer = cloud.addServer({ region: 'GRA7', name: `pre-${base}` });
      const server = cloud.addServer({ region: 'GRA7', name: base });
      const s = await step(cloud, { ...creds, instance: base });
      checkCreated(cloud, s, server);
      assert.equal(snapshotsOf(cloud, other).length, 0);
      assert.equal(snapshotsOf(cloud, longer).length, 0);
    });

    test('wait: false returns before the snapshot is active', async () => {
      const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
      const s = await step(cloud, { ...creds, instance: server.name, wait: 'false' });
      const image = checkCreated(cloud, s, server, { status: /^(queued|saving)$/ });
      const polls = s.records.filter((r) => r.method === 'GET' && r.path.endsWith(`/v2/images/${image.id}`));
      assert.equal(polls.length, 1, 'looked at the image once, no waiting');
      // The cloud carries on and finishes it.
      assert.ok(await eventually(() => cloud.image(image.id)?.status === 'active', 3_000));
    });

    test('snapshot-properties and a name template', async () => {
      const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
      const s = await step(cloud, {
        ...creds,
        instance: server.name,
        'snapshot-name': '{instance}-{sha}-{run_id}-{region}',
        'snapshot-properties': 'purpose=pre-deploy\n# a comment\n\nticket = OPS-12',
      });
      assertSuccess(s);
      const [image] = snapshotsOf(cloud, server);
      assert.equal(image?.name, `${server.name}-0123456-4242-GRA7`);
      assert.equal(s.run.outputs['snapshot-name'], image?.name);
      assert.equal(image?.properties.purpose, 'pre-deploy');
      assert.equal(image?.properties.ticket, 'OPS-12');
    });

    test('old Nova (2.38): the image ID comes from the Location header', async () => {
      const old = await startCloud({ snapshotSeconds: 1, maxMicroversion: '2.38' });
      try {
        const server = old.addServer({ region: 'GRA7', name: unique('web') });
        const s = await step(old, { ...passwordInputs(old), instance: server.name });
        checkCreated(old, s, server);
        const creates = s.records.filter((r) => r.action === 'createImage');
        // 2.45 is refused with 406 before Nova acts; the base version answers with a Location header.
        assert.equal(
          creates.some((r) => r.status === 202),
          true,
        );
        assert.ok(
          s.records.some((r) => r.status === 406),
          'the microversion was refused once',
        );
        assert.equal(executedCreates(s.records, server.id).length, 1);
        assert.match(s.run.stdout, /Nova microversion 2\.1\)/);
      } finally {
        await old.stop();
      }
    });

    test('with keep-last: prunes this instance after the snapshot is active', async () => {
      const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
      const other = cloud.addServer({ region: 'GRA7', name: unique('web') });
      const old = seedSnapshots(cloud, server, 3);
      const horizon = seedSnapshots(cloud, server, 1, { managed: false, name: () => `${server.name}-by-hand`, startHoursAgo: 200 });
      const othersOld = seedSnapshots(cloud, other, 2, { startHoursAgo: 300 });
      const otherTemplate = seedSnapshots(cloud, server, 1, { name: () => `nightly-${server.name}`, startHoursAgo: 400 });
      const s = await step(cloud, { ...creds, instance: server.name, 'keep-last': '2' });
      assertSuccess(s);
      const created = s.run.outputs['snapshot-id']!;
      assert.equal(cloud.image(created)?.status, 'active');
      // The new one and the newest old one are kept; the two older ones go.
      assert.deepEqual(sorted(jsonOutput(s, 'kept-snapshot-ids')), sorted([created, old[0]!.id]));
      assert.deepEqual(sorted(jsonOutput(s, 'deleted-snapshot-ids')), sorted([old[1]!.id, old[2]!.id]));
      assert.equal(s.run.outputs['deleted-count'], '2');
      for (const gone of [old[1]!, old[2]!]) assert.equal(cloud.image(gone.id), undefined);
      for (const kept of [old[0]!, ...horizon, ...othersOld, ...otherTemplate]) assert.ok(cloud.image(kept.id), `${kept.name} is still there`);
      // Deletions only after the createImage and the wait, and no other image touched.
      const firstDelete = s.records.findIndex((r) => r.method === 'DELETE');
      const lastPoll = s.records.findLastIndex((r) => r.method === 'GET' && r.path.endsWith(`/v2/images/${created}`));
      assert.ok(firstDelete > lastPoll, 'pruned after the wait');
      assert.equal(deletes(s.records).length, 2);
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
    test('with keep-last on a volume-backed server: volume-snapshot-ids are the new snapshot’s', async () => {
      const server = cloud.addServer({ region: 'GRA7', name: unique('db'), volumeBacked: true });
      const { image: old, volumeSnapshotId } = volumeBackedSnapshot(cloud, server, {
        name: `${server.name}-${stamp(new Date(Date.now() - DAY))}`,
        createdAt: new Date(Date.now() - DAY),
      });
      const oldVolume = { id: volumeSnapshotId };
      const volumesBefore = new Set(cloud.volumeSnapshots('GRA7').map((v) => v.id));
      const s = await step(cloud, { ...creds, instance: server.name, 'keep-last': '1' });
      assertSuccess(s);
      const fresh = cloud.volumeSnapshots('GRA7').filter((v) => !volumesBefore.has(v.id));
      assert.equal(fresh.length, 1);
      assert.equal(cloud.image(old!.id), undefined, 'the old snapshot was pruned');
      assert.ok(await eventually(() => !cloud.volumeSnapshots('GRA7').some((v) => v.id === oldVolume.id)), 'and its Cinder snapshot');
      // action.yml: volume-snapshot-ids of create are "those behind the new image".
      assert.deepEqual(jsonOutput(s, 'volume-snapshot-ids'), [fresh[0]!.id], 'volume-snapshot-ids names the new snapshot, not the pruned one');
    });

    test('with keep-last: no prune when the snapshot failed (image killed)', async () => {
      const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
      const old = seedSnapshots(cloud, server, 3);
      cloud.fault({ kind: 'image-killed', match: { action: 'createImage', path: new RegExp(server.id) } });
      const s = await step(cloud, { ...creds, instance: server.name, 'keep-last': '1' });
      assertFailure(s, ['is killed']);
      const killed = snapshotsOf(cloud, server).filter((i) => i.status === 'killed');
      assert.equal(killed.length, 1);
      assert.equal(s.run.outputs['snapshot-id'], killed[0]!.id);
      for (const image of old) assert.ok(cloud.image(image.id), `${image.name} is still there`);
      assert.equal(deletes(s.records).length, 0, 'no DELETE sent');
      assert.equal(executedCreates(s.records, server.id).length, 1);
    });
  });

  describe('delete', { concurrency: 1 }, () => {
    let cloud: LocalCloud;
    let creds: Record<string, string>;
    before(async () => {
      cloud = await startCloud({ snapshotSeconds: 1 });
      creds = passwordInputs(cloud);
    });
    after(() => cloud.stop());

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

    test('by name', async () => {
      const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
      const [target, neighbour] = seedSnapshots(cloud, server, 2);
      const lookalike = cloud.addImage({ region: 'GRA7', name: `${target!.name}-copy`, properties: managedProps(server) });
      const s = await step(cloud, { ...creds, mode: 'delete', 'snapshot-name': target!.name! });
      assertSuccess(s);
      assert.equal(cloud.image(target!.id), undefined);
      assert.ok(cloud.image(neighbour!.id));
      assert.ok(cloud.image(lookalike.id));
      assert.deepEqual(jsonOutput(s, 'deleted-snapshot-ids'), [target!.id]);
      // No volume snapshots: that column, empty, is left out.
      assert.deepEqual(tableRows(s, ['Snapshot', 'Snapshot ID']), [[target!.name, target!.id]]);
    });

    test('by name and instance: the namesake of another instance stays', async () => {
      const name = unique('release');
      const a = cloud.addServer({ region: 'GRA7', name: unique('web') });
      const b = cloud.addServer({ region: 'GRA7', name: unique('web') });
      const ofA = cloud.addImage({ region: 'GRA7', name, properties: managedProps(a) });
      const ofB = cloud.addImage({ region: 'GRA7', name, properties: managedProps(b) });
      // Without the instance the name is ambiguous: nothing is deleted and both IDs are named.
      const ambiguous = await step(cloud, { ...creds, mode: 'delete', 'snapshot-name': name });
      assertFailure(ambiguous, ['2 snapshots are named', ofA.id, ofB.id, 'snapshot-id']);
      assert.equal(mutating(ambiguous.records).length, 0);
      const s = await step(cloud, { ...creds, mode: 'delete', 'snapshot-name': name, instance: b.name });
      assertSuccess(s);
      assert.equal(cloud.image(ofB.id), undefined);
      assert.ok(cloud.image(ofA.id));
      assert.deepEqual(jsonOutput(s, 'deleted-snapshot-ids'), [ofB.id]);
    });

    test('by name: names are matched exactly, though Glance compares them case-insensitively', async () => {
      const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
      const name = unique('Release');
      const upper = cloud.addImage({ region: 'GRA7', name: name.toUpperCase(), properties: managedProps(server) });
      const target = cloud.addImage({ region: 'GRA7', name, properties: managedProps(server) });
      const s = await step(cloud, { ...creds, mode: 'delete', 'snapshot-name': name });
      assertSuccess(s);
      assert.equal(cloud.image(target.id), undefined);
      assert.ok(cloud.image(upper.id), `${upper.name} stays`);
    });

    test('by name: a name Glance would read as an operator (in:…)', async () => {
      const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
      const a = cloud.addImage({ region: 'GRA7', name: unique('a'), properties: managedProps(server) });
      const b = cloud.addImage({ region: 'GRA7', name: unique('b'), properties: managedProps(server) });
      const target = cloud.addImage({ region: 'GRA7', name: `in:${a.name},${b.name}`, properties: managedProps(server) });
      const s = await step(cloud, { ...creds, mode: 'delete', 'snapshot-name': target.name! });
      assertSuccess(s);
      assert.equal(cloud.image(target.id), undefined);
      assert.ok(cloud.image(a.id) && cloud.image(b.id), 'the images the operator would name stay');
    });

    test('an image ID that is already gone: success with a notice', async () => {
      const gone = '0b9e4e8c-3f47-4d2a-9a37-6d1c2b7f0e11';
      const s = await step(cloud, { ...creds, mode: 'delete', 'snapshot-id': gone });
      assertSuccess(s);
      assert.match(s.run.stdout, new RegExp(`::notice::Snapshot ${gone} is already gone`));
      assert.equal(s.run.outputs['deleted-count'], '0');
      assert.deepEqual(jsonOutput(s, 'deleted-snapshot-ids'), []);
      assert.equal(mutating(s.records).length, 0);
      assert.match(summaryText(s.run.summary), new RegExp(`Nothing to delete: ${gone} was not found`));
    });

    test('a missing name is an error', async () => {
      const name = unique('nothing');
      const before = cloud.images('GRA7').length;
      const s = await step(cloud, { ...creds, mode: 'delete', 'snapshot-name': name });
      assertFailure(s, [`No snapshot named "${name}"`, 'region GRA7', 'ignore-missing']);
      assert.equal(mutating(s.records).length, 0);
      assert.equal(cloud.images('GRA7').length, before);
    });

    test('a missing name with ignore-missing: success with a notice', async () => {
      const name = unique('nothing');
      const s = await step(cloud, { ...creds, mode: 'delete', 'snapshot-name': name, 'ignore-missing': 'true' });
      assertSuccess(s);
      assert.match(s.run.stdout, new RegExp(`::notice::No snapshot named "${name}" in region GRA7: nothing to delete`));
      assert.equal(s.run.outputs['deleted-count'], '0');
      assert.equal(mutating(s.records).length, 0);
    });

    test('a protected image is refused before any DELETE', async () => {
      const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
      const image = cloud.addImage({ region: 'GRA7', name: unique('golden'), protected: true, properties: managedProps(server) });
      const s = await step(cloud, { ...creds, mode: 'delete', 'snapshot-id': image.id });
      assertFailure(s, [image.id, 'is protected', 'openstack image set --unprotected']);
      assert.ok(cloud.image(image.id));
      assert.equal(deletes(s.records).length, 0);
      assert.equal(mutating(s.records).length, 0);
    });

    test('an image in use (409) is a clear error', async () => {
      const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
      const image = cloud.addImage({ region: 'GRA7', name: unique('base'), properties: managedProps(server) });
      cloud.markInUse(image.id);
      const s = await step(cloud, { ...creds, mode: 'delete', 'snapshot-name': image.name! });
      assertFailure(s, [image.id, 'in use', 'Delete or rebuild what uses it']);
      assert.ok(cloud.image(image.id));
      assert.equal(deletes(s.records).length, 1, 'one DELETE, not retried');
      assert.equal(deletes(s.records)[0]!.status, 409);
    });

    test('a volume-backed snapshot: the Cinder snapshot goes too', async () => {
      const server = cloud.addServer({ region: 'GRA7', name: unique('db'), volumeBacked: true });
      const { image, volumeSnapshotId } = volumeBackedSnapshot(cloud, server, { name: `${server.name}-1` });
      const volume = { id: volumeSnapshotId };
      const keepVolume = cloud.addVolumeSnapshot({ region: 'GRA7', name: 'unrelated' });
      const s = await step(cloud, { ...creds, mode: 'delete', 'snapshot-id': image!.id });
      assertSuccess(s);
      assert.equal(cloud.image(image!.id), undefined);
      assert.ok(await eventually(() => !cloud.volumeSnapshots('GRA7').some((v) => v.id === volume.id)), 'the Cinder snapshot is gone');
      assert.ok(cloud.volumeSnapshots('GRA7').some((v) => v.id === keepVolume.id));
      assert.deepEqual(jsonOutput(s, 'volume-snapshot-ids'), [volume.id]);
      assert.deepEqual(tableRows(s, DELETE_TABLE), [[image!.name, image!.id, `${volume.id} (deleted)`]]);
    });
  });

  describe('prune', { concurrency: 1 }, () => {
    let cloud: LocalCloud;
    let creds: Record<string, string>;
    before(async () => {
      cloud = await startCloud({ snapshotSeconds: 1 });
      creds = passwordInputs(cloud);
    });
    after(() => cloud.stop());

    test('a policy on one instance', async () => {
      const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
      const snaps = seedSnapshots(cloud, server, 5);
      const s = await step(cloud, { ...creds, mode: 'prune', instance: server.name, 'keep-last': '2' });
      assertSuccess(s);
      const doomed = snaps.slice(2);
      assert.deepEqual(sorted(jsonOutput(s, 'deleted-snapshot-ids')), sorted(ids(doomed)));
      assert.equal(s.run.outputs['deleted-count'], '3');
      assert.deepEqual(jsonOutput(s, 'kept-snapshot-ids'), ids(snaps.slice(0, 2)));
      assert.deepEqual(sorted(ids(snapshotsOf(cloud, server))), sorted(ids(snaps.slice(0, 2))));
      assert.equal(deletes(s.records).length, 3);
      assert.match(summaryText(s.run.summary), /^Prune\n/m);
      assert.match(summaryText(s.run.summary), /Policy: keep-last 2\. In scope: 5; kept: 2; deleted: 3\./);
      assert.deepEqual(
        tableRows(s, PRUNE_TABLE).map((r) => [r[1], r[2], r[5]]),
        snaps.map((i, n) => [i.name, i.id, n === 0 ? 'kept (last, newest)' : n === 1 ? 'kept (last)' : 'deleted']),
      );
    });

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
      const s = await step(cloud, { ...creds, mode: 'prune', instance: server.name, 'keep-last': '1', 'dry-run': 'true' });
      assertSuccess(s);
      assert.equal(mutating(s.records).length, 0, 'no mutating request');
      assert.deepEqual(sorted(ids(snapshotsOf(cloud, server))), sorted(ids(snaps)));
      assert.equal(s.run.outputs['deleted-count'], '0');
      assert.match(s.run.stdout, /::notice title=openstack-snapshot-action::Dry run: 3 snapshot\(s\) would be deleted, 1 kept/);
      const text = summaryText(s.run.summary);
      assert.match(text, /Prune \(dry run\)/);
      assert.match(text, /^Region GRA7 · Mode prune \(dry run: nothing changed\)\n/);
      assert.match(text, /In scope: 4; kept: 1; would delete: 3\. Would free: 192\.0 KiB\.\n/);
      assert.match(s.run.stdout, /^::group::Would delete 3 snapshot\(s\)\n(Dry run: would delete snapshot .*\n){3}::endgroup::$/m);
      assert.deepEqual(
        tableRows(s, PRUNE_TABLE).map((r) => r[5]),
        ['kept (last, newest)', 'would delete', 'would delete', 'would delete'],
      );
    });

    test('more than one Glance page in scope: follows next', async () => {
      const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
      const count = 1_005;
      const now = Date.now();
      const snaps = cloud.addImages('GRA7', count, (i) => ({
        name: `${server.name}-${String(i).padStart(4, '0')}`,
        createdAt: new Date(now - (i + 1) * HOUR),
        properties: managedProps(server),
      }));
      const s = await step(cloud, { ...creds, mode: 'prune', instance: server.name, 'keep-last': '1000' });
      assertSuccess(s);
      const lists = s.records.filter((r) => r.method === 'GET' && /\/v2\/images\?/.test(r.path));
      assert.ok(lists.length >= 2, `${lists.length} list requests`);
      assert.ok(
        lists.some((r) => /[?&]marker=/.test(r.path)),
        'a request carried the marker of the next link',
      );
      assert.ok(
        lists.every((r) => /[?&]limit=1000\b/.test(r.path)),
        'pages of 1000',
      );
      // The five oldest are on the second page: only following `next` finds them.
      const doomed = snaps.slice(1_000);
      assert.deepEqual(sorted(jsonOutput(s, 'deleted-snapshot-ids')), sorted(ids(doomed)));
      assert.equal(jsonOutput(s, 'kept-snapshot-ids').length, 1_000);
      for (const image of doomed) assert.equal(cloud.image(image.id), undefined);
      assert.equal(snapshotsOf(cloud, server).length, 1_000);
      assert.match(summaryText(s.run.summary), /In scope: 1005; kept: 1000; deleted: 5\./);
      assert.match(summaryText(s.run.summary), /… and 505 more/);
    });

    test('keep-within, on the snapshots of a deleted server (by its ID)', async () => {
      const gone = { id: '5d0c0f3e-8a4b-4c1e-9f70-2b6a1c3d4e5f', name: unique('old'), region: 'GRA7' } as Server;
      const snaps = seedSnapshots(cloud, gone, 5, { hoursApart: 24 });
      const s = await step(cloud, { ...creds, mode: 'prune', instance: gone.id, 'keep-within': '2d' });
      assertSuccess(s);
      assert.match(s.run.stdout, new RegExp(`Instance ${gone.id} is not found; pruning the snapshots that name it`));
      // Within 2 days of the newest: the newest and the next one (24 h older); 48 h is not strictly within.
      assert.deepEqual(sorted(jsonOutput(s, 'deleted-snapshot-ids')), sorted(ids(snaps.slice(2))));
      assert.match(summaryText(s.run.summary), /Policy: keep-within 2d\. In scope: 5; kept: 2; deleted: 3\./);
    });

    test('max-deletes: refuses and deletes nothing', async () => {
      const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
      const snaps = seedSnapshots(cloud, server, 6);
      const s = await step(cloud, { ...creds, mode: 'prune', instance: server.name, 'keep-last': '1', 'max-deletes': '3' });
      assertFailure(s, ['max-deletes', '(3)', 'would delete 5 snapshots', 'nothing was deleted']);
      assert.equal(mutating(s.records).length, 0);
      assert.deepEqual(sorted(ids(snapshotsOf(cloud, server))), sorted(ids(snaps)));
      assert.match(summaryText(s.run.summary), /Refused:/);
      assert.match(summaryText(s.run.summary), /deleted: 0\./);
    });

    /** Snapshots in and around the scope of an instance, all older than a day. */
    function neighbourhood() {
      const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
      const other = cloud.addServer({ region: 'GRA7', name: unique('web') });
      const managed = seedSnapshots(cloud, server, 3);
      const unmanaged = cloud.addImage({
        region: 'GRA7',
        name: `${server.name}-horizon`,
        createdAt: new Date(Date.now() - 10 * DAY),
        properties: unmanagedProps(server),
      });
      const protectedOne = cloud.addImage({
        region: 'GRA7',
        name: `${server.name}-golden`,
        protected: true,
        createdAt: new Date(Date.now() - 20 * DAY),
        properties: managedProps(server),
      });
      const ofOther = seedSnapshots(cloud, other, 2, { startHoursAgo: 500 });
      // Another project's image that says it is a snapshot of this instance, visible to everyone.
      const foreign = cloud.addImage({
        region: 'GRA7',
        name: `${server.name}-foreign`,
        owner: cloud.world.otherProjectId,
        visibility: 'public',
        createdAt: new Date(Date.now() - 30 * DAY),
        properties: managedProps(server),
      });
      return { server, managed, unmanaged, protectedOne, ofOther, foreign };
    }

    test('include-unmanaged off: only this action’s snapshots', async () => {
      const n = neighbourhood();
      const s = await step(cloud, { ...creds, mode: 'prune', instance: n.server.name, 'keep-last': '1' });
      assertSuccess(s);
      const doomed = n.managed.slice(1);
      assert.deepEqual(sorted(jsonOutput(s, 'deleted-snapshot-ids')), sorted(ids(doomed)));
      for (const image of doomed) assert.equal(cloud.image(image.id), undefined);
      for (const image of [n.managed[0]!, n.unmanaged, n.protectedOne, ...n.ofOther, n.foreign]) assert.ok(cloud.image(image.id), `${image.name} stays`);
      assert.deepEqual(sorted(jsonOutput(s, 'kept-snapshot-ids')), sorted([n.managed[0]!.id, n.protectedOne.id]));
      const rows = tableRows(s, PRUNE_TABLE);
      assert.deepEqual(rows.find((r) => r[2] === n.protectedOne.id)?.[5], 'kept (protected)');
      assert.ok(!rows.some((r) => [n.unmanaged.id, n.foreign.id, ...ids(n.ofOther)].includes(r[2]!)), 'out-of-scope images are not even listed');
    });

    test('include-unmanaged on: Nova snapshots of the instance too, never protected or foreign ones', async () => {
      const n = neighbourhood();
      const s = await step(cloud, { ...creds, mode: 'prune', instance: n.server.name, 'keep-last': '1', 'include-unmanaged': 'true' });
      assertSuccess(s);
      const doomed = [...n.managed.slice(1), n.unmanaged];
      assert.deepEqual(sorted(jsonOutput(s, 'deleted-snapshot-ids')), sorted(ids(doomed)));
      for (const image of doomed) assert.equal(cloud.image(image.id), undefined);
      for (const image of [n.managed[0]!, n.protectedOne, ...n.ofOther, n.foreign]) assert.ok(cloud.image(image.id), `${image.name} stays`);
      assert.equal(deletes(s.records).length, doomed.length, 'no DELETE for anything else');
    });

    test('include-unmanaged on a volume-backed server: its Cinder-backed snapshots, not another volume’s', async () => {
      const server = cloud.addServer({ region: 'GRA7', name: unique('db'), volumeBacked: true });
      const bdm = (snapshotId: string) => ({
        block_device_mapping: JSON.stringify([{ source_type: 'snapshot', snapshot_id: snapshotId, boot_index: 0 }]),
        bdm_v2: 'True',
      });
      const [managed] = seedSnapshots(cloud, server, 1);
      // Nova's own volume-backed snapshots (Horizon's) carry no instance property: only the Cinder snapshot ties them to the server.
      const { image: byHand, volumeSnapshotId } = volumeBackedSnapshot(cloud, server, {
        name: `${server.name}-by-hand`,
        createdAt: new Date(Date.now() - 3 * DAY),
        properties: {},
      });
      const mine = { id: volumeSnapshotId };
      const theirs = cloud.addVolumeSnapshot({ region: 'GRA7', name: `snapshot for ${server.name}-other` });
      const other = cloud.addImage({
        region: 'GRA7',
        name: `${server.name}-other`,
        createdAt: new Date(Date.now() - 4 * DAY),
        size: 0,
        properties: bdm(theirs.id),
      });
      const s = await step(cloud, { ...creds, mode: 'prune', instance: server.name, 'keep-last': '1', 'include-unmanaged': 'true' });
      assertSuccess(s);
      assert.deepEqual(jsonOutput(s, 'deleted-snapshot-ids'), [byHand.id]);
      assert.deepEqual(jsonOutput(s, 'volume-snapshot-ids'), [mine.id]);
      assert.ok(cloud.image(managed!.id));
      assert.equal(cloud.image(byHand.id), undefined);
      assert.ok(cloud.image(other.id), 'a snapshot of another volume stays');
      assert.ok(await eventually(() => !cloud.volumeSnapshots('GRA7').some((v) => v.id === mine.id)));
      assert.ok(cloud.volumeSnapshots('GRA7').some((v) => v.id === theirs.id));
    });

    test('a snapshot still being made is never pruned', async () => {
      const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
      const snaps = seedSnapshots(cloud, server, 3);
      const inProgress = cloud.addImage({
        region: 'GRA7',
        name: `${server.name}-running`,
        status: 'queued',
        createdAt: new Date(Date.now() - 10 * DAY),
        properties: managedProps(server),
      });
      const s = await step(cloud, { ...creds, mode: 'prune', instance: server.name, 'keep-last': '1' });
      assertSuccess(s);
      assert.deepEqual(sorted(jsonOutput(s, 'deleted-snapshot-ids')), sorted(ids(snaps.slice(1))));
      assert.equal(cloud.image(inProgress.id)?.status, 'queued');
    });

    test('include-unmanaged without an instance: Nova snapshots and volume-backed ones, never uploaded images', async () => {
      const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
      const [managed] = seedSnapshots(cloud, server, 1);
      const old = (name: string, days: number, properties: Record<string, string>) =>
        cloud.addImage({ region: 'GRA7', name: `${server.name}-${name}`, createdAt: new Date(Date.now() - days * DAY), properties });
      const nova = old('horizon', 2, unmanagedProps(server));
      const byHand = (name: string, days: number) => {
        const volume = cloud.addVolumeSnapshot({ region: 'GRA7', name: `snapshot for ${server.name}-${name}` });
        return old(name, days, { block_device_mapping: JSON.stringify([{ source_type: 'snapshot', snapshot_id: volume.id, boot_index: 0 }]), bdm_v2: 'True' });
      };
      // Volume-backed snapshots taken by hand record no instance: they are one group of their own under the policy.
      const newestByHand = byHand('volume-new', 3);
      const volumeBacked = byHand('volume', 4);
      const uploaded = old('uploaded', 4, { os_distro: 'debian' });
      const s = await step(cloud, { ...creds, mode: 'prune', 'snapshot-name': `${server.name}-*`, 'keep-last': '1', 'include-unmanaged': 'true' });
      assertSuccess(s);
      assert.deepEqual(sorted(jsonOutput(s, 'deleted-snapshot-ids')), sorted([nova.id, volumeBacked.id]));
      assert.ok(cloud.image(newestByHand.id), 'the newest of the snapshots that record no instance stays');
      assert.ok(cloud.image(managed!.id));
      assert.ok(cloud.image(uploaded.id), 'an uploaded image is not a snapshot');
      assert.ok(!tableRows(s, PRUNE_TABLE).some((r) => r[2] === uploaded.id), 'not even in scope');
    });

    test('a glob scopes the prune to matching names (no instance)', async () => {
      const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
      const nightly = seedSnapshots(cloud, server, 4, { name: (i) => `${server.name}-nightly-${i}` });
      const weekly = seedSnapshots(cloud, server, 3, { name: (i) => `${server.name}-weekly-${i}`, startHoursAgo: 1000 });
      const lookalike = seedSnapshots(cloud, server, 1, { name: () => `x${server.name}-nightly-old`, startHoursAgo: 2000 });
      const s = await step(cloud, { ...creds, mode: 'prune', 'snapshot-name': `${server.name}-nightly-?`, 'keep-last': '2' });
      assertSuccess(s);
      const doomed = nightly.slice(2);
      assert.deepEqual(sorted(jsonOutput(s, 'deleted-snapshot-ids')), sorted(ids(doomed)));
      for (const image of [...nightly.slice(0, 2), ...weekly, ...lookalike]) assert.ok(cloud.image(image.id), `${image.name} stays`);
      assert.equal(tableRows(s, PRUNE_TABLE).length, 4, 'only the nightly ones are in scope');
      assert.equal(tokenPosts(s.records).length, 1);
    });
  });
});
