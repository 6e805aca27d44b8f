// Mode verify against the local cloud, in this process: a throwaway server booted from the
// snapshot and deleted again (with the volumes Nova made for it) on every path: success, ERROR,
// timeout, cancel; what a killed run left swept, and only that; bad flavors refused before any
// change; the result written on the snapshot; keep-verified in a prune.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { MANAGED_BY } from '../../src/lib/constants.ts';
import { decide } from '../../src/lib/retention.ts';
import { Cancellation } from '../../src/modes/cancel.ts';
import { create, type CreateResult } from '../../src/modes/create/create.ts';
import { prune } from '../../src/modes/prune/prune.ts';
import { verify, type VerifyResult } from '../../src/modes/verify/verify.ts';
import type { VerifySettings } from '../../src/settings/verify.ts';
import type { LocalCloudOptions, ServerSpec } from '../local-cloud/cloud.ts';
import { failed, Local, REGION, retention, runMain, succeeded } from '../support/in-process.ts';
import { stdout } from '../support/step.ts';

const SNAPSHOT_ID = '5e0c1f7a-2b3d-4c5e-8f90-a1b2c3d4e5f6';
const CINDER_SNAPSHOT = '3a9d6f7e-0b1c-4d2e-9f30-4a5b6c7d8e9f';
const OTHER_INSTANCE = '9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a';

/** A cloud with the server `web` and its snapshot SNAPSHOT_ID (image-backed, or volume-backed); `verified` verifies it. */
async function withSnapshot(t: TestContext, options: { volumeBacked?: boolean; server?: Partial<ServerSpec>; cloud?: LocalCloudOptions } = {}) {
  const local = await Local.start(t, { bootSeconds: 0.3, deleteSeconds: 0.2, ...options.cloud });
  const web = local.server({ ...(options.volumeBacked ? { volumeBacked: true } : {}), ...options.server });
  const marks = { managed_by: MANAGED_BY, source_instance_id: web.id };
  if (options.volumeBacked) {
    local.cinderSnapshot(CINDER_SNAPSHOT, 'web-1', { volumeId: web.rootVolumeId ?? undefined });
    local.volumeBackedImage({ id: SNAPSHOT_ID, name: 'web-1', createdAt: '2025-01-02T00:00:00Z', minDisk: 1 }, [CINDER_SNAPSHOT], marks);
  } else local.snapshot(web, { id: SNAPSHOT_ID, name: 'web-1', createdAt: '2025-01-02T00:00:00Z', minDisk: 1 });
  const verified = (overrides: Partial<VerifySettings> = {}, cancel?: Cancellation) => verify(local.client(), local.verifySettings(overrides), cancel);
  return { local, web, verified };
}

/** Servers other than `web` (throwaways), and volumes other than the servers' root volumes: what a verify could leave. */
function leftovers(local: Local, web: { id: string }) {
  return {
    servers: local.lc.servers(REGION).filter((s) => s.id !== web.id),
    volumes: local.lc.volumes(REGION).filter((v) => v.imageId === null),
  };
}
const nothingLeft = (local: Local, web: { id: string }) => assert.deepEqual(leftovers(local, web), { servers: [], volumes: [] });

/** The server create the verify sent. */
const bootRequest = (local: Local) => {
  const [boot, ...more] = local.lc.requests.filter((r) => r.method === 'POST' && /\/servers$/.test(r.path));
  assert.ok(boot, 'a server create was sent');
  assert.equal(more.length, 0, 'one server create');
  return boot;
};

const props = (local: Local) => local.lc.image(SNAPSHOT_ID)?.properties ?? assert.fail('the snapshot is gone');

