// Tests of the local OpenStack-compatible cloud (test/local-cloud), with plain fetch, as a client sees it.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalCloud } from '../local-cloud/cloud.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Endpoint {
  id: string;
  interface: string;
  region: string;
  region_id: string;
  url: string;
}
interface CatalogEntry {
  type: string;
  name: string;
  id: string;
  endpoints: Endpoint[];
}
interface Session {
  token: string;
  body: { token: Record<string, unknown> & { catalog: CatalogEntry[]; expires_at: string; issued_at: string } };
  ep: (type: string, region: string, iface?: string) => string;
}

function passwordBody(cloud: LocalCloud, password = cloud.demo.password) {
  return {
    auth: {
      identity: { methods: ['password'], password: { user: { name: cloud.demo.username, domain: { name: 'Default' }, password } } },
      scope: { project: { name: cloud.demo.projectName, domain: { name: 'Default' } } },
    },
  };
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

async function login(cloud: LocalCloud, body: unknown = passwordBody(cloud)): Promise<Session> {
  const res = await post(`${cloud.authUrl}/auth/tokens`, body);
  assert.equal(res.status, 201, await res.clone().text());
  const token = res.headers.get('x-subject-token');
  assert.ok(token);
  const json = (await res.json()) as Session['body'];
  const ep = (type: string, region: string, iface = 'public') => {
    const svc = json.token.catalog.find((c) => c.type === type);
    const e = svc?.endpoints.find((x) => x.region_id === region && x.interface === iface);
    if (!e) throw new Error(`no ${type} endpoint in ${region}/${iface}`);
    return e.url;
  };
  return { token, body: json, ep };
}

const get = (url: string, token: string, headers: Record<string, string> = {}) => fetch(url, { headers: { 'X-Auth-Token': token, ...headers } });

async function createImage(s: Session, region: string, serverId: string, name: string, opts: { mv?: string; metadata?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { 'X-Auth-Token': s.token };
  if (opts.mv) headers['OpenStack-API-Version'] = `compute ${opts.mv}`;
  return post(`${s.ep('compute', region)}/servers/${serverId}/action`, { createImage: { name, ...(opts.metadata ? { metadata: opts.metadata } : {}) } }, headers);
}

async function imageIdFrom(res: Response): Promise<string> {
  if (res.headers.get('location')) return res.headers.get('location')!.split('/').pop()!;
  return ((await res.json()) as { image_id: string }).image_id;
}

async function serverOf(s: Session, region: string, id: string) {
  const r = await get(`${s.ep('compute', region)}/servers/${id}`, s.token);
  assert.equal(r.status, 200);
  return ((await r.json()) as { server: Record<string, unknown> }).server;
}

async function imageOf(s: Session, region: string, id: string): Promise<{ status: number; image?: Record<string, unknown> }> {
  const r = await get(`${s.ep('image', region)}/v2/images/${id}`, s.token, { Accept: 'application/json' });
  if (r.status !== 200) {
    await r.body?.cancel();
    return { status: r.status };
  }
  return { status: 200, image: (await r.json()) as Record<string, unknown> };
}

// =============================================================================================
describe('keystone', () => {
  let cloud: LocalCloud;
  before(async () => {
    cloud = await LocalCloud.start();
  });
  after(() => cloud.stop());

  test('password auth by name: 201, X-Subject-Token, token body and catalog shape', async () => {
    const s = await login(cloud);
    const t = s.body.token;
    assert.deepEqual(t.methods, ['password']);
    assert.equal((t.project as { id: string }).id, cloud.demo.projectId);
    assert.equal((t.user as { name: string }).name, 'demo');
    assert.match(t.expires_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000000Z$/);
    const ttl = Date.parse(t.expires_at) - Date.parse(t.issued_at);
    assert.equal(ttl, 43200 * 1000);
    assert.deepEqual(
      (t.roles as { name: string }[]).map((r) => r.name),
      ['member', 'reader'],
    );
    const types = t.catalog.map((c) => c.type).sort();
    assert.deepEqual(types, ['compute', 'identity', 'image', 'volumev3']);
    for (const c of t.catalog) {
      assert.deepEqual(Object.keys(c), ['endpoints', 'id', 'type', 'name']);
      for (const e of c.endpoints) assert.deepEqual(Object.keys(e), ['id', 'interface', 'region_id', 'url', 'region']);
    }
    const compute = t.catalog.find((c) => c.type === 'compute')!;
    assert.equal(compute.endpoints.length, 6); // 2 regions x public/internal/admin
    const volume = t.catalog.find((c) => c.type === 'volumev3')!;
    assert.deepEqual([...new Set(volume.endpoints.map((e) => e.region_id))], ['GRA7']);
    // internal/admin URLs are distinguishable from public ones
    const urls = new Set(['public', 'internal', 'admin'].map((i) => s.ep('compute', 'GRA7', i)));
    assert.equal(urls.size, 3);
    assert.equal(s.ep('image', 'GRA7'), `${cloud.url}/glance/GRA7`);
    assert.equal(s.ep('compute', 'GRA7'), `${cloud.url}/compute/GRA7/v2.1/${cloud.demo.projectId}`);
    assert.equal(s.ep('volumev3', 'GRA7'), `${cloud.url}/volume/GRA7/v3/${cloud.demo.projectId}`);
  });

  test('password auth by user id and project id', async () => {
    const s = await login(cloud, {
      auth: { identity: { methods: ['password'], password: { user: { id: cloud.demo.userId, password: cloud.demo.password } } }, scope: { project: { id: cloud.demo.projectId } } },
    });
    assert.equal((s.body.token.user as { id: string }).id, cloud.demo.userId);
  });

  test('application credential auth; a scope is refused like the real Keystone (401)', async () => {
    const ac = { id: cloud.demo.appCredId, secret: cloud.demo.appCredSecret };
    const s = await login(cloud, { auth: { identity: { methods: ['application_credential'], application_credential: ac } } });
    assert.deepEqual(s.body.token.methods, ['application_credential']);
    assert.deepEqual(s.body.token.application_credential, { id: cloud.demo.appCredId, name: cloud.demo.appCredName, restricted: true });
    const scoped = await post(`${cloud.authUrl}/auth/tokens`, {
      auth: { identity: { methods: ['application_credential'], application_credential: ac }, scope: { project: { id: cloud.demo.projectId } } },
    });
    assert.equal(scoped.status, 401);
    assert.equal(
      await scoped.text(),
      '{"error":{"code":401,"identity":{},"message":"Error authenticating with application credential: Application credentials cannot request a scope.","title":"Unauthorized"}}',
    );
    const wrongSecret = await post(`${cloud.authUrl}/auth/tokens`, { auth: { identity: { methods: ['application_credential'], application_credential: { ...ac, secret: 'x' } } } });
    assert.equal(wrongSecret.status, 401);
    const unknown = await post(`${cloud.authUrl}/auth/tokens`, { auth: { identity: { methods: ['application_credential'], application_credential: { id: 'nope', secret: 'x' } } } });
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { error: { message: string } }).error.message, 'Could not find Application Credential: nope.');
  });

  test('wrong credentials: 401 with the real JSON error and WWW-Authenticate; missing domain: 400', async () => {
    const res = await post(`${cloud.authUrl}/auth/tokens`, passwordBody(cloud, 'wrong'));
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), `Keystone uri="${cloud.authUrl}"`);
    assert.equal(await res.text(), '{"error":{"code":401,"message":"The request you have made requires authentication.","title":"Unauthorized"}}');
    const noDomain = await post(`${cloud.authUrl}/auth/tokens`, {
      auth: { identity: { methods: ['password'], password: { user: { name: 'demo', password: cloud.demo.password } } } },
    });
    assert.equal(noDomain.status, 400);
    assert.match(((await noDomain.json()) as { error: { message: string } }).error.message, /^Expecting to find domain in user\./);
    const otherProject = await post(`${cloud.authUrl}/auth/tokens`, {
      ...passwordBody(cloud),
      auth: { ...passwordBody(cloud).auth, scope: { project: { name: 'admin', domain: { name: 'Default' } } } },
    });
    assert.equal(otherProject.status, 401);
  });

  test('endpoint styles: versioned image URL (.../v2) and plain compute URL (no project id) both work', async () => {
    const c2 = await LocalCloud.start({ imageEndpointStyle: 'versioned', computeEndpointStyle: 'plain', regions: ['BHS5'], cinderRegions: [] });
    try {
      const s2 = await login(c2);
      assert.equal(s2.ep('image', 'BHS5'), `${c2.url}/glance/BHS5/v2`);
      assert.equal(s2.ep('compute', 'BHS5'), `${c2.url}/compute/BHS5/v2.1`);
      assert.ok(!s2.body.token.catalog.some((c) => c.type === 'volumev3'));
      c2.addServer({ region: 'BHS5', name: 'x' });
      const servers = (await (await get(`${s2.ep('compute', 'BHS5')}/servers`, s2.token)).json()) as { servers: { name: string }[] };
      assert.deepEqual(
        servers.servers.map((x) => x.name),
        ['x'],
      );
      const imgs = await get(`${s2.ep('image', 'BHS5')}/images?limit=1`, s2.token);
      assert.equal(imgs.status, 200);
      const body = (await imgs.json()) as { next: string };
      // `next` is still relative to the unversioned root: joining it to the versioned URL would double /v2.
      assert.match(body.next, /^\/v2\/images\?limit=1&marker=/);
      assert.equal((await get(`${s2.ep('image', 'BHS5')}${body.next}`, s2.token)).status, 404);
      assert.equal((await get(`${c2.url}/glance/BHS5${body.next}`, s2.token)).status, 200);
    } finally {
      await c2.stop();
    }
  });

  test('GET /identity/v3 is the version document', async () => {
    const res = await fetch(cloud.authUrl);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { version: { id: string; status: string; links: { href: string }[] } };
    assert.equal(body.version.id, 'v3.14');
    assert.equal(body.version.links[0]!.href, `${cloud.authUrl}/`);
  });

  test('expired and revoked tokens get 401 from every service (Glance: HTML + Www-Authenticate)', async () => {
    const short = await LocalCloud.start({ tokenTtlSeconds: 60 });
    try {
      const s = await login(short);
      short.addServer({ region: 'GRA7', name: 'x' });
      assert.equal((await get(`${s.ep('compute', 'GRA7')}/servers`, s.token)).status, 200);
      short.advance(61_000);
      const nova = await get(`${s.ep('compute', 'GRA7')}/servers`, s.token);
      assert.equal(nova.status, 401);
      assert.equal(await nova.text(), '{"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}');
      const glance = await get(`${s.ep('image', 'GRA7')}/v2/images`, s.token);
      assert.equal(glance.status, 401);
      assert.match(glance.headers.get('content-type')!, /^text\/html/);
      assert.equal(glance.headers.get('www-authenticate'), `Keystone uri="${short.url}/identity"`);
      assert.match(await glance.text(), /<title>401 Unauthorized<\/title>/);
      const s2 = await login(short);
      assert.equal((await get(`${s2.ep('image', 'GRA7')}/v2/images`, s2.token)).status, 200);
      short.expireTokens();
      assert.equal((await get(`${s2.ep('volumev3', 'GRA7')}/snapshots`, s2.token)).status, 401);
    } finally {
      await short.stop();
    }
  });
});

