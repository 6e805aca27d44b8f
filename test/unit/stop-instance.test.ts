// stop-instance against a scripted Nova: the job cancelled (from the first signal nothing new is
// stopped or snapshotted, the server is started again or named), a start Nova accepts but never
// does, a refused os-stop, a token that would expire, an os-start without a clear answer, and
// what the snapshot's consistency is called.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import nock from 'nock';
import { Cancellation } from '../../src/modes/cancel.ts';
import { create } from '../../src/modes/create/create.ts';
import type { Credentials } from '../../src/openstack/identity.ts';
import {
  AUTH_ORIGIN,
  AUTH_URL,
  COMPUTE_ORIGIN,
  COMPUTE_PATH,
  createSettings,
  failed,
  IMAGE_ID,
  IMAGE_ORIGIN,
  imageBody,
  mockAuth,
  newCloud,
  PROJECT_ID,
  selection,
  serverBody,
  SERVER_ID,
  stdout,
  succeeded,
  unmatched,
  useNock,
} from '../support/nock.ts';

useNock();

interface Server {
  id: string;
  name: string;
  status: string;
  taskState: string | null;
}
type Answer = [number, unknown?] | undefined;

const conflict = (action: string, state: string) =>
  [409, { conflictingRequest: { code: 409, message: `Cannot '${action.replace('os-', '')}' instance ${SERVER_ID} while it is in ${state}` } }] as Answer;

/**
 * Nova with these servers: GETs show each as it is now; os-stop, createImage and os-start are
 * answered by `answer` when it gives an answer, otherwise accepted and done at once. Returns
 * each server's actions as `action status`.
 */
function nova(servers: Server[], answer: (action: string, server: Server, count: number) => Answer = () => undefined): Map<string, string[]> {
  const actions = new Map(servers.map((s) => [s.id, [] as string[]]));
  const scope = nock(COMPUTE_ORIGIN).persist();
  for (const server of servers) {
    const path = `${COMPUTE_PATH}/servers/${server.id}`;
    scope.get(path).reply(() => [200, { server: serverBody({ id: server.id, name: server.name, status: server.status, taskState: server.taskState }) }]);
    // nock 15 hands reply functions the fetch Request.
    scope.post(`${path}/action`).reply(async (request: Request) => {
      const action = Object.keys((await request.json()) as object)[0]!;
      const done = actions.get(server.id)!;
      const reply = answer(action, server, done.filter((a) => a.startsWith(action)).length + 1) ?? accept(action, server);
      done.push(`${action} ${reply[0]}`);
      return reply;
    });
  }
  return actions;
}

function accept(action: string, server: Server): [number, unknown?] {
  if (action === 'os-stop') server.status = 'SHUTOFF';
  if (action === 'os-start') server.status = 'ACTIVE';
  return action === 'createImage' ? [202, { image_id: IMAGE_ID }] : [202];
}

const web = (n = 0): Server => ({
  id: n ? `00000000-0000-4000-8000-00000000000${n}` : SERVER_ID,
  name: n ? `web-${n}` : 'web',
  status: 'ACTIVE',
  taskState: null,
});
const glanceActive = () =>
  nock(IMAGE_ORIGIN)
    .persist()
    .get(`/v2/images/${IMAGE_ID}`)
    .reply(200, imageBody({ id: IMAGE_ID, status: 'active' }));

