// Servers found by ID or name (findServer), and several servers in one create, against the local cloud in
// this process: which servers (names, tags, metadata), their images watched together, and one failure
// that does not stop the others.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { create } from '../../src/modes/create/create.ts';
import { explain } from '../../src/modes/outcome.ts';
import { AmbiguousError, NotFoundError } from '../../src/openstack/errors.ts';
import { failed, Local, selection } from '../support/in-process.ts';
import { stdout } from '../support/step.ts';

const UNKNOWN_ID = '7d1e4a52-3c6b-4e8f-9a0d-1b2c3d4e5f60';

/** The servers the cloud got a createImage for, by name. */
const snapshotted = (local: Local) =>
  local.lc.requests.filter((r) => r.action === 'createImage').map((r) => local.lc.server(/\/servers\/([^/]+)\//.exec(r.path)?.[1] ?? '')?.name);

describe('findServer, against the local cloud', () => {
  /** A cloud with servers of these names (the first the one looked for), and the client's compute. */
  async function withServers(t: TestContext, ...names: string[]) {
    const local = await Local.start(t);
    const [target, ...others] = names.map((name) => local.server({ name }));
    return { local, target: target!, others, compute: await local.client().compute() };
  }

  it('by UUID: GET /servers/{id}, no listing; what the action reads of it', async (t) => {
    const local = await Local.start(t);
    const web = local.server({ taskState: 'image_uploading', volumeBacked: true, metadata: { role: 'db' }, tags: ['prod'] });
    const server = await (await local.client().compute()).findServer(web.id);
    assert.deepEqual(server, {
      id: web.id,
      name: 'web',
      status: 'ACTIVE',
      taskState: 'image_uploading',
      projectId: local.lc.demo.projectId,
      volumeBacked: true,
      volumeIds: [web.rootVolumeId],
      imageId: undefined,
      flavorId: 'b2-7',
      fault: undefined,
      metadata: { role: 'db' },
      tags: ['prod'],
      createdAt: new Date(web.createdAt),
    });
    assert.deepEqual(local.sent().slice(1), [`GET /servers/${web.id}`]);
  });

  for (const [what, names, filter] of [
    ['by name: the filter is a superset, and only the exact name is kept (web, not web-2 or webhook)', ['web', 'web-2', 'webhook'], 'web'],
    ['a name with regex metacharacters: filtered by a literal fragment, matched exactly', ['web.1 (blue)', 'webX1 (blue)', 'web.1 blue'], 'blue'],
    ['a name without any literal part: every server is listed (no name filter)', ['...', '.+'], undefined],
  ] as const)
    it(what, async (t) => {
      const { local, target, compute } = await withServers(t, ...names);
      assert.equal((await compute.findServer(target.name)).id, target.id);
      assert.deepEqual(local.sent().slice(1), [`GET /servers/detail?limit=1000${filter ? `&name=${filter}` : ''}`]);
    });

  it('none found, or a UUID that is not a server (404, then looked for as a name): the error names the instance and the region', async (t) => {
    const { local, compute } = await withServers(t, 'web-2');
    for (const key of ['web', UNKNOWN_ID])
      await assert.rejects(compute.findServer(key), (error: Error) => {
        assert.ok(error instanceof NotFoundError);
        assert.deepEqual([error.kind, error.key], ['server', key]);
        assert.match(explain(error, { region: 'GRA11' }), new RegExp(`No instance named or with ID "${key}" in region GRA11: check the instance input`));
        return true;
      });
    assert.deepEqual(local.sent().slice(-2), [`GET /servers/${UNKNOWN_ID}`, `GET /servers/detail?limit=1000&name=${UNKNOWN_ID}`]);
  });

  it('several with the name: the error lists their IDs', async (t) => {
    const { target, others, compute } = await withServers(t, 'web', 'web');
    await assert.rejects(compute.findServer('web'), (error: Error) => {
      assert.ok(error instanceof AmbiguousError);
      assert.deepEqual([...error.ids].sort(), [target.id, others[0]!.id].sort());
      const words = explain(error, { region: 'GRA11' });
      assert.match(words, /2 instances are named "web" in region GRA11/);
      assert.ok(words.includes(target.id) && words.includes(others[0]!.id), words);
      assert.match(words, /set the instance input to the ID/);
      return true;
    });
  });
});

describe('fleets: which servers', () => {
  it('several names: one listing, each matched exactly (web-1 is not web-10), one snapshot each', async (t) => {
    const local = await Local.start(t, { snapshotSeconds: 0 });
    for (const name of ['web-1', 'web-2', 'web-10']) local.server({ name });
    const { result } = await create(local.client(), local.createSettings({ servers: selection('web-1', 'web-2') }));
    assert.equal(result?.mode, 'fleet');
    assert.deepEqual(
      result.items.map((i) => [i.server.name, i.result?.mode === 'create' && local.lc.image(i.result.image.id)?.properties.instance_uuid === i.server.id]),
      [
        ['web-1', true],
        ['web-2', true],
      ],
    );
    assert.equal(local.sent((r) => r.path.includes('/servers/detail')).length, 1, 'one listing');
    assert.deepEqual(snapshotted(local).sort(), ['web-1', 'web-2']);
  });

  it('a line that matches no server is an error before any snapshot', async (t) => {
    const local = await Local.start(t);
    local.server({ name: 'web-1' });
    await assert.rejects(
      create(local.client(), local.createSettings({ servers: selection('web-1', 'web-9') })),
      (error: Error) => error instanceof NotFoundError && error.key === 'web-9',
    );
    assert.deepEqual(local.changes(), [], 'no createImage');
  });

  it("tags are Nova's filter, metadata is matched here; names and the selector add up", async (t) => {
    const local = await Local.start(t, { snapshotSeconds: 0 });
    local.server({ name: 'web-1', tags: ['role-web'], metadata: { tier: 'front' } });
    local.server({ name: 'web-2', tags: ['role-web'], metadata: { tier: 'back' } });
    local.server({ name: 'db', metadata: { tier: 'front' } });
    const { result } = await create(
      local.client(),
      local.createSettings({ servers: { names: [], tags: ['role-web'], metadata: { tier: 'front' }, allowEmpty: false } }),
    );
    assert.deepEqual(result?.mode === 'fleet' && result.items.map((i) => i.server.name), ['web-1']);
    assert.deepEqual(
      local.sent((r) => r.path.includes('/servers/detail')),
      ['GET /servers/detail?limit=1000&tags=role-web'],
    );
    assert.deepEqual(snapshotted(local), ['web-1']);
  });

  it('a selector that matches nothing is an error, unless allow-empty-selection', async (t) => {
    const local = await Local.start(t);
    local.server();
    await assert.rejects(
      create(local.client(), local.createSettings({ servers: { ...selection(), tags: ['nope'] } })),
      /No instance has tag nope: .*allow-empty-selection: true/,
    );
    const { result, failure } = await create(local.client(), local.createSettings({ servers: { ...selection(), tags: ['nope'], allowEmpty: true } }));
    assert.deepEqual([result?.mode === 'fleet' && result.items.length, failure], [0, undefined]);
    assert.deepEqual(local.changes(), []);
  });
});

describe('fleets: one failure does not stop the others', () => {
  it("the images are watched together: one Glance listing looks at several servers' snapshots, no GET per image", async (t) => {
    const local = await Local.start(t, { snapshotSeconds: 0.6 });
    for (const name of ['web-1', 'web-2', 'web-3']) local.server({ name });
    const { result } = await create(local.client(), local.createSettings({ servers: selection('web-1', 'web-2', 'web-3') }));
    const images = result?.mode === 'fleet' ? result.items.map((i) => (i.result?.mode === 'create' ? i.result.image : undefined)) : [];
    assert.deepEqual(
      images.map((i) => i?.status),
      ['active', 'active', 'active'],
    );
    const looks = local.listings().map((q) => q.id?.replace(/^in:/, '').split(',') ?? []);
    assert.ok(
      looks.some((ids) => ids.length === 3),
      `one listing for the 3 images: ${JSON.stringify(looks)}`,
    );
    assert.deepEqual([...new Set(looks.flat())].sort(), images.map((i) => i?.id).sort());
    assert.deepEqual(
      local.sent((r) => /\/v2\/images\/[^?]+$/.test(r.path)),
      [],
      'no GET of a single image',
    );
  });

  it('the others are snapshotted; the step fails at the end, naming the one that failed and why', async (t) => {
    const local = await Local.start(t, { snapshotSeconds: 0 });
    const [, web2] = ['web-1', 'web-2', 'web-3'].map((name) => local.server({ name }));
    local.lc.fault({
      match: { action: 'createImage', path: new RegExp(web2?.id ?? '') },
      kind: 'status',
      status: 400,
      body: { badRequest: { code: 400, message: 'web-2 refused' } },
    });
    const outcome = await create(local.client(), local.createSettings({ servers: selection('web-1', 'web-2', 'web-3'), concurrency: 2 }));
    assert.match(failed(outcome).message, /^1 of 3 instance\(s\) failed: web-2: .*answered 400: web-2 refused/);
    assert.deepEqual(outcome.result?.mode === 'fleet' && outcome.result.items.map((i) => (i.result?.mode === 'create' ? i.result.image.status : 'failed')), [
      'active',
      'failed',
      'active',
    ]);
    assert.match(stdout(), /^\[web-2\] ::warning::|\[web-2\] /m);
    assert.deepEqual(snapshotted(local).sort(), ['web-1', 'web-2', 'web-3']);
  });
});
