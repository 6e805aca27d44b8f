// Copies in another region (mode copy, and create with copy-to-region), in this process against
// the local cloud's two regions: the data streamed GRA7 → SBG5 and checked by its hash, what the
// copy keeps, and every way a copy fails leaving nothing in the target region.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { MANAGED_BY } from '../../src/lib/constants.ts';
import { Cancellation } from '../../src/modes/cancel.ts';
import { StepError, type Outcome } from '../../src/modes/outcome.ts';
import { copyMode } from '../../src/modes/copy/copy.ts';
import { create } from '../../src/modes/create/create.ts';
import type { CreateResult } from '../../src/modes/create/create.ts';
import { failed, Local, REGION, retention, runMain, selection, succeeded } from '../support/in-process.ts';
import { stdout } from '../support/step.ts';

const TARGET = 'SBG5';
const OS_PROPS = { os_distro: 'debian', os_version: '12', hw_disk_bus: 'scsi', hw_scsi_model: 'virtio-scsi', architecture: 'x86_64' };

/** A cloud with the server `web` in GRA7 and a snapshot of it made by this action, with OS and hardware properties. */
async function snapshotted(t: TestContext, size = 300_000) {
  const local = await Local.start(t);
  const web = local.server();
  const image = local.snapshot(web, { name: 'web-20261206-020000', size, minDisk: 3 }, { ...OS_PROPS, source_instance_name: 'web', github_run_id: '42' });
  return { local, web, image };
}

/** The images of the target region other than its public base image. */
const copiesIn = (local: Local, region = TARGET) => local.lc.images(region).filter((image) => image.visibility !== 'public');
const record = (local: Local, id: string) => local.lc.world.findImage(id) ?? assert.fail(`no image ${id}`);
/** Changes sent to the target region. */
const targetChanges = (local: Local) => local.sent((r) => r.mutating && r.region === TARGET);

