// mode: verify against the real loopback cloud, through dist/index.js: an image-backed and a
// volume-backed snapshot each booted on a throwaway server, then checked through Nova (the server
// gone), Cinder (the volumes Nova made gone) and Glance (the result written); a flavor too small;
// a verify killed mid-boot and the next run sweeping what it left; a cancel within the runner's
// grace; keep-verified in a prune.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { MANAGED_BY, Property } from '../../src/lib/constants.ts';
import { expect, RUN_PROPERTY, type OpenStack } from '../support/openstack.ts';
import { authInputs, cleanupRegion, connect, loadConfig, runLog } from '../support/real-cloud.ts';
import { errorsOf, runAction } from '../support/run-action.ts';

const cfg = loadConfig();
const R1 = cfg.region;
const TAG = cfg.tag;
const SLOW = { timeout: 300_000 };
const PREFIX = 'osa-verify-';

let api: OpenStack;

before(async () => {
  api = await connect(cfg);
});

after(async () => {
  if (!api) return;
  // Any throwaway a failed test left (the action's own cleanup is what is under test: this is only the tier's safety net).
  for (const server of await throwaways()) await api.deleteServer(server.id).catch(() => undefined);
  console.log(`# cleanup ${R1}: ${(await cleanupRegion(api, R1)).join(', ') || 'nothing left'}`);
});

/** Every throwaway server of a verify in the region, as Nova lists them. */
async function throwaways(): Promise<{ id: string; name: string; metadata: Record<string, string> }[]> {
  const answer = expect(await api.nova('GET', `/servers/detail?${new URLSearchParams({ limit: '1000', name: `^${PREFIX}` })}`));
  return answer.body.servers.filter((s: { name: string }) => s.name.startsWith(PREFIX));
}

/** A snapshot of the instance taken by the action, marked with the tier's run tag (removed after). */
async function snapshotOf(instance: string, name: string): Promise<string> {
  const run = await runAction({
    mode: 'create',
    instance,
    region: R1,
    'snapshot-name': `${TAG}-${name}-{timestamp}`,
    'snapshot-properties': `${RUN_PROPERTY}=${TAG}`,
    ...authInputs(cfg),
  });
  assert.equal(run.code, 0, runLog(run));
  return run.outputs['snapshot-id']!;
}

const volumeGone = async (id: string) => expect(await api.cinder('GET', `/volumes/${id}`), 200, 404).status === 404;
const serverGone = async (id: string) => expect(await api.nova('GET', `/servers/${id}`), 200, 404).status === 404;
const rows = (outputs: Record<string, string>) => JSON.parse(outputs.verifications ?? '[]') as Record<string, unknown>[];

