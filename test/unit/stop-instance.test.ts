// stop-instance against the local cloud, in this process: stopped, snapshotted and started again
// once the disk is captured; the job cancelled (from the first signal nothing new is stopped or
// snapshotted, the server is started again or named); a start Nova accepts but never does; a
// refused os-stop; a token login; an os-start without a clear answer; what the snapshot's
// consistency is called.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { Cancellation } from '../../src/modes/cancel.ts';
import { create } from '../../src/modes/create/create.ts';
import type { Credentials } from '../../src/openstack/identity.ts';
import type { CreateSettings } from '../../src/settings/create.ts';
import type { LocalCloudOptions, ServerSpec } from '../local-cloud/cloud.ts';
import { failed, Local, selection, succeeded } from '../support/in-process.ts';
import { stdout } from '../support/step.ts';

/** A cloud with the server `web` (as `spec` says) and a stop-instance create of it. */
async function stopping(t: TestContext, spec: Partial<ServerSpec> = {}, options: LocalCloudOptions = {}) {
  const local = await Local.start(t, { snapshotSeconds: 0, powerSeconds: 0.2, ...options });
  const web = local.server(spec);
  const created = (overrides: Partial<CreateSettings> = {}, cancel?: Cancellation, client = local.client()) =>
    create(client, local.createSettings({ stopInstance: true, ...overrides }), cancel);
  return { local, web, created };
}

/** The server actions the cloud got for `server`, as `action status`. */
const actions = (local: Local, server: { id: string }) =>
  local.lc.requests.filter((r) => r.action && r.path.includes(server.id)).map((r) => `${r.action} ${r.status}`);

describe('stop-instance: a consistent snapshot', () => {
  it('stops, snapshots, starts again once the disk is captured, and reports the downtime', async (t) => {
    // A snapshot of 100 s: the disk is captured (image_uploading) at the first look after createImage,
    // and the snapshot's task over at the first look after an os-start.
    const { local, web, created } = await stopping(t, {}, { snapshotSeconds: 100 });
    const serverLook = { method: 'GET', path: new RegExp(`/servers/${web.id}$`) };
    local.lc.once({ action: 'createImage' }, () => local.lc.once(serverLook, () => local.lc.advance(60_000)));
    local.lc.once({ action: 'os-start' }, () => local.lc.once(serverLook, () => local.lc.advance(50_000)));
    const result = succeeded(await created());
    // Asked as soon as the disk is captured: Nova refuses it until the task is over.
    assert.deepEqual(actions(local, web), ['os-stop 202', 'createImage 202', 'os-start 409', 'os-start 202']);
    assert.equal(result.consistency, 'stopped');
    assert.ok(result.downtimeMs !== undefined);
    assert.match(stdout(), /Started instance web again: it was down/);
    assert.deepEqual([local.lc.server(web.id)?.status, local.lc.server(web.id)?.taskState], ['ACTIVE', null], 'it waited until the server was ACTIVE again');
  });

  it('a failed snapshot still starts the server again', async (t) => {
    const { local, web, created } = await stopping(t);
    local.lc.fault({ match: { action: 'createImage' }, kind: 'status', status: 400, body: { badRequest: { code: 400, message: 'no' } } });
    await assert.rejects(created(), /answered 400/);
    assert.deepEqual(actions(local, web), ['os-stop 202', 'createImage 400', 'os-start 202']);
  });
});

