// Cinder v3 (GRA7 only): volume snapshots (list by volume, show, delete) and volumes (detail).
// Bodies and statuses as the loopback cloud's Cinder 21 (Zed), at the base microversion 3.0.
import { serviceUnauthorized } from './keystone.ts';
import type { VolSnapRec, World } from './world.ts';
import { empty, fault, header, isObject, isoMicroNaive, json, nextLink, page, parseJson, uuid, webobError, type Ctx, type Reply } from './http.ts';

/** The list shows no project and progress: those are the detail view's. */
function snapshotJson(s: VolSnapRec, detail: boolean): Record<string, unknown> {
  return {
    id: s.id,
    created_at: isoMicroNaive(s.createdAt),
    updated_at: null,
    name: s.name,
    description: null,
    volume_id: s.volumeId,
    status: s.status,
    size: s.size,
    metadata: {},
    ...(detail ? { 'os-extended-snapshot-attributes:project_id': s.projectId, 'os-extended-snapshot-attributes:progress': '100%' } : {}),
  };
}

export function handleVolume(w: World, ctx: Ctx): Reply {
  if (!w.validToken(header(ctx, 'x-auth-token'))) return serviceUnauthorized(w, ctx);
  const m = /^\/v3\/([0-9a-f]{32})(\/.*)$/.exec(ctx.rest);
  const region = w.regions.get(ctx.region ?? '');
  if (!m || m[1] !== w.demo.projectId || !region?.hasCinder) return webobError(404, 'The resource could not be found.', ctx);
  const rid = `req-${uuid()}`;
  const h = { 'OpenStack-API-Version': 'volume 3.0', Vary: 'OpenStack-API-Version', 'X-Openstack-Request-Id': rid };
  const root = `${w.base}/volume${ctx.iface === 'public' ? '' : `-${ctx.iface}`}/${region.name}/v3/${m[1]}`;
  const params = ctx.url.searchParams;
  w.settle();
  const sub = m[2]!;
  if (sub === '/snapshots' && ctx.method === 'GET') {
    const volumeId = params.get('volume_id');
    const all = [...region.volSnaps.values()]
      .filter((s) => volumeId === null || s.volumeId === volumeId)
      .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1));
    const snapshots = page(all, params);
    if (!snapshots) return fault(404, 'itemNotFound', `Snapshot ${params.get('marker')} could not be found.`, h);
    return json(200, { snapshots: snapshots.map((s) => snapshotJson(s, false)), snapshots_links: nextLink(`${root}/snapshots`, params, snapshots) }, h);
  }
  const volumeJson = (v: ReturnType<World['volumes']>[number]) => ({
    id: v.id,
    status: v.status,
    snapshot_id: v.snapshotId,
    attachments: v.serverId ? [{ server_id: v.serverId, attachment_id: uuid(), volume_id: v.id, device: '/dev/sda' }] : [],
    metadata: v.metadata ?? {},
    ...(v.createdAt ? { created_at: isoMicroNaive(new Date(v.createdAt).getTime()) } : {}),
    ...(v.imageId ? { volume_image_metadata: { image_id: v.imageId } } : {}),
  });
  const vm = /^\/volumes\/([^/]+)(\/metadata)?$/.exec(sub);
  if (vm && vm[1] !== 'detail') {
    const id = decodeURIComponent(vm[1]!);
    const listed = w.volumes(region.name).find((v) => v.id === id);
    const own = region.volumes.get(id);
    if (!listed) return fault(404, 'itemNotFound', `Volume ${id} could not be found.`, h);
    if (vm[2] && ctx.method === 'POST') {
      const body = parseJson(ctx.body);
      if (!own || !isObject(body) || !isObject(body.metadata)) return fault(400, 'badRequest', 'Malformed request body', h);
      own.metadata = { ...own.metadata, ...(body.metadata as Record<string, string>) };
      return json(200, { metadata: own.metadata }, h);
    }
    if (!vm[2] && ctx.method === 'GET') return json(200, { volume: volumeJson(listed) }, h);
    if (!vm[2] && ctx.method === 'DELETE') {
      // cinder/volume/api.py delete: not while attached (or on its way), nor a root volume held by its server.
      if (!own || listed.status !== 'available')
        return fault(
          400,
          'badRequest',
          'Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer.',
          h,
        );
      own.deleteAt = w.now() + 200;
      return empty(202, h);
    }
    return webobError(404, 'The resource could not be found.', ctx, h);
  }
  if (sub === '/volumes/detail' && ctx.method === 'GET') {
    const all = w.volumes(region.name).map(volumeJson);
    const volumes = page(all, params);
    if (!volumes) return fault(404, 'itemNotFound', `Volume ${params.get('marker')} could not be found.`, h);
    return json(200, { volumes, volumes_links: nextLink(`${root}/volumes/detail`, params, volumes) }, h);
  }
  const sm = /^\/snapshots\/([^/]+)$/.exec(sub);
  const snap = sm ? region.volSnaps.get(decodeURIComponent(sm[1]!)) : undefined;
  if (!sm || (ctx.method !== 'GET' && ctx.method !== 'DELETE')) return webobError(404, 'The resource could not be found.', ctx, h);
  if (!snap) return fault(404, 'itemNotFound', `Snapshot ${decodeURIComponent(sm[1]!)} could not be found.`, h);
  if (ctx.method === 'GET') return json(200, { snapshot: snapshotJson(snap, true) }, h);
  if (snap.status !== 'available' && snap.status !== 'error')
    return fault(400, 'badRequest', 'Invalid snapshot: Snapshot status must be available or error and must not be part of a group.', h);
  w.deleteVolumeSnapshot(snap);
  return empty(202, h);
}