// =============================================================================================
describe('nova', () => {
  let cloud: LocalCloud;
  let s: Session;
  before(async () => {
    cloud = await LocalCloud.start({ snapshotSeconds: 0.6 });
    s = await login(cloud);
  });
  after(() => cloud.stop());

  test('name is a case-insensitive regex filter (web matches web-2 and webhook); invalid regex is 400', async () => {
    cloud.addServer({ region: 'GRA7', name: 'web-2' });
    cloud.addServer({ region: 'GRA7', name: 'webhook' });
    cloud.addServer({ region: 'GRA7', name: 'db' });
    cloud.addServer({ region: 'SBG5', name: 'web-9' });
    const names = async (q: string) => {
      const r = await get(`${s.ep('compute', 'GRA7')}/servers?${q}`, s.token);
      assert.equal(r.status, 200);
      return ((await r.json()) as { servers: { name: string }[] }).servers.map((x) => x.name).sort();
    };
    assert.deepEqual(await names('name=web'), ['web-2', 'webhook']);
    assert.deepEqual(await names('name=WEB'), ['web-2', 'webhook']);
    assert.deepEqual(await names(`name=${encodeURIComponent('^web-2$')}`), ['web-2']);
    const bad = await get(`${s.ep('compute', 'GRA7')}/servers?name=%5B`, s.token);
    assert.equal(bad.status, 400);
    assert.equal(await bad.text(), `{"badRequest": {"code": 400, "message": "Invalid input for query parameters name. Value: [. '[' is not a 'regex'"}}`);
  });

  test('servers paging: limit + servers_links next (nova sorts the query and appends marker)', async () => {
    for (let i = 0; i < 5; i++) cloud.addServer({ region: 'SBG5', name: `page-${i}`, createdAt: new Date(Date.UTC(2025, 0, 1, 0, i)) });
    const seen: string[] = [];
    let url: string | undefined = `${s.ep('compute', 'SBG5')}/servers/detail?name=page&limit=2`;
    let pages = 0;
    while (url) {
      const r = await get(url, s.token);
      const body = (await r.json()) as { servers: { name: string }[]; servers_links?: { rel: string; href: string }[] };
      seen.push(...body.servers.map((x) => x.name));
      url = body.servers_links?.find((l) => l.rel === 'next')?.href;
      if (pages === 0) assert.match(url!, /\/servers\/detail\?limit=2&name=page&marker=[0-9a-f-]+$/);
      pages++;
    }
    assert.deepEqual(seen, ['page-4', 'page-3', 'page-2', 'page-1', 'page-0']);
    assert.equal(pages, 3);
    const badMarker = await get(`${s.ep('compute', 'SBG5')}/servers?marker=nope`, s.token);
    assert.equal(badMarker.status, 400);
  });

  test('GET /servers/{id}: real shape; 404 itemNotFound', async () => {
    const srv = cloud.addServer({ region: 'GRA7', name: 'shape' });
    const body = await serverOf(s, 'GRA7', srv.id);
    assert.equal(body.status, 'ACTIVE');
    assert.equal(body['OS-EXT-STS:task_state'], null);
    assert.equal(body['OS-EXT-STS:vm_state'], 'active');
    assert.equal(body.tenant_id, cloud.demo.projectId);
    const r = await get(`${s.ep('compute', 'GRA7')}/servers/00000000-0000-0000-0000-000000000000`, s.token);
    assert.equal(r.status, 404);
    assert.equal(await r.text(), '{"itemNotFound": {"code": 404, "message": "Instance 00000000-0000-0000-0000-000000000000 could not be found."}}');
    // a server of another region is not visible through this region's endpoint
    assert.equal((await get(`${s.ep('compute', 'SBG5')}/servers/${srv.id}`, s.token)).status, 404);
  });

  test('microversion negotiation echoes both headers; too high is 406; bad format is 400', async () => {
    const url = `${s.ep('compute', 'GRA7')}/servers`;
    const def = await get(url, s.token);
    assert.equal(def.headers.get('openstack-api-version'), 'compute 2.1');
    assert.equal(def.headers.get('x-openstack-nova-api-version'), '2.1');
    const legacy = await get(url, s.token, { 'X-OpenStack-Nova-API-Version': '2.45' });
    assert.equal(legacy.headers.get('openstack-api-version'), 'compute 2.45');
    const latest = await get(url, s.token, { 'OpenStack-API-Version': 'compute latest' });
    assert.equal(latest.headers.get('x-openstack-nova-api-version'), '2.93');
    const high = await get(url, s.token, { 'OpenStack-API-Version': 'compute 2.94' });
    assert.equal(high.status, 406);
    assert.equal(await high.text(), '{"computeFault": {"code": 406, "message": "Version 2.94 is not supported by the API. Minimum is 2.1 and maximum is 2.93."}}');
    const badFmt = await get(url, s.token, { 'OpenStack-API-Version': 'compute abc' });
    assert.equal(badFmt.status, 400);
    // the version document (no token needed) tells the max microversion
    const doc = (await (await fetch(`${cloud.url}/compute/GRA7/v2.1/`)).json()) as { version: { version: string; min_version: string } };
    assert.deepEqual([doc.version.min_version, doc.version.version], ['2.1', '2.93']);
  });

  test('createImage below 2.45: 202, empty body, Location = glance root + //images/<id>; lifecycle in real time; 409 while busy', async () => {
    const srv = cloud.addServer({ region: 'GRA7', name: 'snap-me' });
    const t0 = Date.now();
    const res = await createImage(s, 'GRA7', srv.id, 'snap-1', { metadata: { managed_by: 'gha' } });
    assert.equal(res.status, 202);
    assert.equal(await res.text(), '');
    const loc = res.headers.get('location')!;
    assert.match(loc, new RegExp(`^${cloud.url}/glance/GRA7//images/[0-9a-f-]{36}$`));
    const id = loc.split('/').pop()!;
    const first = await imageOf(s, 'GRA7', id);
    assert.equal(first.image!.status, 'queued');
    assert.equal(first.image!.visibility, 'private');
    assert.equal(first.image!.image_type, 'snapshot');
    assert.equal(first.image!.instance_uuid, srv.id);
    assert.equal(first.image!.managed_by, 'gha');
    assert.equal(first.image!.size, null);
    assert.equal(first.image!.owner, cloud.demo.projectId);
    const busy = await createImage(s, 'GRA7', srv.id, 'snap-2', { mv: '2.45' });
    assert.equal(busy.status, 409);
    const busyMsg = ((await busy.json()) as { conflictingRequest: { message: string } }).conflictingRequest.message;
    assert.match(busyMsg, new RegExp(`^Cannot 'createImage' instance ${srv.id} while it is in task_state image_(snapshot_pending|snapshot|pending_upload)$`));
    // Poll: image queued -> saving -> active, server task_state image_* -> null.
    const statuses: string[] = [];
    const tasks: (string | null)[] = [];
    let activeAt = 0;
    while (Date.now() - t0 < 3000) {
      const img = (await imageOf(s, 'GRA7', id)).image!;
      const server = await serverOf(s, 'GRA7', srv.id);
      if (statuses.at(-1) !== img.status) statuses.push(img.status as string);
      if (tasks.at(-1) !== server['OS-EXT-STS:task_state']) tasks.push(server['OS-EXT-STS:task_state'] as string | null);
      assert.equal(server.status, 'ACTIVE');
      if (img.status === 'active') {
        activeAt = Date.now() - t0;
        assert.equal(img.disk_format, 'qcow2');
        assert.equal(img.container_format, 'bare');
        assert.equal(img.size, 65536);
        assert.equal(img.image_state, 'available');
        break;
      }
      await sleep(25);
    }
    assert.deepEqual(statuses, ['queued', 'saving', 'active']);
    assert.ok(activeAt >= 550 && activeAt < 2000, `active after ${activeAt} ms (snapshotSeconds 0.6)`);
    assert.ok(tasks.includes('image_pending_upload') && tasks.includes('image_uploading'), tasks.join(','));
    assert.equal((await serverOf(s, 'GRA7', srv.id))['OS-EXT-STS:task_state'], null);
    // Idle again: accepted.
    const again = await createImage(s, 'GRA7', srv.id, 'snap-3', { mv: '2.45' });
    assert.equal(again.status, 202);
  });

  test('snapshot progress follows the cloud clock: advance() walks queued -> saving -> active', async () => {
    const slow = await LocalCloud.start({ snapshotSeconds: 100 });
    try {
      const ss = await login(slow);
      const srv = slow.addServer({ region: 'GRA7', name: 'slow' });
      const id = await imageIdFrom(await createImage(ss, 'GRA7', srv.id, 'slow-1', { mv: '2.45' }));
      const state = async () => [(await imageOf(ss, 'GRA7', id)).image!.status, (await serverOf(ss, 'GRA7', srv.id))['OS-EXT-STS:task_state']];
      assert.deepEqual(await state(), ['queued', 'image_snapshot_pending']);
      slow.advance(30_000);
      assert.deepEqual(await state(), ['queued', 'image_pending_upload']);
      slow.advance(30_000);
      assert.deepEqual(await state(), ['saving', 'image_uploading']);
      assert.equal(slow.image(id)!.diskFormat, 'qcow2');
      slow.advance(41_000);
      assert.deepEqual(await state(), ['active', null]);
      const img = slow.image(id)!;
      assert.equal(Date.parse(img.updatedAt) - Date.parse(img.createdAt) >= 99_000, true);
    } finally {
      await slow.stop();
    }
  });

  test('createImage at 2.45: 202 {"image_id"} and no Location', async () => {
    const srv = cloud.addServer({ region: 'SBG5', name: 'snap-245' });
    const res = await createImage(s, 'SBG5', srv.id, 'snap-245', { mv: '2.45' });
    assert.equal(res.status, 202);
    assert.equal(res.headers.get('location'), null);
    const text = await res.text();
    assert.match(text, /^\{"image_id": "[0-9a-f-]{36}"\}$/);
    const id = (JSON.parse(text) as { image_id: string }).image_id;
    assert.equal((await imageOf(s, 'SBG5', id)).status, 200);
    assert.equal((await imageOf(s, 'GRA7', id)).status, 404); // images are per region
  });

  test('old region (maxMicroversion 2.38): 2.45 is refused with 406, 2.1 answers with Location', async () => {
    const old = await LocalCloud.start({ maxMicroversion: '2.38', snapshotSeconds: 0 });
    try {
      const so = await login(old);
      const srv = old.addServer({ region: 'GRA7', name: 'old' });
      const refused = await createImage(so, 'GRA7', srv.id, 'x', { mv: '2.45' });
      assert.equal(refused.status, 406);
      assert.match(await refused.text(), /maximum is 2\.38\./);
      assert.equal(old.images('GRA7').filter((i) => i.name === 'x').length, 0);
      const ok = await createImage(so, 'GRA7', srv.id, 'x');
      assert.equal(ok.status, 202);
      const id = await imageIdFrom(ok);
      // snapshotSeconds 0: active at once
      assert.equal((await imageOf(so, 'GRA7', id)).image!.status, 'active');
    } finally {
      await old.stop();
    }
  });

  test('createImage validation (400) and state conflicts (409) use the real messages', async () => {
    const srv = cloud.addServer({ region: 'GRA7', name: 'validate' });
    const url = `${s.ep('compute', 'GRA7')}/servers/${srv.id}/action`;
    const h = { 'X-Auth-Token': s.token };
    const msg = async (body: unknown) => {
      const r = await post(url, body, h);
      assert.equal(r.status, 400);
      return ((await r.json()) as { badRequest: { message: string } }).badRequest.message;
    };
    assert.equal(await msg({ createImage: { name: ' lead' } }), "An invalid 'name' value was provided. The name must be: printable characters. Can not start or end with whitespace.");
    assert.equal(await msg({ createImage: { name: '' } }), "Invalid input for field/attribute name. Value: . '' is too short");
    assert.equal(await msg({ createImage: {} }), "Invalid input for field/attribute createImage. Value: {}. 'name' is a required property");
    assert.equal(
      await msg({ createImage: { name: 'x', metadata: { 'bad/key': 'v' } } }),
      "Invalid input for field/attribute metadata. Value: {'bad/key': 'v'}. 'bad/key' does not match any of the regexes: '^[a-zA-Z0-9-_:. ]{1,255}$'",
    );
    assert.equal(await msg({ createImage: { name: 'x', metadata: { k: 5 } } }), "Invalid input for field/attribute k. Value: 5. 5 is not of type 'string'");
    assert.equal(
      await msg({ createImage: { name: 'x', extra: 1 } }),
      "Invalid input for field/attribute createImage. Value: {'name': 'x', 'extra': 1}. Additional properties are not allowed ('extra' was unexpected)",
    );
    assert.equal(await msg({ createImage: { name: 'x' }, other: 1 }), 'Malformed request body');
    assert.equal(cloud.images('GRA7').filter((i) => i.properties.instance_uuid === srv.id).length, 0);

    cloud.setServer(srv.id, { status: 'ERROR' });
    let r = await createImage(s, 'GRA7', srv.id, 'x');
    assert.equal(r.status, 409);
    assert.equal(((await r.json()) as { conflictingRequest: { message: string } }).conflictingRequest.message, `Cannot 'createImage' instance ${srv.id} while it is in vm_state error`);
    cloud.setServer(srv.id, { status: 'SHUTOFF', taskState: 'powering-on' });
    r = await createImage(s, 'GRA7', srv.id, 'x');
    assert.equal(r.status, 409);
    assert.equal(((await r.json()) as { conflictingRequest: { message: string } }).conflictingRequest.message, `Cannot 'createImage' instance ${srv.id} while it is in task_state powering-on`);
    cloud.setServer(srv.id, { taskState: null });
    r = await createImage(s, 'GRA7', srv.id, 'x');
    assert.equal(r.status, 202); // SHUTOFF is fine
    await r.body?.cancel();
  });

  test('volume-backed: Cinder snapshot "snapshot for <name>", image active at once with size 0 and the BDM string, task_state stays null', async () => {
    const srv = cloud.addServer({ region: 'GRA7', name: 'bfv', volumeBacked: true });
    const res = await createImage(s, 'GRA7', srv.id, 'bfv-snap', { mv: '2.45', metadata: { managed_by: 'gha' } });
    assert.equal(res.status, 202);
    const id = await imageIdFrom(res);
    const img = (await imageOf(s, 'GRA7', id)).image!;
    assert.equal(img.status, 'active');
    assert.equal(img.size, 0);
    assert.equal(img.bdm_v2, 'True');
    assert.equal(img.root_device_name, '/dev/sda');
    assert.equal(img.managed_by, 'gha');
    assert.equal(img.base_image_ref, '');
    assert.equal(img.checksum, 'd41d8cd98f00b204e9800998ecf8427e');
    assert.ok(!('image_type' in img) && !('instance_uuid' in img));
    assert.equal(typeof img.block_device_mapping, 'string');
    const bdm = JSON.parse(img.block_device_mapping as string) as Record<string, unknown>[];
    assert.equal(bdm.length, 1);
    assert.equal(bdm[0]!.source_type, 'snapshot');
    assert.equal(bdm[0]!.boot_index, 0);
    assert.ok((img.block_device_mapping as string).startsWith('[{"source_type": "snapshot", "snapshot_id": "'));
    const snaps = cloud.volumeSnapshots('GRA7');
    const snap = snaps.find((x) => x.id === bdm[0]!.snapshot_id)!;
    assert.equal(snap.name, 'snapshot for bfv-snap');
    assert.equal(snap.status, 'available');
    assert.equal(snap.volumeId, srv.rootVolumeId);
    assert.equal((await serverOf(s, 'GRA7', srv.id))['OS-EXT-STS:task_state'], null);
    const again = await createImage(s, 'GRA7', srv.id, 'bfv-snap-2', { mv: '2.45' });
    assert.equal(again.status, 202); // no task_state, so no 409
    await again.body?.cancel();
  });
});

