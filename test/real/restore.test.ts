// mode: restore against the real loopback cloud: a server booted here is snapshotted by the
// action, rebuilt to another image (the "bad release"), then restored; Nova must show it running
// the snapshot again, ACTIVE, with its ID and name. A volume-backed server is refused, unchanged.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { errorsOf, runAction, type ActionRun } from '../support/run-action.ts';
import { Api, appcredInputs, cleanupRegion, loadConfig, passwordInputs, RUN_PROPERTY, type Server } from './cloud.ts';

const cfg = loadConfig();
const R1 = cfg.region;
const TAG = cfg.tag;
const SLOW = { timeout: 300_000 };
const auth = () => (cfg.password ? passwordInputs(cfg) : appcredInputs(cfg));
const log = (run: ActionRun) => `exit ${run.code}\n${run.stdout.split('\n').slice(-40).join('\n')}\n${run.stderr.slice(-2000)}`;
const imageOf = (server: Server | undefined) => (server?.image as { id?: string } | undefined)?.id;
const idle = (imageId: string) => (s: Server | undefined) => s?.status === 'ACTIVE' && !s['OS-EXT-STS:task_state'] && imageOf(s) === imageId;

let api: Api;
const cleanups: (() => Promise<unknown>)[] = [];

before(async () => {
  api = await Api.connect(cfg);
});

after(async () => {
  if (!api) return;
  for (const cleanup of cleanups.reverse()) await cleanup().catch((error: Error) => console.log(`# cleanup: ${error.message}`));
  console.log(`# cleanup ${R1}: ${(await cleanupRegion(api, R1)).join(', ') || 'nothing left'}`);
});

describe('mode restore on the real cloud', () => {
  test('snapshot, rebuild to another image, restore: Nova runs the snapshot again, ACTIVE, same ID and name', SLOW, async (t) => {
    if (!cfg.loopback) return t.skip('boots and rebuilds a server: only on the loopback cloud, where it costs nothing');
    const main = (await api.getServer(R1, cfg.instance)) ?? (await api.serverNamed(R1, cfg.instance));
    const base = imageOf(main)!;
    const server = await api.createServer(R1, { name: `${TAG}-restore`, imageRef: base, flavorRef: 'osl-tiny', metadata: { [RUN_PROPERTY]: TAG } });
    cleanups.push(() => api.deleteServer(R1, server.id));
    assert.equal(server.status, 'ACTIVE', JSON.stringify(server.fault ?? {}));

    const created = await runAction({
      mode: 'create',
      instance: server.id,
      region: R1,
      'snapshot-name': `${TAG}-restore-{timestamp}`,
      'snapshot-properties': `${RUN_PROPERTY}=${TAG}`,
      ...auth(),
    });
    assert.equal(created.code, 0, log(created));
    const snapshot = created.outputs['snapshot-id']!;

    // The bad release: the server now runs another image.
    const other = await api.seedImage(R1, `${TAG}-bad-release`, {});
    await api.request('compute', R1, 'POST', `/servers/${server.id}/action`, { json: { rebuild: { imageRef: other.id } } });
    await api.waitServer(R1, server.id, idle(other.id), 120_000);

    const started = Date.now();
    const run = await runAction({ mode: 'restore', instance: `${TAG}-restore`, region: R1, ...auth() });
    const wallMs = Date.now() - started;
    assert.equal(run.code, 0, log(run));
    assert.match(run.stdout, new RegExp(`Restoring snapshot ${snapshot} .*: the newest active one of instance ${TAG}-restore`));
    assert.equal(run.outputs['snapshot-id'], snapshot);
    assert.equal(run.outputs['previous-image-id'], other.id);
    const now = await api.getServer(R1, server.id);
    assert.ok(idle(snapshot)(now), `Nova shows ${now?.status}/${now?.['OS-EXT-STS:task_state']} on ${imageOf(now)}`);
    assert.deepEqual([now?.id, now?.name], [server.id, `${TAG}-restore`]);
    console.log(`# restore: ${wallMs} ms wall, ${run.outputs['api-requests']} API requests, rebuild ${run.outputs['duration-seconds']} s`);

    // Run again with snapshot-before, twice (a re-run of the roll-back): the second must not pick the first one's backup.
    const first = await runAction({ mode: 'restore', instance: server.id, region: R1, 'snapshot-before': 'true', ...auth() });
    assert.equal(first.code, 0, log(first));
    const backup = first.outputs['backup-snapshot-id']!;
    // Restore's backups carry no run tag of the tier's: each is removed by its ID.
    cleanups.push(() => api.deleteImage(R1, backup));
    assert.equal((await api.getImage(R1, backup))?.taken_before_restore_of, snapshot, 'Glance shows the backup marked');
    const again = await runAction({ mode: 'restore', instance: server.id, region: R1, 'snapshot-before': 'true', ...auth() });
    if (again.outputs['backup-snapshot-id']) cleanups.push(() => api.deleteImage(R1, again.outputs['backup-snapshot-id']!));
    assert.equal(again.code, 0, log(again));
    assert.equal(again.outputs['snapshot-id'], snapshot, 'the known-good snapshot, not the backup');
    assert.match(again.stdout, new RegExp(`Skipped 1 newer snapshot\\(s\\) taken before a restore \\(snapshot-before\\): ${backup}\\.`));
    assert.ok(idle(snapshot)(await api.getServer(R1, server.id)), 'Nova runs the known-good snapshot');
  });

  test('a volume-backed server is refused before any change: its status and its volumes stay as they were', SLOW, async (t) => {
    if (!cfg.volumeInstance || !api.hasVolumes(R1)) return t.skip('no volume-backed server (set OSA_E2E_VOLUME_INSTANCE)');
    const server = (await api.getServer(R1, cfg.volumeInstance)) ?? (await api.serverNamed(R1, cfg.volumeInstance));
    const volumes = (server['os-extended-volumes:volumes_attached'] as { id: string }[]).map((v) => v.id);
    const statuses = async () =>
      Promise.all(volumes.map(async (id) => (await api.request<{ volume: { status: string } }>('volume', R1, 'GET', `/volumes/${id}`)).body.volume.status));
    const before = await statuses();
    const run = await runAction({ mode: 'restore', instance: server.id, region: R1, ...auth() });
    assert.equal(run.code, 1, log(run));
    assert.match(errorsOf(run)[0]!, /is volume-backed: it is not rebuilt, and nothing was changed/);
    const now = await api.getServer(R1, server.id);
    assert.deepEqual([now?.status, now?.['OS-EXT-STS:task_state']], [server.status, server['OS-EXT-STS:task_state']]);
    assert.deepEqual(await statuses(), before, 'no volume left reserved');
    assert.ok(before.every((status) => status === 'in-use'));
  });
});
