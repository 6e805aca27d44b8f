// Cinder v3 volume snapshots (only in cinderRegions): list / detail / show / delete.
// Bodies and codes checked against the real Cinder 21 (Zed) of the openstack-loopback cloud.
import type { Ctx } from './context.ts';
import { header } from './context.ts';
import { authenticate, serviceUnauthorized } from './keystone.ts';
import type { VolSnapRec, World } from './world.ts';
import { ci, isoMicroNaive, pyJson, queryPairs, requestId, urlencode, webobError } from './util.ts';
import type { Reply } from './util.ts';

const MAX = '3.70';
type Version = [number, number];
const parseV = (s: string): Version => {
  const [a = '0', b = '0'] = s.split('.');
  return [Number(a), Number(b)];
};
const cmpV = (a: Version, b: Version) => a[0] - b[0] || a[1] - b[1];

export function handleVolume(w: World, ctx: Ctx): Reply {
  const rid = requestId();
  const ids = { 'X-Openstack-Request-Id': rid, 'X-Compute-Request-Id': rid };
  const region = w.regions.get(ctx.region ?? '');
  const m = /^\/v3\/([^/]+)(\/.*)?$/.exec(ctx.rest);
  if (!m || !region) {
    return {
      status: 300,
      headers: { 'Content-Type': 'application/json' },
      body: pyJson({
        versions: [
          {
            id: 'v3.0',
            status: 'CURRENT',
            version: MAX,
            min_version: '3.0',
            updated: '2022-08-31T00:00:00Z',
            links: [
              { rel: 'describedby', type: 'text/html', href: 'https://docs.openstack.org/' },
              { rel: 'self', href: `${w.base}${ctx.prefix}/v3/` },
            ],
            'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.volume+json;version=3' }],
          },
        ],
      }),
    };
  }
  const token = authenticate(w, ctx);
  if (!token) return serviceUnauthorized(w, ctx);

  // Microversion (OpenStack-API-Version: volume 3.x), echoed on every answer.
  let version = '3.0';
  const std = header(ctx, 'openstack-api-version');
  if (std) {
    for (const part of std.split(',')) {
      const [svc, ver] = part.trim().split(/\s+/);
      if (svc?.toLowerCase() === 'volume' && ver) version = ver === 'latest' ? MAX : ver;
    }
  }
  if (!/^([1-9]\d*)\.([1-9]\d*|0)$/.test(version)) {
    return cinderJson(400, { badRequest: { code: 400, message: `API Version String ${version} is of invalid format. Must be of format MajorNum.MinorNum.` } }, ids);
  }
  const vh = { 'OpenStack-API-Version': `volume ${version}`, Vary: 'OpenStack-API-Version', ...ids };
  const v = parseV(version);
  if (cmpV(v, [3, 0]) < 0 || cmpV(v, parseV(MAX)) > 0) {
    return cinderJson(406, { computeFault: { code: 406, message: `Version ${version} is not supported by the API. Minimum is 3.0 and maximum is ${MAX}.` } }, vh);
  }
  if (m[1] !== token.projectId) return cinderJson(400, { badRequest: { code: 400, message: 'Malformed request url' } }, vh);
  const sub = m[2] ?? '';
  w.settle();
  const notFound = () => webobError(404, 'The resource could not be found.', ctx.headers, { extraHeaders: vh });

  if ((sub === '/snapshots' || sub === '/snapshots/detail') && ctx.method === 'GET') return listSnapshots(w, ctx, sub === '/snapshots/detail', v, vh);
  // One page: the tests keep to few volumes (the real Cinder's paging is the snapshots' above).
  if (sub === '/volumes/detail' && ctx.method === 'GET') {
    const volumes = w.volumes(ctx.region ?? '').map((vol) => ({
      id: vol.id,
      status: vol.serverId ? 'in-use' : 'available',
      snapshot_id: vol.snapshotId,
      attachments: vol.serverId ? [{ server_id: vol.serverId, attachment_id: vol.id, volume_id: vol.id, device: '/dev/sda' }] : [],
    }));
    return cinderJson(200, { volumes }, vh);
  }
  const sm = /^\/snapshots\/([^/]+)$/.exec(sub);
  if (!sm) return notFound();
  const id = decodeURIComponent(sm[1]!);
  const snap = region.volSnaps.get(id);
  const missing = () => cinderJson(404, { itemNotFound: { code: 404, message: `Snapshot ${id} could not be found.` } }, vh);
  if (ctx.method === 'GET') {
    if (!snap) return missing();
    return cinderJson(200, { snapshot: snapView(snap, true, v) }, vh);
  }
  if (ctx.method === 'DELETE') {
    if (!snap) return missing();
    if (snap.status !== 'available' && snap.status !== 'error') {
      return cinderJson(400, { badRequest: { code: 400, message: 'Invalid snapshot: Snapshot status must be available or error and must not be part of a group.' } }, vh);
    }
    w.deleteVolumeSnapshot(snap);
    return { status: 202, headers: { 'Content-Type': 'text/html; charset=UTF-8', ...vh }, body: '' };
  }
  return notFound();
}

