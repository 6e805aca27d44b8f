// Mode prune against the local cloud, in this process: the scope (Glance's queries, checked again
// here), and what is deleted (dry run, max-deletes, refusals, concurrency, the rate ceiling).
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { MANAGED_BY } from '../../src/lib/constants.ts';
import { prune } from '../../src/modes/prune/prune.ts';
import { runMode } from '../../src/modes/run.ts';
import { Refusal } from '../../src/modes/outcome.ts';
import type { Retention } from '../../src/settings/inputs.ts';
import type { PruneSettings } from '../../src/settings/prune.ts';
import type { LocalCloudOptions, RequestRecord } from '../local-cloud/cloud.ts';
import { failed, Local, REGION, succeeded } from '../support/in-process.ts';
import { stdout } from '../support/step.ts';

const MANAGED = { managed_by: MANAGED_BY };
const OTHER = '9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a';

/**
 * A cloud with the server `web` and `count` snapshots of it, img-00 the newest, one hour apart
 * (each with `properties(i)`), and a prune of it under `policy`.
 */
async function snapshotted(t: TestContext, count: number, properties: (i: number) => Record<string, string> = () => ({}), options: LocalCloudOptions = {}) {
  const local = await Local.start(t, options);
  const web = local.server();
  for (let i = 0; i < count; i += 1) {
    const n = String(i).padStart(2, '0');
    local.snapshot(web, { id: `img-${n}`, name: `web-${n}`, createdAt: new Date(Date.UTC(2025, 0, 10, 12 - i)) }, properties(i));
  }
  const pruned = (policy: Partial<Retention> = {}, overrides: Partial<PruneSettings> = {}, client = local.client()) =>
    prune(client, local.pruneSettings(policy, overrides));
  return { local, web, pruned };
}

/** What was deleted in Glance, by ID, sorted. */
const deleted = (local: Local) =>
  local
    .changes()
    .flatMap((r) => /^DELETE \/v2\/images\/(.+)$/.exec(r)?.[1] ?? [])
    .sort();

