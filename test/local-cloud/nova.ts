// Nova (compute) v2.1: version documents, microversion negotiation, server list/show with the regex
// name filter and paging, and the createImage server action (image-backed and volume-backed).
// Behaviour and bodies checked against the real Nova 26 (Zed) of the openstack-loopback cloud.
import type { Ctx } from './context.ts';
import { header } from './context.ts';
import { authenticate, serviceUnauthorized } from './keystone.ts';
import type { ServerRec, SnapshotOutcome, World } from './world.ts';
import { POWER_STATE, World as WorldClass } from './world.ts';
import { empty, isObject, isoMicroNaive, isoZ, lastWins, pyJson, pyRepr, pyStr, queryPairs, requestId, urlencode, webobError } from './util.ts';
import type { Reply } from './util.ts';

type Version = [number, number];
const MIN_VERSION: Version = [2, 1];
const parseV = (s: string): Version => {
  const [a = '0', b = '0'] = s.split('.');
  return [Number(a), Number(b)];
};
const cmpV = (a: Version, b: Version) => a[0] - b[0] || a[1] - b[1];
const vStr = (v: Version) => `${v[0]}.${v[1]}`;
const ge = (v: Version, s: string) => cmpV(v, parseV(s)) >= 0;

function novaJson(status: number, body: unknown, headers: Record<string, string>): Reply {
  return { status, headers: { 'Content-Type': 'application/json', ...headers }, body: pyJson(body) };
}
function novaFault(status: number, key: string, message: string, headers: Record<string, string>): Reply {
  return { status, headers: { 'Content-Type': 'application/json; charset=UTF-8', ...headers }, body: pyJson({ [key]: { code: status, message } }) };
}
const badRequest = (msg: string, h: Record<string, string>) => novaFault(400, 'badRequest', msg, h);

/** OpenStack-API-Version: compute X.Y (preferred) or X-OpenStack-Nova-API-Version: X.Y (microversion_parse). */
function requestedVersion(ctx: Ctx): string | null {
  const std = header(ctx, 'openstack-api-version');
  if (std) {
    for (const part of std.split(',')) {
      const [svc, ver] = part.trim().split(/\s+/);
      if (svc?.toLowerCase() === 'compute' && ver) return ver;
    }
  }
  const legacy = header(ctx, 'x-openstack-nova-api-version');
  return legacy ? legacy.split(',')[0]!.trim() : null;
}

function versionDoc(w: World, ctx: Ctx) {
  return {
    id: 'v2.1',
    status: 'CURRENT',
    version: w.maxMicroversion,
    min_version: '2.1',
    updated: '2013-07-23T11:33:21Z',
    links: [
      { rel: 'self', href: `${w.base}${ctx.prefix}/v2.1/` },
      { rel: 'describedby', type: 'text/html', href: 'http://docs.openstack.org/' },
    ],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.compute+json;version=2.1' }],
  };
}

interface NovaReq {
  w: World;
  ctx: Ctx;
  v: Version;
  /** Response headers common to this request (microversion echo, request ids). */
  h: Record<string, string>;
  /** '/<project_id>' when the URL carried the project id, else ''. */
  pidPart: string;
}

const notFoundResource = (ctx: Ctx, h: Record<string, string>) => webobError(404, 'The resource could not be found.', ctx.headers, { extraHeaders: h });

