// Glance's image data and image create as the copy to another region uses them (image.ts,
// image-data.ts): the import methods a Glance offers, an image created with the ID the client
// chose (and the 409 that ID gets ever after), data written with PUT …/file and read back with
// GET …/file, and the hashes Glance computes of it.
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { imageRoot } from '../../src/openstack/image.ts';
import { expect, RUN_PROPERTY, type OpenStack } from '../support/openstack.ts';
import { openTarget, type Target } from './target.ts';

describe('contract: Glance image data', () => {
  let target: Target;
  let session: OpenStack;
  before(async () => {
    target = await openTarget();
    session = await target.login();
  });
  after(() => target.close());

  /** POST /v2/images in the second region (where copies go), with the ID given. */
  const createWithId = (id: string, extra: Record<string, unknown> = {}) =>
    session.glance('POST', '/v2/images', {
      region: target.region2,
      json: {
        id,
        name: `${target.tag}-data`,
        disk_format: 'qcow2',
        container_format: 'bare',
        visibility: 'private',
        min_disk: 2,
        min_ram: 64,
        [RUN_PROPERTY]: target.tag,
        ...extra,
      },
    });

  test('GET /v2/info/import: the import methods, as a list of names (the loopback Glances: glance-direct and web-download, no glance-download)', async () => {
    for (const region of [target.region, target.region2]) {
      const answer = expect(await session.glance('GET', '/v2/info/import', { region }), 200);
      const methods = answer.body['import-methods'].value;
      assert.ok(Array.isArray(methods) && methods.every((m: unknown) => typeof m === 'string'));
      assert.deepEqual([...methods].sort(), ['glance-direct', 'web-download']);
    }
  });

  test('POST /v2/images with an id: 201, that ID, queued, no hash yet; the same ID again is a 409, also once the image is deleted', async () => {
    const id = randomUUID();
    const made = expect(await createWithId(id, { os_distro: 'debian', copied_from_region: target.region }), 201).body;
    assert.equal(made.id, id);
    assert.equal(made.status, 'queued');
    assert.equal(made.size, null);
    assert.equal(made.os_hash_value, null);
    assert.equal(made.checksum, null);
    assert.equal(made.min_disk, 2);
    assert.equal(made.min_ram, 64);
    assert.equal(made.disk_format, 'qcow2');
    assert.equal(made.os_distro, 'debian', 'custom properties at the top level');
    assert.equal(made.copied_from_region, target.region);
    const again = await createWithId(id);
    assert.equal(again.status, 409, again.text);
    assert.match(again.text, new RegExp(`Image ID ${id} already exists!`));
    assert.equal((await session.glance('DELETE', `/v2/images/${id}`, { region: target.region2 })).status, 204);
    const afterDelete = await createWithId(id);
    assert.equal(afterDelete.status, 409, 'Glance never gives a deleted image’s ID again');
  });

  test('a reserved os_glance_* property is refused (403): a copy leaves them out', async () => {
    const answer = await createWithId(randomUUID(), { os_glance_importing_to_stores: 'x' });
    assert.equal(answer.status, 403, answer.text);
  });

  test('PUT …/file (octet-stream): 204, the image active with its size, md5 checksum and sha512 multihash; GET …/file gives the bytes back; a second PUT is a 409', async () => {
    const id = randomUUID();
    expect(await createWithId(id), 201);
    const queued = await session.glance('GET', `/v2/images/${id}/file`, { region: target.region2 });
    assert.equal(queued.status, 204, 'no data yet: 204');
    const data = new Uint8Array(Array.from({ length: 70_000 }, (_, i) => (i * 7) & 0xff));
    const put = await session.glance('PUT', `/v2/images/${id}/file`, { region: target.region2, body: data });
    assert.equal(put.status, 204, put.text);
    const image = await session.image(id, target.region2);
    assert.ok(image);
    assert.equal(image.status, 'active');
    assert.equal(image.size, data.length);
    assert.equal(image.checksum, createHash('md5').update(data).digest('hex'));
    assert.equal(image.os_hash_algo, 'sha512');
    assert.equal(image.os_hash_value, createHash('sha512').update(data).digest('hex'));
    // The bytes themselves (the checking client reads answers as text).
    const got = await fetch(`${imageRoot(session.endpoint(['image'], target.region2))}/v2/images/${id}/file`, {
      headers: { 'x-auth-token': session.token, accept: 'application/octet-stream' },
    });
    assert.equal(got.status, 200);
    assert.match(got.headers.get('content-type') ?? '', /application\/octet-stream/);
    assert.deepEqual(new Uint8Array(await got.arrayBuffer()), data);
    const again = await session.glance('PUT', `/v2/images/${id}/file`, { region: target.region2, body: data });
    assert.equal(again.status, 409, again.text);
  });
});
