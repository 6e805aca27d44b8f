// wait: captured on the real cloud: dist/index.js then dist/post/index.js as the runner runs them
// (the post step gets the STATE_* variables), with the loopback fake driver's two phases timed on
// their own (OSL_SNAPSHOT_CAPTURE_S, OSL_SNAPSHOT_UPLOAD_S, set here on the second region's
// nova-compute and put back to the defaults at the end). Every result is checked through Glance and Nova.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mainThenPost } from '../support/post-step.ts';
import { runAction, type RunOptions } from '../support/run-action.ts';
import { isIdle, RUN_PROPERTY, type OpenStack, type Server } from '../support/openstack.ts';
import { poll } from '../support/poll.ts';
import { setSnapshotPhases } from '../support/loopback.ts';
import { authInputs, cleanupRegion, connect, loadConfig, runLog as log } from '../support/real-cloud.ts';

const cfg = loadConfig();
const REGION = cfg.region2;
const TAG = cfg.tag;
const PHASES = { captureS: 2, uploadS: 15 };
const runner = (inputs: Record<string, string>, env: Record<string, string | undefined>, options: RunOptions) => runAction(inputs, env, options);

let api: OpenStack;
let skip: string | undefined;
let main: Server;
const booted: Server[] = [];

before(async () => {
  if (!cfg.loopback || !cfg.oslDir || !REGION) {
    skip = 'times the snapshot phases of the loopback cloud’s fake driver: only there';
    return;
  }
  api = await connect(cfg);
  const seconds = await setSnapshotPhases(cfg, REGION, PHASES);
  console.log(`# ${REGION} nova-compute with capture ${PHASES.captureS} s, upload ${PHASES.uploadS} s (restart: ${seconds} s)`);
  main = await api.serverNamed(cfg.instance2!, REGION);
});

after(async () => {
  if (!api || !REGION) return;
  for (const server of booted) await api.deleteServer(server.id, REGION).catch((error: Error) => console.log(`# cleanup: ${error.message}`));
  console.log(`# cleanup ${REGION}: ${(await cleanupRegion(api, REGION)).join(', ') || 'nothing left'}`);
  await setSnapshotPhases(cfg, REGION, undefined);
  console.log(`# ${REGION} nova-compute back to its default phases`);
});

const inputs = (instance: string, extra: Record<string, string> = {}) => ({
  region: REGION!,
  instance,
  wait: 'captured',
  'snapshot-name': `${TAG}-cap-{instance}-{timestamp}`,
  'snapshot-properties': `${RUN_PROPERTY}=${TAG}`,
  ...authInputs(cfg),
  ...extra,
});

async function boot(name: string, tags: string[] = []): Promise<Server> {
  const server = await api.createServer({ name: `${TAG}-${name}`, imageRef: main.image.id, flavorRef: 'osl-tiny', tags }, { region: REGION });
  booted.push(server);
  return server;
}

const idle = (id: string) => api.waitServer(id, isIdle, { region: REGION });

