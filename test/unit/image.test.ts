import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import nock from 'nock';

import { imageRoot } from '../../src/openstack/image.ts';
import { catalog, IMAGE_ID, IMAGE_ORIGIN, imageBody, mockAuth, newCloud, PROJECT_ID, SERVER_ID, unmatched, useNock } from '../support/nock.ts';

useNock();

describe('imageRoot', () => {
  it('drops a trailing slash and a /v2 (or /v2.x) suffix, and keeps any path prefix', () => {
    assert.equal(imageRoot('https://image.compute.gra11.cloud.ovh.net/'), 'https://image.compute.gra11.cloud.ovh.net');
    assert.equal(imageRoot('https://glance.example.com:9292/v2'), 'https://glance.example.com:9292');
    assert.equal(imageRoot('https://glance.example.com:9292/v2/'), 'https://glance.example.com:9292');
    assert.equal(imageRoot('https://glance.example.com/v2.1'), 'https://glance.example.com');
    assert.equal(imageRoot('http://10.0.0.1/image'), 'http://10.0.0.1/image');
    assert.equal(imageRoot('http://10.0.0.1/image/v2'), 'http://10.0.0.1/image');
  });
});

/**
 * Glance at `origin` + `prefix`: three pages of `limit=1000` under the given query, each `next`
 * the relative path Glance sends (from its unversioned root, sort re-encoded).
 */
function threePages(origin: string, prefix: string) {
  const base = { limit: '1000', owner: PROJECT_ID, sort: 'created_at:desc' };
  const next = (marker: string) => `/v2/images?limit=1000&owner=${PROJECT_ID}&sort=created_at%3Adesc&marker=${marker}`;
  const page = (ids: string[]) => ids.map((id) => imageBody({ id, name: `snap-${id}` }));
  return nock(origin)
    .get(`${prefix}/v2/images`)
    .query(base)
    .reply(200, { images: page(['a1', 'a2']), first: '/v2/images?limit=1000', schema: '/v2/schemas/images', next: next('a2') })
    .get(`${prefix}/v2/images`)
    .query({ ...base, marker: 'a2' })
    .reply(200, { images: page(['b1', 'b2']), first: '/v2/images?limit=1000', schema: '/v2/schemas/images', next: next('b2') })
    .get(`${prefix}/v2/images`)
    .query({ ...base, marker: 'b2' })
    .reply(200, { images: page(['c1']), first: '/v2/images?limit=1000', schema: '/v2/schemas/images' });
}

describe('image listing follows Glance pages through got.paginate', () => {
  for (const [label, imageUrl, origin, prefix] of [
    ['unversioned endpoint (OVH)', 'https://image.compute.gra11.cloud.ovh.net/', 'https://image.compute.gra11.cloud.ovh.net', ''],
    ['versioned endpoint (/v2)', 'https://glance.example.com:9292/v2', 'https://glance.example.com:9292', ''],
    ['endpoint under a path prefix (devstack)', 'http://10.0.0.1/image', 'http://10.0.0.1', '/image'],
    ['versioned endpoint under a path prefix', 'http://10.0.0.1/image/v2/', 'http://10.0.0.1', '/image'],
  ] as const) {
    it(`${label}: every page request goes to the right URL`, async () => {
      mockAuth({ catalog: catalog({ imageUrl }) });
      const pages = threePages(origin, prefix);
      const images = await (await newCloud().images()).listAll({ owner: PROJECT_ID, sort: 'created_at:desc' });
      pages.done();
      assert.deepEqual(
        images.map((i) => i.id),
        ['a1', 'a2', 'b1', 'b2', 'c1'],
      );
      assert.deepEqual(unmatched, []);
    });
  }

  it('a single page without next is one request', async () => {
    mockAuth();
    const scope = nock('https://image.compute.gra11.cloud.ovh.net')
      .get('/v2/images')
      .query({ limit: '1000', name: 'x y' })
      .reply(200, { images: [imageBody()] });
    const images = await (await newCloud().images()).listAll({ name: 'x y' });
    scope.done();
    assert.equal(images.length, 1);
  });

  it('a page Glance refuses fails the listing', async () => {
    mockAuth();
    nock('https://image.compute.gra11.cloud.ovh.net')
      .get('/v2/images')
      .query(true)
      .reply(200, { images: [imageBody({ id: 'a1' })], next: '/v2/images?limit=1000&marker=a1' })
      .get('/v2/images')
      .query({ limit: '1000', marker: 'a1' })
      .reply(400, { message: 'Invalid marker', code: '400 Bad Request', title: 'Bad Request' });
    await assert.rejects((await newCloud().images()).listAll({}), /answered 400: Invalid marker/);
  });
});

describe('ImageService.get', () => {
  it("decodes Nova's marks and keeps, of the other properties, only those named", async () => {
    mockAuth();
    const mapping = JSON.stringify([{ snapshot_id: 'vs-1', boot_index: 0 }, { snapshot_id: null }, { snapshot_id: 'vs-2' }]);
    const body = imageBody({ bdm_v2: 'True', block_device_mapping: mapping, managed_by: 'someone', hw_qemu_guest_agent: 'yes' });
    nock(IMAGE_ORIGIN).get(`/v2/images/${IMAGE_ID}`).twice().reply(200, body);
    const images = await newCloud().images();
    const image = await images.get(IMAGE_ID, ['managed_by', 'owner', 'not_there']);
    assert.ok(image);
    assert.deepEqual(image.properties, { managed_by: 'someone', owner: PROJECT_ID });
    assert.equal(image.imageType, 'snapshot');
    assert.equal(image.instanceUuid, SERVER_ID);
    assert.equal(image.bdmV2, true);
    assert.deepEqual(image.volumeSnapshotIds, ['vs-1', 'vs-2']);
    assert.deepEqual((await images.get(IMAGE_ID))?.properties, {});
  });

  it('undefined for a 404', async () => {
    mockAuth();
    nock('https://image.compute.gra11.cloud.ovh.net')
      .get('/v2/images/missing')
      .reply(404, { message: 'No image found with ID missing', code: '404 Not Found' });
    assert.equal(await (await newCloud().images()).get('missing'), undefined);
  });

  it('other failures are errors', async () => {
    mockAuth();
    nock('https://image.compute.gra11.cloud.ovh.net').get('/v2/images/x').reply(403, { message: 'You are not authorized', code: '403 Forbidden' });
    await assert.rejects((await newCloud().images()).get('x'), /answered 403: You are not authorized/);
  });
});