describe('verify: the throwaway server', () => {
  it('an image-backed snapshot: booted with no network, no key, no user data, ACTIVE, then deleted and confirmed gone; verified_at written', async (t) => {
    const { local, web, verified } = await withSnapshot(t);
    const result = succeeded(await verified()) as VerifyResult;
    assert.equal(result.result, 'passed');
    assert.equal(result.image.id, SNAPSHOT_ID);
    assert.ok(result.bootMs !== undefined && result.bootMs >= 300, `booted in ${result.bootMs} ms`);
    assert.equal(result.consoleMatched, undefined);
    nothingLeft(local, web);
    assert.equal(bootRequest(local).status, 202);
    const changes = local.changes();
    assert.deepEqual(changes[0], 'POST /servers');
    assert.ok(changes.includes(`DELETE /servers/${result.throwawayId}`), changes.join('\n'));
    assert.deepEqual(changes.at(-1), `PATCH /v2/images/${SNAPSHOT_ID}`);
    const p = props(local);
    assert.equal(p.verify_result, 'passed');
    assert.match(p.verified_at ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(p.verify_checked_at, p.verified_at);
    // Its flavor was the instance's.
    assert.equal(result.flavor?.id, 'b2-7');
  });

  it('the throwaway as Nova has it: named for the snapshot, the instance’s flavor, the action’s marks; no key pair, no network', async (t) => {
    const { local, web, verified } = await withSnapshot(t);
    let seen: { name: string; flavorId: string; metadata: Record<string, string> } | undefined;
    // The first look at it: the create was executed.
    local.lc.once(
      { method: 'GET', path: /\/servers\/[0-9a-f-]{36}$/ },
      () => {
        const [throwaway] = [...local.lc.world.region(REGION).servers.values()].filter((s) => s.id !== web.id);
        if (throwaway) seen = { name: throwaway.name, flavorId: throwaway.flavorId, metadata: { ...throwaway.metadata } };
      },
      1,
    );
    const result = succeeded(await verified({ provenance: { runId: '42' } })) as VerifyResult;
    assert.equal(seen?.name, `osa-verify-${SNAPSHOT_ID}`);
    assert.equal(seen?.flavorId, 'b2-7');
    const { verify_request_id: requestId, ...marks } = seen?.metadata ?? {};
    assert.match(requestId ?? '', /^[0-9a-f-]{36}$/);
    assert.deepEqual(marks, { managed_by: MANAGED_BY, verify_of: SNAPSHOT_ID, verify_instance: web.id, verify_run: '42' });
    assert.equal(local.lc.world.findServer(result.throwawayId ?? ''), undefined, 'gone from the model too');
    // The local cloud answers 500 to a create without networks (Nova would auto-allocate): "none" was sent, at 2.37.
    assert.equal(bootRequest(local).status, 202);
  });

  it('a volume-backed snapshot: Nova makes a volume of its Cinder snapshot; tagged as the action’s, deleted after the server, confirmed gone', async (t) => {
    const { local, web, verified } = await withSnapshot(t, { volumeBacked: true });
    const result = succeeded(await verified()) as VerifyResult;
    assert.equal(result.image.volumeBacked, true);
    assert.equal(result.volumeIds.length, 1);
    nothingLeft(local, web);
    const changes = local.changes();
    const [volume] = result.volumeIds;
    assert.ok(changes.includes(`POST /volumes/${volume}/metadata`), changes.join('\n'));
    assert.ok(changes.indexOf(`DELETE /volumes/${volume}`) > changes.indexOf(`DELETE /servers/${result.throwawayId}`), 'the volume after its server');
    // The Cinder snapshot behind the backup is untouched.
    assert.ok(local.lc.volumeSnapshots(REGION).some((s) => s.id === CINDER_SNAPSHOT));
    assert.equal(props(local).verify_result, 'passed');
  });

  it('ERROR on the compute host: the step fails with Nova’s fault, the throwaway is deleted, the snapshot is marked failed (no verified_at)', async (t) => {
    const { local, web, verified } = await withSnapshot(t);
    local.lc.fault({ match: { method: 'POST', path: /\/servers$/ }, kind: 'boot-error', message: 'No valid host was found.' });
    const failure = failed(await verified());
    assert.match(
      failure.message,
      /Snapshot 5e0c1f7a-2b3d-4c5e-8f90-a1b2c3d4e5f6 did not boot: Nova put its throwaway server in ERROR: No valid host was found/,
    );
    nothingLeft(local, web);
    assert.equal(props(local).verify_result, 'failed');
    assert.equal(props(local).verified_at, undefined);
  });

  it('a boot that never ends: timed out, deleted all the same, marked failed', async (t) => {
    const { local, web, verified } = await withSnapshot(t);
    local.lc.fault({ match: { method: 'POST', path: /\/servers$/ }, kind: 'boot-stuck' });
    const failure = failed(await verified({ timeoutMs: 1_200 }));
    assert.match(failure.message, /Timed out \(timeout 1\.2s\) waiting for the throwaway server of snapshot .* to boot: it is still BUILD/);
    nothingLeft(local, web);
    assert.equal(props(local).verify_result, 'failed');
  });

  it('cancelled mid-boot (SIGTERM): the throwaway and its volume are deleted within the grace; nothing written on the snapshot', async (t) => {
    const { local, web, verified } = await withSnapshot(t, { volumeBacked: true });
    local.lc.fault({ match: { method: 'POST', path: /\/servers$/ }, kind: 'boot-stuck' });
    const cancel = new Cancellation();
    // The first look at the throwaway: it is booting; then the runner cancels the job.
    local.lc.once({ method: 'GET', path: /\/servers\/[0-9a-f-]{36}$/ }, () => setTimeout(() => cancel.cancel('SIGINT'), 50), 1);
    const failure = failed(await verified({}, cancel));
    assert.match(failure.message, /The job was cancelled \(SIGINT\) while snapshot .* was verified: its throwaway server was removed/);
    nothingLeft(local, web);
    assert.equal(props(local).verify_result, undefined);
    assert.ok(
      local.changes().some((c) => /^DELETE \/volumes\//.test(c)),
      'its volume was deleted',
    );
  });

  it('a console pattern: matched in the fake driver’s console; one that never shows fails the step, the throwaway deleted', async (t) => {
    const { local, web, verified } = await withSnapshot(t);
    const result = succeeded(await verified({ console: /LAST LINE/ })) as VerifyResult;
    assert.equal(result.consoleMatched, true);
    const failure = failed(await verified({ console: /login:/, timeoutMs: 1_500 }));
    assert.match(failure.message, /booted, but login: did not appear in the console log/);
    nothingLeft(local, web);
    assert.equal(props(local).verify_result, 'failed');
  });
});

describe('verify: refused before any change', () => {
  it('an unknown verify-flavor, and a flavor too small for the snapshot: named, nothing sent that changes the cloud', async (t) => {
    const { local, web, verified } = await withSnapshot(t, { server: {} });
    assert.match(failed(await verified({ flavor: 'nope' })).message, /^verify-flavor: there is no flavor named or with ID "nope" in region GRA7/);
    local.lc.world.findImage(SNAPSHOT_ID)!.minDisk = 5;
    assert.match(
      failed(await verified({ flavor: 'tiny-1' })).message,
      /Snapshot .* needs a 5 GiB root disk \(its min_disk and size\), more than the 1 GiB of verify-flavor, tiny-1 \(tiny-1\): give verify-flavor a larger flavor; nothing was booted/,
    );
    assert.deepEqual(local.changes(), []);
    nothingLeft(local, web);
  });

  it('quota exceeded at the create (403): named, and nothing left', async (t) => {
    const { local, web, verified } = await withSnapshot(t);
    local.lc.fault({
      match: { method: 'POST', path: /\/servers$/ },
      kind: 'status',
      status: 403,
      body: { forbidden: { code: 403, message: 'Quota exceeded for instances: Requested 1, but already used 10 of 10 instances' } },
    });
    const failure = failed(await verified());
    assert.match(
      failure.message,
      /Nova refused to boot a throwaway server from snapshot .* \(403: Quota exceeded for instances.*\): the project's quota is reached/,
    );
    nothingLeft(local, web);
    assert.deepEqual(local.changes(), ['POST /servers']);
  });

  it('dry run: the snapshot and the flavor checked, nothing booted, nothing written', async (t) => {
    const { local, web, verified } = await withSnapshot(t);
    const result = succeeded(await verified({ dryRun: true })) as VerifyResult;
    assert.equal(result.result, 'dry-run');
    assert.deepEqual(local.changes(), []);
    nothingLeft(local, web);
    assert.match(
      stdout(),
      /Dry run: would boot a throwaway server from snapshot 5e0c1f7a-2b3d-4c5e-8f90-a1b2c3d4e5f6 with flavor b2-7 \(b2-7\) and no network/,
    );
  });
});

describe('verify: what a killed run left', () => {
  it('removed by the next verify of the instance: its throwaway and volumes of this run or older than the timeout; others untouched', async (t) => {
    const { local, web, verified } = await withSnapshot(t, { volumeBacked: true });
    const marks = (instance: string, run?: string) => ({
      managed_by: MANAGED_BY,
      verify_of: SNAPSHOT_ID,
      verify_instance: instance,
      ...(run ? { verify_run: run } : {}),
    });
    const old = new Date(Date.now() - 3_600_000);
    const killed = local.lc.addServer({ region: REGION, name: `osa-verify-${SNAPSHOT_ID}`, metadata: marks(web.id), createdAt: old, flavorId: 'b2-7' });
    const killedVolume = local.lc.world.addVolumeRec(REGION, { serverId: killed.id, snapshotId: CINDER_SNAPSHOT, metadata: marks(web.id), createdAt: old }).id;
    const strayVolume = local.lc.world.addVolumeRec(REGION, { snapshotId: CINDER_SNAPSHOT, metadata: marks(web.id, '42'), createdAt: new Date() }).id;
    // Another job's, running now; another instance's; a user's volume of the same Cinder snapshot.
    const running = local.lc.addServer({ region: REGION, name: `osa-verify-${SNAPSHOT_ID}`, metadata: marks(web.id, '7'), flavorId: 'b2-7' });
    const otherInstance = local.lc.addServer({
      region: REGION,
      name: `osa-verify-${SNAPSHOT_ID}`,
      metadata: marks(OTHER_INSTANCE),
      createdAt: old,
      flavorId: 'b2-7',
    });
    const usersVolume = local.lc.world.addVolumeRec(REGION, { snapshotId: CINDER_SNAPSHOT }).id;
    const result = succeeded(await verified({ timeoutMs: 30_000, provenance: { runId: '42' } })) as VerifyResult;
    assert.deepEqual(new Set(result.swept), new Set([killed.id, killedVolume, strayVolume]));
    const left = leftovers(local, web);
    assert.deepEqual(left.servers.map((s) => s.id).sort(), [running.id, otherInstance.id].sort());
    assert.deepEqual(
      left.volumes.map((v) => v.id),
      [usersVolume],
    );
    assert.match(stdout(), /Removing what an earlier verify of instance web left/);
  });

  it('under dry run: named, not removed', async (t) => {
    const { local, web, verified } = await withSnapshot(t);
    const killed = local.lc.addServer({
      region: REGION,
      name: `osa-verify-${SNAPSHOT_ID}`,
      metadata: { managed_by: MANAGED_BY, verify_of: SNAPSHOT_ID, verify_instance: web.id },
      createdAt: new Date(Date.now() - 3_600_000),
    });
    succeeded(await verified({ dryRun: true }));
    assert.deepEqual(local.changes(), []);
    assert.ok(local.lc.server(killed.id));
    assert.match(stdout(), new RegExp(`Dry run: would remove what an earlier verify of instance web left: server ${killed.id}`));
  });
});

describe('keep-verified', () => {
  const at = (day: number) => new Date(Date.UTC(2025, 0, day));
  it('retention: the newest N verified are kept whatever keep-last says', () => {
    const snapshots = [1, 2, 3, 4, 5].map((day) => ({ id: `s${day}`, name: `s${day}`, createdAt: at(day), protected: false, verified: day <= 3 }));
    const kept = decide(snapshots, { last: 1, verified: 2 }, at(10))
      .filter((d) => d.keep)
      .map((d) => `${d.snapshot.id}:${d.reasons.join('+')}`);
    assert.deepEqual(kept, ['s5:last+newest', 's3:verified', 's2:verified']);
  });

  it('a prune keeps the newest verified snapshot of the instance, read from verified_at and verify_result', async (t) => {
    const local = await Local.start(t);
    const web = local.server();
    const verifiedOld = local.snapshot(
      web,
      { name: 'web-1', createdAt: '2025-01-01T00:00:00Z' },
      { verified_at: '2025-01-01T01:00:00Z', verify_result: 'passed' },
    );
    const failedLater = local.snapshot(
      web,
      { name: 'web-2', createdAt: '2025-01-02T00:00:00Z' },
      { verified_at: '2025-01-02T01:00:00Z', verify_result: 'failed' },
    );
    local.snapshot(web, { name: 'web-3', createdAt: '2025-01-03T00:00:00Z' });
    const outcome = succeeded(await prune(local.client(), local.pruneSettings({ policy: { last: 1, verified: 1 } }, { instance: 'web' })));
    const kept = outcome.decisions.filter((d) => d.keep).map((d) => d.snapshot.name);
    assert.deepEqual(kept, ['web-3', 'web-1']);
    assert.equal(local.lc.image(verifiedOld.id)?.status, 'active');
    assert.equal(local.lc.image(failedLater.id), undefined);
  });
});

describe('create with verify: true', () => {
  it('the new snapshot is booted once active, then the prune: the verified snapshot counts for keep-verified', async (t) => {
    const local = await Local.start(t, { bootSeconds: 0.2, deleteSeconds: 0.1, snapshotSeconds: 0.2 });
    const web = local.server();
    const old = local.snapshot(web, { name: 'web-old', createdAt: '2025-01-01T00:00:00Z' }, { verified_at: '2025-01-01T01:00:00Z', verify_result: 'passed' });
    const outcome = await create(local.client(), local.createSettings({ verify: {}, retention: retention({ policy: { last: 1, verified: 1 } }) }));
    const result = succeeded(outcome) as CreateResult;
    assert.equal(result.verify?.result, 'passed');
    assert.equal(local.lc.image(result.image.id)?.properties.verify_result, 'passed');
    // keep-last 1 keeps the new one; keep-verified 1 keeps the newest verified: the new one too, so the old one goes.
    assert.equal(local.lc.image(old.id), undefined);
    nothingLeft(local, web);
  });

  it('a verify that fails fails the step; the snapshot stands and the prune is not run', async (t) => {
    const local = await Local.start(t, { bootSeconds: 0.2, deleteSeconds: 0.1, snapshotSeconds: 0.2 });
    const web = local.server();
    const old = local.snapshot(web, { name: 'web-old', createdAt: '2025-01-01T00:00:00Z' });
    local.lc.fault({ match: { method: 'POST', path: /\/servers$/ }, kind: 'boot-error', message: 'Boom' });
    const outcome = await create(local.client(), local.createSettings({ verify: {}, retention: retention({ policy: { last: 1 } }) }));
    const failure = failed(outcome);
    assert.match(
      failure.message,
      /is active, but its verify failed: Snapshot .* did not boot: Nova put its throwaway server in ERROR: Boom; the prune after it was not run/,
    );
    assert.equal(local.lc.image(old.id)?.status, 'active');
    nothingLeft(local, web);
  });
});

describe('verify: the step', () => {
  it('main(): the verifications output (per server: image, result, boot seconds, console matched) and the summary', async (t) => {
    const local = await Local.start(t, { bootSeconds: 0.2, deleteSeconds: 0.1 });
    const web = local.server();
    local.snapshot(web, { id: SNAPSHOT_ID, name: 'web-<b>1</b>', createdAt: '2025-01-02T00:00:00Z', minDisk: 1 });
    const run = await runMain({ ...local.loginInputs, mode: 'verify', instance: 'web', 'verify-console': 'LAST LINE' });
    assert.equal(run.exitCode, undefined, run.errors.join('\n'));
    const [row, ...more] = JSON.parse(run.outputs.verifications ?? '[]') as Record<string, unknown>[];
    assert.equal(more.length, 0);
    assert.equal(row?.snapshot_id, SNAPSHOT_ID);
    assert.equal(row?.result, 'passed');
    assert.equal(typeof row?.boot_seconds, 'number');
    assert.equal(row?.console_matched, true);
    assert.equal(run.outputs['snapshot-id'], SNAPSHOT_ID);
    assert.match(run.summary, /web-&lt;b&gt;1&lt;\/b&gt;/);
    assert.doesNotMatch(run.summary, /<b>1<\/b>/);
    nothingLeft(local, web);
  });
});
