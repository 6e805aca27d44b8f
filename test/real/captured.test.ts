// wait: captured on the real cloud: dist/index.js then dist/post/index.js as the runner runs them
// (the post step gets the STATE_* variables), with the loopback fake driver's two phases timed on
// their own (OSL_SNAPSHOT_CAPTURE_S, OSL_SNAPSHOT_UPLOAD_S, set here on the second region's
// nova-compute and put back to the defaults at the end). Every result is checked through Glance and Nova.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mainThenPost } from '../support/post-step.ts';
import { runAction, type ActionRun, type RunOptions } from '../support/run-action.ts';
import { Api, appcredInputs, cleanupRegion, eventually, loadConfig, passwordInputs, RUN_PROPERTY, type Server } from './cloud.ts';
import { setSnapshotPhases } from './loopback.ts';

const cfg = loadConfig();
const REGION = cfg.region2;
const TAG = cfg.tag;
const PHASES = { captureS: 2, uploadS: 15 };
const auth = () => (cfg.password ? passwordInputs(cfg) : appcredInputs(cfg));
const log = (run: ActionRun) => `exit ${run.code}\n${run.stdout.split('\n').slice(-60).join('\n')}\n${run.stderr.slice(-2000)}`;
const runner = (inputs: Record<string, string>, env: Record<string, string | undefined>, options: RunOptions) => runAction(inputs, env, options);

let api: Api;
let skip: string | undefined;
let main: Server;
const booted: Server[] = [];

before(async () => {
  if (!cfg.loopback || !cfg.oslDir || !REGION) {
    skip = 'times the snapshot phases of the loopback cloud’s fake driver: only there';
    return;
  }
  api = await Api.connect(cfg);
  const seconds = await setSnapshotPhases(cfg, REGION, PHASES);
  console.log(`# ${REGION} nova-compute with capture ${PHASES.captureS} s, upload ${PHASES.uploadS} s (restart: ${seconds} s)`);
  main = (await api.getServer(REGION, cfg.instance2!)) ?? (await api.serverNamed(REGION, cfg.instance2!));
});

after(async () => {
  if (!api || !REGION) return;
  for (const server of booted) await api.deleteServer(REGION, server.id).catch((error: Error) => console.log(`# cleanup: ${error.message}`));
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
  ...auth(),
  ...extra,
});

async function boot(name: string, tags: string[] = []): Promise<Server> {
  const imageRef = (main.image as { id: string }).id;
  const server = await api.createServer(REGION!, { name: `${TAG}-${name}`, imageRef, flavorRef: 'osl-tiny', tags, metadata: { [RUN_PROPERTY]: TAG } });
  booted.push(server);
  return server;
}

const idle = (id: string) => api.waitServer(REGION!, id, (s) => !!s && s.status === 'ACTIVE' && s['OS-EXT-STS:task_state'] === null, 120_000);

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
      midway = (await api.getImage(REGION!, done.outputs['snapshot-id']!))?.status;
      oldMidway = (await api.getImage(REGION!, old))?.status;
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
    assert.equal((await api.getImage(REGION!, id))?.status, 'active');
    assert.equal(await api.getImage(REGION!, old), undefined, 'the post step pruned the older snapshot');
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
        assert.equal(await api.deleteImage(REGION!, done.outputs['snapshot-id']!), 'deleted');
      });
      assert.equal(step.code, 0, log(step));
      const id = step.outputs['snapshot-id']!;
      assert.equal(post.code, 1, log(post));
      const error = post.stdout.split('\n').find((l) => l.startsWith('::error::')) ?? '';
      assert.ok(error.includes(`snapshot ${id}`) && error.includes(`instance ${main.name}`), error);
      assert.match(error, /Nova recorded no error for createImage req-|Nova's reason/);
      assert.equal((await api.getImage(REGION!, keep.outputs['snapshot-id']!))?.status, 'active', 'the roll-back point is kept');
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
      assert.equal((await api.getImage(REGION!, othersId))?.status, 'saving');
      const refused = await runAction({
        region: REGION!,
        mode: 'restore',
        instance: server.id,
        'snapshot-id': othersId,
        'allow-other-instance': 'true',
        ...auth(),
      });
      assert.equal(refused.code, 1, log(refused));
      assert.match(refused.stdout, /is not restored onto instance .*: it is (saving|queued), not active/);
      assert.equal(((await api.getServer(REGION!, server.id))?.image as { id: string }).id, (main.image as { id: string }).id, 'not rebuilt');
      // This server's own, still saving: waited for, then rebuilt.
      const taken = await runAction(inputs(server.id));
      assert.equal(taken.code, 0, log(taken));
      const id = taken.outputs['snapshot-id']!;
      assert.equal((await api.getImage(REGION!, id))?.status, 'saving');
      const restored = await runAction({ region: REGION!, mode: 'restore', instance: server.id, 'snapshot-id': id, ...auth() });
      assert.equal(restored.code, 0, log(restored));
      assert.match(restored.stdout, /is still saving \(its upload runs\): waiting until it is active before the rebuild/);
      const now = await api.getServer(REGION!, server.id);
      assert.equal((now?.image as { id: string }).id, id, 'rebuilt from the snapshot');
      await eventually('the other upload', async () => ((await api.getImage(REGION!, othersId))?.status === 'active' ? true : undefined), 60_000);
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
    for (const row of rows) assert.equal((await api.getImage(REGION!, row.snapshot_id))?.status, 'active');
    console.log(`# fleet of 3 captured: main ${step.durationMs} ms (${step.outputs['api-requests']} requests), post ${post.durationMs} ms`);
  });
});
