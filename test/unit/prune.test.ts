import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import nock from 'nock';

import { Refusal } from '../../src/modes/outcome.ts';
import { prune } from '../../src/modes/prune/prune.ts';
import { runMode } from '../../src/modes/run.ts';
import type { Retention } from '../../src/settings/inputs.ts';
import type { PruneSettings } from '../../src/settings/prune.ts';
import {
  COMPUTE_ORIGIN,
  COMPUTE_PATH,
  IMAGE_ORIGIN,
  imageBody,
  mockAuth,
  newCloud,
  PROJECT_ID,
  serverBody,
  SERVER_ID,
  pruneSettings,
  retention,
  since,
  stdout,
  unmatched,
  useNock,
  useProject,
  VOLUME_ORIGIN,
  VOLUME_PATH,
  volumeBackedImageBody,
  failed,
  succeeded,
} from '../support/nock.ts';

useNock();
useProject();

const MANAGED = { managed_by: 'openstack-snapshot-action' };
const BASE_QUERY = { limit: '1000', owner: PROJECT_ID, status: 'active', sort: 'created_at:desc' };

/** Mode prune with `options` of the retention (and the name glob), and other settings. */
function pruneWith(options: Partial<Retention> & { nameGlob?: string } = {}, overrides: Partial<PruneSettings> = {}) {
  const { nameGlob, ...rest } = options;
  return pruneSettings({ nameGlob, retention: retention(rest), ...overrides });
}

/** `count` managed snapshots of the server, newest first, one hour apart. */
function snapshots(count: number, overrides: (i: number) => Record<string, unknown> = () => ({})) {
  return Array.from({ length: count }, (_, i) =>
    imageBody({
      id: `img-${String(i).padStart(2, '0')}`,
      name: `web-${String(i).padStart(2, '0')}`,
      created_at: new Date(Date.UTC(2025, 0, 10, 12 - i)).toISOString(),
      ...MANAGED,
      source_instance_id: SERVER_ID,
      ...overrides(i),
    }),
  );
}

/** Glance answering the managed-scope query (exact) with these images. */
function listed(images: unknown[], extra: Record<string, string> = {}) {
  return nock(IMAGE_ORIGIN)
    .get('/v2/images')
    .query({ ...BASE_QUERY, ...MANAGED, ...extra })
    .reply(200, { images });
}

/** Glance answering every DELETE it gets with 204, recording the IDs. */
function deletions(deleted: string[], delayMs = 0) {
  return (
    nock(IMAGE_ORIGIN)
      .delete(/^\/v2\/images\/[^/]+$/)
      .times(100)
      // nock 15 hands reply functions the fetch Request.
      .reply(async (request: Request) => {
        deleted.push(new URL(request.url).pathname.split('/').pop()!);
        if (delayMs) await sleep(delayMs);
        return [204, ''];
      })
  );
}