describe('mode verify on the real cloud', () => {
  let imageSnapshot: string;

  test('an image-backed snapshot: booted with no network, ACTIVE, console matched, deleted; Glance shows verified_at', SLOW, async (t) => {
    if (!cfg.loopback) return t.skip('boots a server: only on the loopback cloud, where it costs nothing');
    imageSnapshot = await snapshotOf(cfg.instance, 'img');
    const run = await runAction({
      mode: 'verify',
      instance: cfg.instance,
      region: R1,
      'snapshot-id': imageSnapshot,
      'verify-console': 'LAST LINE',
      ...authInputs(cfg),
    });
    assert.equal(run.code, 0, runLog(run));
    const [row, ...more] = rows(run.outputs);
    assert.equal(more.length, 0);
    assert.deepEqual([row?.snapshot_id, row?.result, row?.console_matched, row?.volume_backed], [imageSnapshot, 'passed', true, false]);
    assert.ok(await serverGone(String(row?.throwaway_server_id)), 'Nova no longer has the throwaway');
    assert.deepEqual(await throwaways(), []);
    const image = await api.image(imageSnapshot);
    assert.equal(image?.verify_result, 'passed');
    assert.match(String(image?.verified_at), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    console.log(`# verify (image-backed): ${run.durationMs} ms wall, boot ${row?.boot_seconds} s, ${run.outputs['api-requests']} API requests`);
  });

  test(
    'a volume-backed snapshot: Nova makes a volume of its Cinder snapshot; the server and the volume are gone after; Glance shows verified_at',
    SLOW,
    async (t) => {
      if (!cfg.loopback || !cfg.volumeInstance || !api.has('volume')) return t.skip('no volume-backed server (set OSA_E2E_VOLUME_INSTANCE)');
      const snapshot = await snapshotOf(cfg.volumeInstance, 'vol');
      const cinderSnapshots = (await api.image(snapshot))?.block_device_mapping;
      const run = await runAction({ mode: 'verify', instance: cfg.volumeInstance, region: R1, 'snapshot-id': snapshot, ...authInputs(cfg) });
      assert.equal(run.code, 0, runLog(run));
      const [row] = rows(run.outputs);
      assert.deepEqual([row?.result, row?.volume_backed], ['passed', true]);
      const volumes = row?.volume_ids as string[];
      assert.equal(volumes.length, 1, 'one volume made of the one Cinder snapshot');
      for (const id of volumes) assert.ok(await volumeGone(id), `Cinder no longer has volume ${id}`);
      assert.ok(await serverGone(String(row?.throwaway_server_id)));
      assert.deepEqual(await throwaways(), []);
      assert.equal((await api.image(snapshot))?.verify_result, 'passed');
      // The backup itself is untouched: its Cinder snapshot is still there.
      for (const id of JSON.parse(String(cinderSnapshots)).map((d: { snapshot_id: string }) => d.snapshot_id))
        assert.equal((await api.volumeSnapshot(id))?.status, 'available');
      console.log(`# verify (volume-backed): ${run.durationMs} ms wall, boot ${row?.boot_seconds} s, ${run.outputs['api-requests']} API requests`);
    },
  );

  test('a flavor too small for the snapshot, and an unknown one: named, nothing booted', SLOW, async (t) => {
    if (!cfg.loopback || !imageSnapshot) return t.skip('needs the image-backed snapshot of the first test');
    const big = await snapshotOf(cfg.instance, 'big');
    await api.patchImage(big, [{ op: 'replace', path: '/min_disk', value: 20 }]);
    const small = await runAction({ mode: 'verify', instance: cfg.instance, region: R1, 'snapshot-id': big, ...authInputs(cfg) });
    assert.equal(small.code, 1, runLog(small));
    assert.match(
      errorsOf(small)[0]!,
      /needs a 20 GiB root disk .*more than the 1 GiB of the flavor of instance .*: give verify-flavor a larger flavor; nothing was booted/,
    );
    const unknown = await runAction({
      mode: 'verify',
      instance: cfg.instance,
      region: R1,
      'snapshot-id': imageSnapshot,
      'verify-flavor': `${TAG}-nope`,
      ...authInputs(cfg),
    });
    assert.equal(unknown.code, 1, runLog(unknown));
    assert.match(errorsOf(unknown)[0]!, /verify-flavor: there is no flavor named or with ID ".*-nope" in region/);
    assert.deepEqual(await throwaways(), []);
    assert.equal((await api.image(big))?.verify_result, undefined, 'no verdict on a snapshot never booted');
  });

  test('killed mid-boot (SIGKILL): the throwaway is left, and the next verify of the instance removes it', SLOW, async (t) => {
    if (!cfg.loopback || !imageSnapshot) return t.skip('needs the image-backed snapshot of the first test');
    const killed = await runAction(
      { mode: 'verify', instance: cfg.instance, region: R1, 'snapshot-id': imageSnapshot, ...authInputs(cfg) },
      {},
      { cancelOn: { pattern: /Booting throwaway server/, signal: 'SIGKILL' } },
    );
    assert.notEqual(killed.code, 0);
    const [left, ...more] = await throwaways();
    assert.ok(left, 'a SIGKILL leaves the throwaway');
    assert.equal(more.length, 0);
    assert.equal(left.metadata.verify_of, imageSnapshot);
    const next = await runAction({ mode: 'verify', instance: cfg.instance, region: R1, 'snapshot-id': imageSnapshot, ...authInputs(cfg) });
    assert.equal(next.code, 0, runLog(next));
    assert.match(next.stdout, new RegExp(`Removing what an earlier verify of instance .* left: server ${left.id}`));
    assert.deepEqual(rows(next.outputs)[0]?.swept, [left.id]);
    assert.ok(await serverGone(left.id));
    assert.deepEqual(await throwaways(), []);
  });

  test('the sweep removes only its own: a throwaway of another instance, and a young one of another run, stay', SLOW, async (t) => {
    if (!cfg.loopback || !imageSnapshot) return t.skip('needs the image-backed snapshot of the first test (and the loopback flavor)');
    const instanceId = (await api.serverNamed(cfg.instance)).id;
    const decoy = (name: string, marks: Record<string, string>) =>
      api.createServer({
        name: `${PREFIX}${name}`,
        imageRef: imageSnapshot,
        flavorRef: 'osl-tiny',
        metadata: { [RUN_PROPERTY]: TAG, [Property.ManagedBy]: MANAGED_BY, [Property.VerifyOf]: imageSnapshot, ...marks },
      });
    // The run's own ID (run-action's GITHUB_RUN_ID) but another instance; this instance but another run, made just now.
    const decoys = [
      await decoy('decoy-other-instance', { [Property.VerifyInstance]: randomUUID(), [Property.VerifyRun]: '4242' }),
      await decoy('decoy-other-run', { [Property.VerifyInstance]: instanceId, [Property.VerifyRun]: 'another-run' }),
    ];
    try {
      const run = await runAction({ mode: 'verify', instance: cfg.instance, region: R1, 'snapshot-id': imageSnapshot, ...authInputs(cfg) });
      assert.equal(run.code, 0, runLog(run));
      assert.deepEqual(rows(run.outputs)[0]?.swept, []);
      for (const d of decoys) assert.equal(expect(await api.nova('GET', `/servers/${d.id}`)).status, 200, `${d.name} is still in Nova`);
    } finally {
      for (const d of decoys) await api.deleteServer(d.id);
    }
  });

  test(
    'cancelled mid-boot as the runner cancels (SIGINT, SIGTERM, SIGKILL): the volume-backed throwaway and its volume are deleted before the end',
    SLOW,
    async (t) => {
      if (!cfg.loopback || !cfg.volumeInstance || !api.has('volume')) return t.skip('no volume-backed server');
      const snapshot = await snapshotOf(cfg.volumeInstance, 'cancel');
      const run = await runAction(
        { mode: 'verify', instance: cfg.volumeInstance, region: R1, 'snapshot-id': snapshot, ...authInputs(cfg) },
        {},
        { cancelOn: { pattern: /Volume .* was made for throwaway server/, signal: 'runner' } },
      );
      assert.equal(run.code, 1, runLog(run));
      assert.match(run.stdout, /SIGINT: the job is cancelled/);
      const volume = /Volume (\S+) was made for throwaway server (\S+):/.exec(run.stdout);
      assert.ok(volume, 'the volume was seen');
      assert.ok(await serverGone(volume[2]!), 'Nova no longer has the throwaway');
      assert.ok(await volumeGone(volume[1]!), 'Cinder no longer has its volume');
      assert.match(errorsOf(run).join('\n'), /The job was cancelled \(SIGINT\) while snapshot .* was verified: its throwaway server was removed/);
      assert.equal((await api.image(snapshot))?.verify_result, undefined, 'no verdict written after a cancel');
    },
  );

  test('keep-verified in a prune: the verified snapshot is kept though keep-last 1 would delete it', SLOW, async (t) => {
    if (!cfg.loopback || !imageSnapshot) return t.skip('needs the verified snapshot of the first test');
    const newer = await snapshotOf(cfg.instance, 'img');
    const run = await runAction({
      mode: 'prune',
      instance: cfg.instance,
      region: R1,
      'snapshot-name': `${TAG}-img-*`,
      'keep-last': '1',
      'keep-verified': '1',
      ...authInputs(cfg),
    });
    assert.equal(run.code, 0, runLog(run));
    assert.deepEqual(JSON.parse(run.outputs['kept-snapshot-ids'] ?? '[]').sort(), [imageSnapshot, newer].sort());
    assert.equal((await api.image(imageSnapshot))?.status, 'active');
    const without = await runAction({
      mode: 'prune',
      instance: cfg.instance,
      region: R1,
      'snapshot-name': `${TAG}-img-*`,
      'keep-last': '1',
      'dry-run': 'true',
      ...authInputs(cfg),
    });
    assert.deepEqual(JSON.parse(without.outputs['planned-snapshot-ids'] ?? '[]'), [imageSnapshot], 'without keep-verified it would go');
  });
});