export function handleCompute(w: World, ctx: Ctx): Reply {
  const rid = requestId();
  const ids = { 'X-Openstack-Request-Id': rid, 'X-Compute-Request-Id': rid };
  const rest = ctx.rest;
  if (rest === '' || rest === '/') {
    return novaJson(
      200,
      {
        versions: [
          { id: 'v2.0', status: 'SUPPORTED', version: '', min_version: '', updated: '2011-01-21T11:33:21Z', links: [{ rel: 'self', href: `${w.base}${ctx.prefix}/v2/` }] },
          { id: 'v2.1', status: 'CURRENT', version: w.maxMicroversion, min_version: '2.1', updated: '2013-07-23T11:33:21Z', links: [{ rel: 'self', href: `${w.base}${ctx.prefix}/v2.1/` }] },
        ],
      },
      {},
    );
  }
  if (!(rest === '/v2.1' || rest.startsWith('/v2.1/'))) return notFoundResource(ctx, ids);

  const versionHeaders = (v: string) => ({
    'OpenStack-API-Version': `compute ${v}`,
    'X-OpenStack-Nova-API-Version': v,
    Vary: 'OpenStack-API-Version, X-OpenStack-Nova-API-Version',
  });
  // Microversion negotiation.
  const raw = requestedVersion(ctx);
  let v: Version = MIN_VERSION;
  const max = parseV(w.maxMicroversion);
  if (raw !== null) {
    if (raw === 'latest') v = max;
    else if (!/^([1-9]\d*)\.([1-9]\d*|0)$/.test(raw)) {
      return badRequest(`API Version String ${raw} is of invalid format. Must be of format MajorNum.MinorNum.`, ids);
    } else {
      v = parseV(raw);
      if (cmpV(v, MIN_VERSION) < 0 || cmpV(v, max) > 0) {
        return novaFault(406, 'computeFault', `Version ${raw} is not supported by the API. Minimum is 2.1 and maximum is ${w.maxMicroversion}.`, {
          ...versionHeaders(raw),
          ...ids,
        });
      }
    }
  }
  const h = { ...versionHeaders(vStr(v)), ...ids };

  // The version document needs no token.
  if (rest === '/v2.1' || rest === '/v2.1/') return novaJson(200, { version: versionDoc(w, ctx) }, h);

  const token = authenticate(w, ctx);
  if (!token) return serviceUnauthorized(w, ctx);

  let sub = rest.slice('/v2.1'.length); // '/servers...' or '/<pid>/servers...'
  let pidPart = '';
  const m = /^\/([0-9a-f-]{16,})(\/.*)?$/i.exec(sub);
  if (m && !/^\/servers/.test(sub)) {
    const pid = m[1]!;
    if (m[2] === undefined) return notFoundResource(ctx, h);
    if (pid !== token.projectId) {
      return badRequest(`Malformed request URL: URL's project_id '${pid}' doesn't match Context's project_id '${token.projectId}'`, h);
    }
    pidPart = `/${pid}`;
    sub = m[2];
    if (sub === '/') return novaJson(200, { version: versionDoc(w, ctx) }, h);
  }
  const req: NovaReq = { w, ctx, v, h, pidPart };
  w.settle();

  if (sub === '/servers' || sub === '/servers/detail') {
    if (ctx.method !== 'GET') return notFoundResource(ctx, h);
    return listServers(req, sub === '/servers/detail');
  }
  const sm = /^\/servers\/([^/]+)(\/action)?$/.exec(sub);
  if (sm) {
    const id = decodeURIComponent(sm[1]!);
    const region = w.regions.get(ctx.region ?? '');
    const server = region?.servers.get(id);
    if (sm[2]) {
      if (ctx.method !== 'POST') return notFoundResource(ctx, h);
      return serverAction(req, id, server);
    }
    if (ctx.method !== 'GET') return notFoundResource(ctx, h);
    if (!server || server.projectId !== token.projectId) return novaFault(404, 'itemNotFound', `Instance ${id} could not be found.`, h);
    return novaJson(200, { server: serverDetail(req, server) }, h);
  }
  return notFoundResource(ctx, h);
}

function computeRoot(req: NovaReq): string {
  return `${req.w.base}${req.ctx.prefix}`;
}

function serverLinks(req: NovaReq, id: string) {
  const root = computeRoot(req);
  return [
    { rel: 'self', href: `${root}/v2.1${req.pidPart}/servers/${id}` },
    { rel: 'bookmark', href: `${root}${req.pidPart}/servers/${id}` },
  ];
}

function serverDetail(req: NovaReq, s: ServerRec): Map<string, unknown> {
  const { w, v } = req;
  const now = w.now();
  const task = w.taskState(s, now);
  const root = computeRoot(req);
  const o = new Map<string, unknown>([
    ['id', s.id],
    ['name', s.name],
    ['status', WorldClass.statusOf(s.vmState, task)],
    ['tenant_id', s.projectId],
    ['user_id', s.userId],
    ['metadata', {}],
    ['hostId', s.hostId],
    ['image', s.volumeBacked ? '' : { id: s.imageRef, links: [{ rel: 'bookmark', href: `${root}${req.pidPart}/images/${s.imageRef}` }] }],
    [
      'flavor',
      ge(v, '2.47')
        ? { vcpus: 2, ram: 7000, disk: 50, ephemeral: 0, swap: 0, original_name: 'b2-7', extra_specs: {} }
        : { id: 'b2-7', links: [{ rel: 'bookmark', href: `${root}${req.pidPart}/flavors/b2-7` }] },
    ],
    ['created', isoZ(s.createdAt)],
    ['updated', isoZ(w.serverUpdatedAt(s, now))],
    ['addresses', {}],
    ['accessIPv4', ''],
    ['accessIPv6', ''],
    ['links', serverLinks(req, s.id)],
    ['OS-DCF:diskConfig', 'MANUAL'],
    ['progress', 0],
    ['OS-EXT-AZ:availability_zone', 'nova'],
    ['config_drive', ''],
    ['key_name', null],
    ['OS-SRV-USG:launched_at', s.launchedAt === null ? null : isoMicroNaive(s.launchedAt)],
    ['OS-SRV-USG:terminated_at', null],
    ['OS-EXT-STS:task_state', task],
    ['OS-EXT-STS:vm_state', s.vmState],
    ['OS-EXT-STS:power_state', POWER_STATE[s.vmState] ?? 0],
    [
      'os-extended-volumes:volumes_attached',
      s.volumeBacked && s.rootVolumeId ? [ge(v, '2.3') ? { id: s.rootVolumeId, delete_on_termination: false } : { id: s.rootVolumeId }] : [],
    ],
  ]);
  if (ge(v, '2.9')) o.set('locked', false);
  if (ge(v, '2.73')) o.set('locked_reason', null);
  if (ge(v, '2.19')) o.set('description', null);
  if (ge(v, '2.26')) o.set('tags', []);
  if (ge(v, '2.63')) o.set('trusted_image_certificates', null);
  if (ge(v, '2.90')) o.set('OS-EXT-SRV-ATTR:hostname', s.name.toLowerCase().replace(/[^a-z0-9-]/g, '-'));
  if (ge(v, '2.71')) o.set('server_groups', []);
  return o;
}