describe('stop-instance: the job cancelled', () => {
  it('before the server is stopped: no os-stop, no createImage', async (t) => {
    const { local, created } = await stopping(t);
    const cancel = new Cancellation();
    cancel.cancel('SIGINT');
    await assert.rejects(created({}, cancel), /The job was cancelled \(SIGINT\) before instance web was stopped/);
    assert.deepEqual(local.changes(), []);
  });

  it('while it is being stopped: not snapshotted, started again, and the step fails for the cancel', async (t) => {
    const { local, web, created } = await stopping(t);
    const cancel = new Cancellation();
    local.lc.once({ action: 'os-stop' }, () => cancel.cancel('SIGINT'));
    await assert.rejects(created({}, cancel), /The job was cancelled \(SIGINT\) while instance web was being stopped, before its snapshot was requested/);
    // Nova refuses os-start until the server is stopped.
    assert.deepEqual(
      actions(local, web).filter((a) => a.endsWith('202')),
      ['os-stop 202', 'os-start 202'],
    );
    assert.match(stdout(), /Started instance web again after the cancel/);
  });

  it('during the upload: os-start is asked again until Nova accepts it; the image is named, not waited for', async (t) => {
    const { local, web, created } = await stopping(t, {}, { snapshotSeconds: 1 });
    const cancel = new Cancellation();
    local.lc.once({ action: 'createImage' }, () => cancel.cancel('SIGINT'));
    const failure = failed(await created({}, cancel));
    const imageId = failure.imageId ?? '';
    assert.ok(local.lc.image(imageId));
    assert.match(
      failure.message,
      new RegExp(`^The job was cancelled \\(SIGINT\\) after snapshot ${imageId} of instance web was requested: it goes on in the cloud`),
    );
    assert.match(actions(local, web).join(','), /^os-stop 202,createImage 202,(os-start 409,)+os-start 202$/);
    assert.ok(!local.sent().includes(`GET /v2/images/${imageId}`), 'the image is not waited for');
  });

  it('an upload that outlasts the grace: the server is named as down, with the command to start it', async (t) => {
    const { local, web, created } = await stopping(t, {}, { snapshotSeconds: 60 });
    const cancel = new Cancellation();
    // SIGTERM first: the runner kills 2.5 s later. The upload is under way when the start is first asked for.
    local.lc.once({ action: 'createImage' }, () => cancel.cancel('SIGTERM'));
    local.lc.once({ action: 'os-start' }, () => local.lc.advance(35_000));
    const started = Date.now();
    const failure = failed(await created({}, cancel));
    assert.ok(Date.now() - started < 2_500, `it ended before the runner kills it (${Date.now() - started} ms)`);
    assert.ok(failure.imageId && local.lc.image(failure.imageId));
    assert.match(failure.message, new RegExp(`Instance web \\(${web.id}\\) is still down: start it with: openstack server start ${web.id}`));
    assert.match(stdout(), new RegExp(`could not be started again: .*task_state image_uploading.*openstack server start ${web.id}`));
    assert.equal(local.lc.server(web.id)?.status, 'SHUTOFF');
  });

  it('a fleet: the next server is not begun once the job is cancelled', async (t) => {
    const local = await Local.start(t, { snapshotSeconds: 0, powerSeconds: 0 });
    const [first, second] = [local.server({ name: 'web-1' }), local.server({ name: 'web-2' })];
    const cancel = new Cancellation();
    local.lc.once({ action: 'os-stop' }, () => cancel.cancel('SIGINT'));
    const outcome = await create(local.client(), local.createSettings({ servers: selection('web-1', 'web-2'), stopInstance: true, concurrency: 1 }), cancel);
    assert.deepEqual(actions(local, first), ['os-stop 202', 'os-start 202']);
    assert.deepEqual(actions(local, second), []);
    assert.match(
      failed(outcome).message,
      /^2 of 2 instance\(s\) failed: .*web-2: The job was cancelled \(SIGINT\) before instance web-2 was snapshotted: it was not touched/,
    );
  });
});

describe('stop-instance: started again, but not seen running', () => {
  it('os-start accepted, the server still SHUTOFF at the deadline: the step fails, the downtime is unknown, the image is kept', async (t) => {
    const { local, web, created } = await stopping(t);
    local.lc.fault({ match: { action: 'os-start' }, kind: 'status', status: 202, body: '' });
    const outcome = await created({ timeoutMs: 1_500 });
    assert.deepEqual(actions(local, web), ['os-stop 202', 'createImage 202', 'os-start 202']);
    const failure = failed(outcome);
    assert.ok(failure.imageId && local.lc.image(failure.imageId)?.status === 'active');
    assert.match(
      failure.message,
      new RegExp(
        `^Instance web \\(${web.id}\\) was started again \\(Nova accepted os-start\\) but was not seen running: it is still SHUTOFF \\(task_state none\\), so its downtime is unknown`,
      ),
    );
    assert.equal(outcome.result?.mode === 'create' && outcome.result.downtimeMs, undefined);
    assert.equal(outcome.result?.mode === 'create' && outcome.result.image.id, failure.imageId);
  });
});

describe('stop-instance: a refused os-stop stops nothing, so starts nothing', () => {
  for (const [status, words] of [
    [409, /Nothing was stopped, and nothing is started: it may have been stopped or changed by someone else meanwhile/],
    [403, /this login lacks the policy to stop instances \(os_compute_api:servers:stop\)/],
  ] as const) {
    it(`${status}: no os-start, no snapshot, no warning that it was left stopped`, async (t) => {
      const { local, web, created } = await stopping(t);
      // A user stopped it just before (409), or the policy forbids it (403).
      if (status === 409) local.lc.once({ action: 'os-stop' }, () => local.lc.setServer(web.id, { status: 'SHUTOFF' }));
      else {
        const forbidden = { forbidden: { code: 403, message: "Policy doesn't allow os_compute_api:servers:stop to be performed." } };
        local.lc.fault({ match: { action: 'os-stop' }, kind: 'status', status: 403, body: forbidden });
      }
      await assert.rejects(
        created(),
        (error: Error) => (assert.match(error.message, words), assert.match(error.message, /^Nova refused to stop instance web/), true),
      );
      assert.deepEqual(actions(local, web), [`os-stop ${status}`]);
      assert.doesNotMatch(stdout(), /could not be started|Started instance/);
    });
  }
});

