// Glance v2 images: list (filters, sort, keyset pagination with a relative `next`), show, delete,
// PATCH (openstack-images-v2.1-json-patch). Error bodies are webob's (HTML unless the Accept header
// prefers JSON). Behaviour follows the real Glance 25 (Zed) on MySQL: string filters compare like
// utf8_general_ci (case-insensitive), killed images are not listed, a full last page still has `next`.
import type { Ctx } from './context.ts';
import { header } from './context.ts';
import { authenticate, serviceUnauthorized } from './keystone.ts';
import type { ImageRec, RegionState, World } from './world.ts';
import { ci, floorSecond, isObject, isoZ, parseIso, pyJson, pyRepr, queryPairs, requestId, urlencode, webobError } from './util.ts';
import type { Reply } from './util.ts';

const SORT_KEYS = ['name', 'status', 'container_format', 'disk_format', 'size', 'id', 'created_at', 'updated_at'];
const VISIBILITIES = ['community', 'public', 'private', 'shared', 'all'];
const LIMIT_DEFAULT = 25;
const LIMIT_MAX = 1000;

class BadRequest extends Error {}

function versions(w: World, ctx: Ctx): Reply {
  const ids = ['2.16', '2.15', '2.14', '2.9', '2.7', '2.6', '2.5', '2.4', '2.3', '2.2', '2.1', '2.0'];
  const href = `${w.base}${ctx.prefix}/v2/`;
  return {
    status: 300,
    headers: { 'Content-Type': 'application/json' },
    body: pyJson({ versions: ids.map((v, i) => ({ id: `v${v}`, status: i === 0 ? 'CURRENT' : 'SUPPORTED', links: [{ rel: 'self', href }] })) }),
  };
}

export function imageJson(img: ImageRec): Map<string, unknown> {
  const o = new Map<string, unknown>(img.props);
  o.set('name', img.name);
  o.set('disk_format', img.diskFormat);
  o.set('container_format', img.containerFormat);
  o.set('visibility', img.visibility);
  o.set('size', img.size);
  o.set('virtual_size', img.virtualSize);
  o.set('status', img.status);
  o.set('checksum', img.checksum);
  o.set('protected', img.protected);
  o.set('min_ram', img.minRam);
  o.set('min_disk', img.minDisk);
  o.set('owner', img.owner);
  o.set('os_hidden', img.osHidden);
  o.set('os_hash_algo', img.osHashAlgo);
  o.set('os_hash_value', img.osHashValue);
  o.set('id', img.id);
  o.set('created_at', isoZ(img.createdAt));
  o.set('updated_at', isoZ(img.updatedAt));
  o.set('tags', [...img.tags]);
  o.set('self', `/v2/images/${img.id}`);
  o.set('file', `/v2/images/${img.id}/file`);
  o.set('schema', '/v2/schemas/image');
  return o;
}

/** Can the project see this image at all (glance's is_image_visible for a non-admin)? */
function visibleTo(img: ImageRec, project: string): boolean {
  return img.owner === project || img.visibility === 'public' || img.visibility === 'community';
}

