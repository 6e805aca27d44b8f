// wait: captured: the create against the local cloud in this process (its capture and upload timed
// on their own), the capture signal against a scripted Nova and Glance (libvirt's moment of
// image_uploading before a direct snapshot, which no cloud shows on demand), a re-run's reuse, the
// wait input, the post step's state; nock only for the instance actions' microversions on the wire.
import assert from 'node:assert/strict';
import { after, describe, it, type TestContext } from 'node:test';
import nock from 'nock';
import { MANAGED_BY } from '../../src/lib/constants.ts';
import { readStepKey, stepProperties } from '../../src/lib/step-key.ts';
import { Deadline, promptPollDelay } from '../../src/lib/wait.ts';
import { untilCaptured } from '../../src/modes/create/captured.ts';
import { create } from '../../src/modes/create/create.ts';
import { decodePending, encodePending, pendingOf } from '../../src/modes/post/pending.ts';
import type { Server } from '../../src/openstack/compute.ts';
import type { Image, ImageStatus } from '../../src/openstack/image.ts';
import { readSettings } from '../../src/settings/settings.ts';
import type { CreateSettings } from '../../src/settings/create.ts';
import type { LocalCloudOptions } from '../local-cloud/cloud.ts';
import { failed, Local, retention, succeeded } from '../support/in-process.ts';
import { COMPUTE_ORIGIN, COMPUTE_PATH, IMAGE_ID, mockAuth, newCloud, PROJECT_ID, SERVER_ID, useNock } from '../support/nock.ts';
import { clearActionEnv, setInputs, stdout } from '../support/step.ts';

/** A cloud with the server `web`, its snapshots' capture and upload timed so, and a wait: captured create of it. */
async function capturing(t: TestContext, options: LocalCloudOptions = { captureSeconds: 0.5, uploadSeconds: 3 }) {
  const local = await Local.start(t, options);
  const web = local.server();
  const created = (overrides: Partial<CreateSettings> = {}) =>
    create(local.client(), local.createSettings({ captured: true, uploadTimeoutMs: 60_000, ...overrides }));
  return { local, web, created };
}

describe('wait: captured', () => {
  it('returns once the task state reaches image_uploading and Glance shows the image saving: the status, the capture time, no prune yet', async (t) => {
    const { local, web, created } = await capturing(t);
    const started = Date.now();
    const result = succeeded(await created({ retention: retention({ policy: { last: 1 } }) }));
    assert.equal(result.image.status, 'saving');
    assert.equal(local.lc.image(result.image.id)?.status, 'saving', 'the upload still runs');
    assert.equal(result.uploading, true);
    assert.ok(result.capturedAt && result.capturedAt.getTime() >= started);
    assert.equal(result.prune, undefined, 'the prune is left to the post step');
    assert.match(stdout(), /the job goes on while it uploads, and the post step waits until it is active before the prune after it/);
    assert.deepEqual(pendingOf(result), [{ imageId: result.image.id, serverId: web.id, capturedAt: result.capturedAt.getTime() }]);
  });

  it('a task that ends with the image active (nothing left to upload): an ordinary result, nothing for the post step', async (t) => {
    const { created } = await capturing(t, { captureSeconds: 0.5, uploadSeconds: 0 });
    const result = succeeded(await created());
    assert.equal(result.image.status, 'active');
    assert.equal(result.uploading, false);
    assert.deepEqual(pendingOf(result), []);
  });

  it('a snapshot killed on the way fails, naming the image', async (t) => {
    const { local, created } = await capturing(t);
    local.lc.fault({ match: { action: 'createImage' }, kind: 'image-killed', afterMs: 0 });
    const failure = failed(await created());
    assert.ok(failure.imageId);
    assert.match(failure.message, new RegExp(`The snapshot failed: snapshot ${failure.imageId} is killed once the task on instance web`));
  });
});

