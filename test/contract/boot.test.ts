// What mode verify relies on: Nova's server create with networks "none" (2.37), the states of the
// boot, the console log (os-getConsoleOutput), the delete; the flavor lookups; for a volume-backed
// snapshot the volume Nova makes of its Cinder snapshot, its metadata, its delete once detached;
// Glance's JSON patch of a snapshot's properties. On servers and images of the run's own.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { OpenStack } from '../support/openstack.ts';
import { poll } from '../support/poll.ts';
import { openTarget, REAL, type Target } from './target.ts';

const FLAVOR = REAL ? 'osl-tiny' : 'd2-2';
/** nova/virt/fake.py get_console_output. */
const FAKE_CONSOLE = 'FAKE CONSOLE OUTPUT\nANOTHER\nLAST LINE';

describe('contract: a throwaway server (mode verify)', () => {
  let target: Target;
  let session: OpenStack;
  const made: string[] = [];

  before(async () => {
    target = await openTarget({ bootSeconds: 0.5, deleteSeconds: 0.3 });
    session = await target.login();
  });
  after(async () => {
    for (const id of made) await session.deleteServer(id).catch(() => undefined);
    await target.close();
  });

  const boot = (body: Record<string, unknown>, version = '2.37') =>
    session.nova('POST', '/servers', { json: { server: { name: `${target.tag}-verify`, flavorRef: FLAVOR, ...body } }, version });
  const gone = (id: string) => poll(`server ${id} gone`, async () => ((await session.nova('GET', `/servers/${id}`)).status === 404 ? true : undefined));

  test('flavors: GET /flavors/{id} and /flavors/detail show id, name, ram, disk, vcpus; an unknown ID is 404', async () => {
    const one = await session.nova('GET', `/flavors/${FLAVOR}`);
    assert.equal(one.status, 200, one.text);
    for (const key of ['id', 'name', 'ram', 'disk', 'vcpus']) assert.ok(key in one.body.flavor, key);
    const all = await session.nova('GET', '/flavors/detail');
    assert.equal(all.status, 200, all.text);
    assert.ok(all.body.flavors.some((f: { id: string }) => f.id === FLAVOR));
    assert.equal((await session.nova('GET', `/flavors/${target.tag}-nope`)).status, 404);
  });

  test('create with networks "none" at 2.37: 202 with the ID; BUILD, then ACTIVE; the console log; delete: 204, then 404', async () => {
    const image = await target.seedImage(`${target.tag}-boot`, {});
    const answer = await boot({ imageRef: image, networks: 'none', metadata: { verify_of: image } });
    assert.equal(answer.status, 202, answer.text);
    const id: string = answer.body.server.id;
    made.push(id);
    const server = await session.waitServer(id, (s) => s.status === 'ACTIVE' || s.status === 'ERROR');
    assert.equal(server.status, 'ACTIVE', JSON.stringify(server.fault ?? {}));
    assert.equal(server.metadata.verify_of, image);
    const console = await session.nova('POST', `/servers/${id}/action`, { json: { 'os-getConsoleOutput': { length: 200 } } });
    assert.equal(console.status, 200, console.text);
    assert.equal(console.body.output, FAKE_CONSOLE);
    const deleted = await session.nova('DELETE', `/servers/${id}`);
    assert.equal(deleted.status, 204, deleted.text);
    await gone(id);
  });

  test('refusals before anything is made: networks "none" below 2.37, an unknown flavor (400)', async () => {
    const image = await target.seedImage(`${target.tag}-refused`, {});
    const old = await boot({ imageRef: image, networks: 'none' }, '2.36');
    assert.equal(old.status, 400, old.text);
    const flavor = await boot({ imageRef: image, networks: 'none', flavorRef: `${target.tag}-nope` });
    assert.equal(flavor.status, 400, flavor.text);
    assert.match(flavor.body.badRequest.message, /^Flavor .*-nope could not be found\.$/);
    assert.deepEqual(await session.serversNamed(`${target.tag}-verify`), []);
  });

  test('a volume-backed snapshot: Nova makes a volume of its Cinder snapshot and attaches it; metadata set; after the delete it is detached, then deleted (202, 404)', async () => {
    const source = await session.serverNamed(target.volumeServer);
    const snapshot = await session.createImage(source.id, `${target.tag}-vol`);
    assert.equal(snapshot.status, 202, snapshot.text);
    const imageId: string = snapshot.body.image_id;
    await poll('the volume-backed snapshot active', async () => ((await session.image(imageId))?.status === 'active' ? true : undefined));
    const [device] = JSON.parse(String((await session.image(imageId))?.block_device_mapping));
    const answer = await boot({ imageRef: imageId, networks: 'none' });
    assert.equal(answer.status, 202, answer.text);
    const id: string = answer.body.server.id;
    made.push(id);
    const server = await session.waitServer(id, (s) => s.status === 'ACTIVE' || s.status === 'ERROR');
    assert.equal(server.status, 'ACTIVE', JSON.stringify(server.fault ?? {}));
    const [attached, ...more] = server['os-extended-volumes:volumes_attached'] as { id: string }[];
    assert.ok(attached, 'a volume attached');
    assert.equal(more.length, 0);
    const volume = await session.cinder('GET', `/volumes/${attached.id}`);
    assert.equal(volume.status, 200, volume.text);
    assert.equal(volume.body.volume.snapshot_id, device.snapshot_id);
    assert.equal(volume.body.volume.attachments[0]?.server_id, id);
    assert.match(volume.body.volume.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
    const tagged = await session.cinder('POST', `/volumes/${attached.id}/metadata`, { json: { metadata: { verify_of: imageId } } });
    assert.equal(tagged.status, 200, tagged.text);
    // Attached: Cinder refuses the delete.
    assert.equal((await session.cinder('DELETE', `/volumes/${attached.id}`)).status, 400);
    assert.equal((await session.nova('DELETE', `/servers/${id}`)).status, 204);
    await gone(id);
    const detached = await poll('the volume detached', async () => {
      const now = (await session.cinder('GET', `/volumes/${attached.id}`)).body.volume;
      return now.status === 'available' ? now : undefined;
    });
    assert.equal(detached.metadata.verify_of, imageId, 'its metadata kept');
    const listed = await session.cinder('GET', '/volumes/detail');
    assert.equal(listed.body.volumes.find((v: { id: string }) => v.id === attached.id)?.metadata.verify_of, imageId);
    assert.equal((await session.cinder('DELETE', `/volumes/${attached.id}`)).status, 202);
    await poll('the volume gone', async () => ((await session.cinder('GET', `/volumes/${attached.id}`)).status === 404 ? true : undefined));
  });

  test('Glance JSON patch: add sets a property, and replaces one that is there', async () => {
    const image = await target.seedImage(`${target.tag}-patch`, {});
    const patch = (value: string) =>
      session.glance('PATCH', `/v2/images/${image}`, {
        body: Buffer.from(JSON.stringify([{ op: 'add', path: '/verify_result', value }])) as Uint8Array<ArrayBuffer>,
        headers: { 'content-type': 'application/openstack-images-v2.1-json-patch' },
      });
    assert.equal((await patch('failed')).status, 200);
    const again = await patch('passed');
    assert.equal(again.status, 200, again.text);
    assert.equal((await session.image(image))?.verify_result, 'passed');
  });
});