describe('wait: captured on the real cloud', () => {
  test('returns while Glance shows the image saving; the post step ends with it active and the deferred prune done', { timeout: 240_000 }, async (t) => {
    if (skip) return t.skip(skip);
    await idle(main.id);
    // An older snapshot of the same template: the prune after the new one deletes it, in the post step.
    const first = await runAction({ ...inputs(main.name), wait: 'true' });
    assert.equal(first.code, 0, log(first));
    const old = first.outputs['snapshot-id']!;
    await idle(main.id);
    let midway: string | undefined;
    let oldMidway: string | undefined;
    const {
      main: step,
      post,
      state,
    } = await mainThenPost(runner, inputs(main.name, { 'keep-last': '1' }), {}, async (done) => {
      midway = (await api.image(done.outputs['snapshot-id']!, REGION))?.status;
      oldMidway = (await api.image(old, REGION))?.status;
    });
    assert.equal(step.code, 0, log(step));
    const id = step.outputs['snapshot-id']!;
    assert.equal(step.outputs['snapshot-status'], 'saving');
    assert.equal(midway, 'saving', 'Glance shows the upload still running when the main step has ended');
    assert.equal(oldMidway, 'active', 'the prune waits for the post step');
    assert.ok(step.durationMs < (PHASES.captureS + PHASES.uploadS) * 1000, `the main step took ${step.durationMs} ms`);
    assert.deepEqual(Object.keys(state), ['uploading']);
    assert.ok(!state.uploading!.includes(String(cfg.password?.password ?? cfg.appcred?.secret)), 'no secret in GITHUB_STATE');
    assert.equal(post.code, 0, log(post));
    assert.equal((await api.image(id, REGION))?.status, 'active');
    assert.equal(await api.image(old, REGION), undefined, 'the post step pruned the older snapshot');
    console.log(`# captured: main step ${step.durationMs} ms, post step ${post.durationMs} ms`);
  });

  test(
    'an upload that fails after the capture (the image deleted in Glance): the post step fails naming the image; nothing else is deleted',
    { timeout: 240_000 },
    async (t) => {
      if (skip) return t.skip(skip);
      await idle(main.id);
      const keep = await runAction({ ...inputs(main.name), wait: 'true' });
      assert.equal(keep.code, 0, log(keep));
      await idle(main.id);
      const { main: step, post } = await mainThenPost(runner, inputs(main.name, { 'keep-last': '1' }), {}, async (done) => {
        assert.equal(await api.deleteImage(done.outputs['snapshot-id']!, REGION), 'deleted');
      });
      assert.equal(step.code, 0, log(step));
      const id = step.outputs['snapshot-id']!;
      assert.equal(post.code, 1, log(post));
      const error = post.stdout.split('\n').find((l) => l.startsWith('::error::')) ?? '';
      assert.ok(error.includes(`snapshot ${id}`) && error.includes(`instance ${main.name}`), error);
      assert.match(error, /Nova recorded no error for createImage req-|Nova's reason/);
      assert.equal((await api.image(keep.outputs['snapshot-id']!, REGION))?.status, 'active', 'the roll-back point is kept');
      await idle(main.id);
    },
  );

  test(
    'restore of this server’s snapshot still saving waits, then rebuilds; another’s non-active image is refused before any change',
    { timeout: 300_000 },
    async (t) => {
      if (skip) return t.skip(skip);
      const server = await boot('restore');
      const other = await boot('other');
      // Another server's snapshot while it uploads: refused before any change.
      const othersId = (await runAction(inputs(other.id))).outputs['snapshot-id']!;
      assert.equal((await api.image(othersId, REGION))?.status, 'saving');
      const refused = await runAction({
        region: REGION!,
        mode: 'restore',
        instance: server.id,
        'snapshot-id': othersId,
        'allow-other-instance': 'true',
        ...authInputs(cfg),
      });
      assert.equal(refused.code, 1, log(refused));
      assert.match(refused.stdout, /is not restored onto instance .*: it is (saving|queued), not active/);
      assert.equal((await api.server(server.id, REGION)).image.id, main.image.id, 'not rebuilt');
      // This server's own, still saving: waited for, then rebuilt.
      const taken = await runAction(inputs(server.id));
      assert.equal(taken.code, 0, log(taken));
      const id = taken.outputs['snapshot-id']!;
      assert.equal((await api.image(id, REGION))?.status, 'saving');
      const restored = await runAction({ region: REGION!, mode: 'restore', instance: server.id, 'snapshot-id': id, ...authInputs(cfg) });
      assert.equal(restored.code, 0, log(restored));
      assert.match(restored.stdout, /is still saving \(its upload runs\): waiting until it is active before the rebuild/);
      assert.equal((await api.server(server.id, REGION)).image.id, id, 'rebuilt from the snapshot');
      await poll('the other upload', async () => (await api.image(othersId, REGION))?.status === 'active', { timeoutMs: 60_000 });
    },
  );

  test('a fleet of three: the step returns once every disk is captured; the post step ends with each active', { timeout: 300_000 }, async (t) => {
    if (skip) return t.skip(skip);
    const servers = await Promise.all([1, 2, 3].map((n) => boot(`fleet-${n}`, [`${TAG}-cap`])));
    const fleetInputs = { ...inputs(''), instance: '', 'instance-tags': `${TAG}-cap`, 'max-parallel': '3' };
    const { main: step, post } = await mainThenPost(runner, fleetInputs);
    assert.equal(step.code, 0, log(step));
    const rows = JSON.parse(step.outputs.snapshots ?? '[]') as { instance_id: string; snapshot_id: string; status: string; captured_at: string }[];
    assert.deepEqual(rows.map((r) => r.instance_id).sort(), servers.map((s) => s.id).sort());
    for (const row of rows) assert.ok(row.captured_at && row.status !== 'active', JSON.stringify(row));
    assert.equal(post.code, 0, log(post));
    for (const row of rows) assert.equal((await api.image(row.snapshot_id, REGION))?.status, 'active');
    console.log(`# fleet of 3 captured: main ${step.durationMs} ms (${step.outputs['api-requests']} requests), post ${post.durationMs} ms`);
  });
});