describe('prune: the scope', () => {
  it('lists managed, active snapshots of this project (one query), newest first', async (t) => {
    const { local, pruned } = await snapshotted(t, 3);
    const result = succeeded(await pruned());
    assert.deepEqual(local.listings(), [{ limit: '1000', owner: local.lc.demo.projectId, status: 'active', sort: 'created_at:desc', ...MANAGED }]);
    assert.deepEqual(deleted(local), ['img-01', 'img-02']);
    assert.deepEqual(
      result.decisions.map((d) => [d.snapshot.id, d.keep]),
      [
        ['img-00', true],
        ['img-01', false],
        ['img-02', false],
      ],
    );
    assert.deepEqual(result.failures, []);
    assert.deepEqual(local.changes(), ['DELETE /v2/images/img-01', 'DELETE /v2/images/img-02'].sort(), 'nothing but the DELETEs');
  });

  it('mode prune treats the backups restore took (snapshot-before) as the managed snapshots they are: counted, and deleted by the policy', async (t) => {
    const { local, pruned } = await snapshotted(t, 3, (i): Record<string, string> => (i === 2 ? { taken_before_restore_of: 'img-known-good' } : {}));
    succeeded(await pruned({ policy: { last: 1 } }));
    assert.deepEqual(deleted(local), ['img-01', 'img-02']);
  });

  it('with an instance: resolves it and adds source_instance_id', async (t) => {
    const { local, web, pruned } = await snapshotted(t, 2);
    await pruned({}, { instance: 'web' });
    assert.equal(local.listings()[0]?.source_instance_id, web.id);
    assert.deepEqual(deleted(local), ['img-01']);
  });

  it('with the UUID of a deleted server: prunes the snapshots that name it', async (t) => {
    const local = await Local.start(t);
    const GONE = '7d1e4a52-3c6b-4e8f-9a0d-1b2c3d4e5f60';
    local.snapshot({ id: GONE }, { id: 'img-00', name: 'web-00', createdAt: '2025-01-10T12:00:00Z' });
    local.snapshot({ id: GONE }, { id: 'img-01', name: 'web-01', createdAt: '2025-01-10T11:00:00Z' });
    await prune(local.client(), local.pruneSettings({}, { instance: GONE }));
    assert.equal(local.listings()[0]?.source_instance_id, GONE);
    assert.deepEqual(deleted(local), ['img-01']);
    assert.match(stdout(), new RegExp(`Instance ${GONE} is not found; pruning the snapshots that name it`));
  });

  it('with a server name that does not exist: an error, nothing listed', async (t) => {
    const local = await Local.start(t);
    const outcome = await runMode(local.client(), local.pruneSettings({}, { instance: 'web' }));
    assert.match(failed(outcome).message, new RegExp(`No instance named or with ID "web" in region ${REGION}`));
    assert.deepEqual(local.listings(), []);
  });

  it('include-unmanaged without an instance adds image_type=snapshot and bdm_v2=True queries; the policy applies per instance', async (t) => {
    const { local, web, pruned } = await snapshotted(t, 1, () => ({ image_type: 'snapshot' }));
    local.lc.addImage({
      region: REGION,
      id: 'horizon-1',
      name: 'by hand',
      createdAt: '2025-01-01T00:00:00Z',
      properties: { image_type: 'snapshot', instance_uuid: web.id },
    });
    // Volume-backed snapshots taken by hand record no instance: together they are one group, whose newest stays.
    for (const [n, day] of [
      [2, '02'],
      [1, '01'],
    ] as const) {
      local.cinderSnapshot(`cinder-snap-${n}`, 'bfv by hand');
      local.volumeBackedImage({ id: `bfv-${n}`, name: 'bfv by hand', createdAt: `2024-12-${day}T00:00:00Z` }, [`cinder-snap-${n}`]);
    }
    const result = succeeded(await pruned({ includeUnmanaged: true }));
    const base = { limit: '1000', owner: local.lc.demo.projectId, status: 'active', sort: 'created_at:desc' };
    assert.deepEqual(local.listings().slice(0, 3), [
      { ...base, ...MANAGED },
      { ...base, image_type: 'snapshot' },
      { ...base, bdm_v2: 'True' },
    ]);
    assert.equal(result.decisions.length, 4, 'an image found by two queries counts once');
    assert.deepEqual(deleted(local), ['bfv-1', 'horizon-1']);
    assert.deepEqual(result.deletions.find((d) => d.image.id === 'bfv-1')!.volumeSnapshots, [{ id: 'cinder-snap-1', outcome: 'deleted' }]);
    assert.deepEqual(
      local.lc.volumeSnapshots(REGION).map((s) => [s.id, s.status]),
      [
        ['cinder-snap-2', 'available'],
        ['cinder-snap-1', 'deleting'],
      ],
    );
  });

  it('keep-last over several servers keeps that many of each, never that many of the fleet', async (t) => {
    const { local, pruned } = await snapshotted(t, 3);
    for (let i = 0; i < 3; i += 1) local.snapshot({ id: OTHER }, { id: `db-${i}`, name: `db-${i}`, createdAt: new Date(Date.UTC(2025, 0, 9, 12 - i)) });
    const result = succeeded(await pruned({ policy: { last: 2 } }));
    assert.deepEqual(deleted(local), ['db-2', 'img-02']);
    assert.deepEqual(
      result.decisions.filter((d) => d.keep).map((d) => d.snapshot.id),
      ['img-00', 'img-01', 'db-0', 'db-1'],
      'newest first across the servers',
    );
  });

  it('include-unmanaged with an instance adds image_type=snapshot + instance_uuid (no bdm_v2 query)', async (t) => {
    const { local, web, pruned } = await snapshotted(t, 1);
    await pruned({ includeUnmanaged: true }, { instance: web.id });
    const base = { limit: '1000', owner: local.lc.demo.projectId, status: 'active', sort: 'created_at:desc' };
    assert.deepEqual(local.listings(), [
      { ...base, ...MANAGED, source_instance_id: web.id },
      { ...base, image_type: 'snapshot', instance_uuid: web.id },
    ]);
    assert.deepEqual(local.changes(), []);
  });

  it('include-unmanaged with a volume-backed instance takes the bdm_v2 snapshots of its volumes, found through Cinder', async (t) => {
    const local = await Local.start(t);
    const web = local.server({ volumeBacked: true });
    const volumeId = web.rootVolumeId ?? '';
    for (const [id, image, createdAt] of [
      ['new', 'by-hand-new', '2025-01-10T12:00:00Z'],
      ['old', 'by-hand-old', '2025-01-09T12:00:00Z'],
    ]) {
      local.cinderSnapshot(`snap-${id}`, image!, { volumeId });
      local.volumeBackedImage({ id: `bfv-${id}`, name: image!, createdAt }, [`snap-${id}`]);
    }
    local.cinderSnapshot('snap-of-another-volume', 'other');
    local.volumeBackedImage({ id: 'bfv-other', name: 'other', createdAt: '2025-01-01T12:00:00Z' }, ['snap-of-another-volume']);
    const result = succeeded(await prune(local.client(), local.pruneSettings({ includeUnmanaged: true }, { instance: web.id })));
    assert.deepEqual(
      result.decisions.map((d) => d.snapshot.id),
      ['bfv-new', 'bfv-old'],
    );
    assert.deepEqual(local.changes(), ['DELETE /v2/images/bfv-old', 'DELETE /snapshots/snap-old']);
    assert.ok(local.sent().includes(`GET /snapshots?volume_id=${volumeId}&limit=1000`), 'Cinder was asked for the snapshots of its volume');
  });

  it('re-checks every filter: a Glance that ignores them cannot get unrelated images deleted', async (t) => {
    const { local, web, pruned } = await snapshotted(t, 2);
    const old = { createdAt: '2020-01-01T00:00:00Z' };
    local.snapshot(web, { id: 'other-project', name: 'web-01', owner: 'someone-else', ...old });
    local.snapshot(web, { id: 'still-saving', name: 'web-01', status: 'saving', ...old });
    local.lc.addImage({ region: REGION, id: 'not-managed', name: 'web-99', ...old, properties: { image_type: 'snapshot', instance_uuid: web.id } });
    local.snapshot(web, { id: 'other-manager', name: 'web-01', ...old }, { managed_by: 'terraform' });
    local.snapshot(web, { id: 'other-instance', name: 'web-01', ...old }, { source_instance_id: 'another-server' });
    local.snapshot(web, { id: 'no-name', name: null, ...old });
    local.snapshot(web, { id: 'public-base', name: 'web-01', visibility: 'public', ...old });
    Object.assign(local.lc.world.findImage('public-base') ?? assert.fail(), { owner: null });
    local.lc.fault({ match: { service: 'image', path: /\/v2\/images\?/ }, kind: 'unfiltered', times: 3 });
    const result = succeeded(await pruned({ includeUnmanaged: false }, { instance: web.id }));
    assert.equal(local.lc.faults[0]?.applied, 1, 'the listing was unfiltered');
    assert.deepEqual(deleted(local), ['img-01']);
    assert.deepEqual(
      result.decisions.map((d) => d.snapshot.id),
      ['img-00', 'img-01'],
    );
  });

  it('the snapshot-name glob narrows the scope, client-side', async (t) => {
    const { local, pruned } = await snapshotted(t, 3);
    local.lc.addImage({ region: REGION, id: 'db-1', name: 'db-01', createdAt: '2020-01-01T00:00:00Z', properties: MANAGED });
    local.lc.addImage({ region: REGION, id: 'web-old-x', name: 'xweb-01', createdAt: '2020-01-01T00:00:00Z', properties: MANAGED });
    const result = succeeded(await pruned({}, { nameGlob: 'web-*' }));
    assert.deepEqual(deleted(local), ['img-01', 'img-02']);
    assert.equal(result.decisions.length, 3);
  });

  it('follows Glance pages (next relative to the unversioned endpoint) before deciding', async (t) => {
    const { local, pruned } = await snapshotted(t, 7, () => ({}), { imagePageMax: 3 });
    const result = succeeded(await pruned({ policy: { last: 2 } }));
    assert.deepEqual(
      local.listings().map((q) => q.marker),
      [undefined, 'img-02', 'img-05'],
    );
    assert.equal(result.decisions.length, 7);
    assert.deepEqual(deleted(local), ['img-02', 'img-03', 'img-04', 'img-05', 'img-06']);
  });

  it('a snapshot-name without wildcards is sent to Glance as an exact name filter', async (t) => {
    const { local, pruned } = await snapshotted(t, 1);
    await pruned({}, { nameGlob: 'web-00' });
    assert.equal(local.listings()[0]?.name, 'web-00');
    assert.deepEqual(local.changes(), []);
  });
});