describe('stop-instance: the job cancelled', () => {
  it('before the server is stopped: no os-stop, no createImage', async () => {
    mockAuth();
    const actions = nova([web()]);
    const cancel = new Cancellation();
    cancel.cancel('SIGINT');
    await assert.rejects(
      create(newCloud(), createSettings({ stopInstance: true }), cancel),
      /The job was cancelled \(SIGINT\) before instance web was stopped/,
    );
    assert.deepEqual(actions.get(SERVER_ID), []);
  });

  it('while it is being stopped: not snapshotted, started again, and the step fails for the cancel', async () => {
    mockAuth();
    const cancel = new Cancellation();
    const actions = nova([web()], (action, server) => {
      if (action !== 'os-stop') return undefined;
      cancel.cancel('SIGINT');
      server.taskState = 'powering-off';
      setTimeout(() => Object.assign(server, { status: 'SHUTOFF', taskState: null }), 300);
      return [202];
    });
    await assert.rejects(
      create(newCloud(), createSettings({ stopInstance: true }), cancel),
      /The job was cancelled \(SIGINT\) while instance web was being stopped, before its snapshot was requested/,
    );
    assert.deepEqual(
      actions.get(SERVER_ID)!.filter((a) => a.endsWith('202')),
      ['os-stop 202', 'os-start 202'],
    );
    assert.match(stdout(), /Started instance web again after the cancel/);
  });

  it('during the upload: os-start is asked again until Nova accepts it; the image is named, not waited for', async () => {
    mockAuth();
    const cancel = new Cancellation();
    const actions = nova([web()], (action, server, count) => {
      if (action === 'createImage') {
        cancel.cancel('SIGINT');
        server.taskState = 'image_uploading';
        return [202, { image_id: IMAGE_ID }];
      }
      if (action === 'os-start' && count < 3) return conflict(action, 'task_state image_uploading');
      if (action === 'os-start') server.taskState = null;
      return undefined;
    });
    const failure = failed(await create(newCloud(), createSettings({ stopInstance: true }), cancel));
    assert.equal(failure.imageId, IMAGE_ID);
    assert.match(
      failure.message,
      new RegExp(`^The job was cancelled \\(SIGINT\\) after snapshot ${IMAGE_ID} of instance web was requested: it goes on in the cloud`),
    );
    assert.deepEqual(actions.get(SERVER_ID), ['os-stop 202', 'createImage 202', 'os-start 409', 'os-start 409', 'os-start 202']);
    assert.deepEqual(unmatched, [], 'the image is not waited for');
  });

  it('an upload that outlasts the grace: the server is named as down, with the command to start it', async () => {
    mockAuth();
    const cancel = new Cancellation();
    nova([web()], (action, server) => {
      if (action === 'createImage') {
        // SIGTERM first: the runner kills 2.5 s later.
        cancel.cancel('SIGTERM');
        server.taskState = 'image_uploading';
        return [202, { image_id: IMAGE_ID }];
      }
      return action === 'os-start' ? conflict(action, 'task_state image_uploading') : undefined;
    });
    const started = Date.now();
    const failure = failed(await create(newCloud(), createSettings({ stopInstance: true }), cancel));
    assert.ok(Date.now() - started < 2_500, `it ended before the runner kills it (${Date.now() - started} ms)`);
    assert.equal(failure.imageId, IMAGE_ID);
    assert.match(failure.message, new RegExp(`Instance web \\(${SERVER_ID}\\) is still down: start it with: openstack server start ${SERVER_ID}`));
    assert.match(stdout(), new RegExp(`could not be started again: .*task_state image_uploading.*openstack server start ${SERVER_ID}`));
  });

  it('a fleet: the next server is not begun once the job is cancelled', async () => {
    mockAuth();
    const servers = [web(1), web(2)];
    nock(COMPUTE_ORIGIN)
      .get(`${COMPUTE_PATH}/servers/detail`)
      .query({ limit: '1000' })
      .reply(200, { servers: servers.map((s) => serverBody(s)) });
    const cancel = new Cancellation();
    const actions = nova(servers, (action) => {
      if (action === 'os-stop') cancel.cancel('SIGINT');
      return undefined;
    });
    const outcome = await create(newCloud(), createSettings({ servers: selection('web-1', 'web-2'), stopInstance: true, concurrency: 1 }), cancel);
    assert.deepEqual(actions.get(servers[0]!.id), ['os-stop 202', 'os-start 202']);
    assert.deepEqual(actions.get(servers[1]!.id), []);
    assert.match(
      failed(outcome).message,
      /^2 of 2 instance\(s\) failed: .*web-2: The job was cancelled \(SIGINT\) before instance web-2 was snapshotted: it was not touched/,
    );
  });
});

describe('stop-instance: started again, but not seen running', () => {
  it('os-start accepted, the server still SHUTOFF at the deadline: the step fails, the downtime is unknown, the image is kept', async () => {
    mockAuth();
    const actions = nova([web()], (action) => (action === 'os-start' ? [202] : undefined));
    glanceActive();
    const outcome = await create(newCloud(), createSettings({ stopInstance: true, timeoutMs: 1_500 }));
    assert.deepEqual(actions.get(SERVER_ID), ['os-stop 202', 'createImage 202', 'os-start 202']);
    const failure = failed(outcome);
    assert.equal(failure.imageId, IMAGE_ID);
    assert.match(
      failure.message,
      new RegExp(
        `^Instance web \\(${SERVER_ID}\\) was started again \\(Nova accepted os-start\\) but was not seen running: it is still SHUTOFF \\(task_state none\\), so its downtime is unknown`,
      ),
    );
    assert.equal(outcome.result?.mode === 'create' && outcome.result.downtimeMs, undefined);
    assert.equal(outcome.result?.mode === 'create' && outcome.result.image.id, IMAGE_ID);
  });
});