describe('prune: the scope', () => {
  it('lists managed, active snapshots of this project (one query), newest first', async () => {
    mockAuth();
    const list = listed(snapshots(3));
    const deleted: string[] = [];
    deletions(deleted);
    const result = succeeded(await prune(newCloud(), pruneWith()));
    list.done();
    assert.deepEqual(deleted.sort(), ['img-01', 'img-02']);
    assert.deepEqual(
      result.decisions.map((d) => [d.snapshot.id, d.keep]),
      [
        ['img-00', true],
        ['img-01', false],
        ['img-02', false],
      ],
    );
    assert.deepEqual(result.failures, []);
    assert.deepEqual(unmatched, []);
  });

  it('mode prune treats the backups restore took (snapshot-before) as the managed snapshots they are: counted, and deleted by the policy', async () => {
    mockAuth();
    listed(snapshots(3, (i) => (i === 2 ? { taken_before_restore_of: 'img-known-good' } : {})));
    const deleted: string[] = [];
    deletions(deleted);
    succeeded(await prune(newCloud(), pruneWith({ policy: { last: 1 } })));
    assert.deepEqual(deleted.sort(), ['img-01', 'img-02']);
  });

  it('with an instance: resolves it and adds source_instance_id', async () => {
    mockAuth();
    nock(COMPUTE_ORIGIN)
      .get(`${COMPUTE_PATH}/servers/detail`)
      .query({ limit: '1000', name: 'web' })
      .reply(200, { servers: [serverBody({ name: 'web' })] });
    const list = listed(snapshots(2), { source_instance_id: SERVER_ID });
    const deleted: string[] = [];
    deletions(deleted);
    await prune(newCloud(), pruneWith({}, { instance: 'web' }));
    list.done();
    assert.deepEqual(deleted, ['img-01']);
  });

  it('with the UUID of a deleted server: prunes the snapshots that name it', async () => {
    mockAuth();
    nock(COMPUTE_ORIGIN)
      .get(`${COMPUTE_PATH}/servers/${SERVER_ID}`)
      .reply(404, { itemNotFound: { code: 404, message: 'gone' } })
      .get(`${COMPUTE_PATH}/servers/detail`)
      .query(true)
      .reply(200, { servers: [] });
    const list = listed(snapshots(2), { source_instance_id: SERVER_ID });
    const deleted: string[] = [];
    deletions(deleted);
    await prune(newCloud(), pruneWith({}, { instance: SERVER_ID }));
    list.done();
    assert.deepEqual(deleted, ['img-01']);
    assert.match(stdout(), new RegExp(`Instance ${SERVER_ID} is not found; pruning the snapshots that name it`));
  });

  it('with a server name that does not exist: an error, nothing listed', async () => {
    mockAuth();
    nock(COMPUTE_ORIGIN).get(`${COMPUTE_PATH}/servers/detail`).query(true).reply(200, { servers: [] });
    const outcome = await runMode(newCloud(), pruneWith({}, { instance: 'web' }));
    assert.match(failed(outcome).message, /No instance named or with ID "web" in region GRA11/);
    assert.deepEqual(unmatched, []);
  });

  it('include-unmanaged without an instance adds image_type=snapshot and bdm_v2=True queries; the policy applies per instance', async () => {
    mockAuth();
    const [managed] = snapshots(1);
    const unmanaged = imageBody({ id: 'horizon-1', name: 'by hand', created_at: '2025-01-01T00:00:00Z' });
    // Volume-backed snapshots taken by hand record no instance: together they are one group, whose newest stays.
    const newer = volumeBackedImageBody(['cinder-snap-2'], { id: 'bfv-2', name: 'bfv by hand', created_at: '2024-12-02T00:00:00Z' });
    const volumeBacked = volumeBackedImageBody(['cinder-snap-1'], { id: 'bfv-1', name: 'bfv by hand', created_at: '2024-12-01T00:00:00Z' });
    const scope = nock(IMAGE_ORIGIN)
      .get('/v2/images')
      .query({ ...BASE_QUERY, ...MANAGED })
      .reply(200, { images: [managed] })
      .get('/v2/images')
      .query({ ...BASE_QUERY, image_type: 'snapshot' })
      .reply(200, { images: [unmanaged, imageBody({ ...managed, image_type: 'snapshot' })] })
      .get('/v2/images')
      .query({ ...BASE_QUERY, bdm_v2: 'True' })
      .reply(200, { images: [newer, volumeBacked] });
    const deleted: string[] = [];
    deletions(deleted);
    const cinder = nock(VOLUME_ORIGIN).delete(`${VOLUME_PATH}/snapshots/cinder-snap-1`).reply(202);
    const result = succeeded(await prune(newCloud(), pruneWith({ includeUnmanaged: true })));
    scope.done();
    cinder.done();
    assert.equal(result.decisions.length, 4, 'an image found by two queries counts once');
    assert.deepEqual(deleted.sort(), ['bfv-1', 'horizon-1']);
    assert.deepEqual(result.deletions.find((d) => d.image.id === 'bfv-1')!.volumeSnapshots, [{ id: 'cinder-snap-1', outcome: 'deleted' }]);
  });

  it('keep-last over several servers keeps that many of each, never that many of the fleet', async () => {
    mockAuth();
    const OTHER = '9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a';
    const web = snapshots(3);
    const db = snapshots(3, (i) => ({
      id: `db-${i}`,
      name: `db-${i}`,
      source_instance_id: OTHER,
      instance_uuid: OTHER,
      created_at: new Date(Date.UTC(2025, 0, 9, 12 - i)).toISOString(),
    }));
    listed([...web, ...db]);
    const deleted: string[] = [];
    deletions(deleted);
    const result = succeeded(await prune(newCloud(), pruneWith({ policy: { last: 2 } })));
    assert.deepEqual(deleted.sort(), ['db-2', 'img-02']);
    assert.deepEqual(
      result.decisions.filter((d) => d.keep).map((d) => d.snapshot.id),
      ['img-00', 'img-01', 'db-0', 'db-1'],
      'newest first across the servers',
    );
  });

  it('include-unmanaged with an instance adds image_type=snapshot + instance_uuid (no bdm_v2 query)', async () => {
    mockAuth();
    nock(COMPUTE_ORIGIN).get(`${COMPUTE_PATH}/servers/${SERVER_ID}`).reply(200, { server: serverBody() });
    const scope = nock(IMAGE_ORIGIN)
      .get('/v2/images')
      .query({ ...BASE_QUERY, ...MANAGED, source_instance_id: SERVER_ID })
      .reply(200, { images: snapshots(1) })
      .get('/v2/images')
      .query({ ...BASE_QUERY, image_type: 'snapshot', instance_uuid: SERVER_ID })
      .reply(200, { images: [] });
    await prune(newCloud(), pruneWith({ includeUnmanaged: true }, { instance: SERVER_ID }));
    scope.done();
    assert.deepEqual(unmatched, []);
  });

  it('include-unmanaged with a volume-backed instance takes the bdm_v2 snapshots of its volumes, found through Cinder', async () => {
    mockAuth();
    const server = { ...serverBody({ volumeBacked: true }), 'os-extended-volumes:volumes_attached': [{ id: 'vol-root' }] };
    nock(COMPUTE_ORIGIN).get(`${COMPUTE_PATH}/servers/${SERVER_ID}`).reply(200, { server });
    nock(VOLUME_ORIGIN)
      .get(`${VOLUME_PATH}/snapshots`)
      .query({ volume_id: 'vol-root', limit: '1000' })
      .reply(200, { snapshots: [{ id: 'snap-new' }, { id: 'snap-old' }] });
    const newest = volumeBackedImageBody(['snap-new'], { id: 'bfv-new', name: 'by-hand-new', created_at: '2025-01-10T12:00:00Z' });
    const older = volumeBackedImageBody(['snap-old'], { id: 'bfv-old', name: 'by-hand-old', created_at: '2025-01-09T12:00:00Z' });
    const otherServer = volumeBackedImageBody(['snap-of-another-volume'], { id: 'bfv-other', name: 'other', created_at: '2025-01-01T12:00:00Z' });
    nock(IMAGE_ORIGIN)
      .get('/v2/images')
      .query({ ...BASE_QUERY, ...MANAGED, source_instance_id: SERVER_ID })
      .reply(200, { images: [] })
      .get('/v2/images')
      .query({ ...BASE_QUERY, image_type: 'snapshot', instance_uuid: SERVER_ID })
      .reply(200, { images: [] })
      .get('/v2/images')
      .query({ ...BASE_QUERY, bdm_v2: 'True' })
      .reply(200, { images: [newest, older, otherServer] });
    const deleted: string[] = [];
    deletions(deleted);
    nock(VOLUME_ORIGIN).delete(`${VOLUME_PATH}/snapshots/snap-old`).reply(202);
    const result = succeeded(await prune(newCloud(), pruneWith({ includeUnmanaged: true }, { instance: SERVER_ID })));
    assert.deepEqual(
      result.decisions.map((d) => d.snapshot.id),
      ['bfv-new', 'bfv-old'],
    );
    assert.deepEqual(deleted, ['bfv-old']);
    assert.deepEqual(unmatched, []);
  });

  it('re-checks every filter: a Glance that ignores them cannot get unrelated images deleted', async () => {
    mockAuth();
    const mine = snapshots(2);
    const unrelated = [
      imageBody({ ...mine[1], id: 'other-project', owner: 'someone-else', created_at: '2020-01-01T00:00:00Z' }),
      imageBody({ ...mine[1], id: 'still-saving', status: 'saving', created_at: '2020-01-01T00:00:00Z' }),
      imageBody({ id: 'not-managed', name: 'web-99', created_at: '2020-01-01T00:00:00Z' }),
      imageBody({ ...mine[1], id: 'other-manager', managed_by: 'terraform', created_at: '2020-01-01T00:00:00Z' }),
      imageBody({ ...mine[1], id: 'other-instance', source_instance_id: 'another-server', created_at: '2020-01-01T00:00:00Z' }),
      imageBody({ ...mine[1], id: 'no-name', name: null, created_at: '2020-01-01T00:00:00Z' }),
      imageBody({ ...mine[1], id: 'public-base', visibility: 'public', owner: null, created_at: '2020-01-01T00:00:00Z' }),
    ];
    nock(COMPUTE_ORIGIN).get(`${COMPUTE_PATH}/servers/${SERVER_ID}`).reply(200, { server: serverBody() });
    // Answers whatever the query says.
    nock(IMAGE_ORIGIN)
      .get('/v2/images')
      .query(true)
      .times(3)
      .reply(200, { images: [...mine, ...unrelated] });
    const deleted: string[] = [];
    deletions(deleted);
    const result = succeeded(await prune(newCloud(), pruneWith({ includeUnmanaged: false }, { instance: SERVER_ID })));
    assert.deepEqual(deleted, ['img-01']);
    assert.deepEqual(
      result.decisions.map((d) => d.snapshot.id),
      ['img-00', 'img-01'],
    );
  });

  it('the snapshot-name glob narrows the scope, client-side', async () => {
    mockAuth();
    const images = [
      ...snapshots(3),
      imageBody({ id: 'db-1', name: 'db-01', created_at: '2020-01-01T00:00:00Z', ...MANAGED }),
      imageBody({ id: 'web-old-x', name: 'xweb-01', created_at: '2020-01-01T00:00:00Z', ...MANAGED }),
    ];
    listed(images);
    const deleted: string[] = [];
    deletions(deleted);
    const result = succeeded(await prune(newCloud(), pruneWith({ nameGlob: 'web-*' })));
    assert.deepEqual(deleted.sort(), ['img-01', 'img-02']);
    assert.equal(result.decisions.length, 3);
  });

  it('follows Glance pages (next relative to the unversioned OVH endpoint) before deciding', async () => {
    mockAuth();
    const all = snapshots(7);
    const query = { ...BASE_QUERY, ...MANAGED };
    const next = (marker: string) =>
      `/v2/images?limit=1000&owner=${PROJECT_ID}&status=active&sort=created_at%3Adesc&managed_by=openstack-snapshot-action&marker=${marker}`;
    const pages = nock(IMAGE_ORIGIN)
      .get('/v2/images')
      .query(query)
      .reply(200, { images: all.slice(0, 3), next: next('img-02') })
      .get('/v2/images')
      .query({ ...query, marker: 'img-02' })
      .reply(200, { images: all.slice(3, 6), next: next('img-05') })
      .get('/v2/images')
      .query({ ...query, marker: 'img-05' })
      .reply(200, { images: all.slice(6) });
    const deleted: string[] = [];
    deletions(deleted);
    const result = succeeded(await prune(newCloud(), pruneWith({ policy: { last: 2 } })));
    pages.done();
    assert.equal(result.decisions.length, 7);
    assert.deepEqual(deleted.sort(), ['img-02', 'img-03', 'img-04', 'img-05', 'img-06']);
    assert.deepEqual(unmatched, []);
  });

  it('a snapshot-name without wildcards is sent to Glance as an exact name filter', async () => {
    mockAuth();
    const list = listed(snapshots(1), { name: 'web-00' });
    await prune(newCloud(), pruneWith({ nameGlob: 'web-00' }));
    list.done();
    assert.deepEqual(unmatched, []);
  });
});