describe('mode copy: one snapshot to another region', () => {
  it('streams the data into a new image in SBG5 whose hash is the source’s, with its formats, properties and where it came from', async (t) => {
    const { local, web, image } = await snapshotted(t);
    const result = succeeded(await copyMode(local.client(), local.copySettings({ source: { imageId: image.id } })));
    const [copy] = result.copies;
    assert.ok(copy);
    assert.equal(copy.status, 'active');
    assert.equal(copy.method, 'stream');
    assert.equal(copy.bytes, 300_000);
    const [made] = copiesIn(local);
    assert.ok(made);
    assert.equal(made.id, copy.imageId);
    const source = record(local, image.id);
    const target = record(local, made.id);
    assert.equal(target.status, 'active');
    assert.equal(target.hash, source.hash, 'sha512 of the data');
    assert.equal(target.checksum, source.checksum);
    assert.deepEqual(target.data, local.lc.world.imageData(source), 'the same bytes');
    assert.equal(target.diskFormat, 'qcow2');
    assert.equal(target.containerFormat, 'bare');
    assert.equal(target.minDisk, 3);
    assert.equal(target.name, image.name);
    for (const [key, value] of Object.entries({
      ...OS_PROPS,
      managed_by: MANAGED_BY,
      source_instance_id: web.id,
      source_instance_name: 'web',
      instance_uuid: web.id,
      copied_from_region: REGION,
      copied_from_image: image.id,
    }))
      assert.equal(made.properties[key], value, key);
    assert.equal(made.properties.github_run_id, undefined, 'a re-run marker of the source region is not carried');
    assert.deepEqual(targetChanges(local), ['POST /v2/images', `PUT /v2/images/${made.id}/file`]);
    assert.deepEqual(
      local.sent((r) => r.mutating && r.region === REGION),
      [],
      'nothing changed in the source region',
    );
  });

  it('copies the instance’s newest snapshot made by this action when no snapshot-id is given', async (t) => {
    const { local, web } = await snapshotted(t);
    const newer = local.snapshot(web, { name: 'web-newer', createdAt: new Date(Date.now() + 1000), size: 1000 });
    const result = succeeded(await copyMode(local.client(), local.copySettings()));
    assert.equal(result.copies[0]?.sourceId, newer.id);
    assert.equal(copiesIn(local).length, 1);
  });

  it('a second run finds the copy already there and sends nothing', async (t) => {
    const { local, image } = await snapshotted(t);
    const settings = local.copySettings({ source: { imageId: image.id } });
    succeeded(await copyMode(local.client(), settings));
    const before = local.changes().length;
    const again = succeeded(await copyMode(local.client(), settings));
    assert.equal(again.copies[0]?.method, 'existing');
    assert.equal(local.changes().length, before);
    assert.equal(copiesIn(local).length, 1);
  });

  it('a dry run plans the copy and sends nothing that changes the cloud', async (t) => {
    const { local, image } = await snapshotted(t);
    const result = succeeded(await copyMode(local.client(), local.copySettings({ source: { imageId: image.id }, dryRun: true })));
    assert.equal(result.copies[0]?.status, 'planned');
    assert.deepEqual(local.changes(), []);
    assert.deepEqual(
      local.sent((r) => /\/file$/.test(r.path)),
      [],
      'no data read either',
    );
    assert.match(stdout(), /Dry run: would copy snapshot .* to region SBG5/);
  });

  it('logs what the target Glance offers for imports, and that the data is streamed', async (t) => {
    const { local, image } = await snapshotted(t);
    succeeded(await copyMode(local.client(), local.copySettings({ source: { imageId: image.id } })));
    assert.match(stdout(), /Region SBG5's Glance offers the import methods: glance-direct, web-download; the data is streamed through the runner/);
  });
});

/** The mode's failure, thrown (as runMode takes it) or carried by its outcome. */
async function refused(running: Promise<Outcome<unknown>>): Promise<Error> {
  try {
    return failed(await running);
  } catch (error) {
    assert.ok(error instanceof StepError, String(error));
    return error;
  }
}

describe('refused before anything is changed', () => {
  it('a region not in the catalog', async (t) => {
    const { local, image } = await snapshotted(t);
    const failure = await refused(copyMode(local.client(), local.copySettings({ source: { imageId: image.id } }, { regions: ['SBG5', 'BHS9'] })));
    assert.match(
      failure.message,
      /^copy-to-region: BHS9 is not in the catalog for the image service: this project's regions are GRA7, SBG5; nothing was changed$/,
    );
    assert.deepEqual(local.changes(), []);
  });

  it('a volume-backed snapshot: it holds no image data', async (t) => {
    const local = await Local.start(t);
    const image = local.volumeBackedImage({ name: 'vol-snap' }, ['5f8b2d8e-6a5e-4a47-a0a3-4b8b7f3c2a11']);
    const failure = await refused(copyMode(local.client(), local.copySettings({ source: { imageId: image.id } })));
    assert.match(failure.message, /is not copied: it is the snapshot of a volume-backed instance: it holds no image data .*Nothing was changed/);
    assert.deepEqual(local.changes(), []);
  });

  it('create with copy-to-region refuses a volume-backed instance before its snapshot', async (t) => {
    const local = await Local.start(t);
    local.server({ volumeBacked: true });
    const failure = await refused(create(local.client(), local.createSettings({ copy: { regions: [TARGET], timeoutMs: 30_000 } })));
    assert.match(failure.message, /copy-to-region: instance web .* is volume-backed: its snapshot holds no image data/);
    assert.deepEqual(local.changes(), []);
  });

  it('create with copy-to-region and a region not in the catalog takes no snapshot', async (t) => {
    const local = await Local.start(t);
    local.server();
    const failure = await refused(create(local.client(), local.createSettings({ copy: { regions: ['NOPE1'], timeoutMs: 30_000 } })));
    assert.match(failure.message, /NOPE1 is not in the catalog/);
    assert.deepEqual(local.changes(), []);
  });
});

describe('a copy that fails leaves nothing in the target region', () => {
  const fails = async (local: Local, imageId: string) => {
    const outcome = await copyMode(local.client(), local.copySettings({ source: { imageId } }));
    const failure = failed(outcome);
    assert.equal(outcome.result?.copies[0]?.status, 'failed');
    assert.deepEqual(copiesIn(local), [], 'no image left in SBG5');
    return failure;
  };

  it('data that arrives changed: the hashes differ, the copy is deleted', async (t) => {
    const { local, image } = await snapshotted(t);
    local.lc.fault({ match: { method: 'PUT', region: TARGET, path: /\/file$/ }, kind: 'corrupt-data' });
    const failure = await fails(local, image.id);
    assert.match(
      failure.message,
      /the copy's data differs from the snapshot's: region SBG5's Glance has sha512 [0-9a-f]{128}, region GRA7's sha512 [0-9a-f]{128}; the partial copy .* was deleted/,
    );
    assert.match(targetChanges(local).at(-1) ?? '', /^DELETE \/v2\/images\//);
  });

  for (const status of [413, 503]) {
    it(`SBG5 answers ${status} before the upload ended`, async (t) => {
      const { local, image } = await snapshotted(t, 4 * 1024 ** 2);
      local.lc.fault({ match: { method: 'PUT', region: TARGET, path: /\/file$/ }, kind: 'upload-refused', status });
      const failure = await fails(local, image.id);
      assert.match(failure.message, status === 413 ? /refused the data as too large \(413/ : /failed while receiving the data \(503\)/);
      assert.match(failure.message, /the partial copy [0-9a-f-]{36} in region SBG5 was deleted$/);
    });
  }

  it('the source is deleted while it is read', async (t) => {
    const { local, image } = await snapshotted(t);
    local.lc.once({ method: 'GET', region: REGION, path: /\/file$/ }, () => local.lc.world.deleteImage(record(local, image.id)));
    local.lc.fault({ match: { method: 'GET', region: REGION, path: /\/file$/ }, kind: 'reset' });
    const failure = await fails(local, image.id);
    assert.match(failure.message, new RegExp(`snapshot ${image.id} was deleted in region GRA7 while it was being copied`));
  });

  it('the job is cancelled mid-upload', async (t) => {
    const { local, image } = await snapshotted(t);
    const cancel = new Cancellation();
    local.lc.fault({ match: { method: 'PUT', region: TARGET, path: /\/file$/ }, kind: 'delay', ms: 2000, beforeExecute: true });
    local.lc.once({ method: 'PUT', region: TARGET, path: /\/file$/ }, () => setTimeout(() => cancel.cancel('SIGTERM'), 100));
    const outcome = await copyMode(local.client(), local.copySettings({ source: { imageId: image.id } }), cancel);
    assert.match(failed(outcome).message, /The job was cancelled \(SIGTERM\) while snapshot .* was copied to region SBG5; the partial copy .* was deleted/);
    assert.deepEqual(copiesIn(local), []);
  });

  it('a create Glance refuses (413: the image quota) leaves nothing, and says no image was made', async (t) => {
    const { local, image } = await snapshotted(t);
    local.lc.fault({ match: { method: 'POST', region: TARGET, path: /\/v2\/images$/ }, kind: 'status', status: 413, body: { message: 'Quota exceeded' } });
    const failure = await fails(local, image.id);
    assert.match(failure.message, /refused the image \(413: the project's image quota\).*; no image was left in region SBG5$/);
  });

  it('a copy longer than the client’s per-request timeout is not cut by it (the data has its own idle timeouts)', async (t) => {
    const { local, image } = await snapshotted(t);
    local.lc.fault({ match: { method: 'PUT', region: TARGET, path: /\/file$/ }, kind: 'delay', ms: 1500, beforeExecute: true });
    const result = succeeded(await copyMode(local.client({ requestTimeoutMs: 500 }), local.copySettings({ source: { imageId: image.id } })));
    assert.equal(result.copies[0]?.status, 'active');
  });

  it('a copy that takes longer than the timeout', async (t) => {
    const { local, image } = await snapshotted(t);
    local.lc.fault({ match: { method: 'PUT', region: TARGET, path: /\/file$/ }, kind: 'delay', ms: 3000, beforeExecute: true });
    const outcome = await copyMode(local.client(), local.copySettings({ source: { imageId: image.id } }, { timeoutMs: 500 }));
    assert.match(failed(outcome).message, /Timed out \(timeout 500ms|Timed out \(timeout .*\) copying snapshot/);
    assert.deepEqual(copiesIn(local), []);
  });

  for (const [what, fault] of [
    ['a lost answer', { kind: 'lose-response' }],
    ['a 503 from a front end after Glance acted', { kind: 'status', status: 503, executed: true }],
  ] as const) {
    it(`${what} to the create: the image is found by the ID chosen for it, no second image`, async (t) => {
      const { local, image } = await snapshotted(t);
      local.lc.fault({ match: { method: 'POST', region: TARGET, path: /\/v2\/images$/ }, ...fault });
      const result = succeeded(await copyMode(local.client(), local.copySettings({ source: { imageId: image.id } })));
      const [made, ...more] = copiesIn(local);
      assert.deepEqual(more, [], 'one image in SBG5');
      assert.equal(made?.id, result.copies[0]?.imageId);
      assert.equal(local.sent((r) => r.method === 'POST' && r.region === TARGET).length, 1, 'not created again');
      assert.ok(local.sent((r) => r.region === TARGET).includes(`GET /v2/images/${made?.id}`), 'looked up by its ID');
      assert.match(stdout(), /found again after a lost answer/);
    });
  }

  it('a create whose answer is lost while Glance had not made it yet is sent again with the same ID', async (t) => {
    const { local, image } = await snapshotted(t);
    local.lc.fault({ match: { method: 'POST', region: TARGET, path: /\/v2\/images$/ }, kind: 'status', status: 503 });
    succeeded(await copyMode(local.client(), local.copySettings({ source: { imageId: image.id } })));
    const posts = local.lc.requests.filter((r) => r.method === 'POST' && r.region === TARGET);
    assert.equal(posts.length, 2);
    assert.equal(copiesIn(local).length, 1);
  });
});

describe('retention per region (keep-*)', () => {
  it('prunes the region’s copies of the instance, never its other images, with prune’s safety rules', async (t) => {
    const { local, web, image } = await snapshotted(t);
    const marks = { image_type: 'snapshot', managed_by: MANAGED_BY, instance_uuid: web.id, source_instance_id: web.id, copied_from_region: REGION };
    const old = (days: number, extra: Record<string, string> = {}) =>
      local.lc.addImage({
        region: TARGET,
        name: `web-old-${days}`,
        createdAt: new Date(Date.now() - days * 86_400_000),
        properties: { ...marks, copied_from_image: `0000000${days}-0000-4000-8000-000000000000`, ...extra },
      });
    const older = old(2);
    const oldest = old(3);
    const booted = old(4);
    local.server({ region: TARGET, name: 'sbg-web', imageRef: booted.id });
    const otherInstance = old(5, { source_instance_id: 'b3c1f0b4-9f5c-4a43-8d2c-7f0e3c1d2a10', instance_uuid: 'b3c1f0b4-9f5c-4a43-8d2c-7f0e3c1d2a10' });
    // A snapshot of the same ID taken in SBG5 itself (not a copy): not the copies' prune's.
    const native = local.lc.addImage({
      region: TARGET,
      name: 'native',
      createdAt: new Date(Date.now() - 6 * 86_400_000),
      properties: { image_type: 'snapshot', managed_by: MANAGED_BY, source_instance_id: web.id, instance_uuid: web.id },
    });
    const sourceOld = local.snapshot(web, { name: 'gra-old', createdAt: new Date(Date.now() - 9 * 86_400_000) });
    const result = succeeded(
      await copyMode(local.client(), local.copySettings({ source: { imageId: image.id } }, { retention: retention({ policy: { last: 1 } }) })),
    );
    const [copy] = result.copies;
    assert.ok(copy?.prune);
    const deleted = copy.prune.deletions.map((d) => d.image.id).sort();
    assert.deepEqual(deleted, [older.id, oldest.id].sort());
    const left = new Set(local.lc.images(TARGET).map((i) => i.id));
    for (const kept of [copy.imageId, booted.id, otherInstance.id, native.id]) assert.ok(left.has(kept), `${kept} kept`);
    assert.match(copy.prune.held.map((h) => h.reason).join(), /in use: instance sbg-web/);
    assert.ok(local.lc.image(sourceOld.id), 'nothing deleted in the source region');
  });

  it('a dry run plans the prune of the copies too, deleting nothing', async (t) => {
    const { local, web, image } = await snapshotted(t);
    local.lc.addImage({
      region: TARGET,
      name: 'web-old',
      createdAt: new Date(Date.now() - 86_400_000),
      properties: { managed_by: MANAGED_BY, source_instance_id: web.id, copied_from_region: REGION, copied_from_image: web.id },
    });
    const result = succeeded(
      await copyMode(local.client(), local.copySettings({ source: { imageId: image.id }, dryRun: true }, { retention: retention({ policy: { last: 1 } }) })),
    );
    assert.equal(result.copies[0]?.prune?.dryRun, true);
    assert.deepEqual(local.changes(), []);
  });
});

describe('create with copy-to-region', () => {
  it('copies the new snapshot once it is active', async (t) => {
    const local = await Local.start(t);
    local.server();
    const outcome = await create(local.client(), local.createSettings({ copy: { regions: [TARGET], timeoutMs: 30_000 } }));
    const result = succeeded(outcome) as CreateResult;
    assert.equal(result.image.status, 'active');
    const [copy] = result.copies ?? [];
    assert.equal(copy?.status, 'active');
    assert.equal(copy?.sourceId, result.image.id);
    assert.equal(record(local, copy.imageId).hash, record(local, result.image.id).hash);
  });

  it('a dry run plans the snapshot and its copy, sending nothing', async (t) => {
    const local = await Local.start(t);
    local.server();
    const result = succeeded(
      await create(local.client(), local.createSettings({ dryRun: true, copy: { regions: [TARGET], timeoutMs: 30_000 } })),
    ) as CreateResult;
    assert.equal(result.copies?.[0]?.status, 'planned');
    assert.deepEqual(local.changes(), []);
  });

  it('a fleet: each instance’s snapshot copied', async (t) => {
    const local = await Local.start(t);
    local.server();
    local.server({ name: 'db' });
    const outcome = await create(local.client(), local.createSettings({ servers: selection('web', 'db'), copy: { regions: [TARGET], timeoutMs: 30_000 } }));
    assert.equal(outcome.failure, undefined, outcome.failure?.message);
    assert.equal(copiesIn(local).length, 2);
  });
});

describe('main(): the runner contract of mode copy', () => {
  it('outputs `copies` and a summary row per copy, the cloud’s text escaped', async (t) => {
    const local = await Local.start(t);
    const web = local.server();
    const image = local.snapshot(web, { name: 'web-<b>bold</b>|pipe', size: 5000 });
    const run = await runMain({ ...local.loginInputs, mode: 'copy', 'snapshot-id': image.id, 'copy-to-region': 'SBG5' });
    assert.equal(run.exitCode, undefined, run.errors.join('\n'));
    const [row, ...more] = JSON.parse(run.outputs.copies ?? '[]') as Record<string, unknown>[];
    assert.deepEqual(more, []);
    assert.ok(row);
    assert.equal(row.region, 'SBG5');
    assert.equal(row.status, 'active');
    assert.equal(row.method, 'stream');
    assert.equal(row.bytes, 5000);
    assert.equal(row.source_region, REGION);
    assert.equal(row.source_image_id, image.id);
    assert.equal(typeof row.seconds, 'number');
    assert.match(String(row.image_id), /^[0-9a-f-]{36}$/);
    assert.match(run.summary, /<h2>Copies in other regions<\/h2>/);
    assert.ok(run.summary.includes('web-&lt;b&gt;bold&lt;/b&gt;&#124;pipe'), 'the name is escaped');
    assert.ok(!run.summary.includes('<b>bold</b>'));
    assert.ok(run.summary.includes(String(row.image_id)));
  });

  it('a dry run outputs the planned copy, with no image ID', async (t) => {
    const local = await Local.start(t);
    const web = local.server();
    const image = local.snapshot(web, { name: 'web-1' });
    const run = await runMain({ ...local.loginInputs, mode: 'copy', 'snapshot-id': image.id, 'copy-to-region': 'SBG5', 'dry-run': 'true' });
    assert.equal(run.exitCode, undefined, run.errors.join('\n'));
    const [row] = JSON.parse(run.outputs.copies ?? '[]') as Record<string, unknown>[];
    assert.equal(row?.status, 'planned');
    assert.equal(row?.image_id, null);
    assert.deepEqual(local.changes(), []);
  });
});