// =============================================================================================
describe('glance', () => {
  let cloud: LocalCloud;
  let s: Session;
  before(async () => {
    cloud = await LocalCloud.start();
    s = await login(cloud);
  });
  after(() => cloud.stop());

  const listAll = async (session: Session, region: string, query: string) => {
    const root = session.ep('image', region);
    const pages: { images: Record<string, unknown>[]; next?: string; first: string }[] = [];
    let url: string | undefined = `${root}/v2/images?${query}`;
    while (url) {
      const r = await get(url, session.token);
      assert.equal(r.status, 200, await r.clone().text());
      const body = (await r.json()) as { images: Record<string, unknown>[]; next?: string; first: string };
      pages.push(body);
      // `next` is relative to the unversioned endpoint root, not to the request URL.
      url = body.next === undefined ? undefined : `${root}${body.next}`;
      if (pages.length > 50) throw new Error('too many pages');
    }
    return pages;
  };

  test('filters + sort + pagination over 3 pages following next joined to the endpoint root', async () => {
    const base = Date.UTC(2025, 5, 1);
    cloud.addImages('GRA7', 60, (i) => ({
      name: `nightly-${i}`,
      createdAt: new Date(base + i * 3600_000),
      properties: { image_type: 'snapshot', managed_by: i % 2 === 0 ? 'gha' : 'other', instance_uuid: 'srv-a' },
    }));
    cloud.addImages('GRA7', 5, (i) => ({ name: `unrelated-${i}`, properties: { managed_by: 'gha' } }));
    const pages = await listAll(s, 'GRA7', 'image_type=snapshot&managed_by=gha&sort=created_at:desc&limit=12');
    assert.deepEqual(
      pages.map((p) => p.images.length),
      [12, 12, 6],
    );
    const names = pages.flatMap((p) => p.images.map((i) => i.name));
    const expected = Array.from({ length: 30 }, (_, k) => `nightly-${58 - 2 * k}`);
    assert.deepEqual(names, expected);
    assert.equal(pages[0]!.first, '/v2/images?image_type=snapshot&managed_by=gha&sort=created_at%3Adesc&limit=12');
    assert.match(pages[0]!.next!, /^\/v2\/images\?image_type=snapshot&managed_by=gha&sort=created_at%3Adesc&limit=12&marker=[0-9a-f-]{36}$/);
    assert.equal(pages[2]!.next, undefined);
    // Resolving `next` against the request URL (instead of the endpoint root) would miss the region prefix.
    assert.equal(new URL(pages[0]!.next!, `${s.ep('image', 'GRA7')}/v2/images`).pathname, '/v2/images');
  });

  test('a full last page still has next; the page after it is empty without next (real Glance)', async () => {
    cloud.addImages('GRA7', 6, (i) => ({ name: `exact-${i}`, properties: { batch: 'exact' } }));
    const pages = await listAll(s, 'GRA7', 'batch=exact&limit=3');
    assert.deepEqual(
      pages.map((p) => p.images.length),
      [3, 3, 0],
    );
    assert.ok(pages[1]!.next);
    assert.equal(pages[2]!.next, undefined);
  });

  test('default page size 25, limit capped at 1000; unknown marker is 400 (HTML, JSON with Accept)', async () => {
    cloud.addImages('SBG5', 30, (i) => ({ name: `p-${i}` }));
    const r = await get(`${s.ep('image', 'SBG5')}/v2/images`, s.token);
    const body = (await r.json()) as { images: unknown[]; next?: string };
    assert.equal(body.images.length, 25);
    assert.match(body.next!, /^\/v2\/images\?marker=/);
    const bad = await get(`${s.ep('image', 'SBG5')}/v2/images?marker=00000000-0000-0000-0000-000000000000`, s.token);
    assert.equal(bad.status, 400);
    assert.match(bad.headers.get('content-type')!, /^text\/html/);
    assert.match(await bad.text(), /No image found with ID 00000000-0000-0000-0000-000000000000<br \/><br \/>/);
    const badJson = await get(`${s.ep('image', 'SBG5')}/v2/images?marker=nope`, s.token, { Accept: 'application/json' });
    assert.equal(await badJson.text(), '{"message": "No image found with ID nope<br /><br />\\n\\n\\n", "code": "400 Bad Request", "title": "Bad Request"}');
  });

  test('base-attribute filters: name exact / in:, status in:, created_at ops, owner, protected, visibility, case-insensitive like MySQL', async () => {
    const owner = cloud.demo.projectId;
    cloud.addImage({ region: 'SBG5', name: 'alpha', createdAt: '2020-01-01T00:00:00Z', properties: { f: '1' } });
    cloud.addImage({ region: 'SBG5', name: 'beta', createdAt: '2021-01-01T00:00:00Z', protected: true, properties: { f: '1' } });
    cloud.addImage({ region: 'SBG5', name: 'gamma', status: 'queued', createdAt: '2022-01-01T00:00:00Z', properties: { f: '1' } });
    cloud.addImage({ region: 'SBG5', name: 'community-other', visibility: 'community', owner: 'someone-else', properties: { f: '1' } });
    cloud.addImage({ region: 'SBG5', name: 'private-other', owner: 'someone-else', properties: { f: '1' } });
    const names = async (q: string) => {
      const pages = await listAll(s, 'SBG5', `f=1&${q}`);
      return pages.flatMap((p) => p.images.map((i) => i.name as string)).sort();
    };
    assert.deepEqual(await names('name=alpha'), ['alpha']);
    assert.deepEqual(await names('name=ALPHA'), ['alpha']);
    assert.deepEqual(await names('name=alp'), []);
    assert.deepEqual(await names(`name=${encodeURIComponent('in:alpha,gamma')}`), ['alpha', 'gamma']);
    assert.deepEqual(await names(`status=${encodeURIComponent('in:queued,saving')}`), ['gamma']);
    assert.deepEqual(await names(`created_at=${encodeURIComponent('lt:2021-06-01T00:00:00Z')}`), ['alpha', 'beta']);
    assert.deepEqual(await names(`created_at=${encodeURIComponent('gte:2021-01-01T00:00:00Z')}`), ['beta', 'gamma']);
    assert.deepEqual(await names(`owner=${owner}&protected=true`), ['beta']);
    assert.deepEqual(await names(''), ['alpha', 'beta', 'gamma']); // no community of others, no private of others
    assert.deepEqual(await names('visibility=community'), ['community-other']);
    const bad = await get(`${s.ep('image', 'SBG5')}/v2/images?name=foo:bar`, s.token, { Accept: 'application/json' });
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /Unable to filter by unknown operator 'foo'\./);
    const badOp = await get(`${s.ep('image', 'SBG5')}/v2/images?created_at=x:2020-01-01T00:00:00Z`, s.token, { Accept: 'application/json' });
    assert.equal(badOp.status, 400);
  });

  test('sorting: sort=key:dir and sort_key/sort_dir; mixing styles or bad keys is 400', async () => {
    cloud.addImage({ region: 'SBG5', name: 'b', size: 3, properties: { sortme: 'y' } });
    cloud.addImage({ region: 'SBG5', name: 'a', size: 1, properties: { sortme: 'y' } });
    cloud.addImage({ region: 'SBG5', name: 'C', size: 2, properties: { sortme: 'y' } });
    const names = async (q: string) => (await listAll(s, 'SBG5', `sortme=y&${q}`)).flatMap((p) => p.images.map((i) => i.name));
    assert.deepEqual(await names('sort=name:asc'), ['a', 'b', 'C']);
    assert.deepEqual(await names('sort=name'), ['C', 'b', 'a']); // dir defaults to desc
    assert.deepEqual(await names('sort_key=size&sort_dir=asc'), ['a', 'C', 'b']);
    const mixed = await get(`${s.ep('image', 'SBG5')}/v2/images?sort=name:asc&sort_key=name`, s.token, { Accept: 'application/json' });
    assert.equal(mixed.status, 400);
    assert.match(await mixed.text(), /Old and new sorting syntax cannot be combined/);
    const badKey = await get(`${s.ep('image', 'SBG5')}/v2/images?sort=owner:asc`, s.token, { Accept: 'application/json' });
    assert.equal(badKey.status, 400);
    assert.match(await badKey.text(), /Invalid sort key: owner\. It must be one of the following: name, status, container_format, disk_format, size, id, created_at, updated_at\./);
  });

  test('delete: 204 then 404; protected 403 (HTML by default, JSON with Accept); in use 409; PATCH unprotects', async () => {
    const root = s.ep('image', 'GRA7');
    const del = (id: string, headers: Record<string, string> = {}) => fetch(`${root}/v2/images/${id}`, { method: 'DELETE', headers: { 'X-Auth-Token': s.token, ...headers } });
    const plain = cloud.addImage({ region: 'GRA7', name: 'to-delete' });
    const r1 = await del(plain.id);
    assert.equal(r1.status, 204);
    assert.equal(await r1.text(), '');
    assert.equal((await imageOf(s, 'GRA7', plain.id)).status, 404);
    const r2 = await del(plain.id);
    assert.equal(r2.status, 404);
    assert.match(await r2.text(), new RegExp(`Failed to find image ${plain.id} to delete`));

    const prot = cloud.addImage({ region: 'GRA7', name: 'keep', protected: true });
    const r3 = await del(prot.id);
    assert.equal(r3.status, 403);
    assert.equal(r3.headers.get('content-type'), 'text/html; charset=UTF-8');
    assert.equal(
      await r3.text(),
      `<html>\n <head>\n  <title>403 Forbidden</title>\n </head>\n <body>\n  <h1>403 Forbidden</h1>\n  Image ${prot.id} is protected and cannot be deleted.<br /><br />\n\n\n\n </body>\n</html>`,
    );
    const r4 = await del(prot.id, { Accept: 'application/json' });
    assert.equal(
      await r4.text(),
      `{"message": "Image ${prot.id} is protected and cannot be deleted.<br /><br />\\n\\n\\n", "code": "403 Forbidden", "title": "Forbidden"}`,
    );
    // Accept: application/json, */* still gets HTML (webob prefers text/html on a tie), like the real one
    const r4b = await del(prot.id, { Accept: 'application/json, */*' });
    assert.match(r4b.headers.get('content-type')!, /^text\/html/);
    await r4b.body?.cancel();

    const patch = await fetch(`${root}/v2/images/${prot.id}`, {
      method: 'PATCH',
      headers: { 'X-Auth-Token': s.token, 'Content-Type': 'application/openstack-images-v2.1-json-patch' },
      body: JSON.stringify([
        { op: 'replace', path: '/protected', value: false },
        { op: 'add', path: '/retention', value: 'keep-7' },
      ]),
    });
    assert.equal(patch.status, 200);
    const patched = (await patch.json()) as Record<string, unknown>;
    assert.equal(patched.protected, false);
    assert.equal(patched.retention, 'keep-7');
    const remove = await fetch(`${root}/v2/images/${prot.id}`, {
      method: 'PATCH',
      headers: { 'X-Auth-Token': s.token, 'Content-Type': 'application/openstack-images-v2.1-json-patch', Accept: 'application/json' },
      body: JSON.stringify([{ op: 'remove', path: '/nosuch' }]),
    });
    assert.equal(remove.status, 409);
    assert.match(await remove.text(), /Property nosuch does not exist\./);
    const wrongType = await fetch(`${root}/v2/images/${prot.id}`, {
      method: 'PATCH',
      headers: { 'X-Auth-Token': s.token, 'Content-Type': 'application/json' },
      body: '[]',
    });
    assert.equal(wrongType.status, 415);
    await wrongType.body?.cancel();
    assert.equal((await del(prot.id)).status, 204);

    const used = cloud.addImage({ region: 'GRA7', name: 'in-use' });
    cloud.markInUse(used.id);
    const r5 = await del(used.id, { Accept: 'application/json' });
    assert.equal(r5.status, 409);
    assert.match(await r5.text(), /could not be deleted because it is in use/);
    assert.equal((await imageOf(s, 'GRA7', used.id)).status, 200);

    const foreign = cloud.images('GRA7').find((i) => i.visibility === 'public')!;
    const r6 = await del(foreign.id, { Accept: 'application/json' });
    assert.equal(r6.status, 403);
    assert.match(await r6.text(), /You do not own this image/);
  });

  test('killed images are not listed (deleted=False filter) but GET still shows them', async () => {
    const k = cloud.addImage({ region: 'GRA7', name: 'dead', status: 'killed', properties: { killtest: '1' } });
    const pages = await listAll(s, 'GRA7', 'killtest=1');
    assert.equal(pages[0]!.images.length, 0);
    assert.equal((await imageOf(s, 'GRA7', k.id)).image!.status, 'killed');
  });

  test('unversioned paths answer the 300 version list (so the Location of createImage is not fetchable)', async () => {
    const r = await get(`${cloud.url}/glance/GRA7//images/whatever`, s.token);
    assert.equal(r.status, 300);
    const body = (await r.json()) as { versions: { id: string; status: string }[] };
    assert.equal(body.versions[0]!.id, 'v2.16');
  });

  test("10k images seed and page (limit 1000) correctly", async (t) => {
    const big = await LocalCloud.start({ regions: ['GRA7'], baseImages: false });
    try {
      const t0 = Date.now();
      big.addImages('GRA7', 10_000, (i) => ({ name: `bulk-${i}`, createdAt: new Date(Date.UTC(2024, 0, 1) + i * 60_000), properties: { image_type: 'snapshot' } }));
      const seedMs = Date.now() - t0;
      const sb = await login(big);
      const pages = await listAll(sb, 'GRA7', 'image_type=snapshot&sort=created_at:asc&limit=1000');
      const names = pages.flatMap((p) => p.images.map((i) => i.name));
      assert.equal(names.length, 10_000);
      assert.equal(names[0], 'bulk-0');
      assert.equal(names[9_999], 'bulk-9999');
      assert.equal(new Set(names).size, 10_000);
      // (seedMs is reported, not asserted: machines differ)
      t.diagnostic(`seeded 10k images in ${seedMs} ms`);
    } finally {
      await big.stop();
    }
  });
});