describe('the capture signal', () => {
  const server = (taskState: string | null): Server => ({
    id: SERVER_ID,
    name: 'web',
    status: 'ACTIVE',
    taskState,
    volumeBacked: false,
    volumeIds: [],
    metadata: {},
  });
  const image = (status: ImageStatus): Image<'hw_qemu_guest_agent'> => ({
    id: IMAGE_ID,
    name: 'web-snap',
    status,
    createdAt: new Date(),
    size: null,
    minDisk: 0,
    minRam: 0,
    protected: false,
    owner: PROJECT_ID,
    imageType: 'snapshot',
    instanceUuid: SERVER_ID,
    bdmV2: false,
    volumeSnapshotIds: [],
    properties: {},
  });
  /** Nova showing these task states at each look, Glance these statuses at each look at the image: every one of them asked for. */
  async function watched(states: (string | null)[], statuses: ImageStatus[]) {
    const [looks, imageLooks] = [[...states], [...statuses]];
    const compute = { getServer: async () => server(looks.shift() ?? 'exhausted') };
    const images = { get: async () => image(imageLooks.shift() ?? 'deleted') };
    const captured = await untilCaptured(compute, images, server('image_snapshot_pending'), IMAGE_ID, Deadline.after(30_000));
    assert.deepEqual([looks, imageLooks], [[], []], 'every look scripted was taken, no more');
    return captured;
  }

  it('image_uploading with the image saving is captured', async () => {
    assert.equal((await watched(['image_snapshot', 'image_pending_upload', 'image_uploading'], ['saving'])).image.status, 'saving');
  });

  it('image_uploading with the image still queued (libvirt’s moment before a direct snapshot) is not yet captured', async () => {
    const captured = await watched(['image_pending_upload', 'image_uploading', 'image_pending_upload', 'image_uploading'], ['queued', 'saving']);
    assert.equal(captured.image.status, 'saving');
  });

  it('image_uploading on two looks in a row is captured, whatever Glance shows yet (the upload may take a moment to begin)', async () => {
    assert.equal((await watched(['image_pending_upload', 'image_uploading', 'image_uploading'], ['queued', 'queued'])).image.status, 'queued');
  });
});

describe('a re-run reuses the snapshot this step took', () => {
  const step = { runId: '4242', job: 'deploy', step: 'snapshot' };

  it('finds it by run, job and step (and this server, this project): no createImage, the same snapshot', async (t) => {
    const { local, web, created } = await capturing(t);
    const earlier = local.snapshot(web, { name: 'web-20261206-120000' }, { github_run_attempt: '1', ...stepProperties(step) });
    const result = succeeded(await created({ captured: undefined, step }));
    assert.deepEqual(
      local.sent((r) => r.action === 'createImage'),
      [],
    );
    assert.deepEqual([result.image.id, result.image.name, result.reused], [earlier.id, 'web-20261206-120000', true]);
    const [listing] = local.listings();
    assert.deepEqual(
      [listing?.github_run_id, listing?.github_job, listing?.github_action, listing?.source_instance_id, listing?.managed_by],
      ['4242', 'deploy', 'snapshot', web.id, MANAGED_BY],
    );
    assert.match(
      stdout(),
      /Re-run: snapshot .* was taken by an earlier attempt of this step \(run 4242, job deploy, step snapshot; attempt 1\), and is active: reused/,
    );
  });

  it('one another project could have forged, or one that failed, is not reused: a new snapshot is taken with the step’s marks', async (t) => {
    const { local, web, created } = await capturing(t, { snapshotSeconds: 0 });
    local.snapshot(web, { name: 'forged', owner: 'a0000000000040008000000000000001' }, stepProperties(step));
    local.snapshot(web, { name: 'failed', status: 'killed' }, stepProperties(step));
    const result = succeeded(await created({ captured: undefined, step }));
    assert.equal(result.reused, undefined);
    const [args] = local.argsOf<{ metadata: Record<string, string> }>('createImage');
    assert.deepEqual([args.metadata.github_job, args.metadata.github_action, args.metadata.github_run_id], ['deploy', 'snapshot', '4242']);
  });

  it('the key needs all three runner variables', () => {
    assert.deepEqual(readStepKey({ GITHUB_RUN_ID: '1', GITHUB_JOB: 'j', GITHUB_ACTION: 's' }), { runId: '1', job: 'j', step: 's' });
    assert.equal(readStepKey({ GITHUB_RUN_ID: '1', GITHUB_JOB: 'j' }), undefined);
  });
});

