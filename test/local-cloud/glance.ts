// Glance v2 images: show, list (filters, created_at sort, keyset pages with a relative `next`),
// delete. Errors are webob's (JSON for a client that accepts it, HTML otherwise). As the loopback
// cloud's Glance 25 (Zed) on MySQL: filters compare case-insensitively, killed images are not
// listed, a full last page still has `next`.
import { serviceUnauthorized } from './keystone.ts';
import type { ImageRec, World } from './world.ts';
import { empty, floorSecond, header, isObject, isoZ, json, parseJson, uuid, webobError, type Ctx, type Reply } from './http.ts';

function imageJson(img: ImageRec): Record<string, unknown> {
  return {
    ...Object.fromEntries(img.props),
    name: img.name,
    disk_format: img.diskFormat,
    container_format: img.containerFormat,
    visibility: img.visibility,
    size: img.size,
    virtual_size: null,
    status: img.status,
    checksum: img.checksum,
    os_hash_algo: img.hash ? 'sha512' : null,
    os_hash_value: img.hash,
    protected: img.protected,
    min_ram: img.minRam ?? 0,
    min_disk: img.minDisk,
    owner: img.owner,
    os_hidden: false,
    id: img.id,
    created_at: isoZ(img.createdAt),
    updated_at: isoZ(img.updatedAt),
    tags: [],
    self: `/v2/images/${img.id}`,
    file: `/v2/images/${img.id}/file`,
    schema: '/v2/schemas/image',
  };
}

/** A non-admin sees its project's images and public ones. */
const visibleTo = (img: ImageRec, project: string) => img.owner === project || img.visibility === 'public';

/** A filter's match, as MySQL's utf8_general_ci compares (case-insensitively); `id=in:a,b` is any of them. */
const same = (a: unknown, b: string, key?: string) =>
  a !== null && a !== undefined && (key === 'id' && b.startsWith('in:') ? b.slice(3).split(',') : [b]).some((v) => String(a).toLowerCase() === v.toLowerCase());

export function handleImage(w: World, ctx: Ctx): Reply {
  // The version list at the root, which the openstack CLI (the benchmarks' yardstick) discovers.
  if (ctx.rest === '' || ctx.rest === '/') {
    return json(300, {
      versions: [
        {
          id: 'v2.16',
          status: 'CURRENT',
          links: [{ rel: 'self', href: `${w.base}/glance${ctx.iface === 'public' ? '' : `-${ctx.iface}`}/${ctx.region}/v2/` }],
        },
      ],
    });
  }
  const token = w.validToken(header(ctx, 'x-auth-token'));
  if (!token) return serviceUnauthorized(w, ctx);
  const rid = { 'X-Openstack-Request-Id': `req-${uuid()}` };
  const err = (status: number, message: string) => webobError(status, message, ctx, rid);
  const region = w.region(ctx.region!);
  w.settle();
  if (ctx.rest === '/v2/images' && ctx.method === 'GET')
    return (
      listImages(ctx, [...region.images.values()], token.projectId, w.imagePageMax, rid) ??
      err(400, `No image found with ID ${ctx.url.searchParams.get('marker')}`)
    );
  // The loopback cloud's Glance 25 (glance-direct and web-download: enabled_import_methods' default, no glance-download).
  if (ctx.rest === '/v2/info/import' && ctx.method === 'GET')
    return json(200, { 'import-methods': { description: 'Import methods available.', type: 'array', value: ['glance-direct', 'web-download'] } }, rid);
  if (ctx.rest === '/v2/images' && ctx.method === 'POST') return createImage(w, ctx, region.name, token.projectId, err, rid);
  const file = /^\/v2\/images\/([^/]+)\/file$/.exec(ctx.rest);
  if (file) return imageFile(w, ctx, region.images.get(decodeURIComponent(file[1]!)), token.projectId, err, rid);
  const m = /^\/v2\/images\/([^/]+)$/.exec(ctx.rest);
  if (!m) return err(404, 'The resource could not be found.');
  const id = decodeURIComponent(m[1]!);
  const img = region.images.get(id);
  const visible = img && visibleTo(img, token.projectId) ? img : undefined;
  if (ctx.method === 'GET') return visible ? json(200, imageJson(visible), rid) : err(404, `No image found with ID ${id}`);
  if (ctx.method === 'PATCH') return patchImage(w, ctx, visible, token.projectId, rid);
  if (ctx.method !== 'DELETE') return err(405, `The method ${ctx.method} is not allowed for this resource.`);
  if (!visible) return err(404, `Failed to find image ${id} to delete`);
  if (visible.owner !== token.projectId) return err(403, 'You do not own this image');
  if (visible.protected) return err(403, `Image ${id} is protected and cannot be deleted.`);
  if (visible.inUse)
    return err(
      409,
      `Image ${id} could not be deleted because it is in use: The image cannot be deleted because it is in use through the backend store outside of Glance.`,
    );
  w.deleteImage(visible);
  return empty(204, rid);
}

