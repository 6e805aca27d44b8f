// End-to-end tier against a REAL OpenStack: runs the built dist/index.js as the runner does
// (INPUT_*, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY) and checks every result through the OpenStack APIs
// (Glance, Nova, Cinder), not only through the action's outputs.
//
// Cloud: the OS_* variables (see test/support/real-cloud.ts for OSA_E2E_INSTANCE, OSA_E2E_REGION2,
// OSA_E2E_INSTANCE2, OSA_E2E_VOLUME_INSTANCE, OSA_E2E_APPCRED_*); without them, the loopback cloud
// of ../shared/openstack-loopback (scripts/real-cloud.sh starts it). Tests run one at a time: Nova
// serialises the snapshots of a server anyway (a busy task_state answers 409).
//
// What it creates on a real cloud, all named `osa-real-<time>-<random>-…` and tagged with the
// image property osa_e2e_run=<that tag>, all removed by the after hooks even when a test fails:
//   - about 5 instance snapshots (Nova createImage) of OSA_E2E_INSTANCE (and OSA_E2E_INSTANCE2 in
//     OSA_E2E_REGION2), each deleted again; a snapshot left running by the timeout test is
//     deleted too (Nova then gives up its upload);
//   - 5 snapshots of OSA_E2E_VOLUME_INSTANCE when given: empty images plus one Cinder volume
//     snapshot each; both are deleted;
//   - about 40 tiny private images (1 byte of data, or none) made directly in Glance, to prune;
//   - on the loopback cloud only: the server osl-test-server-2 (deleted at the end), and a
//     restart of SBG5's nova-compute in queued mode and back (a snapshot that never finishes).
// Nothing else is touched: every listing the action prunes is narrowed to this run's names.
// Leftovers of a run killed before its after hooks (osa_e2e_run images older than an hour) are
// swept at the start. test/real/pages.test.ts (opt-in, OSA_REAL_PAGES=1) makes ~1010 more tiny
// images, to take the action's own listing past one page.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MANAGED_BY } from '../../src/lib/constants.ts';
import { currentMode, KNOB_LOG, setSnapshotMode } from '../support/loopback.ts';
import { expect, isIdle, RUN_PROPERTY, type Image, type OpenStack, type Server } from '../support/openstack.ts';
import { poll } from '../support/poll.ts';
import {
  appcredInputs,
  authInputs,
  bdmSnapshotIds,
  cleanupRegion,
  connect,
  loadConfig,
  openrcEnv,
  passwordInputs,
  runLog,
  succeeded,
  sweepStale,
} from '../support/real-cloud.ts';
import { errorsOf, runAction, type ActionRun } from '../support/run-action.ts';

const cfg = loadConfig();
const R1 = cfg.region;
const TAG = cfg.tag;
const SHA = '0123456789abcdef0123456789abcdef01234567'; // what runAction sets as GITHUB_SHA
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SLOW = { timeout: 240_000 };

let api: OpenStack;
let main: Server;
let other: Server | undefined;
let volumeServer: Server | undefined;
/** osl-test-server-2 on the loopback cloud: the instance name is a prefix of its name. */
let prefixServer: Server | undefined;
let prefixServerIsOurs = false;

/** Images made by one test and used by a later one (each later test makes its own when absent). */
const made: { byId?: Image } = {};

const metadata = (kase: string) => `${RUN_PROPERTY}=${TAG}\nosa_e2e_case=${kase}`;

function failed(run: ActionRun): string {
  assert.equal(run.code, 1, `the action should have failed:\n${runLog(run)}`);
  const errors = errorsOf(run);
  assert.equal(errors.length, 1, runLog(run));
  return errors[0]!;
}
const json = (text: string | undefined): unknown => JSON.parse(text ?? 'null');