describe('prune: what is deleted', () => {
  it('dry-run sends no DELETE and reports what would go', async (t) => {
    const { local, web, pruned } = await snapshotted(t, 2);
    local.cinderSnapshot('cinder-x', 'web-02');
    local.volumeBackedImage({ id: 'img-02', name: 'web-02', createdAt: '2025-01-10T10:00:00Z' }, ['cinder-x'], { ...MANAGED, source_instance_id: web.id });
    const result = succeeded(await pruned({}, { dryRun: true }));
    assert.deepEqual(local.changes(), [], 'no DELETE');
    assert.deepEqual(result.deletions.map((d) => [d.image.id, d.outcome]).sort(), [
      ['img-01', 'would-delete'],
      ['img-02', 'would-delete'],
    ]);
    assert.deepEqual(result.deletions.find((d) => d.image.id === 'img-02')!.volumeSnapshots, [{ id: 'cinder-x', outcome: 'would-delete' }]);
    assert.match(stdout(), /::notice title=openstack-snapshot-action::Dry run: 2 snapshot\(s\) would be deleted, 1 kept/);
  });

  it('max-deletes: refuses and deletes nothing when the policy would delete more', async (t) => {
    const { local, pruned } = await snapshotted(t, 6);
    const { result, failure } = await pruned({ maxDeletes: 4 });
    assert.ok(failure instanceof Refusal, 'the step fails');
    assert.match(failure.reason, /the policy would delete 5 snapshots, more than max-deletes \(4\); nothing was deleted/);
    assert.match(failure.message, /^Prune refused: the policy would delete 5/);
    assert.deepEqual(result?.deletions, []);
    assert.deepEqual(local.changes(), [], 'no DELETE');
  });

  it('max-deletes equal to the count deletes them', async (t) => {
    const { local, pruned } = await snapshotted(t, 5);
    succeeded(await pruned({ maxDeletes: 4 }));
    assert.equal(deleted(local).length, 4);
  });

  it('a protected snapshot is never deleted', async (t) => {
    const { local, pruned } = await snapshotted(t, 3);
    local.lc.setImage('img-02', { protected: true });
    const result = succeeded(await pruned());
    assert.deepEqual(deleted(local), ['img-01']);
    assert.deepEqual(result.decisions.find((d) => d.snapshot.id === 'img-02')!.reasons, ['protected']);
  });

  it('403 and 409 on some images: the others are still deleted, each failure reported', async (t) => {
    const { local, pruned } = await snapshotted(t, 5);
    // Protected after the listing; in use in Glance's store.
    local.lc.once({ method: 'DELETE', path: /img-02$/ }, () => local.lc.setImage('img-02', { protected: true }));
    local.lc.markInUse('img-03');
    const { result, failure } = await pruned();
    assert.equal(failure?.message, '2 snapshot(s) could not be deleted; see the warnings above');
    assert.ok(result);
    const left = local.lc.images(REGION).flatMap((i) => (i.id.startsWith('img-') ? [i.id] : []));
    assert.deepEqual(left.sort(), ['img-00', 'img-02', 'img-03']);
    assert.deepEqual(result.failures.map((f) => f.image.id).sort(), ['img-02', 'img-03']);
    assert.match(result.failures.find((f) => f.image.id === 'img-02')!.failure.message, /it is protected/);
    assert.match(result.failures.find((f) => f.image.id === 'img-03')!.failure.message, /it is in use/);
    assert.match(stdout(), /::warning::Glance refused to delete snapshot img-03/);
  });

  it('an image already gone when deleted counts as deleted-or-missing, not a failure', async (t) => {
    const { local, pruned } = await snapshotted(t, 2);
    local.lc.once({ method: 'DELETE' }, () => local.lc.world.deleteImage(local.lc.world.findImage('img-01') ?? assert.fail()));
    const result = succeeded(await pruned());
    assert.deepEqual(result.failures, []);
    assert.equal(result.deletions[0]!.outcome, 'missing');
  });

  it('keeps at most `max-parallel` DELETEs in flight', async (t) => {
    const { local, pruned } = await snapshotted(t, 9);
    local.lc.fault({ match: { method: 'DELETE' }, kind: 'delay', ms: 120, times: 8 });
    await pruned({ concurrency: 3 });
    const deletes = local.lc.requests.filter((r) => r.method === 'DELETE');
    const inFlight = (at: RequestRecord) => deletes.filter((r) => r.t <= at.t && at.t < (r.end ?? Infinity)).length;
    assert.equal(deletes.length, 8);
    assert.equal(Math.max(...deletes.map(inFlight)), 3);
  });

  it('holds the request-rate ceiling: 15 deletions at 5 requests/s take seconds, never 6 in a second', async (t) => {
    const { local, pruned } = await snapshotted(t, 16);
    const start = Date.now();
    const result = succeeded(await pruned({ concurrency: 8 }, {}, local.client({ rateLimit: 5 })));
    const took = Date.now() - start;
    assert.equal(result.deletions.length, 15);
    // Token, listing, the servers (what the images are in use by) and 15 deletions at 5/s: at least 3 full seconds of waiting in theory.
    assert.ok(took >= 1_900, `took ${took} ms`);
    const times = local.lc.requests.filter((r) => r.method === 'DELETE').map((r) => r.t);
    for (let i = 0; i + 5 < times.length; i += 1) assert.ok(times[i + 5]! - times[i]! >= 900, `6 DELETEs within ${times[i + 5]! - times[i]!} ms`);
  });

  it('without a ceiling, the same deletions take a fraction of a second', async (t) => {
    const { local, pruned } = await snapshotted(t, 16);
    const start = Date.now();
    await pruned({ concurrency: 8 }, {}, local.client({ rateLimit: 0 }));
    assert.equal(deleted(local).length, 15);
    assert.ok(Date.now() - start < 1_500, `took ${Date.now() - start} ms`);
  });
});