export function handleImage(w: World, ctx: Ctx): Reply {
  const rest = ctx.rest;
  if (!(rest === '/v2' || rest.startsWith('/v2/'))) return versions(w, ctx);
  const token = authenticate(w, ctx);
  if (!token) return serviceUnauthorized(w, ctx);
  const rid = { 'X-Openstack-Request-Id': requestId() };
  const err = (status: number, msg: string, detail?: string) =>
    webobError(status, msg, ctx.headers, { extraHeaders: rid, ...(detail !== undefined ? { detail } : {}) });
  const region = w.regions.get(ctx.region ?? '');
  if (!region) return err(404, 'The resource could not be found.');
  w.settle();

  if (rest === '/v2/images' || rest === '/v2/images/') {
    if (ctx.method === 'GET') {
      try {
        return listImages(ctx, region, token.projectId, rid);
      } catch (e) {
        if (e instanceof BadRequest) return err(400, e.message);
        throw e;
      }
    }
    const r = err(405, `The method ${ctx.method} is not allowed for this resource.`);
    r.headers.Allow = 'GET';
    return r;
  }
  const m = /^\/v2\/images\/([^/]+)$/.exec(rest);
  if (!m) return err(404, 'The resource could not be found.');
  const id = decodeURIComponent(m[1]!);
  const img = region.images.get(id);
  const visible = img && visibleTo(img, token.projectId) ? img : undefined;

  switch (ctx.method) {
    case 'GET':
      if (!visible) return err(404, `No image found with ID ${id}`);
      return { status: 200, headers: { 'Content-Type': 'application/json', ...rid }, body: pyJson(imageJson(visible)) };
    case 'DELETE':
      if (!visible) return err(404, `Failed to find image ${id} to delete`);
      if (visible.owner !== token.projectId) return err(403, 'You do not own this image');
      if (visible.protected) return err(403, `Image ${id} is protected and cannot be deleted.`);
      if (visible.inUse) {
        return err(409, `Image ${id} could not be deleted because it is in use: The image cannot be deleted because it is in use through the backend store outside of Glance.`);
      }
      w.deleteImage(visible);
      return { status: 204, headers: { 'Content-Type': 'text/html; charset=UTF-8', ...rid }, body: '' };
    case 'PATCH':
      return patchImage(w, ctx, visible, id, token.projectId, rid);
    default:
      return err(405, `The method ${ctx.method} is not allowed for this resource.`);
  }
}

// ---------------------------------------------------------------------------------------------
// List

type Pred = (img: ImageRec) => boolean;

/** split_filter_op: 'op:value', unless the whole thing parses as an ISO date (then 'eq'). */
function splitOp(expr: string): [string, string] {
  const i = expr.indexOf(':');
  if (i < 0) return ['eq', expr];
  if (!Number.isNaN(parseIso(expr))) return ['eq', expr];
  return [expr.slice(0, i), expr.slice(i + 1)];
}