/** What the action puts on every snapshot it makes, checked on the image Glance returns. */
function assertActionProperties(image: Image, server: Server, kase: string): void {
  assert.equal(image.managed_by, MANAGED_BY);
  assert.equal(image.source_instance_id, server.id);
  assert.equal(image.source_instance_name, server.name);
  assert.match(String(image.snapshot_request_id), UUID);
  assert.equal(image.github_repository, 'octo/app');
  assert.equal(image.github_sha, SHA);
  assert.equal(image.github_run_id, '4242');
  assert.equal(image.github_run_attempt, '1');
  assert.equal(image.github_workflow, 'deploy');
  assert.equal(image.github_ref_name, 'main');
  assert.equal(image[RUN_PROPERTY], TAG);
  assert.equal(image.osa_e2e_case, kase);
  assert.equal(image.visibility, 'private');
  assert.equal(image.owner, api.projectId);
}

/** The image-backed snapshot the create just reported, checked through Glance. */
async function assertImageBackedSnapshot(region: string, run: ActionRun, server: Server, kase: string): Promise<Image> {
  const id = run.outputs['snapshot-id']!;
  assert.match(id, UUID);
  const image = await api.image(id, region);
  assert.ok(image, `image ${id} is not in Glance of ${region}`);
  assert.equal(image.status, 'active');
  assert.equal(image.name, run.outputs['snapshot-name']);
  assertActionProperties(image, server, kase);
  // Nova's own record of the source, independent of the action's.
  assert.equal(image.image_type, 'snapshot');
  assert.equal(image.instance_uuid, server.id);
  // The other outputs and the summary, whatever the cloud: e2e/modes.test.ts (checkCreated).
  assert.equal(run.outputs['snapshot-size'], String(image.size));
  return image;
}

/** An active image made in Glance directly, shaped like this action's snapshot of `server`. */
function seedSnapshot(name: string, sourceId: string, extra: Record<string, string> = {}, active = true): Promise<Image> {
  return api.seedImage(name, { managed_by: MANAGED_BY, source_instance_id: sourceId, source_instance_name: 'seeded', ...extra }, { active });
}

before(async () => {
  api = await connect(cfg);
  for (const region of [R1, cfg.region2].filter((r): r is string => !!r)) {
    const swept = await sweepStale(api, region);
    if (swept.length) console.log(`# swept leftovers of killed runs in ${region}: ${swept.join(', ')}`);
  }
  // A killed run may have left the second region's nova-compute in queued mode.
  if (cfg.oslDir && cfg.region2 && currentMode(cfg, cfg.region2) === 'queued') await setSnapshotMode(cfg, cfg.region2, 'upload');
  main = await api.serverNamed(cfg.instance);
  if (cfg.region2) other = await api.serverNamed(cfg.instance2!, cfg.region2);
  if (cfg.volumeInstance && api.has('volume')) volumeServer = await api.serverNamed(cfg.volumeInstance);
  if (cfg.loopback) {
    // A server whose name the instance's is a prefix of: Nova's ?name= filter is a regex (a
    // substring match), so a lookup by name sees both.
    const name = `${main.name}-2`;
    [prefixServer] = await api.serversNamed(name);
    // One an earlier, killed run made is removed at the end of this one.
    const leftover = prefixServer && prefixServer.metadata?.[RUN_PROPERTY];
    if (leftover && Date.parse(String(prefixServer!.created)) < Date.now() - 3_600_000) prefixServerIsOurs = true;
    if (!prefixServer) {
      const [tiny] = await api.images({ name: 'osl-tiny-image', visibility: 'public' });
      assert.ok(tiny, 'the loopback cloud has the public image osl-tiny-image');
      prefixServer = await api.createServer({ name, imageRef: tiny.id, flavorRef: 'osl-tiny' });
      prefixServerIsOurs = true;
      assert.equal(prefixServer.status, 'ACTIVE', `${name} did not boot: ${JSON.stringify(prefixServer.fault ?? {})}`);
    }
  }
  console.log(
    `# tier ${TAG}: ${cfg.loopback ? 'loopback cloud' : cfg.authUrl}, ${R1} ${main.name} ${main.id}` +
      `${other ? `, ${cfg.region2} ${other.name} ${other.id}` : ''}${volumeServer ? `, volume-backed ${volumeServer.name}` : ''}` +
      `${prefixServer ? `, prefix server ${prefixServer.name} ${prefixServer.id}${prefixServerIsOurs ? ' (created)' : ''}` : ''}`,
  );
});