function listServers(req: NovaReq, detail: boolean): Reply {
  const { w, ctx, h } = req;
  const pairs = queryPairs(ctx.url.search);
  const params = lastWins(pairs);
  let nameRe: RegExp | null = null;
  const name = params.get('name');
  if (name !== undefined) {
    // Python re semantics approximated with JS RegExp; MariaDB REGEXP on a _ci column is case-insensitive.
    try {
      if (name === '') throw new Error('empty');
      nameRe = new RegExp(name, 'i');
    } catch {
      return badRequest(`Invalid input for query parameters name. Value: ${name}. ${pyRepr(name)} is not a 'regex'`, h);
    }
  }
  const limitRaw = params.get('limit');
  let limit = 1000;
  if (limitRaw !== undefined) {
    if (!/^[0-9]*$/.test(limitRaw)) {
      return badRequest(`Invalid input for query parameters limit. Value: ${limitRaw}. ${pyRepr(limitRaw)} does not match '^[0-9]*$'`, h);
    }
    if (limitRaw !== '') limit = Math.min(Number(limitRaw), 1000);
  }
  const status = params.get('status');
  const region = w.regions.get(ctx.region ?? '');
  const all = [...(region?.servers.values() ?? [])].filter((s) => s.projectId === w.demo.projectId);
  const now = w.now();
  const filtered = all.filter((s) => {
    if (nameRe && !nameRe.test(s.name)) return false;
    if (status !== undefined && WorldClass.statusOf(s.vmState, w.taskState(s, now)).toLowerCase() !== status.toLowerCase()) return false;
    return true;
  });
  // Default sort: created_at desc, id desc.
  const cmp = (a: ServerRec, b: ServerRec) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
  filtered.sort(cmp);
  let start = 0;
  const marker = params.get('marker');
  if (marker !== undefined) {
    const m = all.find((s) => s.id === marker);
    if (!m) return badRequest(`marker [${marker}] not found`, h);
    start = filtered.findIndex((s) => cmp(s, m) > 0);
    if (start < 0) start = filtered.length;
  }
  const page = limit === 0 ? [] : filtered.slice(start, start + limit);
  const servers = page.map((s) => (detail ? serverDetail(req, s) : new Map<string, unknown>([['id', s.id], ['name', s.name], ['links', serverLinks(req, s.id)]])));
  const body: Record<string, unknown> = { servers };
  if (limit > 0 && page.length === limit) {
    // nova: OrderedDict(sorted(request.params.items())), then params["marker"] = last id.
    const sorted = [...pairs].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
    const od = new Map<string, string>();
    for (const [k, val] of sorted) od.set(k, val);
    od.set('marker', page[page.length - 1]!.id);
    body.servers_links = [{ rel: 'next', href: `${computeRoot(req)}/v2.1${req.pidPart}/servers${detail ? '/detail' : ''}?${urlencode(od)}` }];
  }
  return novaJson(200, body, h);
}

// ---------------------------------------------------------------------------------------------
// Server actions

const invalid = (field: string, value: unknown, why: string) => `Invalid input for field/attribute ${field}. Value: ${pyStr(value)}. ${why}`;
const METADATA_KEY = /^[a-zA-Z0-9-_:. ]{1,255}$/;