describe('prune keeps what is in use, and the Cinder snapshots Nova did not make for an image', () => {
  const third = { id: 'img-02', name: 'web-02', createdAt: '2025-01-10T10:00:00Z' };
  for (const [what, arrange, reason] of [
    [
      'an image a server was booted from',
      (local: Local, web: { id: string }) => {
        local.snapshot(web, third);
        local.server({ id: 'booted-1', name: 'clone', imageRef: 'img-02' });
      },
      /^in use: instance clone \(booted-1\) was booted from it/,
    ],
    [
      'a volume-backed image whose Cinder snapshot a volume was made from',
      (local: Local, web: { id: string }) => {
        local.cinderSnapshot('cinder-2', 'web-02');
        local.volumeBackedImage(third, ['cinder-2'], { ...MANAGED, source_instance_id: web.id });
        local.lc.addVolume({ region: REGION, id: 'restored-vol', snapshotId: 'cinder-2' });
      },
      /^in use: volume restored-vol was created from its volume snapshot cinder-2/,
    ],
  ] as const)
    it(`${what}: kept, and the reason given`, async (t) => {
      const { local, web, pruned } = await snapshotted(t, 2);
      arrange(local, web);
      const result = succeeded(await pruned());
      assert.deepEqual(deleted(local), ['img-01']);
      assert.deepEqual(
        result.held.map((h) => h.image.id),
        ['img-02'],
      );
      assert.match(result.held[0]!.reason, reason);
    });

  it("an image naming another server's Cinder snapshot (an edited block_device_mapping): the image goes, the Cinder snapshot stays, with a warning", async (t) => {
    const mapping = JSON.stringify([{ source_type: 'snapshot', snapshot_id: 'theirs', boot_index: 0 }]);
    const { local, pruned } = await snapshotted(t, 2, (i): Record<string, string> => (i === 1 ? { bdm_v2: 'True', block_device_mapping: mapping } : {}));
    local.lc.addVolume({ region: REGION, id: 'vol-of-db', serverId: 'db-server' });
    local.cinderSnapshot('theirs', 'nightly by hand', { name: 'nightly by hand', volumeId: 'vol-of-db' });
    const result = succeeded(await pruned());
    assert.deepEqual(local.changes(), ['DELETE /v2/images/img-01']);
    assert.equal(result.deletions[0]!.volumeSnapshots[0]!.outcome, 'kept');
    assert.match(stdout(), /::warning::Volume snapshot theirs named by snapshot img-01 .* is left alone: it is named "nightly by hand"/);
  });
});