after(async () => {
  if (!api) return;
  for (const region of [R1, cfg.region2].filter((r): r is string => !!r)) {
    const removed = await cleanupRegion(api, region);
    console.log(`# cleanup ${region}: ${removed.length ? removed.join(', ') : 'nothing left'}`);
    const left = await api.images({ [RUN_PROPERTY]: TAG, owner: api.projectId }, region);
    assert.deepEqual(
      left.map((i) => i.id),
      [],
      `images of this run left in ${region}`,
    );
  }
  if (prefixServer && prefixServerIsOurs) {
    await api.deleteServer(prefixServer.id);
    console.log(`# cleanup ${R1}: server ${prefixServer.name} ${prefixServer.id}`);
  }
});

describe('create', () => {
  test(
    `by name with ${cfg.password ? 'password' : 'application credential'} inputs: snapshots the server named exactly so, not the one its name is a prefix of`,
    SLOW,
    async (t) => {
      if (!cfg.loopback) t.diagnostic('no server whose name has this one as a prefix: only the loopback cloud makes one cheaply');
      const run = await runAction({
        mode: 'create',
        instance: main.name,
        region: R1,
        'snapshot-name': `${TAG}-{instance}-{timestamp}`,
        'snapshot-properties': metadata('by-name'),
        ...authInputs(cfg),
      });
      succeeded(run);
      assert.match(run.outputs['snapshot-name']!, new RegExp(`^${TAG}-${main.name}-\\d{8}-\\d{6}$`));
      const image = await assertImageBackedSnapshot(R1, run, main, 'by-name');
      if (prefixServer) {
        assert.notEqual(image.source_instance_id, prefixServer.id);
        assert.notEqual(image.instance_uuid, prefixServer.id);
      }
    },
  );

  test(`by ID in ${cfg.region2 ? 'the second region' : R1} with ${cfg.appcred ? 'an application credential' : 'a password'}`, SLOW, async (t) => {
    if (!cfg.region2) t.diagnostic('no second region (set OSA_E2E_REGION2 and OSA_E2E_INSTANCE2): the first one is used');
    if (!cfg.appcred) t.diagnostic('no application credential (OS_APPLICATION_CREDENTIAL_* or OSA_E2E_APPCRED_*): the password is used');
    const region = cfg.region2 ?? R1;
    const server = other ?? main;
    const run = await runAction({
      mode: 'create',
      instance: server.id,
      region,
      'snapshot-name': `${TAG}-{region}-{instance_id}`,
      'snapshot-properties': metadata('by-id'),
      ...(cfg.appcred ? appcredInputs(cfg) : passwordInputs(cfg)),
    });
    succeeded(run);
    assert.equal(run.outputs['snapshot-name'], `${TAG}-${region}-${server.id}`);
    made.byId = await assertImageBackedSnapshot(region, run, server, 'by-id');
    // Each region has its own Glance: the image exists only in the region it was made in.
    if (region !== R1 && api.endpoint(['image'], R1) !== api.endpoint(['image'], region)) {
      assert.equal(await api.image(made.byId.id), undefined, `image ${made.byId.id} should not be in ${R1}`);
    }
  });

  test(`from the OS_* variables alone (no auth or region inputs)${cfg.loopback ? ', on the server whose name has the prefix' : ''}`, SLOW, async () => {
    const target = prefixServer ?? main;
    const run = await runAction(
      { mode: 'create', instance: target.name, 'snapshot-name': `${TAG}-{instance}-env`, 'snapshot-properties': metadata('openrc') },
      openrcEnv(cfg),
    );
    succeeded(run);
    assert.match(run.stdout, new RegExp(`in region ${R1}`));
    await assertImageBackedSnapshot(R1, run, target, 'openrc');
  });

  test('times out while the snapshot is still being written: fails naming the image, outputs its ID, the snapshot goes on', SLOW, async () => {
    await api.waitServer(main.id, isIdle);
    const run = await runAction({
      mode: 'create',
      instance: main.id,
      region: R1,
      timeout: '2s',
      'snapshot-name': `${TAG}-timeout-{timestamp}`,
      'snapshot-properties': metadata('timeout'),
      ...authInputs(cfg),
    });
    const error = failed(run);
    const id = run.outputs['snapshot-id'];
    assert.match(id ?? '', UUID, `snapshot-id is an output of the failed run:\n${runLog(run)}`);
    assert.match(
      error,
      new RegExp(
        `^Timed out \\(timeout 2(\\.0)?s\\) waiting for snapshot ${id} to become active, [\\d.]+m?s after the snapshot was requested: it is still (queued|saving)`,
      ),
    );
    assert.match(error, new RegExp(`mode delete with snapshot-id ${id}`));
    assert.match(run.outputs['api-requests'] ?? '', /^\d+$/);
    const image = await api.image(id!);
    assert.ok(image, 'the image stays');
    assert.ok(['queued', 'saving', 'active'].includes(image.status), image.status);
    if (cfg.loopback) {
      // Here a snapshot takes seconds: it does finish, as the message says.
      const done = await poll('the timed-out snapshot to become active', async () => {
        const now = await api.image(id!);
        return now && now.status !== 'queued' && now.status !== 'saving' && now;
      });
      assert.equal(done.status, 'active');
    }
    await api.deleteImage(id!);
    await api.waitServer(main.id, isIdle);
  });

  test('times out on a snapshot that never finishes (queued forever); the server is free again, delete mode gives it up', SLOW, async (t) => {
    if (!cfg.oslDir) return t.skip('needs the loopback cloud: its nova-compute can be switched to a mode whose snapshots never upload');
    if (!other || !cfg.region2) return t.skip('needs the second region (its nova-compute is the one switched, so the first keeps working)');
    if (process.env.OSA_REAL_NO_KNOB === '1') return t.skip('OSA_REAL_NO_KNOB=1: no nova-compute restarts');
    const region2 = cfg.region2;
    t.after(async () => {
      const seconds = await setSnapshotMode(cfg, region2, 'upload');
      t.diagnostic(`${region2} nova-compute back in upload mode in ${seconds.toFixed(1)} s`);
    });
    const seconds = await setSnapshotMode(cfg, region2, 'queued');
    t.diagnostic(`${region2} nova-compute switched to queued mode in ${seconds.toFixed(1)} s (log: ${KNOB_LOG})`);
    await api.waitServer(other.id, isIdle, { region: region2 });

    const run = await runAction({
      mode: 'create',
      instance: other.name,
      region: region2,
      timeout: '8s',
      'snapshot-name': `${TAG}-never-{timestamp}`,
      'snapshot-properties': metadata('never'),
      ...authInputs(cfg),
    });
    const error = failed(run);
    const id = run.outputs['snapshot-id']!;
    assert.match(id ?? '', UUID, runLog(run));
    assert.match(
      error,
      new RegExp(
        `^Timed out \\(timeout 8(\\.0)?s\\) waiting for snapshot ${id} to become active, [\\d.]+m?s after the snapshot was requested: it is still queued, and instance ${other.name} has task_state none\\.`,
      ),
    );

    // Nova is done with the server at once (the driver uploaded nothing); the image is left queued.
    await api.waitServer(other.id, isIdle, { region: region2, timeoutMs: 30_000 });
    await sleep(3000);
    const image = await api.image(id, region2);
    assert.equal(image?.status, 'queued');
    assert.equal(image?.size, null);
    assertActionProperties(image!, other, 'never');

    const deleted = await runAction({ mode: 'delete', 'snapshot-id': id, region: region2, ...authInputs(cfg) });
    succeeded(deleted);
    assert.deepEqual(json(deleted.outputs['deleted-snapshot-ids']), [id]);
    assert.equal(await api.image(id, region2), undefined);
  });
});