describe('stop-instance: a refused os-stop stops nothing, so starts nothing', () => {
  for (const [status, words] of [
    [409, /Nothing was stopped, and nothing is started: it may have been stopped or changed by someone else meanwhile/],
    [403, /this login lacks the policy to stop instances \(os_compute_api:servers:stop\)/],
  ] as const) {
    it(`${status}: no os-start, no snapshot, no warning that it was left stopped`, async () => {
      mockAuth();
      const actions = nova([web()], (action, server) => {
        if (action !== 'os-stop') return undefined;
        // A user stopped it just before (409), or the policy forbids it (403).
        if (status === 409) server.status = 'SHUTOFF';
        return status === 409
          ? conflict(action, 'vm_state stopped')
          : [403, { forbidden: { code: 403, message: "Policy doesn't allow os_compute_api:servers:stop to be performed." } }];
      });
      await assert.rejects(
        create(newCloud(), createSettings({ stopInstance: true })),
        (error: Error) => (assert.match(error.message, words), assert.match(error.message, /^Nova refused to stop instance web/), true),
      );
      assert.deepEqual(actions.get(SERVER_ID), [`os-stop ${status}`]);
      assert.doesNotMatch(stdout(), /could not be started|Started instance/);
    });
  }
});

describe('stop-instance with a token login, and answers that are not clear', () => {
  const token: Credentials = { method: 'token', authUrl: AUTH_URL, token: 'gAAAAA-given-token', projectId: PROJECT_ID, projectDomainName: 'Default' };

  it('a token that expires before the timeout is over: refused before anything is stopped, naming the inputs to use', async () => {
    mockAuth({ expiresAt: new Date(Date.now() + 20 * 60_000) });
    const actions = nova([web()]);
    await assert.rejects(
      create(newCloud({ credentials: token }), createSettings({ credentials: token, stopInstance: true, timeoutMs: 30 * 60_000 })),
      (error: Error) => {
        assert.match(
          error.message,
          /^stop-instance: the token expires at .*, before the timeout of 30m .*a token login cannot renew it: instance web was not stopped/,
        );
        assert.match(error.message, /application-credential-id, application-credential-secret/);
        return true;
      },
    );
    assert.deepEqual(actions.get(SERVER_ID), []);
  });

  it('a token that outlives the timeout: the server is stopped and started as with any login', async () => {
    mockAuth();
    const actions = nova([web()]);
    glanceActive();
    succeeded(await create(newCloud({ credentials: token }), createSettings({ credentials: token, stopInstance: true, timeoutMs: 5_000 })));
    assert.deepEqual(actions.get(SERVER_ID), ['os-stop 202', 'createImage 202', 'os-start 202']);
  });

  it('one 500 from os-start: asked again, the snapshot succeeds with its image ID', async () => {
    mockAuth();
    const actions = nova([web()], (action, _server, count) =>
      action === 'os-start' && count === 1 ? [500, { computeFault: { code: 500, message: 'Unexpected API Error.' } }] : undefined,
    );
    glanceActive();
    const result = succeeded(await create(newCloud(), createSettings({ stopInstance: true })));
    assert.equal(result.image.id, IMAGE_ID);
    assert.deepEqual(actions.get(SERVER_ID), ['os-stop 202', 'createImage 202', 'os-start 500', 'os-start 202']);
    assert.ok(result.downtimeMs !== undefined);
  });

  it('a token that is refused once createImage was accepted: the server is named as down, the image ID is kept', async () => {
    mockAuth({ times: 1 });
    nock(AUTH_ORIGIN)
      .post('/v3/auth/tokens')
      .times(10)
      .reply(401, { error: { code: 401, message: 'The request you have made requires authentication.', title: 'Unauthorized' } });
    nova([web()], (action) =>
      action === 'os-start' ? [401, { error: { code: 401, message: 'The request you have made requires authentication.' } }] : undefined,
    );
    glanceActive();
    const failure = failed(await create(newCloud({ credentials: token }), createSettings({ credentials: token, stopInstance: true, timeoutMs: 2_000 })));
    assert.equal(failure.imageId, IMAGE_ID);
    assert.match(failure.message, new RegExp(`is still down: start it with: openstack server start ${SERVER_ID}`));
    assert.match(
      stdout(),
      new RegExp(`Instance web \\(${SERVER_ID}\\) was stopped for the snapshot and could not be started again: .*openstack server start ${SERVER_ID}`),
    );
  });
});

describe('consistency', () => {
  for (const status of ['PAUSED', 'SUSPENDED']) {
    it(`a ${status} server's snapshot is crash-consistent, not stopped (also in the dry run)`, async () => {
      mockAuth();
      const server = { ...web(), status };
      nova([server]);
      glanceActive();
      const result = succeeded(await create(newCloud(), createSettings({ stopInstance: true })));
      assert.equal(result.consistency, 'crash-consistent');
      mockAuth();
      nova([server]);
      const dry = succeeded(await create(newCloud(), createSettings({ stopInstance: true, dryRun: true })));
      assert.equal(dry.consistency, 'crash-consistent');
    });
  }

  it('a SHUTOFF server, left so, is stopped', async () => {
    mockAuth();
    nova([{ ...web(), status: 'SHUTOFF' }]);
    glanceActive();
    assert.equal(succeeded(await create(newCloud(), createSettings())).consistency, 'stopped');
  });
});