/** nova/api/openstack/compute/schemas/servers.py create_image + parameter_types (name, metadata). */
function validateCreateImage(ci: unknown): string | null {
  if (!isObject(ci)) return invalid('createImage', ci, `${pyRepr(ci)} is not of type 'object'`);
  for (const k of Object.keys(ci)) {
    if (k !== 'name' && k !== 'metadata') {
      const extra = Object.keys(ci).filter((x) => x !== 'name' && x !== 'metadata');
      return invalid('createImage', ci, `Additional properties are not allowed (${extra.map(pyRepr).join(', ')} ${extra.length > 1 ? 'were' : 'was'} unexpected)`);
    }
  }
  if (!('name' in ci)) return invalid('createImage', ci, "'name' is a required property");
  const name = ci.name;
  if (typeof name !== 'string') return invalid('name', name, `${pyRepr(name)} is not of type 'string'`);
  if (name.length < 1) return invalid('name', name, `${pyRepr(name)} is too short`);
  if (name.length > 255) return invalid('name', name, `${pyRepr(name)} is too long`);
  // eslint-disable-next-line no-control-regex
  if (name.trim() !== name || /[\x00-\x1f\x7f]/.test(name)) {
    return "An invalid 'name' value was provided. The name must be: printable characters. Can not start or end with whitespace.";
  }
  if ('metadata' in ci) {
    const md = ci.metadata;
    if (!isObject(md)) return invalid('metadata', md, `${pyRepr(md)} is not of type 'object'`);
    for (const [k, val] of Object.entries(md)) {
      if (!METADATA_KEY.test(k)) return invalid('metadata', md, `${pyRepr(k)} does not match any of the regexes: '^[a-zA-Z0-9-_:. ]{1,255}$'`);
      if (typeof val !== 'string') return invalid(k, val, `${pyRepr(val)} is not of type 'string'`);
      if (val.length > 255) return invalid(k, val, `${pyRepr(val)} is too long`);
    }
  }
  return null;
}

const SNAPSHOT_VM_STATES = new Set(['active', 'stopped', 'paused', 'suspended']);

function serverAction(req: NovaReq, id: string, server: ServerRec | undefined): Reply {
  const { w, ctx, h } = req;
  let body: unknown;
  try {
    body = JSON.parse(ctx.body.toString('utf8'));
  } catch {
    return badRequest('Malformed request body', h);
  }
  // The real one: JSON arrays and null fall through to a 404, other non-objects are malformed.
  if (Array.isArray(body) || body === null) return novaFault(404, 'itemNotFound', 'The resource could not be found.', h);
  if (!isObject(body) || Object.keys(body).length !== 1) return badRequest('Malformed request body', h);
  const action = Object.keys(body)[0]!;
  if (action !== 'createImage') {
    // Only createImage is implemented here; anything else is answered like an unknown action.
    return badRequest(`There is no such action: ${action}`, h);
  }
  const error = validateCreateImage(body.createImage);
  if (error) return badRequest(error, h);
  if (!server || server.projectId !== w.demo.projectId) return novaFault(404, 'itemNotFound', `Instance ${id} could not be found.`, h);
  const ci = body.createImage as { name: string; metadata?: Record<string, string> };
  const conflict = (attr: string, state: string | null) =>
    novaFault(409, 'conflictingRequest', `Cannot 'createImage' instance ${server.id} while it is in ${attr} ${state === null ? 'None' : state}`, h);
  if (!SNAPSHOT_VM_STATES.has(server.vmState)) return conflict('vm_state', server.vmState);
  const task = w.taskState(server);
  if (task !== null) return conflict('task_state', task);
  if (server.launchedAt === null) return conflict('launched_at', null);

  let imageId: string;
  if (server.volumeBacked) {
    imageId = w.volumeBackedSnapshot(server, ci.name, ci.metadata ?? {}).image.id;
  } else {
    const f = w.faults.takeSnapshotFault({ method: ctx.method, service: 'compute', path: ctx.record.path, region: ctx.region, action: 'createImage' });
    let fault: { outcome: SnapshotOutcome; afterMs?: number } | null = null;
    if (f) {
      ctx.record.fault = f.spec.kind;
      const spec = f.spec;
      if (spec.kind === 'image-killed') fault = { outcome: 'killed', ...(spec.afterMs !== undefined ? { afterMs: spec.afterMs } : {}) };
      else if (spec.kind === 'image-vanish') fault = { outcome: 'vanish', ...(spec.afterMs !== undefined ? { afterMs: spec.afterMs } : {}) };
      else fault = { outcome: 'stuck' };
    }
    imageId = w.startImageSnapshot(server, ci.name, ci.metadata ?? {}, fault).id;
  }
  if (ge(req.v, '2.45')) return novaJson(202, { image_id: imageId }, h);
  // < 2.45: empty body + Location. Nova discovers the Glance endpoint through the version document
  // (.../v2/), strips the version to '.../' and appends '/images/<id>': hence the double slash the
  // real cloud sends (http://127.0.0.1:9292//images/<id>).
  return empty(202, { ...h, Location: `${w.base}/glance/${server.region}//images/${imageId}` });
}