/** split_filter_value_for_quotes: comma-separated, double quotes protect commas. */
function splitIn(value: string): string[] {
  if ((value.match(/(?<!\\)"/g) ?? []).length % 2 === 1) throw new BadRequest(`Invalid filter value ${value}. The quote is not closed.`);
  const out: string[] = [];
  const re = /"([^"\\]*(?:\\.[^"\\]*)*)",?|([^,]+),?|,/g;
  let mt: RegExpExecArray | null;
  while ((mt = re.exec(value)) !== null) out.push(mt[1] ?? mt[2] ?? '');
  return out;
}

const STRING_COLUMNS: Record<string, (i: ImageRec) => string | null> = {
  name: (i) => i.name,
  id: (i) => i.id,
  status: (i) => i.status,
  container_format: (i) => i.containerFormat,
  disk_format: (i) => i.diskFormat,
  owner: (i) => i.owner,
  checksum: (i) => i.checksum,
  os_hash_algo: (i) => i.osHashAlgo,
  os_hash_value: (i) => i.osHashValue,
};
const NUMBER_COLUMNS: Record<string, (i: ImageRec) => number | null> = {
  size: (i) => i.size,
  virtual_size: (i) => i.virtualSize,
  min_disk: (i) => i.minDisk,
  min_ram: (i) => i.minRam,
};

function buildFilters(params: Map<string, string>, tags: string[], project: string): { preds: Pred[]; key: string } {
  const preds: Pred[] = [];
  const keyParts: string[] = [];
  // deleted=False: killed images are excluded from every listing (glance db api).
  preds.push((i) => i.status !== 'killed' && i.status !== 'deleted');
  // Visibility (glance/db/sqlalchemy/api.py _select_images_query + image_get_all).
  const visibility = params.get('visibility');
  preds.push((i) => visibleTo(i, project));
  if (visibility !== undefined && visibility !== '') {
    if (visibility !== 'all') preds.push((i) => i.visibility === visibility);
  } else {
    preds.push((i) => i.owner === project || i.visibility !== 'community');
  }
  keyParts.push(`vis=${visibility ?? ''}`, `p=${project}`);
  const osHidden = (params.get('os_hidden') ?? 'false').toLowerCase();
  if (osHidden !== 'true' && osHidden !== 'false') throw new BadRequest(`Invalid value '${osHidden}' for 'os_hidden' filter. Valid values are 'true' or 'false'.`);
  preds.push((i) => i.osHidden === (osHidden === 'true'));
  keyParts.push(`h=${osHidden}`);
  const prot = params.get('protected');
  if (prot !== undefined) {
    if (prot !== 'true' && prot !== 'false') throw new BadRequest(`Invalid value '${prot}' for 'protected' filter. Valid values are 'true' or 'false'.`);
    preds.push((i) => i.protected === (prot === 'true'));
    keyParts.push(`pr=${prot}`);
  }
  for (const t of tags) preds.push((i) => i.tags.some((x) => ci(x) === ci(t)));
  keyParts.push(`t=${JSON.stringify(tags)}`);

  for (const [k, v] of params) {
    if (k === 'visibility' || k === 'os_hidden' || k === 'protected' || k === 'deleted' || k === 'member_status') continue;
    keyParts.push(`${k}=${v}`);
    if (k.endsWith('_min') || k.endsWith('_max')) {
      const col = NUMBER_COLUMNS[k.slice(0, -4)];
      if (!/^\s*[-+]?\d+\s*$/.test(v)) throw new BadRequest('Unable to filter on a range with a non-numeric value.');
      const n = Number(v);
      if (!col) throw new BadRequest('Unable to filter on a range with a non-numeric value.');
      preds.push(k.endsWith('_min') ? (i) => (col(i) ?? Number.NaN) >= n : (i) => (col(i) ?? Number.NaN) <= n);
    } else if (k === 'created_at' || k === 'updated_at') {
      const [op, iso] = splitOp(v);
      const t = parseIso(iso);
      if (Number.isNaN(t)) throw new BadRequest(`Bad "${k}" query filter format. Use ISO 8601 DateTime notation.`);
      const get = k === 'created_at' ? (i: ImageRec) => i.createdAt : (i: ImageRec) => i.updatedAt;
      const ops: Record<string, (a: number) => boolean> = {
        gt: (a) => a > t,
        gte: (a) => a >= t,
        lt: (a) => a < t,
        lte: (a) => a <= t,
        neq: (a) => a !== t,
        eq: (a) => a === t,
      };
      const f = ops[op];
      if (!f) throw new BadRequest('Unable to filter on a unknown operator.');
      preds.push((i) => f(get(i)));
    } else if (k === 'name' || k === 'id' || k === 'status' || k === 'container_format' || k === 'disk_format') {
      const col = STRING_COLUMNS[k]!;
      const [op, val] = splitOp(v);
      if (op === 'in') {
        const set = new Set(splitIn(val).map(ci));
        preds.push((i) => {
          const c = col(i);
          return c !== null && set.has(ci(c));
        });
      } else if (op === 'eq') {
        const want = ci(val);
        preds.push((i) => {
          const c = col(i);
          return c !== null && ci(c) === want;
        });
      } else {
        throw new BadRequest(`Unable to filter by unknown operator '${op}'.`);
      }
    } else if (STRING_COLUMNS[k]) {
      const col = STRING_COLUMNS[k];
      const want = ci(v);
      preds.push((i) => {
        const c = col(i);
        return c !== null && ci(c) === want;
      });
    } else if (NUMBER_COLUMNS[k]) {
      const col = NUMBER_COLUMNS[k];
      const n = Number.parseFloat(v);
      const want = Number.isNaN(n) ? 0 : n; // MySQL coerces a non-numeric string to 0
      preds.push((i) => col(i) === want);
    } else {
      // Any other key is a custom property filter (exact, collation-insensitive).
      const want = ci(v);
      preds.push((i) => {
        const p = i.props.get(k);
        return p !== undefined && ci(p) === want;
      });
    }
  }
  return { preds, key: keyParts.join('\u0000') };
}

type SortVal = string | number | null;
function sortValue(img: ImageRec, key: string): SortVal {
  switch (key) {
    case 'name':
      return img.nameKey;
    case 'status':
      return img.status.toLowerCase();
    case 'container_format':
      return img.containerFormat === null ? null : ci(img.containerFormat);
    case 'disk_format':
      return img.diskFormat === null ? null : ci(img.diskFormat);
    case 'size':
      return img.size;
    case 'id':
      return img.id.toLowerCase();
    case 'created_at':
      return img.createdAt;
    case 'updated_at':
      return img.updatedAt;
    default:
      return null;
  }
}

function makeComparator(keys: string[], dirs: string[]): (a: ImageRec, b: ImageRec) => number {
  return (a, b) => {
    for (let k = 0; k < keys.length; k++) {
      const x = sortValue(a, keys[k]!);
      const y = sortValue(b, keys[k]!);
      let c: number;
      if (x === y) c = 0;
      else if (x === null) c = -1; // MySQL: NULL sorts first ascending
      else if (y === null) c = 1;
      else c = x < y ? -1 : 1;
      if (c !== 0) return dirs[k] === 'desc' ? -c : c;
    }
    return 0;
  };
}

function listImages(ctx: Ctx, region: RegionState, project: string, rid: Record<string, string>): Reply {
  const pairs = queryPairs(ctx.url.search);
  // RequestDeserializer.index: limit, marker, member_status, tag (repeatable), sort params; the rest are filters.
  const filters = new Map<string, string>();
  const tags: string[] = [];
  const sortKeysRaw: string[] = [];
  const sortDirsRaw: string[] = [];
  let sortNew: string | undefined;
  let limitRaw: string | undefined;
  let marker: string | undefined;
  let memberStatus = 'accepted';
  for (const [k, v] of pairs) {
    if (k === 'limit') limitRaw = v;
    else if (k === 'marker') marker = v;
    else if (k === 'member_status') memberStatus = v;
    else if (k === 'tag') tags.push(v.trim());
    else if (k === 'sort') sortNew = v;
    else if (k === 'sort_key') sortKeysRaw.push(v);
    else if (k === 'sort_dir') sortDirsRaw.push(v);
    else filters.set(k, v);
  }
  const visibility = filters.get('visibility');
  if (visibility && !VISIBILITIES.includes(visibility)) throw new BadRequest(`Invalid visibility value: ${visibility}`);
  if (filters.get('changes-since')) throw new BadRequest('The "changes-since" filter is no longer available on v2.');
  if (!['pending', 'accepted', 'rejected', 'all'].includes(memberStatus)) throw new BadRequest(`Invalid status: ${memberStatus}`);
  let limit = LIMIT_DEFAULT;
  if (limitRaw !== undefined) {
    if (!/^\s*[-+]?\d+\s*$/.test(limitRaw)) throw new BadRequest('limit param must be an integer');
    limit = Number(limitRaw);
    if (limit < 0) throw new BadRequest('limit param must be positive');
  }
  limit = Math.min(LIMIT_MAX, limit);
  // Sorting params.
  const keys: string[] = [];
  const dirs: string[] = [];
  const vKey = (k: string) => {
    if (!SORT_KEYS.includes(k)) throw new BadRequest(`Invalid sort key: ${k}. It must be one of the following: ${SORT_KEYS.join(', ')}.`);
    return k;
  };
  const vDir = (d: string) => {
    if (d !== 'asc' && d !== 'desc') throw new BadRequest(`Invalid sort direction: ${d}`);
    return d;
  };
  if (sortNew !== undefined) {
    if (sortKeysRaw.length || sortDirsRaw.length) throw new BadRequest('Old and new sorting syntax cannot be combined');
    for (const part of sortNew.trim().split(',')) {
      const i = part.indexOf(':');
      const key = i < 0 ? part : part.slice(0, i);
      const dir = i < 0 || part.slice(i + 1) === '' ? 'desc' : part.slice(i + 1);
      keys.push(vKey(key.trim()));
      dirs.push(vDir(dir.trim()));
    }
  } else {
    for (const k of sortKeysRaw) keys.push(vKey(k.trim()));
    for (const d of sortDirsRaw) dirs.push(vDir(d.trim()));
    if (dirs.length > 1 && dirs.length !== keys.length) throw new BadRequest('Number of sort dirs does not match the number of sort keys');
  }
  if (keys.length === 0) keys.push('created_at');
  if (dirs.length === 0) dirs.push('desc');
  // image_get_all: one dir applies to every key; created_at and id are appended as tie-breakers.
  let defaultDir = 'desc';
  if (dirs.length === 1) {
    defaultDir = dirs[0]!;
    while (dirs.length < keys.length) dirs.push(defaultDir);
  }
  for (const k of ['created_at', 'id']) {
    if (!keys.includes(k)) {
      keys.push(k);
      dirs.push(defaultDir);
    }
  }

  const { preds, key } = buildFilters(filters, tags, project);
  const cmp = makeComparator(keys, dirs);
  const cacheKey = `${key}\u0001${keys.join(',')}\u0001${dirs.join(',')}`;
  let entry = region.listCache.get(cacheKey);
  if (!entry || entry.version !== region.version) {
    const sorted: ImageRec[] = [];
    outer: for (const img of region.images.values()) {
      for (const p of preds) if (!p(img)) continue outer;
      sorted.push(img);
    }
    sorted.sort(cmp);
    entry = { version: region.version, sorted };
    region.listCache.delete(cacheKey);
    region.listCache.set(cacheKey, entry);
    if (region.listCache.size > 32) region.listCache.delete(region.listCache.keys().next().value!);
  }
  const sorted = entry.sorted;
  let start = 0;
  if (marker !== undefined) {
    const mimg = region.images.get(marker);
    if (!mimg || !visibleTo(mimg, project)) throw new BadRequest(`No image found with ID ${marker}`);
    // Keyset pagination: the first row strictly after the marker's sort values.
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cmp(sorted[mid]!, mimg) <= 0) lo = mid + 1;
      else hi = mid;
    }
    start = lo;
  }
  const page = sorted.slice(start, start + limit);
  // ResponseSerializer.index: dict(request.params) (last value wins, first position), minus marker.
  const params = new Map<string, string>();
  for (const [k, v] of pairs) params.set(k, v);
  params.delete('marker');
  const query = urlencode(params);
  const body = new Map<string, unknown>([
    ['images', page.map(imageJson)],
    ['first', query ? `/v2/images?${query}` : '/v2/images'],
    ['schema', '/v2/schemas/images'],
  ]);
  if (page.length !== 0 && page.length === limit) {
    params.set('marker', page[page.length - 1]!.id);
    body.set('next', `/v2/images?${urlencode(params)}`);
  }
  return { status: 200, headers: { 'Content-Type': 'application/json', ...rid }, body: pyJson(body, false) };
}

// ---------------------------------------------------------------------------------------------
// PATCH

const READ_ONLY = new Set(['id', 'status', 'created_at', 'updated_at', 'size', 'virtual_size', 'checksum', 'os_hash_algo', 'os_hash_value', 'self', 'file', 'schema', 'direct_url']);
const BASE_WRITABLE = new Set(['name', 'visibility', 'protected', 'os_hidden', 'min_disk', 'min_ram', 'disk_format', 'container_format', 'tags']);
const RESERVED = new Set(['deleted', 'deleted_at', 'location']);
const PATCH_TYPES = ['application/openstack-images-v2.1-json-patch', 'application/openstack-images-v2.0-json-patch'];

function schemaError(msg: string): string {
  return `Provided object does not match schema 'image': ${msg}`;
}

function patchImage(w: World, ctx: Ctx, img: ImageRec | undefined, id: string, project: string, rid: Record<string, string>): Reply {
  const err = (status: number, msg: string, detail?: string) =>
    webobError(status, msg, ctx.headers, { extraHeaders: rid, ...(detail !== undefined ? { detail } : {}) });
  const ct = (header(ctx, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (!PATCH_TYPES.includes(ct)) {
    const shown = ct || 'None';
    const r = err(415, `The request media type ${shown} is not supported by this server.`);
    if (r.headers['Content-Type']?.startsWith('text/html')) {
      // HTTPUnsupportedMediaType has its own template (the real one, byte for byte).
      r.body = `<html>\n <head>\n  <title>415 Unsupported Media Type</title>\n </head>\n <body>\n  <h1>415 Unsupported Media Type</h1>\n  The request media type ${shown} is not supported by this server.\n<br /><br />\n\n </body>\n</html>`;
    }
    return r;
  }
  let changes: unknown;
  try {
    changes = JSON.parse(ctx.body.toString('utf8'));
  } catch {
    return err(400, 'Malformed JSON in request body.');
  }
  if (!Array.isArray(changes)) return err(400, 'Request body must be a JSON array of operation objects.');
  if (!img) return err(404, `No image found with ID ${id}`);
  if (img.owner !== project) return err(403, 'You are not permitted to modify this image.');

  // Apply to a copy; commit only if every change is valid.
  const next = { ...img, props: new Map(img.props), tags: [...img.tags] };
  for (const ch of changes) {
    if (!isObject(ch)) return err(400, 'Operations must be JSON objects.');
    const op = ch.op;
    if (op !== 'add' && op !== 'replace' && op !== 'remove') {
      return err(400, `Invalid operation: \`${String(op)}\`. It must be one of the following: add, remove, replace.`);
    }
    if (typeof ch.path !== 'string' || !/^\/[^/]+$/.test(ch.path)) return err(400, `Invalid JSON pointer for this resource: '${String(ch.path)}'`);
    const attr = ch.path.slice(1).replace(/~1/g, '/').replace(/~0/g, '~');
    if ((op === 'add' || op === 'replace') && !('value' in ch)) return err(400, `Operation "${op}" requires a member named "value".`);
    const value = ch.value;
    if (RESERVED.has(attr) || attr.startsWith('os_glance')) return err(403, `Attribute '${attr}' is reserved.`);
    if (attr === 'owner') return err(403, 'Access was denied to this resource.', "Owner can't be updated by non admin.");
    if (READ_ONLY.has(attr)) return err(403, `Attribute '${attr}' is read-only.`);
    if (op === 'remove' && BASE_WRITABLE.has(attr)) return err(403, 'Access was denied to this resource.', `Property ${attr} may not be removed.`);
    switch (attr) {
      case 'protected':
      case 'os_hidden': {
        if (typeof value !== 'boolean') {
          // pprint-wrapped schema, as the real one prints it
          const desc =
            attr === 'protected'
              ? "{'description': 'If true, image will not be deletable.',\n     'type': 'boolean'}"
              : "{'description': 'If true, image will not appear in default image list '\n                    'response.',\n     'type': 'boolean'}";
          return err(400, schemaError(`${pyRepr(value)} is not of type 'boolean'\n\nFailed validating 'type' in schema['properties']['${attr}']:\n    ${desc}\n\nOn instance['${attr}']:\n    ${pyRepr(value)}`));
        }
        if (attr === 'protected') next.protected = value;
        else next.osHidden = value;
        break;
      }
      case 'name': {
        const nameSchema = "{'description': 'Descriptive name for the image',\n     'maxLength': 255,\n     'type': ['null', 'string']}";
        if (value !== null && typeof value !== 'string') {
          return err(400, schemaError(`${pyRepr(value)} is not of type 'null', 'string'\n\nFailed validating 'type' in schema['properties']['name']:\n    ${nameSchema}\n\nOn instance['name']:\n    ${pyRepr(value)}`));
        }
        if (typeof value === 'string' && value.length > 255) {
          return err(400, schemaError(`${pyRepr(value)} is too long\n\nFailed validating 'maxLength' in schema['properties']['name']:\n    ${nameSchema}\n\nOn instance['name']:\n    ${pyRepr(value)}`));
        }
        next.name = value;
        next.nameKey = value === null ? null : ci(value);
        break;
      }
      case 'visibility': {
        if (typeof value !== 'string' || !['public', 'private', 'shared', 'community'].includes(value)) {
          return err(
            400,
            schemaError(
              `${pyRepr(value)} is not one of ['community', 'public', 'private', 'shared']\n\nFailed validating 'enum' in schema['properties']['visibility']:\n    {'description': 'Scope of image accessibility',\n     'enum': ['community', 'public', 'private', 'shared'],\n     'type': 'string'}\n\nOn instance['visibility']:\n    ${pyRepr(value)}`,
            ),
          );
        }
        next.visibility = value;
        break;
      }
      case 'min_disk':
      case 'min_ram': {
        if (typeof value !== 'number' || !Number.isInteger(value)) {
          const desc = attr === 'min_disk' ? 'Amount of disk space (in GB) required to boot image.' : 'Amount of ram (in MB) required to boot image.';
          return err(
            400,
            schemaError(`${pyRepr(value)} is not of type 'integer'\n\nFailed validating 'type' in schema['properties']['${attr}']:\n    {'description': '${desc}',\n     'type': 'integer'}\n\nOn instance['${attr}']:\n    ${pyRepr(value)}`),
          );
        }
        if (attr === 'min_disk') next.minDisk = value;
        else next.minRam = value;
        break;
      }
      case 'disk_format':
      case 'container_format': {
        if (value !== null && typeof value !== 'string') return err(400, schemaError(`${pyRepr(value)} is not of type 'null', 'string'`));
        if (attr === 'disk_format') next.diskFormat = value;
        else next.containerFormat = value;
        break;
      }
      case 'tags': {
        if (!Array.isArray(value) || value.some((t) => typeof t !== 'string')) return err(400, schemaError(`${pyRepr(value)} is not of type 'array'`));
        next.tags = [...new Set(value as string[])];
        break;
      }
      default: {
        // Custom property.
        if (op === 'remove' || op === 'replace') {
          if (!next.props.has(attr)) {
            return err(409, 'There was a conflict when trying to complete your request.', `Property ${attr} does not exist.`);
          }
        }
        if (op === 'remove') {
          next.props.delete(attr);
          break;
        }
        if (typeof value !== 'string') {
          return err(
            400,
            schemaError(
              `${pyRepr(value)} is not of type 'string'\n\nFailed validating 'type' in schema['additionalProperties']:\n    {'type': 'string'}\n\nOn instance[${pyRepr(attr)}]:\n    ${pyRepr(value)}`,
            ),
          );
        }
        if (value.length > 65535) return err(400, schemaError(`${pyRepr(value)} is too long`));
        next.props.set(attr, value);
      }
    }
  }
  Object.assign(img, next);
  img.updatedAt = floorSecond(w.now());
  const region = w.regions.get(img.region);
  if (region) region.version++;
  return { status: 200, headers: { 'Content-Type': 'application/json', ...rid }, body: pyJson(imageJson(img)) };
}