describe('delete', () => {
  test(`by ID${cfg.region2 ? ' in the second region' : ''}`, SLOW, async () => {
    const region = made.byId ? (cfg.region2 ?? R1) : R1;
    const image = made.byId ?? (await seedSnapshot(`${TAG}-delete-by-id`, main.id));
    const run = await runAction({ mode: 'delete', 'snapshot-id': image.id, region, ...authInputs(cfg) });
    succeeded(run);
    assert.deepEqual(json(run.outputs['deleted-snapshot-ids']), [image.id]);
    assert.equal(await api.image(image.id, region), undefined, 'Glance answers 404');
    // The other outputs and the summary: e2e/modes 'delete › by ID'; deleting it again: Glance's 404
    // (contract/glance, run against this cloud too), the action's answer to it (unit/delete).
  });
});

describe('volume-backed server', () => {
  const vm: { first?: Image; second?: Image; third?: Image } = {};
  const template = `${TAG}-vol-{timestamp}`;
  const skipReason = () =>
    !volumeServer
      ? `no volume-backed server (set OSA_E2E_VOLUME_INSTANCE${cfg.loopback ? '; the loopback cloud has osl-volume-server unless OSL_NO_CINDER=1' : ''})`
      : undefined;

  /**
   * The volume-backed snapshot the create reported: Glance image + Cinder snapshot. The
   * volume-snapshot-ids output is checked by the caller (`assertSnapshotIdsOutput`).
   */
  async function volumeSnapshotOf(run: ActionRun): Promise<Image> {
    succeeded(run);
    const id = run.outputs['snapshot-id']!;
    const image = await api.image(id);
    assert.ok(image);
    assert.equal(image.status, 'active');
    assert.equal(image.size, 0);
    assertActionProperties(image, volumeServer!, 'volume');
    assert.equal(image.image_type, undefined, 'Nova does not tag a volume-backed snapshot');
    assert.equal(run.outputs['volume-backed'], 'true');
    assert.equal(run.outputs['snapshot-size'], '0');
    const snapshotIds = bdmSnapshotIds(image);
    assert.equal(snapshotIds.length, 1, String(image.block_device_mapping));
    const snapshot = await api.volumeSnapshot(snapshotIds[0]!);
    assert.ok(snapshot, `Cinder has snapshot ${snapshotIds[0]}`);
    assert.equal(snapshot.status, 'available');
    const volumes = (volumeServer!['os-extended-volumes:volumes_attached'] as { id: string }[]).map((v) => v.id);
    assert.ok(volumes.includes(snapshot.volume_id), `snapshot of the server's volume (${snapshot.volume_id} in ${volumes.join(', ')})`);
    return image;
  }
  const assertSnapshotIdsOutput = (run: ActionRun, image: Image) =>
    assert.deepEqual(json(run.outputs['volume-snapshot-ids']), bdmSnapshotIds(image), 'volume-snapshot-ids: "those behind the new snapshot (create)"');
  async function assertVolumeSnapshot(run: ActionRun): Promise<Image> {
    const image = await volumeSnapshotOf(run);
    assertSnapshotIdsOutput(run, image);
    return image;
  }
  const createVolumeSnapshot = (extra: Record<string, string> = {}) =>
    runAction({
      mode: 'create',
      instance: volumeServer!.name,
      region: R1,
      'snapshot-name': template,
      'snapshot-properties': metadata('volume'),
      ...authInputs(cfg),
      ...extra,
    });

  test('create: the image is active at once with size 0, and names a Cinder snapshot of the boot volume', SLOW, async (t) => {
    if (skipReason()) return t.skip(skipReason());
    vm.first = await assertVolumeSnapshot(await createVolumeSnapshot());
  });

  test('create with keep-last 1: its own prune deletes the older snapshot and its Cinder snapshot', SLOW, async (t) => {
    if (skipReason()) return t.skip(skipReason());
    if (!vm.first) return t.skip('needs the snapshot of the previous test');
    await sleep(1100); // {timestamp} has whole seconds: a distinct name and created_at
    const run = await createVolumeSnapshot({ 'keep-last': '1' });
    vm.second = await volumeSnapshotOf(run);
    assert.deepEqual(json(run.outputs['kept-snapshot-ids']), [vm.second.id]);
    assert.equal(await api.image(vm.first.id), undefined, 'the older snapshot is deleted');
    await api.volumeSnapshotGone(bdmSnapshotIds(vm.first)[0]!);
    assert.match(run.summary, /Prune/);
    assertSnapshotIdsOutput(run, vm.second);
  });

  test('prune (instance and name glob) finds volume-backed snapshots and deletes their Cinder snapshots', SLOW, async (t) => {
    if (skipReason()) return t.skip(skipReason());
    if (!vm.second) return t.skip('needs the snapshot of the previous test');
    await sleep(1100);
    vm.third = await assertVolumeSnapshot(await createVolumeSnapshot());
    const run = await runAction({
      mode: 'prune',
      instance: volumeServer!.name,
      region: R1,
      'snapshot-name': `${TAG}-vol-*`,
      'keep-last': '1',
      ...authInputs(cfg),
    });
    succeeded(run);
    assert.deepEqual(json(run.outputs['deleted-snapshot-ids']), [vm.second.id]);
    assert.deepEqual(json(run.outputs['kept-snapshot-ids']), [vm.third.id]);
    assert.deepEqual(json(run.outputs['volume-snapshot-ids']), bdmSnapshotIds(vm.second));
    assert.equal(await api.image(vm.second.id), undefined);
    await api.volumeSnapshotGone(bdmSnapshotIds(vm.second)[0]!);
    assert.ok(await api.volumeSnapshot(bdmSnapshotIds(vm.third)[0]!), 'the kept one keeps its Cinder snapshot');
  });

  test('delete by ID deletes the image and then its Cinder snapshot', SLOW, async (t) => {
    if (skipReason()) return t.skip(skipReason());
    const image = vm.third ?? (await assertVolumeSnapshot(await createVolumeSnapshot()));
    const [snapshotId] = bdmSnapshotIds(image);
    const run = await runAction({ mode: 'delete', 'snapshot-id': image.id, region: R1, ...authInputs(cfg) });
    succeeded(run);
    assert.deepEqual(json(run.outputs['deleted-snapshot-ids']), [image.id]);
    assert.deepEqual(json(run.outputs['volume-snapshot-ids']), [snapshotId]);
    assert.equal(await api.image(image.id), undefined);
    await api.volumeSnapshotGone(snapshotId!);
  });

  describe('snapshots taken outside the action (include-unmanaged)', () => {
    const unmanaged: Image[] = [];
    before(async () => {
      if (skipReason()) return;
      // As Horizon or `openstack server image create` would: createImage with no action properties.
      for (const n of [1, 2]) {
        const id = expect(await api.createImage(volumeServer!.id, `${TAG}-unmanaged-${n}`)).body.image_id;
        const active = async () => {
          const image = await api.image(id);
          return image?.status === 'active' && image;
        };
        unmanaged.push(await poll(`image ${id} active`, active, { timeoutMs: 30_000 }));
        await sleep(1100);
      }
    });
    // Newest first, as the policy sorts them.
    const ordered = () => [...unmanaged].sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at) || (a.id < b.id ? -1 : 1));

    test('prune narrowed to the instance finds them too (through the Cinder snapshots of its volumes)', SLOW, async (t) => {
      if (skipReason()) return t.skip(skipReason());
      const run = await runAction({
        mode: 'prune',
        instance: volumeServer!.name,
        region: R1,
        'snapshot-name': `${TAG}-unmanaged-*`,
        'include-unmanaged': 'true',
        'keep-last': '1',
        'dry-run': 'true',
        ...authInputs(cfg),
      });
      succeeded(run);
      assert.deepEqual(json(run.outputs['kept-snapshot-ids']), [ordered()[0]!.id], `in scope: ${run.outputs['kept-snapshot-ids']}`);
    });

    test('prune with include-unmanaged (no instance) finds them by their block device mapping', SLOW, async (t) => {
      if (skipReason()) return t.skip(skipReason());
      const [newest, older] = ordered();
      const run = await runAction({
        mode: 'prune',
        region: R1,
        'snapshot-name': `${TAG}-unmanaged-*`,
        'include-unmanaged': 'true',
        'keep-last': '1',
        ...authInputs(cfg),
      });
      succeeded(run);
      assert.deepEqual(json(run.outputs['kept-snapshot-ids']), [newest!.id]);
      assert.deepEqual(json(run.outputs['deleted-snapshot-ids']), [older!.id]);
      assert.deepEqual(json(run.outputs['volume-snapshot-ids']), bdmSnapshotIds(older!));
      assert.equal(await api.image(older!.id), undefined);
      await api.volumeSnapshotGone(bdmSnapshotIds(older!)[0]!);
      assert.ok(await api.image(newest!.id));
    });
  });
});