describe('the wait input', () => {
  const login = { 'auth-url': 'https://auth.cloud.ovh.net/v3', username: 'u', password: 'p', 'project-id': PROJECT_ID, region: 'GRA11', instance: 'web' };
  const read = (inputs: Record<string, string>) => {
    clearActionEnv();
    setInputs({ ...login, ...inputs });
    const settings = readSettings({ GITHUB_RUN_ID: '7', GITHUB_JOB: 'deploy', GITHUB_ACTION: 'snap' });
    assert.equal(settings.mode, 'create');
    return settings;
  };
  after(clearActionEnv);

  it('captured: the step waits until captured; keep-* allowed (the post step prunes); upload-timeout defaults to 6h; the step key read', () => {
    const s = read({ wait: 'captured', 'keep-last': '2' });
    assert.deepEqual([s.wait, s.captured, s.uploadTimeoutMs, s.step], [true, true, 6 * 3_600_000, { runId: '7', job: 'deploy', step: 'snap' }]);
    assert.equal(read({ wait: 'Captured', 'upload-timeout': '45m' }).uploadTimeoutMs, 45 * 60_000);
  });

  // A wait that is none of the three, and keep-* with wait: false, are refused: test/unit/settings.test.ts.
  it('true and false keep their meaning', () => {
    assert.deepEqual([read({ wait: 'true' }).wait, read({ wait: 'true' }).captured], [true, undefined]);
    assert.equal(read({ wait: 'FALSE' }).wait, false);
  });
});

describe('the post step’s state', () => {
  it('IDs and a time only, read back checked', () => {
    const pending = [{ imageId: IMAGE_ID, serverId: SERVER_ID, capturedAt: 1_765_000_000_000 }];
    assert.deepEqual(decodePending(encodePending(pending)), pending);
    assert.deepEqual(decodePending(''), []);
    assert.throws(() => decodePending('[["not-an-id","x",1]]'), /not a snapshot and an instance/);
    assert.throws(() => decodePending('{"token":"x"}'), /not a list/);
  });
});

describe('instance actions on the wire: Nova’s reason for a failed snapshot', () => {
  useNock();

  it('asks 2.84 for the event details, and falls back on 406 to 2.51', async () => {
    mockAuth();
    const actions = `${COMPUTE_PATH}/servers/${SERVER_ID}/os-instance-actions`;
    const list = { instanceActions: [{ action: 'createImage', request_id: 'req-1', start_time: '2026-12-06T10:00:00.000000' }] };
    nock(COMPUTE_ORIGIN, { reqheaders: { 'openstack-api-version': 'compute 2.84' } })
      .get(actions)
      .reply(406, { computeFault: { code: 406, message: 'Version 2.84 is not supported by the API.' } });
    nock(COMPUTE_ORIGIN, { reqheaders: { 'openstack-api-version': 'compute 2.51' } })
      .get(actions)
      .reply(200, list)
      .get(`${actions}/req-1`)
      .reply(200, { instanceAction: { ...list.instanceActions[0], message: 'Error', events: [{ event: 'compute_snapshot_instance', result: 'Error' }] } });
    const compute = await newCloud().compute();
    const action = await compute.lastSnapshotAction(SERVER_ID);
    assert.deepEqual(action, {
      requestId: 'req-1',
      message: 'Error',
      events: [{ event: 'compute_snapshot_instance', result: 'Error', details: null }],
      microversion: '2.51',
    });
    assert.equal(compute.microversion, '2.45', 'the client keeps its own microversion');
  });
});

describe('prompt polls', () => {
  it('every 0.4 s for two minutes, then slower, up to 5 s', () => {
    assert.equal(promptPollDelay(0), 400);
    assert.equal(promptPollDelay(119_000), 400);
    assert.ok(promptPollDelay(200_000) > 400);
    assert.equal(promptPollDelay(10 * 3_600_000), 5_000);
  });
});
