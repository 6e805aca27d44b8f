// mode: restore against the real loopback cloud: a server booted here is snapshotted by the
// action, rebuilt to another image (the "bad release"), then restored; Nova must show it running
// the snapshot again, ACTIVE, with its ID and name.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { expect, isIdle, RUN_PROPERTY, type OpenStack, type Server } from '../support/openstack.ts';
import { authInputs, cleanupRegion, connect, loadConfig, runLog } from '../support/real-cloud.ts';
import { runAction } from '../support/run-action.ts';

const cfg = loadConfig();
const R1 = cfg.region;
const TAG = cfg.tag;
const SLOW = { timeout: 300_000 };
const idle = (imageId: string) => (s: Server) => isIdle(s) && s.image.id === imageId;

let api: OpenStack;
const cleanups: (() => Promise<unknown>)[] = [];

before(async () => {
  api = await connect(cfg);
});

after(async () => {
  if (!api) return;
  for (const cleanup of cleanups.reverse()) await cleanup().catch((error: Error) => console.log(`# cleanup: ${error.message}`));
  console.log(`# cleanup ${R1}: ${(await cleanupRegion(api, R1)).join(', ') || 'nothing left'}`);
});

describe('mode restore on the real cloud', () => {
  test('snapshot, rebuild to another image, restore: Nova runs the snapshot again, ACTIVE, same ID and name', SLOW, async (t) => {
    if (!cfg.loopback) return t.skip('boots and rebuilds a server: only on the loopback cloud, where it costs nothing');
    const main = await api.serverNamed(cfg.instance);
    const server = await api.createServer({ name: `${TAG}-restore`, imageRef: main.image.id, flavorRef: 'osl-tiny' });
    cleanups.push(() => api.deleteServer(server.id));
    assert.equal(server.status, 'ACTIVE', JSON.stringify(server.fault ?? {}));

    const created = await runAction({
      mode: 'create',
      instance: server.id,
      region: R1,
      'snapshot-name': `${TAG}-restore-{timestamp}`,
      'snapshot-properties': `${RUN_PROPERTY}=${TAG}`,
      ...authInputs(cfg),
    });
    assert.equal(created.code, 0, runLog(created));
    const snapshot = created.outputs['snapshot-id']!;

    // The bad release: the server now runs another image.
    const other = await api.seedImage(`${TAG}-bad-release`, {});
    expect(await api.nova('POST', `/servers/${server.id}/action`, { json: { rebuild: { imageRef: other.id } } }));
    await api.waitServer(server.id, idle(other.id));

    const started = Date.now();
    const run = await runAction({ mode: 'restore', instance: `${TAG}-restore`, region: R1, ...authInputs(cfg) });
    const wallMs = Date.now() - started;
    assert.equal(run.code, 0, runLog(run));
    assert.match(run.stdout, new RegExp(`Restoring snapshot ${snapshot} .*: the newest active one of instance ${TAG}-restore`));
    assert.equal(run.outputs['snapshot-id'], snapshot);
    assert.equal(run.outputs['previous-image-id'], other.id);
    const now = await api.server(server.id);
    assert.ok(idle(snapshot)(now), `Nova shows ${now.status}/${now['OS-EXT-STS:task_state']} on ${now.image.id}`);
    assert.deepEqual([now.id, now.name], [server.id, `${TAG}-restore`]);
    console.log(`# restore: ${wallMs} ms wall, ${run.outputs['api-requests']} API requests, rebuild ${run.outputs['duration-seconds']} s`);

    // Run again with snapshot-before, twice (a re-run of the roll-back): the second must not pick the first one's backup.
    const first = await runAction({ mode: 'restore', instance: server.id, region: R1, 'snapshot-before': 'true', ...authInputs(cfg) });
    assert.equal(first.code, 0, runLog(first));
    const backup = first.outputs['backup-snapshot-id']!;
    // Restore's backups carry no run tag of the tier's: each is removed by its ID.
    cleanups.push(() => api.deleteImage(backup));
    assert.equal((await api.image(backup))?.taken_before_restore_of, snapshot, 'Glance shows the backup marked');
    const again = await runAction({ mode: 'restore', instance: server.id, region: R1, 'snapshot-before': 'true', ...authInputs(cfg) });
    if (again.outputs['backup-snapshot-id']) cleanups.push(() => api.deleteImage(again.outputs['backup-snapshot-id']!));
    assert.equal(again.code, 0, runLog(again));
    assert.equal(again.outputs['snapshot-id'], snapshot, 'the known-good snapshot, not the backup');
    assert.match(again.stdout, new RegExp(`Skipped 1 newer snapshot\\(s\\) taken before a restore \\(snapshot-before\\): ${backup}\\.`));
    assert.ok(idle(snapshot)(await api.server(server.id)), 'Nova runs the known-good snapshot');
  });
  // A volume-backed server is refused before any request that changes it: test/unit/restore.test.ts; that Nova
  // shows a volume-backed server as one ("image": ""): test/contract/nova.test.ts, which also runs against this cloud.
});