describe('stop-instance with a token login, and answers that are not clear', () => {
  /** A token login with a token of this cloud (which lives as long as the cloud's tokens do). */
  async function tokenLogin(local: Local): Promise<Credentials> {
    const { value } = await local.client().identity.token();
    return { method: 'token', authUrl: local.lc.authUrl, token: value, projectId: local.lc.demo.projectId, projectDomainName: 'Default' };
  }

  it('a token that expires before the timeout is over: refused before anything is stopped, naming the inputs to use', async (t) => {
    const { local, created } = await stopping(t, {}, { tokenTtlSeconds: 20 * 60 });
    const credentials = await tokenLogin(local);
    await assert.rejects(created({ credentials, timeoutMs: 30 * 60_000 }, undefined, local.client({ credentials })), (error: Error) => {
      assert.match(
        error.message,
        /^stop-instance: the token expires at .*, before the timeout of 30m .*a token login cannot renew it: instance web was not stopped/,
      );
      assert.match(error.message, /application-credential-id, application-credential-secret/);
      return true;
    });
    assert.deepEqual(local.changes(), []);
  });

  it('a token that outlives the timeout: the server is stopped and started as with any login', async (t) => {
    const { local, web, created } = await stopping(t);
    const credentials = await tokenLogin(local);
    succeeded(await created({ credentials, timeoutMs: 5_000 }, undefined, local.client({ credentials })));
    assert.deepEqual(actions(local, web), ['os-stop 202', 'createImage 202', 'os-start 202']);
  });

  it('one 500 from os-start: asked again, the snapshot succeeds with its image ID', async (t) => {
    const { local, web, created } = await stopping(t);
    local.lc.fault({ match: { action: 'os-start' }, kind: 'status', status: 500, body: { computeFault: { code: 500, message: 'Unexpected API Error.' } } });
    const result = succeeded(await created());
    assert.equal(local.lc.image(result.image.id)?.status, 'active');
    assert.deepEqual(actions(local, web), ['os-stop 202', 'createImage 202', 'os-start 500', 'os-start 202']);
    assert.ok(result.downtimeMs !== undefined);
  });

  it('a token that is refused once createImage was accepted: the server is named as down, the image ID is kept', async (t) => {
    const { local, web, created } = await stopping(t);
    const credentials = await tokenLogin(local);
    // Every token of the cloud revoked, the one given included: no new one can be had.
    local.lc.once({ action: 'os-start' }, () => {
      for (const token of local.lc.world.tokens.values()) token.revoked = true;
    });
    const failure = failed(await created({ credentials, timeoutMs: 2_000 }, undefined, local.client({ credentials })));
    assert.ok(failure.imageId && local.lc.image(failure.imageId));
    assert.match(failure.message, new RegExp(`is still down: start it with: openstack server start ${web.id}`));
    assert.match(
      stdout(),
      new RegExp(`Instance web \\(${web.id}\\) was stopped for the snapshot and could not be started again: .*openstack server start ${web.id}`),
    );
  });
});

describe('consistency', () => {
  for (const status of ['PAUSED', 'SUSPENDED']) {
    it(`a ${status} server's snapshot is crash-consistent, not stopped (also in the dry run)`, async (t) => {
      const { local, created } = await stopping(t, { status });
      assert.equal(succeeded(await created()).consistency, 'crash-consistent');
      assert.equal(succeeded(await created({ dryRun: true })).consistency, 'crash-consistent');
      assert.equal(local.changes().filter((r) => /os-stop/.test(r)).length, 0);
    });
  }

  it('a server already SHUTOFF is left so; a running one with a guest agent is quiesced, without one crash-consistent', async (t) => {
    const { local, web, created } = await stopping(t, { status: 'SHUTOFF' });
    assert.equal(succeeded(await created()).consistency, 'stopped');
    assert.equal(succeeded(await created({ stopInstance: false })).consistency, 'stopped');
    assert.deepEqual(actions(local, web), ['createImage 202', 'createImage 202']);
    local.lc.setServer(web.id, { status: 'ACTIVE' });
    // Nova copies the image's properties to the snapshot: hw_qemu_guest_agent says whether the guest can be frozen.
    assert.equal(succeeded(await created({ stopInstance: false, metadata: { hw_qemu_guest_agent: 'yes' } })).consistency, 'quiesced');
    assert.equal(succeeded(await created({ stopInstance: false })).consistency, 'crash-consistent');
  });
});