describe('prune: what is deleted', () => {
  it('dry-run sends no DELETE and reports what would go', async () => {
    mockAuth();
    listed(
      snapshots(3, (i) =>
        i === 2 ? volumeBackedImageBody(['cinder-x'], { id: 'img-02', name: 'web-02', created_at: '2025-01-10T10:00:00.000Z', ...MANAGED }) : {},
      ),
    );
    const result = succeeded(await prune(newCloud(), pruneWith({}, { dryRun: true })));
    assert.deepEqual(unmatched, [], 'no DELETE');
    assert.deepEqual(result.deletions.map((d) => [d.image.id, d.outcome]).sort(), [
      ['img-01', 'would-delete'],
      ['img-02', 'would-delete'],
    ]);
    assert.deepEqual(result.deletions.find((d) => d.image.id === 'img-02')!.volumeSnapshots, [{ id: 'cinder-x', outcome: 'would-delete' }]);
    assert.match(stdout(), /::notice title=openstack-snapshot-action::Dry run: 2 snapshot\(s\) would be deleted, 1 kept/);
  });

  it('max-deletes: refuses and deletes nothing when the policy would delete more', async () => {
    mockAuth();
    listed(snapshots(6));
    const { result, failure } = await prune(newCloud(), pruneWith({ maxDeletes: 4 }));
    assert.ok(failure instanceof Refusal, 'the step fails');
    assert.match(failure.reason, /the policy would delete 5 snapshots, more than max-deletes \(4\); nothing was deleted/);
    assert.match(failure.message, /^Prune refused: the policy would delete 5/);
    assert.deepEqual(result?.deletions, []);
    assert.deepEqual(unmatched, [], 'no DELETE');
  });

  it('max-deletes equal to the count deletes them', async () => {
    mockAuth();
    listed(snapshots(5));
    const deleted: string[] = [];
    deletions(deleted);
    succeeded(await prune(newCloud(), pruneWith({ maxDeletes: 4 })));
    assert.equal(deleted.length, 4);
  });

  it('a protected snapshot is never deleted', async () => {
    mockAuth();
    listed(snapshots(3, (i) => ({ protected: i === 2 })));
    const deleted: string[] = [];
    deletions(deleted);
    const result = succeeded(await prune(newCloud(), pruneWith()));
    assert.deepEqual(deleted, ['img-01']);
    assert.deepEqual(result.decisions.find((d) => d.snapshot.id === 'img-02')!.reasons, ['protected']);
  });

  it('403 and 409 on some images: the others are still deleted, each failure reported', async () => {
    mockAuth();
    listed(snapshots(5));
    const deleted: string[] = [];
    nock(IMAGE_ORIGIN)
      .delete('/v2/images/img-02')
      .reply(403, { message: 'Image img-02 is protected and cannot be deleted.<br /><br />\n\n\n', code: '403 Forbidden', title: 'Forbidden' })
      .delete('/v2/images/img-03')
      .reply(409, { message: 'Image img-03 is in use', code: '409 Conflict', title: 'Conflict' });
    deletions(deleted);
    const { result, failure } = await prune(newCloud(), pruneWith());
    assert.equal(failure?.message, '2 snapshot(s) could not be deleted; see the warnings above');
    assert.ok(result);
    assert.deepEqual(deleted.sort(), ['img-01', 'img-04']);
    assert.deepEqual(result.failures.map((f) => f.image.id).sort(), ['img-02', 'img-03']);
    assert.match(result.failures.find((f) => f.image.id === 'img-02')!.failure.message, /it is protected/);
    assert.match(result.failures.find((f) => f.image.id === 'img-03')!.failure.message, /it is in use/);
    assert.match(stdout(), /::warning::Glance refused to delete snapshot img-03/);
  });

  it('an image already gone when deleted counts as deleted-or-missing, not a failure', async () => {
    mockAuth();
    listed(snapshots(2));
    nock(IMAGE_ORIGIN).delete('/v2/images/img-01').reply(404, { message: 'not found' });
    const result = succeeded(await prune(newCloud(), pruneWith()));
    assert.deepEqual(result.failures, []);
    assert.equal(result.deletions[0]!.outcome, 'missing');
  });

  it('keeps at most `max-parallel` DELETEs in flight', async () => {
    mockAuth();
    listed(snapshots(9));
    let inFlight = 0;
    let most = 0;
    let count = 0;
    nock(IMAGE_ORIGIN)
      .delete(/^\/v2\/images\/img-\d+$/)
      .times(8)
      .reply(async () => {
        inFlight += 1;
        count += 1;
        most = Math.max(most, inFlight);
        await sleep(120);
        inFlight -= 1;
        return [204, ''];
      });
    await prune(newCloud(), pruneWith({ concurrency: 3 }));
    assert.equal(count, 8);
    assert.equal(most, 3);
  });

  it('holds the request-rate ceiling: 15 deletions at 5 requests/s take seconds, never 6 in a second', async () => {
    mockAuth();
    listed(snapshots(16));
    const times: number[] = [];
    nock(IMAGE_ORIGIN)
      .delete(/^\/v2\/images\/img-\d+$/)
      .times(15)
      .reply(() => (times.push(Date.now()), [204, '']));
    const start = Date.now();
    const result = succeeded(await prune(newCloud({ rateLimit: 5 }), pruneWith({ concurrency: 8 })));
    const took = since(start);
    assert.equal(result.deletions.length, 15);
    // 17 requests (token, list, 15 deletions) at 5/s: at least 3 full seconds of waiting in theory.
    assert.ok(took >= 1_900, `took ${took} ms`);
    times.sort((a, b) => a - b);
    for (let i = 0; i + 5 < times.length; i += 1) {
      assert.ok(times[i + 5]! - times[i]! >= 900, `6 DELETEs within ${times[i + 5]! - times[i]!} ms`);
    }
  });

  it('without a ceiling, the same deletions take a fraction of a second', async () => {
    mockAuth();
    listed(snapshots(16));
    const deleted: string[] = [];
    deletions(deleted);
    const start = Date.now();
    await prune(newCloud({ rateLimit: 0 }), pruneWith({ concurrency: 8 }));
    assert.equal(deleted.length, 15);
    assert.ok(since(start) < 1_500, `took ${since(start)} ms`);
  });
});