/** One page of the listing, or undefined for an unknown marker (400). */
function listImages(ctx: Ctx, images: ImageRec[], project: string, pageMax: number, rid: Record<string, string>): Reply | undefined {
  const params = ctx.url.searchParams;
  const [sortKey = 'created_at', dir = 'desc'] = (params.get('sort') ?? 'created_at:desc').split(':');
  if (sortKey !== 'created_at') return webobError(400, `Sort key ${sortKey} is not supported by the local cloud (only created_at)`, ctx, rid);
  const filters = ctx.unfiltered ? [] : [...params].filter(([k]) => !['limit', 'marker', 'sort'].includes(k));
  const limit = Math.min(Number(params.get('limit') ?? 25), pageMax);
  // Newest first by default; created_at then id, as Glance appends id to every sort.
  const order = (a: ImageRec, b: ImageRec) => (a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)) * (dir === 'asc' ? 1 : -1);
  const listed = images
    .filter((img) => {
      const attributes = imageJson(img);
      return (ctx.unfiltered || (visibleTo(img, project) && img.status !== 'killed')) && filters.every(([k, v]) => same(attributes[k], v, k));
    })
    .sort(order);
  const marker = params.get('marker');
  if (marker === null) return pageReply(listed, limit, params, rid);
  // Keyset paging: what sorts after the marker image, which must exist.
  const known = images.find((img) => img.id === marker && visibleTo(img, project));
  return (
    known &&
    pageReply(
      listed.filter((img) => order(img, known) > 0),
      limit,
      params,
      rid,
    )
  );
}

function pageReply(rest: ImageRec[], limit: number, params: URLSearchParams, rid: Record<string, string>): Reply {
  const items = rest.slice(0, limit);
  // The next link is relative (from the unversioned root), the query re-encoded, the marker last.
  const next = new URLSearchParams([...params].filter(([k]) => k !== 'marker'));
  if (items.length > 0) next.set('marker', items[items.length - 1]!.id);
  return json(
    200,
    { images: items.map(imageJson), ...(items.length === limit && limit > 0 ? { next: `/v2/images?${next}` } : {}), schema: '/v2/schemas/images' },
    rid,
  );
}

/** The base attributes a JSON patch may not touch as properties (Glance's read-only and base ones). */
const BASE_ATTRIBUTES = new Set([
  'id',
  'status',
  'owner',
  'size',
  'checksum',
  'created_at',
  'updated_at',
  'visibility',
  'protected',
  'name',
  'min_disk',
  'min_ram',
]);