describe('prune', () => {
  const COUNT = 30;
  const KEEP_LAST = 5;
  const glob = `${TAG}-bulk-*`;
  let bulk: Image[] = [];
  let protectedOne: Image;
  let decoys: Image[] = [];
  let expectedKept: string[] = [];

  before(async () => {
    const started = Date.now();
    // More snapshots in scope than Glance's default page holds (25), made straight in Glance.
    const names = Array.from({ length: COUNT }, (_, i) => `${TAG}-bulk-${String(i).padStart(2, '0')}`);
    for (let i = 0; i < names.length; i += 6) {
      bulk.push(...(await Promise.all(names.slice(i, i + 6).map((name) => seedSnapshot(name, main.id, { osa_e2e_group: 'bulk' })))));
    }
    // In the glob but out of scope: another instance's, an unmanaged one, one still queued (no data).
    decoys = [
      await seedSnapshot(`${TAG}-bulk-other-instance`, prefixServer?.id ?? randomUUID(), { osa_e2e_group: 'decoy' }),
      await api.seedImage(`${TAG}-bulk-unmanaged`, { source_instance_id: main.id, osa_e2e_group: 'decoy' }),
      await seedSnapshot(`${TAG}-bulk-queued`, main.id, { osa_e2e_group: 'decoy' }, false),
      await seedSnapshot(`${TAG}-other-name`, main.id, { osa_e2e_group: 'decoy' }),
    ];
    // Newest first with the policy's tie-break (created_at has whole seconds): the KEEP_LAST first stay,
    // and one old protected image stays too.
    const sorted = [...bulk].sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at) || (a.id < b.id ? -1 : 1));
    protectedOne = await api.setProtected(sorted[COUNT - 3]!.id, true);
    expectedKept = [...sorted.slice(0, KEEP_LAST).map((i) => i.id), protectedOne.id];
    console.log(`# seeded ${COUNT + decoys.length} images in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });

  test(`the ${COUNT} snapshots in scope do not fit in one page of Glance's default size`, async () => {
    const query = { [RUN_PROPERTY]: TAG, osa_e2e_group: 'bulk', status: 'active' };
    const page = expect(await api.glance('GET', `/v2/images?${new URLSearchParams(query)}`)).body;
    assert.equal(page.images.length, 25, 'Glance pages by 25 when no limit is given');
    assert.ok(page.next, 'and links a next page');
    assert.equal((await api.images(query)).length, COUNT);
    // The action asks for 1000 per page: Glance honours it (api_limit_max), one page holds them all.
    const big = expect(await api.glance('GET', `/v2/images?${new URLSearchParams({ ...query, limit: '1000' })}`)).body;
    assert.equal(big.images.length, COUNT);
    assert.equal(big.next, undefined);
  });

  test(
    `keep-last ${KEEP_LAST} over ${COUNT}: exactly the ${KEEP_LAST} newest and the protected one remain, nothing out of scope is touched`,
    SLOW,
    async () => {
      const run = await runAction({
        mode: 'prune',
        instance: main.name,
        region: R1,
        'snapshot-name': glob,
        'keep-last': String(KEEP_LAST),
        'max-parallel': '8',
        'rate-limit': '0',
        ...authInputs(cfg),
      });
      succeeded(run);
      const doomed = bulk.map((i) => i.id).filter((id) => !expectedKept.includes(id));
      assert.deepEqual(new Set(json(run.outputs['kept-snapshot-ids']) as string[]), new Set(expectedKept));
      assert.deepEqual(new Set(json(run.outputs['deleted-snapshot-ids']) as string[]), new Set(doomed));
      assert.equal(run.outputs['deleted-count'], String(doomed.length));
      const remaining = await api.images({ [RUN_PROPERTY]: TAG, osa_e2e_group: 'bulk' });
      assert.deepEqual(new Set(remaining.map((i) => i.id)), new Set(expectedKept), 'Glance holds exactly the kept set');
      for (const decoy of decoys) assert.ok(await api.image(decoy.id), `${decoy.name} is untouched`);
      assert.equal((await api.image(protectedOne.id))?.protected, true);
    },
  );
});
