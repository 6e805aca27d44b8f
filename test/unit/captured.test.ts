import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import nock from 'nock';
import { create } from '../../src/modes/create/create.ts';
import { decodePending, encodePending, pendingOf } from '../../src/modes/post/pending.ts';
import { promptPollDelay } from '../../src/lib/wait.ts';
import { readStepKey, stepProperties } from '../../src/lib/step-key.ts';
import {
  COMPUTE_ORIGIN,
  COMPUTE_PATH,
  IMAGE_ID,
  IMAGE_ORIGIN,
  imageBody,
  mockAuth,
  mockSnapshotAccepted,
  newCloud,
  PROJECT_ID,
  serverBody,
  SERVER_ID,
  SERVER_PATH,
  createSettings,
  failed,
  retention,
  stdout,
  succeeded,
  useNock,
  clearActionEnv,
  setInputs,
  settingsProblems,
} from '../support/nock.ts';
import { readSettings } from '../../src/settings/settings.ts';

useNock();

const IMAGE_PATH = `/v2/images/${IMAGE_ID}`;
const captured = (overrides = {}) => createSettings({ captured: true, uploadTimeoutMs: 60_000, ...overrides });

/** Nova showing the server's task state at each look, in order. */
function taskStates(...states: (string | null)[]) {
  const scope = nock(COMPUTE_ORIGIN);
  for (const taskState of states) scope.get(SERVER_PATH).reply(200, { server: serverBody({ taskState }) });
  return scope;
}

/** Glance showing the image with these statuses, one GET each. */
function imageStatuses(...statuses: string[]) {
  const scope = nock(IMAGE_ORIGIN);
  for (const status of statuses) scope.get(IMAGE_PATH).reply(200, imageBody({ id: IMAGE_ID, status, size: status === 'active' ? 65536 : null }));
  return scope;
}

describe('wait: captured', () => {
  it('returns once the task state reaches image_uploading and Glance shows the image saving: the status, the capture time, no prune yet', async () => {
    mockAuth();
    mockSnapshotAccepted();
    const nova = taskStates('image_snapshot', 'image_pending_upload', 'image_uploading');
    const glance = imageStatuses('saving');
    const started = Date.now();
    const result = succeeded(await create(newCloud(), captured({ retention: retention({ policy: { last: 1 } }) })));
    nova.done();
    glance.done();
    assert.equal(result.image.status, 'saving');
    assert.equal(result.uploading, true);
    assert.ok(result.capturedAt && result.capturedAt.getTime() >= started);
    assert.equal(result.prune, undefined, 'the prune is left to the post step');
    assert.match(stdout(), /the job goes on while it uploads, and the post step waits until it is active before the prune after it/);
    assert.deepEqual(pendingOf(result), [{ imageId: IMAGE_ID, serverId: SERVER_ID, capturedAt: result.capturedAt!.getTime() }]);
  });

  it('image_uploading with the image still queued (libvirt’s moment before a direct snapshot) is not yet captured', async () => {
    mockAuth();
    mockSnapshotAccepted();
    const nova = taskStates('image_pending_upload', 'image_uploading', 'image_pending_upload', 'image_uploading');
    const glance = imageStatuses('queued', 'saving');
    const result = succeeded(await create(newCloud(), captured()));
    nova.done();
    glance.done();
    assert.equal(result.image.status, 'saving');
  });

  it('image_uploading on two looks in a row is captured, whatever Glance shows yet (the upload may take a moment to begin)', async () => {
    mockAuth();
    mockSnapshotAccepted();
    const nova = taskStates('image_pending_upload', 'image_uploading', 'image_uploading');
    const glance = imageStatuses('queued', 'queued');
    const result = succeeded(await create(newCloud(), captured()));
    nova.done();
    glance.done();
    assert.equal(result.image.status, 'queued');
    assert.equal(result.uploading, true);
  });

  it('a task that ends with the image active (nothing left to upload): an ordinary result, nothing for the post step', async () => {
    mockAuth();
    mockSnapshotAccepted();
    taskStates(null);
    imageStatuses('active');
    const result = succeeded(await create(newCloud(), captured()));
    assert.equal(result.uploading, false);
    assert.deepEqual(pendingOf(result), []);
  });

  it('a task that ends with the image killed fails, naming the image', async () => {
    mockAuth();
    mockSnapshotAccepted();
    taskStates('image_pending_upload', null);
    imageStatuses('killed');
    const failure = failed(await create(newCloud(), captured()));
    assert.equal(failure.imageId, IMAGE_ID);
    assert.match(failure.message, new RegExp(`The snapshot failed: snapshot ${IMAGE_ID} is killed once the task on instance web`));
  });
});