// =============================================================================================
describe('cinder', () => {
  let cloud: LocalCloud;
  let s: Session;
  before(async () => {
    cloud = await LocalCloud.start();
    s = await login(cloud);
  });
  after(() => cloud.stop());

  test('list, detail, show, delete 202 -> deleting -> gone; 404 itemNotFound; no volume endpoint in SBG5', async () => {
    const snap = cloud.addVolumeSnapshot({ region: 'GRA7', name: 'snapshot for x' });
    const root = s.ep('volumev3', 'GRA7');
    const list = (await (await get(`${root}/snapshots`, s.token)).json()) as { snapshots: Record<string, unknown>[] };
    assert.deepEqual(Object.keys(list.snapshots[0]!), ['id', 'created_at', 'updated_at', 'name', 'description', 'volume_id', 'status', 'size', 'metadata']);
    const detail = (await (await get(`${root}/snapshots/detail`, s.token)).json()) as { snapshots: Record<string, unknown>[] };
    assert.equal(detail.snapshots[0]!['os-extended-snapshot-attributes:project_id'], cloud.demo.projectId);
    const show = await get(`${root}/snapshots/${snap.id}`, s.token);
    assert.equal(show.headers.get('openstack-api-version'), 'volume 3.0');
    assert.equal(((await show.json()) as { snapshot: { name: string } }).snapshot.name, 'snapshot for x');
    const del = await fetch(`${root}/snapshots/${snap.id}`, { method: 'DELETE', headers: { 'X-Auth-Token': s.token } });
    assert.equal(del.status, 202);
    assert.equal(await del.text(), '');
    const during = (await (await get(`${root}/snapshots/${snap.id}`, s.token)).json()) as { snapshot: { status: string } };
    assert.equal(during.snapshot.status, 'deleting');
    const again = await fetch(`${root}/snapshots/${snap.id}`, { method: 'DELETE', headers: { 'X-Auth-Token': s.token } });
    assert.equal(again.status, 400);
    await again.body?.cancel();
    cloud.advance(250);
    const gone = await get(`${root}/snapshots/${snap.id}`, s.token);
    assert.equal(gone.status, 404);
    assert.equal(await gone.text(), `{"itemNotFound": {"code": 404, "message": "Snapshot ${snap.id} could not be found."}}`);
    assert.equal(cloud.volumeSnapshots('GRA7').length, 0);
    assert.throws(() => s.ep('volumev3', 'SBG5'));
    const wrongProject = await get(`${cloud.url}/volume/GRA7/v3/00000000000000000000000000000000/snapshots`, s.token);
    assert.equal(wrongProject.status, 400);
    await wrongProject.body?.cancel();
  });
});