/** PATCH /v2/images/{id} (application/openstack-images-v2.1-json-patch): add (sets, RFC 6902), replace (409 if missing), remove of custom properties. */
function patchImage(w: World, ctx: Ctx, img: ImageRec | undefined, project: string, rid: Record<string, string>): Reply {
  if (!img) return webobError(404, `No image found with ID ${ctx.rest.split('/').pop()}`, ctx, rid);
  if (img.owner !== project) return webobError(403, 'You are not permitted to modify this image.', ctx, rid);
  if (!/openstack-images-v2\.1-json-patch/.test(header(ctx, 'content-type') ?? '')) return webobError(415, 'Unsupported Content-Type', ctx, rid);
  const ops = parseJson(ctx.body);
  if (!Array.isArray(ops)) return webobError(400, 'Request body must be a JSON array of operation objects.', ctx, rid);
  for (const op of ops as { op?: string; path?: string; value?: unknown }[]) {
    const key = String(op.path ?? '').replace(/^\//, '');
    if (!key || key.includes('/') || BASE_ATTRIBUTES.has(key)) return webobError(403, `Attribute '${key}' is read-only.`, ctx, rid);
    if (op.op === 'add' || op.op === 'replace') {
      if (op.op === 'replace' && !img.props.has(key)) return webobError(409, `Property ${key} does not exist.`, ctx, rid);
      if (typeof op.value !== 'string') return webobError(400, `Invalid value for ${key}`, ctx, rid);
      img.props.set(key, op.value);
    } else if (op.op === 'remove') {
      if (!img.props.delete(key)) return webobError(409, `Property ${key} does not exist.`, ctx, rid);
    } else return webobError(400, `Invalid operation: ${String(op.op)}`, ctx, rid);
  }
  img.updatedAt = floorSecond(w.now());
  return json(200, imageJson(img), rid);
}

type Err = (status: number, message: string) => Reply;

/** POST /v2/images: the record of an image without data (queued), with the ID the client chose if any. */
function createImage(w: World, ctx: Ctx, region: string, project: string, err: Err, rid: Record<string, string>): Reply {
  const fields = parseJson(ctx.body);
  if (!isObject(fields)) return err(400, 'Malformed JSON in request body.');
  if (fields.id !== undefined && (typeof fields.id !== 'string' || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(fields.id)))
    return err(400, `Invalid id: ${String(fields.id)}`);
  for (const key of Object.keys(fields)) if (key.startsWith('os_glance')) return err(403, `Attribute '${key}' is reserved.`);
  for (const key of ['status', 'checksum', 'size', 'owner', 'os_hash_value', 'created_at'])
    if (key in fields) return err(403, `Attribute '${key}' is read-only.`);
  const made = w.createImage(region, project, fields);
  if (made === 'conflict') return err(409, `Image ID ${String(fields.id)} already exists!`);
  return json(201, imageJson(made), { ...rid, Location: `${w.base}/glance/${region}/v2/images/${made.id}` });
}

/** GET and PUT /v2/images/{id}/file: the data of an active image; the data of a queued one, once. */
function imageFile(w: World, ctx: Ctx, img: ImageRec | undefined, project: string, err: Err, rid: Record<string, string>): Reply {
  const visible = img && visibleTo(img, project) ? img : undefined;
  if (!visible) return err(404, `Image ${ctx.rest.split('/')[3] ?? ''} not found.`);
  if (ctx.method === 'GET') {
    if (visible.status !== 'active') return empty(204, rid);
    const data = w.imageData(visible);
    if (!data) return err(500, 'local cloud: no data is kept for an image this large');
    return { status: 200, headers: { 'Content-Type': 'application/octet-stream', 'Content-MD5': visible.checksum ?? '', ...rid }, body: data };
  }
  if (ctx.method !== 'PUT') return err(405, `The method ${ctx.method} is not allowed for this resource.`);
  if (visible.owner !== project) return err(403, 'You are not permitted to upload data to this image.');
  if (!/application\/octet-stream/.test(header(ctx, 'content-type') ?? '')) return err(415, 'Unsupported Content-Type');
  if (visible.status !== 'queued') return err(409, `Image status transition from ${visible.status} to saving is not allowed`);
  const data = Buffer.from(ctx.body);
  if (ctx.corrupt && data.length) data[0] = (data[0]! + 1) & 0xff;
  w.storeImageData(visible, data);
  return empty(204, rid);
}