describe('a re-run reuses the snapshot this step took', () => {
  const step = { runId: '4242', job: 'deploy', step: 'snapshot' };

  it('finds it by run, job and step (and this server, this project): no createImage, the same snapshot', async () => {
    mockAuth();
    nock(COMPUTE_ORIGIN).get(SERVER_PATH).reply(200, { server: serverBody() });
    const earlier = imageBody({
      id: IMAGE_ID,
      name: 'web-20261206-120000',
      status: 'active',
      owner: PROJECT_ID,
      managed_by: 'openstack-snapshot-action',
      source_instance_id: SERVER_ID,
      instance_uuid: SERVER_ID,
      github_run_attempt: '1',
      ...stepProperties(step),
    });
    const listing = nock(IMAGE_ORIGIN)
      .get('/v2/images')
      .query((q) => q.github_run_id === '4242' && q.github_job === 'deploy' && q.github_action === 'snapshot' && q.source_instance_id === SERVER_ID)
      .reply(200, { images: [earlier] })
      .get(IMAGE_PATH)
      .reply(200, earlier);
    const result = succeeded(await create(newCloud(), createSettings({ step })));
    listing.done();
    assert.equal(result.image.id, IMAGE_ID);
    assert.equal(result.image.name, 'web-20261206-120000');
    assert.equal(result.reused, true);
    assert.match(
      stdout(),
      /Re-run: snapshot .* was taken by an earlier attempt of this step \(run 4242, job deploy, step snapshot; attempt 1\), and is active: reused/,
    );
  });

  it('one another project could have forged, or one that failed, is not reused: a new snapshot is taken with the step’s marks', async () => {
    mockAuth();
    const bodies = mockSnapshotAccepted();
    const marks = { managed_by: 'openstack-snapshot-action', source_instance_id: SERVER_ID, ...stepProperties(step) };
    nock(IMAGE_ORIGIN)
      .get('/v2/images')
      .query(true)
      .reply(200, {
        images: [
          imageBody({ id: 'a0000000-0000-4000-8000-000000000001', owner: 'other', status: 'active', ...marks }),
          imageBody({ id: 'a0000000-0000-4000-8000-000000000002', owner: PROJECT_ID, status: 'killed', ...marks }),
        ],
      });
    imageStatuses('active');
    succeeded(await create(newCloud(), createSettings({ step })));
    assert.equal(bodies.length, 1);
    assert.deepEqual(
      [bodies[0]!.createImage.metadata.github_job, bodies[0]!.createImage.metadata.github_action, bodies[0]!.createImage.metadata.github_run_id],
      ['deploy', 'snapshot', '4242'],
    );
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

  it('true and false keep their meaning; anything else is refused, naming the three', () => {
    assert.deepEqual([read({ wait: 'true' }).wait, read({ wait: 'true' }).captured], [true, undefined]);
    assert.equal(read({ wait: 'FALSE' }).wait, false);
    clearActionEnv();
    setInputs({ ...login, wait: 'yes' });
    assert.deepEqual(settingsProblems(), [
      'wait: "yes" is not a boolean; use true or false, or captured (until each disk is captured; the post step waits for active)',
    ]);
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

describe('instance actions: Nova’s reason for a failed snapshot', () => {
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