// =============================================================================================
describe('faults and request records', () => {
  let cloud: LocalCloud;
  let s: Session;
  before(async () => {
    cloud = await LocalCloud.start({ snapshotSeconds: 0.4 });
    s = await login(cloud);
  });
  after(() => cloud.stop());

  test('request records: service, region, interface, mutating, action', async () => {
    cloud.resetRequests();
    const srv = cloud.addServer({ region: 'GRA7', name: 'rec' });
    await (await get(`${s.ep('compute', 'GRA7', 'internal')}/servers/${srv.id}`, s.token)).text();
    const ci = await createImage(s, 'GRA7', srv.id, 'rec-snap', { mv: '2.45' });
    const id = await imageIdFrom(ci);
    await (await fetch(`${s.ep('image', 'GRA7')}/v2/images/${id}`, { method: 'DELETE', headers: { 'X-Auth-Token': s.token } })).text();
    await login(cloud);
    const recs = cloud.requests;
    assert.deepEqual(
      recs.map((r) => [r.method, r.service, r.region, r.interface, r.status, r.mutating]),
      [
        ['GET', 'compute', 'GRA7', 'internal', 200, false],
        ['POST', 'compute', 'GRA7', 'public', 202, true],
        ['DELETE', 'image', 'GRA7', 'public', 204, true],
        ['POST', 'identity', null, 'public', 201, false],
      ],
    );
    assert.equal(recs[1]!.action, 'createImage');
    assert.match(recs[1]!.path, /\/servers\/[0-9a-f-]+\/action$/);
    assert.ok(recs[0]!.t <= recs[3]!.t);
  });

  test('status fault: a 503 burst (times 2) then success; 429 with Retry-After; recorded', async () => {
    cloud.resetRequests();
    cloud.fault({ match: { service: 'image', method: 'GET' }, kind: 'status', status: 503, times: 2 });
    const url = `${s.ep('image', 'GRA7')}/v2/images?limit=1`;
    assert.equal((await get(url, s.token)).status, 503);
    assert.equal((await get(url, s.token)).status, 503);
    assert.equal((await get(url, s.token)).status, 200);
    assert.deepEqual(
      cloud.requests.map((r) => [r.status, r.fault]),
      [
        [503, 'status'],
        [503, 'status'],
        [200, undefined],
      ],
    );
    cloud.fault({ match: { service: 'compute' }, kind: 'status', status: 429, headers: { 'Retry-After': '3' } });
    const r = await get(`${s.ep('compute', 'GRA7')}/servers`, s.token);
    assert.equal(r.status, 429);
    assert.equal(r.headers.get('retry-after'), '3');
    assert.deepEqual(await r.json(), { error: { status: '429 Too Many Requests', message: 'Too Many Requests' } });
    cloud.clearFaults();
  });

  test('after: skips the first N matching requests; match by region and path regex', async () => {
    cloud.fault({ match: { region: 'SBG5', path: /\/v2\/images/ }, kind: 'status', status: 502, after: 1 });
    const url = (r: string) => `${s.ep('image', r)}/v2/images?limit=1`;
    assert.equal((await get(url('GRA7'), s.token)).status, 200); // other region: not counted
    assert.equal((await get(url('SBG5'), s.token)).status, 200); // first match skipped
    assert.equal((await get(url('SBG5'), s.token)).status, 502);
    assert.equal((await get(url('SBG5'), s.token)).status, 200); // times defaults to 1
    cloud.clearFaults();
  });

  test('reset: the socket is destroyed and the request is NOT executed', async () => {
    const srv = cloud.addServer({ region: 'GRA7', name: 'reset' });
    cloud.fault({ match: { action: 'createImage' }, kind: 'reset' });
    await assert.rejects(createImage(s, 'GRA7', srv.id, 'never', { mv: '2.45' }));
    assert.equal(cloud.images('GRA7').filter((i) => i.name === 'never').length, 0);
    const rec = cloud.requests.at(-1)!;
    assert.deepEqual([rec.status, rec.fault, rec.action], [0, 'reset', 'createImage']);
  });

  test('lose-response: createImage IS executed, then the connection drops without an answer', async () => {
    const srv = cloud.addServer({ region: 'GRA7', name: 'lost' });
    cloud.fault({ match: { action: 'createImage', region: 'GRA7' }, kind: 'lose-response' });
    await assert.rejects(createImage(s, 'GRA7', srv.id, 'lost-1', { mv: '2.45' }));
    const imgs = cloud.images('GRA7').filter((i) => i.name === 'lost-1');
    assert.equal(imgs.length, 1);
    assert.equal(imgs[0]!.properties.instance_uuid, srv.id);
    const rec = cloud.requests.at(-1)!;
    assert.deepEqual([rec.status, rec.fault], [202, 'lose-response']);
    // and the server is busy, so a blind retry gets 409
    const retry = await createImage(s, 'GRA7', srv.id, 'lost-1', { mv: '2.45' });
    assert.equal(retry.status, 409);
    await retry.body?.cancel();
  });

  test('delay: the answer comes after ms (a client timeout fires first); the request was executed', async () => {
    const srv = cloud.addServer({ region: 'GRA7', name: 'slow' });
    cloud.fault({ match: { action: 'createImage' }, kind: 'delay', ms: 400 });
    await assert.rejects(
      fetch(`${s.ep('compute', 'GRA7')}/servers/${srv.id}/action`, {
        method: 'POST',
        headers: { 'X-Auth-Token': s.token, 'Content-Type': 'application/json' },
        body: JSON.stringify({ createImage: { name: 'slow-1' } }),
        signal: AbortSignal.timeout(100),
      }),
    );
    assert.equal(cloud.images('GRA7').filter((i) => i.name === 'slow-1').length, 1);
    cloud.fault({ match: { service: 'compute', method: 'GET' }, kind: 'delay', ms: 150 });
    const t0 = Date.now();
    const r = await get(`${s.ep('compute', 'GRA7')}/servers/${srv.id}`, s.token);
    assert.equal(r.status, 200);
    assert.ok(Date.now() - t0 >= 140);
    await r.body?.cancel();
  });

  test('expire-token: 401 and the token really is invalid afterwards; a new token works', async () => {
    const s2 = await login(cloud);
    cloud.fault({ match: { service: 'compute' }, kind: 'expire-token' });
    const r1 = await get(`${s2.ep('compute', 'GRA7')}/servers`, s2.token);
    assert.equal(r1.status, 401);
    await r1.body?.cancel();
    const r2 = await get(`${s2.ep('image', 'GRA7')}/v2/images?limit=1`, s2.token);
    assert.equal(r2.status, 401);
    await r2.body?.cancel();
    const s3 = await login(cloud);
    assert.equal((await get(`${s3.ep('compute', 'GRA7')}/servers`, s3.token)).status, 200);
    assert.equal((await get(`${s.ep('compute', 'GRA7')}/servers`, s.token)).status, 200); // other tokens untouched
  });

  test('image-killed: the snapshot image ends in killed; server task_state returns to null', async () => {
    const srv = cloud.addServer({ region: 'GRA7', name: 'killme' });
    cloud.fault({ match: {}, kind: 'image-killed', afterMs: 200 });
    const id = await imageIdFrom(await createImage(s, 'GRA7', srv.id, 'k-1', { mv: '2.45' }));
    assert.equal(cloud.requests.at(-1)!.fault, 'image-killed');
    assert.equal((await imageOf(s, 'GRA7', id)).image!.status, 'queued');
    await sleep(260);
    assert.equal((await imageOf(s, 'GRA7', id)).image!.status, 'killed');
    assert.equal((await serverOf(s, 'GRA7', srv.id))['OS-EXT-STS:task_state'], null);
    // consumed: the next snapshot is fine
    const id2 = await imageIdFrom(await createImage(s, 'GRA7', srv.id, 'k-2', { mv: '2.45' }));
    cloud.advance(1000);
    assert.equal((await imageOf(s, 'GRA7', id2)).image!.status, 'active');
  });

  test('image-vanish: the image is deleted mid-way (GET -> 404), like delete_image_on_error', async () => {
    const srv = cloud.addServer({ region: 'GRA7', name: 'vanish' });
    cloud.fault({ match: { region: 'GRA7' }, kind: 'image-vanish' });
    const id = await imageIdFrom(await createImage(s, 'GRA7', srv.id, 'v-1', { mv: '2.45' }));
    assert.equal((await imageOf(s, 'GRA7', id)).status, 200);
    cloud.advance(250); // default: half-way through snapshotSeconds (0.4 s)
    assert.equal((await imageOf(s, 'GRA7', id)).status, 404);
    assert.equal((await serverOf(s, 'GRA7', srv.id))['OS-EXT-STS:task_state'], null);
  });

  test('stuck: the image stays queued forever while the task_state clears quickly (stock fake driver)', async () => {
    const srv = cloud.addServer({ region: 'GRA7', name: 'stuck' });
    cloud.fault({ match: {}, kind: 'stuck' });
    const id = await imageIdFrom(await createImage(s, 'GRA7', srv.id, 's-1', { mv: '2.45' }));
    assert.notEqual((await serverOf(s, 'GRA7', srv.id))['OS-EXT-STS:task_state'], null);
    cloud.advance(3_600_000);
    assert.equal((await imageOf(s, 'GRA7', id)).image!.status, 'queued');
    assert.equal((await serverOf(s, 'GRA7', srv.id))['OS-EXT-STS:task_state'], null);
  });

  test('snapshot faults are not consumed by volume-backed servers', async () => {
    const bfv = cloud.addServer({ region: 'GRA7', name: 'bfv-f', volumeBacked: true });
    const img = cloud.addServer({ region: 'GRA7', name: 'img-f' });
    cloud.fault({ match: {}, kind: 'image-killed', afterMs: 0 });
    const id1 = await imageIdFrom(await createImage(s, 'GRA7', bfv.id, 'b', { mv: '2.45' }));
    assert.equal((await imageOf(s, 'GRA7', id1)).image!.status, 'active');
    const id2 = await imageIdFrom(await createImage(s, 'GRA7', img.id, 'i', { mv: '2.45' }));
    assert.equal((await imageOf(s, 'GRA7', id2)).image!.status, 'killed');
  });
});