function cinderJson(status: number, body: unknown, headers: Record<string, string>): Reply {
  return { status, headers: { 'Content-Type': 'application/json', ...headers }, body: pyJson(body) };
}

function snapView(s: VolSnapRec, detail: boolean, v: Version): Map<string, unknown> {
  const o = new Map<string, unknown>([
    ['id', s.id],
    ['created_at', isoMicroNaive(s.createdAt)],
    ['updated_at', isoMicroNaive(s.updatedAt)],
    ['name', s.name],
    ['description', s.description],
    ['volume_id', s.volumeId],
    ['status', s.status],
    ['size', s.size],
    ['metadata', s.metadata],
  ]);
  if (cmpV(v, [3, 14]) >= 0) o.set('group_snapshot_id', null);
  if (cmpV(v, [3, 41]) >= 0) o.set('user_id', null);
  if (cmpV(v, [3, 65]) >= 0) o.set('consumes_quota', true);
  if (detail) {
    o.set('os-extended-snapshot-attributes:project_id', s.projectId);
    o.set('os-extended-snapshot-attributes:progress', '100%');
  }
  return o;
}

function listSnapshots(w: World, ctx: Ctx, detail: boolean, v: Version, h: Record<string, string>): Reply {
  const region = w.regions.get(ctx.region ?? '')!;
  const pairs = queryPairs(ctx.url.search);
  const params = new Map(pairs);
  let limit = 1000;
  const limitRaw = params.get('limit');
  if (limitRaw !== undefined) {
    const n = Number(limitRaw);
    if (!/^\d+$/.test(limitRaw)) return cinderJson(400, { badRequest: { code: 400, message: 'limit param must be an integer' } }, h);
    limit = Math.min(n, 1000);
  }
  const eq = (a: string | null, b: string) => a !== null && ci(a) === ci(b);
  const all = [...region.volSnaps.values()].filter((s) => s.projectId === w.demo.projectId);
  const filtered = all.filter(
    (s) =>
      (params.get('name') === undefined || eq(s.name, params.get('name')!)) &&
      (params.get('status') === undefined || eq(s.status, params.get('status')!)) &&
      (params.get('volume_id') === undefined || eq(s.volumeId, params.get('volume_id')!)),
  );
  const cmp = (a: VolSnapRec, b: VolSnapRec) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
  filtered.sort(cmp);
  let start = 0;
  const marker = params.get('marker');
  if (marker !== undefined) {
    const ms = all.find((s) => s.id === marker);
    if (!ms) return cinderJson(404, { itemNotFound: { code: 404, message: `Snapshot ${marker} could not be found.` } }, h);
    start = filtered.findIndex((s) => cmp(s, ms) > 0);
    if (start < 0) start = filtered.length;
  }
  const page = limit === 0 ? [] : filtered.slice(start, start + limit);
  const body = new Map<string, unknown>([['snapshots', page.map((s) => snapView(s, detail, v))]]);
  if (limit > 0 && page.length === limit) {
    const next = new Map(pairs);
    next.delete('marker'); // webob MultiDict: params["marker"] = x moves it to the end
    next.set('marker', page[page.length - 1]!.id);
    body.set('snapshots_links', [{ rel: 'next', href: `${w.base}${ctx.prefix}/v3/${w.demo.projectId}/snapshots${detail ? '/detail' : ''}?${urlencode(next)}` }]);
  }
  return cinderJson(200, body, h);
}
