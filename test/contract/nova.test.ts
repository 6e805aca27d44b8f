// Nova as compute.ts uses it: microversions (2.45, and the 406 it falls back on), a server by ID
// and by name filter, pages of /servers/detail, and createImage with both answer shapes, what the
// image it makes looks like, and 409 while the server is busy.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { imageRoot } from '../../src/openstack/image.ts';
import { LocalCloud } from '../local-cloud/cloud.ts';
import { OpenStack, send } from '../support/openstack.ts';
import { poll } from '../support/poll.ts';
import { localOnly, openTarget, type Target, watchTasks } from './target.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('contract: Nova', () => {
  let target: Target;
  let session: OpenStack;
  before(async () => {
    target = await openTarget();
    session = await target.login();
  });
  after(() => target.close());

  test('the microversion asked for is echoed; none is 2.1; one above the maximum is 406 computeFault, before Nova acts', async () => {
    const server = await session.serverNamed(target.server);
    const at = async (version: string | null) => session.nova('GET', `/servers/${server.id}`, { version });
    assert.equal((await at('2.45')).headers.get('openstack-api-version'), 'compute 2.45');
    assert.equal((await at(null)).headers.get('openstack-api-version'), 'compute 2.1');
    const refused = await at('2.999');
    assert.equal(refused.status, 406);
    assert.match(refused.body.computeFault.message, /^Version 2\.999 is not supported by the API\. Minimum is 2\.1 and maximum is 2\.\d+\.$/);
  });

  test(
    'a Nova whose maximum is 2.38 refuses 2.45 with 406 and answers createImage at 2.1 with a Location',
    localOnly('the loopback Nova goes up to 2.93'),
    async () => {
      const old = await LocalCloud.start({ maxMicroversion: '2.38' });
      try {
        const server = old.addServer({ region: 'GRA7', name: 'old' });
        const oldSession = await OpenStack.login(old.authUrl, { password: old.demo }, { region: 'GRA7', tag: target.tag });
        assert.equal((await oldSession.nova('GET', `/servers/${server.id}`)).status, 406);
        const created = await oldSession.createImage(server.id, 'old', { version: null });
        assert.equal(created.status, 202);
        assert.match(created.headers.get('location') ?? '', /\/images\/[0-9a-f-]{36}$/);
      } finally {
        await old.stop();
      }
    },
  );

  test('GET /servers/{id}: id, name, status, task_state, the image (an object for an image-backed server, "" for a volume-backed one), attached volumes', async () => {
    const byName = await session.serverNamed(target.server);
    const server = await session.server(byName.id);
    assert.deepEqual([server.id, server.name, server.status, server['OS-EXT-STS:task_state']], [byName.id, target.server, 'ACTIVE', null]);
    assert.match(server.image.id, UUID);
    assert.deepEqual(server['os-extended-volumes:volumes_attached'], []);
    const volumeBacked = await session.server((await session.serverNamed(target.volumeServer)).id);
    assert.equal(volumeBacked.image, '');
    assert.equal(volumeBacked['os-extended-volumes:volumes_attached'].length, 1);
    assert.match(volumeBacked['os-extended-volumes:volumes_attached'][0].id, UUID);
  });

  test('GET /servers/{id} of an unknown server: 404 itemNotFound', async () => {
    const answer = await session.nova('GET', '/servers/00000000-0000-4000-8000-000000000000');
    assert.equal(answer.status, 404);
    assert.match(answer.body.itemNotFound.message, /could not be found/);
  });

  test('the name filter matches a fragment (a regex, case-insensitive); each region has its own servers', async () => {
    const fragment = target.server.slice(0, -2).toUpperCase();
    const answer = await session.nova('GET', `/servers/detail?${new URLSearchParams({ limit: '1000', name: fragment })}`);
    assert.equal(answer.status, 200);
    assert.ok(answer.body.servers.some((s: { name: string }) => s.name === target.server));
    const other = await session.serverNamed(target.server, target.region2);
    assert.notEqual(other.id, (await session.serverNamed(target.server)).id);
  });

  test('pages of /servers/detail: a full page links to the next (limit and marker), the pages do not overlap', async () => {
    const first = await session.nova('GET', '/servers/detail?limit=1');
    assert.equal(first.body.servers.length, 1);
    const next = first.body.servers_links.find((l: { rel: string }) => l.rel === 'next').href;
    const query = new URL(next).searchParams;
    assert.equal(query.get('limit'), '1');
    assert.equal(query.get('marker'), first.body.servers[0].id);
    // compute.ts keeps the link's query only, on its own endpoint.
    const second = await session.nova('GET', `/servers/detail${new URL(next).search}`);
    assert.equal(second.status, 200);
    assert.equal(second.body.servers.length, 1);
    assert.notEqual(second.body.servers[0].id, first.body.servers[0].id);
  });

  describe('createImage of an image-backed server', () => {
    let serverId: string;
    let imageId: string;
    before(async () => {
      serverId = await target.scratchServer();
    });

    test('at 2.45: 202 {"image_id"} and no Location; at once again: 409 conflictingRequest naming the task_state', async () => {
      const answer = await session.createImage(serverId, `${target.tag}-first`);
      assert.equal(answer.status, 202, answer.text);
      assert.match(answer.body.image_id, UUID);
      assert.equal(answer.headers.get('location'), null);
      imageId = answer.body.image_id;
      const busy = await session.createImage(serverId, `${target.tag}-second`);
      assert.equal(busy.status, 409);
      assert.match(busy.body.conflictingRequest.message, new RegExp(`^Cannot 'createImage' instance ${serverId} while it is in task_state image_`));
    });

    test('the server stays ACTIVE while task_state goes image_* and back to null', async () => {
      const { seen, server } = await watchTasks(session, serverId);
      assert.ok(
        seen.every(([task, status]) => task?.startsWith('image_') && status === 'ACTIVE'),
        JSON.stringify(seen),
      );
      assert.equal(server.status, 'ACTIVE');
    });

    test("the image: private, Nova's properties (image_type, instance_uuid, base_image_ref, owner_project_name, user_id), the request's metadata; active with data", async () => {
      const server = await session.server(serverId);
      const image = await poll('the snapshot to be active', async () => {
        const i = await session.image(imageId);
        assert.ok(i && ['queued', 'saving', 'active'].includes(i.status), `status ${i?.status}`);
        return i.status === 'active' ? i : undefined;
      });
      assert.equal(image.visibility, 'private');
      assert.equal(image.owner, session.projectId);
      assert.equal(image.image_type, 'snapshot');
      assert.equal(image.instance_uuid, serverId);
      assert.equal(image.base_image_ref, server.image.id);
      assert.equal(image.owner_project_name, target.password.projectName);
      assert.match(image.user_id, /^[0-9a-f]{32}$/);
      assert.equal(image.osa_e2e_run, target.tag);
      assert.ok(image.size > 0 && image.min_disk >= 1 && image.disk_format === 'qcow2', JSON.stringify(image));
    });

    test('at 2.1: 202 with no body, the image only in Location (its last segment)', async () => {
      const answer = await session.createImage(serverId, `${target.tag}-base-version`, { version: null });
      assert.equal(answer.status, 202, answer.text);
      assert.equal(answer.text, '');
      const id = (answer.headers.get('location') ?? '').split('/').pop()!;
      assert.match(id, UUID);
      // Nova's own making: the region's Glance root, version stripped, then a double slash.
      assert.equal(answer.headers.get('location'), `${imageRoot(session.endpoint(['image']))}//images/${id}`);
      assert.ok(await session.image(id));
      await watchTasks(session, serverId);
    });
  });

  describe('createImage of a volume-backed server', () => {
    let image: Record<string, unknown> & { id: string };
    let volumeId: string;

    test('202 {"image_id"}; the image is active at once with no data, the block device mapping naming a Cinder snapshot; task_state stays null', async () => {
      const server = await session.serverNamed(target.volumeServer);
      volumeId = server['os-extended-volumes:volumes_attached'][0].id;
      const answer = await session.createImage(server.id, `${target.tag}-bfv`);
      assert.equal(answer.status, 202, answer.text);
      image = (await session.image(answer.body.image_id))!;
      assert.deepEqual([image.status, image.size, image.bdm_v2, image.base_image_ref], ['active', 0, 'True', '']);
      assert.equal(image.image_type, undefined, 'no image_type on a volume-backed snapshot');
      assert.equal(image.instance_uuid, undefined);
      assert.equal(image.osa_e2e_run, target.tag);
      assert.equal((await session.server(server.id))['OS-EXT-STS:task_state'], null);
    });

    test('the Cinder snapshot: "snapshot for <image name>", of the boot volume, available', async () => {
      const mapping = JSON.parse(String(image.block_device_mapping)) as { source_type: string; snapshot_id: string; boot_index: number }[];
      assert.equal(mapping.length, 1);
      assert.deepEqual([mapping[0]!.source_type, mapping[0]!.boot_index], ['snapshot', 0]);
      const snapshot = await poll('the Cinder snapshot to be available', async () => {
        const answer = await session.cinder('GET', `/snapshots/${mapping[0]!.snapshot_id}`);
        assert.equal(answer.status, 200, answer.text);
        return answer.body.snapshot.status === 'available' ? answer.body.snapshot : undefined;
      });
      assert.deepEqual([snapshot.name, snapshot.volume_id], [`snapshot for ${image.name}`, volumeId]);
    });
  });

  test('unknown path under the endpoint: 404', async () => {
    assert.equal((await send('GET', `${session.endpoint(['compute'])}/no-such-thing`, { token: session.token })).status, 404);
  });
});