// =============================================================================================
describe('standalone server.ts', () => {
  test('prints one JSON line, serves the admin API, stops on SIGTERM', async () => {
    const child = spawn(process.execPath, ['test/local-cloud/server.ts', '--port', '0', '--snapshot-seconds', '0.2', '--seed-images', '5'], {
      cwd: new URL('../..', import.meta.url).pathname,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const rl = createInterface({ input: child.stdout! });
      const [line] = (await once(rl, 'line')) as [string];
      const info = JSON.parse(line) as { url: string; authUrl: string; demo: { username: string; password: string; projectName: string }; servers: { id: string; name: string; region: string; volumeBacked: boolean }[] };
      assert.deepEqual(
        info.servers.map((x) => [x.name, x.region, x.volumeBacked]),
        [
          ['web-1', 'GRA7', false],
          ['db-1', 'GRA7', true],
          ['web-1', 'SBG5', false],
        ],
      );
      const seeded = (await (await fetch(`${info.url}/_local/images?region=GRA7`)).json()) as { name: string }[];
      assert.equal(seeded.filter((i) => i.name.startsWith('web-1-seed-')).length, 5);
      const bulk = await post(`${info.url}/_local/images`, { region: 'SBG5', count: 50, template: { name: 'b-{i:03}', properties: { managed_by: 'bench' } } });
      assert.equal(bulk.status, 201);
      assert.equal(((await bulk.json()) as { count: number }).count, 50);
      const f = await post(`${info.url}/_local/faults`, { match: { service: 'image', path: '/v2/images' }, kind: 'status', status: 500 });
      assert.equal(f.status, 201);
      const tok = await post(`${info.authUrl}/auth/tokens`, {
        auth: {
          identity: { methods: ['password'], password: { user: { name: info.demo.username, domain: { name: 'Default' }, password: info.demo.password } } },
          scope: { project: { name: info.demo.projectName, domain: { name: 'Default' } } },
        },
      });
      const token = tok.headers.get('x-subject-token')!;
      await tok.body?.cancel();
      const images = `${info.url}/glance/SBG5/v2/images?managed_by=bench&sort=name:asc&limit=100`;
      assert.equal((await get(images, token)).status, 500);
      const ok = (await (await get(images, token)).json()) as { images: { name: string }[] };
      assert.equal(ok.images.length, 50);
      assert.equal(ok.images[0]!.name, 'b-000');
      const recs = (await (await fetch(`${info.url}/_local/requests`)).json()) as { service: string; fault?: string; status: number }[];
      assert.ok(recs.some((r) => r.service === 'image' && r.fault === 'status' && r.status === 500));
      assert.ok(recs.some((r) => r.service === 'local'));
    } finally {
      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      assert.equal(code, 0);
    }
  });
});
