// Nova v2.1: microversions, servers (show, list with the name filter and paging) and the server
// actions createImage (image- and volume-backed) and rebuild. Bodies and statuses as the loopback
// cloud's Nova 26 (Zed), messages from nova/api/openstack/compute/servers.py and nova/compute/api.py.
import { serviceUnauthorized } from './keystone.ts';
import type { ActionRec, ServerRec, SnapshotOutcome, World } from './world.ts';
import { FLAVORS, POWER_STATE, World as WorldClass } from './world.ts';
import { empty, fault, header, isObject, isoMicroNaive, isoZ, json, nextLink, page, parseJson, uuid, webobError, type Ctx, type Reply } from './http.ts';

type Version = [number, number];
const parseVersion = (s: string): Version => s.split('.').map(Number) as Version;
const atLeast = (v: Version, s: string) => {
  const [major, minor] = parseVersion(s);
  return v[0] > major || (v[0] === major && v[1] >= minor);
};

interface NovaReq {
  w: World;
  ctx: Ctx;
  v: Version;
  /** Headers of every answer: the microversion echoed, the request ID. */
  h: Record<string, string>;
  /** The endpoint: http://…/compute/REGION/v2.1/PROJECT. */
  root: string;
}

/** The microversion asked for (OpenStack-API-Version: compute X.Y), the answer's headers, or the refusal. */
function negotiate(w: World, ctx: Ctx): { v: Version; h: Record<string, string> } | Reply {
  const asked = /(?:^|,)\s*compute\s+([^\s,]+)/i.exec(header(ctx, 'openstack-api-version') ?? '')?.[1];
  const rid = `req-${uuid()}`;
  const echo = (v: string) => ({
    'OpenStack-API-Version': `compute ${v}`,
    'X-OpenStack-Nova-API-Version': v,
    Vary: 'OpenStack-API-Version, X-OpenStack-Nova-API-Version',
    'X-Openstack-Request-Id': rid,
    'X-Compute-Request-Id': rid,
  });
  if (asked === undefined) return { v: [2, 1], h: echo('2.1') };
  const v = parseVersion(asked);
  // Refused before Nova acts: the action falls back to the base version.
  if (!atLeast(v, '2.1') || !atLeast(parseVersion(w.maxMicroversion), asked)) {
    return fault(406, 'computeFault', `Version ${asked} is not supported by the API. Minimum is 2.1 and maximum is ${w.maxMicroversion}.`, echo(asked));
  }
  return { v, h: echo(asked) };
}

export function handleCompute(w: World, ctx: Ctx): Reply {
  // keystonemiddleware comes first in Nova's pipeline: a bad token is 401 whatever else is wrong.
  if (!w.validToken(header(ctx, 'x-auth-token'))) return serviceUnauthorized(w, ctx);
  const m = /^\/v2\.1\/([0-9a-f]{32})(\/.*)$/.exec(ctx.rest);
  if (!m || m[1] !== w.demo.projectId) return webobError(404, 'The resource could not be found.', ctx);
  const negotiated = negotiate(w, ctx);
  if ('status' in negotiated) return negotiated;
  const req: NovaReq = { w, ctx, ...negotiated, root: `${w.base}/compute${ctx.iface === 'public' ? '' : `-${ctx.iface}`}/${ctx.region}/v2.1/${m[1]}` };
  w.settle();
  const sub = m[2]!;
  if (sub === '/servers/detail' && ctx.method === 'GET') return listServers(req);
  if (sub === '/servers' && ctx.method === 'POST') return createServer(req);
  if (sub === '/flavors/detail' && ctx.method === 'GET') return json(200, { flavors: Object.keys(FLAVORS).map((id) => flavorJson(id)) }, req.h);
  const fm = /^\/flavors\/([^/]+)$/.exec(sub);
  if (fm && ctx.method === 'GET') return showFlavor(req, decodeURIComponent(fm[1]!));
  const am = /^\/servers\/([^/]+)\/os-instance-actions(?:\/([^/]+))?$/.exec(sub);
  if (am && ctx.method === 'GET') return instanceActions(req, decodeURIComponent(am[1]!), am[2] === undefined ? undefined : decodeURIComponent(am[2]));
  const sm = /^\/servers\/([^/]+)(\/action)?$/.exec(sub);
  const deleting = sm && !sm[2] && ctx.method === 'DELETE';
  if (!sm || (ctx.method !== (sm[2] ? 'POST' : 'GET') && !deleting)) return webobError(404, 'The resource could not be found.', ctx, req.h);
  const id = decodeURIComponent(sm[1]!);
  const server = w.region(ctx.region!).servers.get(id);
  if (!server) return fault(404, 'itemNotFound', `Instance ${id} could not be found.`, req.h);
  if (deleting) {
    w.deleteServer(server);
    return empty(204, req.h);
  }
  return sm[2] ? serverAction(req, server) : json(200, { server: serverDetail(req, server) }, req.h);
}

function serverDetail(req: NovaReq, s: ServerRec): Record<string, unknown> {
  const { vmState, taskState } = req.w.state(s);
  return {
    id: s.id,
    name: s.name,
    status: WorldClass.statusOf(vmState, taskState),
    ...(s.projectId === null ? {} : { tenant_id: s.projectId }),
    user_id: s.userId,
    metadata: s.metadata,
    ...(atLeast(req.v, '2.26') ? { tags: s.tags } : {}),
    hostId: s.hostId,
    // "" for a server booted from a volume.
    image: s.volumeBacked ? '' : { id: s.imageRef, links: [{ rel: 'bookmark', href: `${req.root.replace('/v2.1', '')}/images/${s.imageRef}` }] },
    flavor: { id: s.flavorId, links: [{ rel: 'bookmark', href: `${req.root.replace('/v2.1', '')}/flavors/${s.flavorId}` }] },
    created: isoZ(s.createdAt),
    updated: isoZ(s.updatedAt),
    addresses: {},
    links: [{ rel: 'self', href: `${req.root}/servers/${s.id}` }],
    'OS-EXT-STS:task_state': taskState,
    'OS-EXT-STS:vm_state': vmState,
    'OS-EXT-STS:power_state': POWER_STATE[vmState] ?? 0,
    'os-extended-volumes:volumes_attached': [...(s.rootVolumeId ? [s.rootVolumeId] : []), ...req.w.attachedVolumes(s)].map((id) => ({
      id,
      delete_on_termination: false,
    })),
    ...(vmState === 'error' && s.fault ? { fault: { code: 500, message: s.fault, created: isoZ(s.updatedAt) } } : {}),
  };
}

/** GET /flavors/{id}: what the flavor gives a server (restore compares its root disk with the image's min_disk). */
function showFlavor(req: NovaReq, id: string): Reply {
  if (!FLAVORS[id]) return fault(404, 'itemNotFound', `Flavor ${id} could not be found.`, req.h);
  return json(200, { flavor: flavorJson(id) }, req.h);
}

const flavorJson = (id: string) => ({ id, name: id, ...FLAVORS[id], 'OS-FLV-EXT-DATA:ephemeral': 0, swap: 0, 'os-flavor-access:is_public': true });

/** What the fake virt driver's console shows (nova/virt/fake.py get_console_output). */
export const FAKE_CONSOLE = 'FAKE CONSOLE OUTPUT\nANOTHER\nLAST LINE';

/**
 * POST /servers: the schema (networks "none" from 2.37, else a list; without it Nova would
 * auto-allocate, which the loopback cloud's Neutron stub answers with a 500), then the image and
 * the flavor as nova/compute/api.py checks them; 202 with the ID, then BUILD until it boots.
 */
function createServer(req: NovaReq): Reply {
  const { w, ctx } = req;
  const body = parseJson(ctx.body);
  const args = isObject(body) && isObject(body.server) ? body.server : undefined;
  if (!args || typeof args.name !== 'string' || !args.name)
    return fault(400, 'badRequest', "Invalid input for field/attribute server. 'name' is a required property", req.h);
  const networks = args.networks;
  if (networks === undefined) return fault(500, 'computeFault', "Unexpected API Error. <class 'neutronclient.common.exceptions.NotFound'>", req.h);
  if (typeof networks === 'string' ? !atLeast(req.v, '2.37') || !['none', 'auto'].includes(networks) : !Array.isArray(networks))
    return fault(400, 'badRequest', `Invalid input for field/attribute networks. Value: ${JSON.stringify(networks)}.`, req.h);
  if (Array.isArray(networks) && networks.length) return fault(400, 'badRequest', `Network ${JSON.stringify(networks[0])} could not be found.`, req.h);
  const image = w.region(ctx.region!).images.get(String(args.imageRef ?? ''));
  if (!image || (image.owner !== w.demo.projectId && image.visibility !== 'public')) return fault(400, 'badRequest', 'Can not find requested image', req.h);
  if (image.status !== 'active') return fault(400, 'badRequest', `Image ${image.id} is not active.`, req.h);
  const flavorId = String(args.flavorRef ?? '');
  const flavor = FLAVORS[flavorId];
  if (!flavor) return fault(400, 'badRequest', `Flavor ${flavorId} could not be found.`, req.h);
  const volumeBacked = image.props.get('bdm_v2') === 'True';
  if (!volumeBacked && flavor.disk > 0 && Math.max(image.minDisk * 1024 ** 3, image.size ?? 0) > flavor.disk * 1024 ** 3)
    return fault(
      400,
      'badRequest',
      `Flavor's disk is too small for requested image. Flavor disk is ${flavor.disk * 1024 ** 3} bytes, image is ${image.size ?? 0} bytes.`,
      req.h,
    );
  const metadata = isObject(args.metadata) ? (args.metadata as Record<string, string>) : {};
  const f = w.faults.take({ method: ctx.method, service: 'compute', path: ctx.record.path, region: ctx.region }, 'boot');
  if (f) ctx.record.fault = f.spec.kind;
  const booting = f?.spec.kind === 'boot-error' ? { message: f.spec.message } : f?.spec.kind === 'boot-stuck' ? { stuck: true } : null;
  const server = w.bootServer(ctx.region!, { name: args.name, image, flavorId, metadata }, booting);
  return json(
    202,
    {
      server: {
        id: server.id,
        links: [{ rel: 'self', href: `${req.root}/servers/${server.id}` }],
        'OS-DCF:diskConfig': 'MANUAL',
        security_groups: [],
        adminPass: uuid().slice(0, 12),
      },
    },
    { ...req.h, Location: `${req.root}/servers/${server.id}` },
  );
}

/** GET /servers/detail: the name filter is a case-insensitive regex (MySQL REGEXP), newest first, keyset pages with a next link. */
function listServers(req: NovaReq): Reply {
  const params = req.ctx.url.searchParams;
  const name = params.get('name');
  const pattern = name === null ? undefined : new RegExp(name, 'i');
  // tags= (all of them) from 2.26; below it Nova ignores the filter.
  const tags = atLeast(req.v, '2.26') ? (params.get('tags')?.split(',').filter(Boolean) ?? []) : [];
  // changes-since: updated at or after it (each task state change updates the server in Nova).
  const since = params.get('changes-since');
  const sinceMs = since === null ? undefined : Date.parse(since);
  if (sinceMs !== undefined && Number.isNaN(sinceMs))
    return fault(400, 'badRequest', `Invalid input for query parameters changes-since. Value: ${since}.`, req.h);
  const all = [...req.w.region(req.ctx.region!).servers.values()]
    .filter((s) => s.projectId === req.w.demo.projectId)
    .filter((s) => !pattern || pattern.test(s.name))
    .filter((s) => tags.every((tag) => s.tags.includes(tag)))
    .filter((s) => sinceMs === undefined || req.w.updatedAt(s) >= sinceMs)
    .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1));
  const servers = page(all, params);
  if (!servers) return fault(400, 'badRequest', `marker [${params.get('marker')}] not found`, req.h);
  return json(200, { servers: servers.map((s) => serverDetail(req, s)), servers_links: nextLink(`${req.root}/servers/detail`, params, servers) }, req.h);
}

// ---------------------------------------------------------------------------------------------
// Server actions

/** The vm_states each action is allowed in (nova/compute/api.py check_instance_state); every action needs task_state None. */
const ALLOWED_VM_STATES: Record<string, string[]> = {
  createImage: ['active', 'stopped', 'paused', 'suspended'],
  rebuild: ['active', 'stopped', 'error'],
  'os-stop': ['active', 'rescued', 'error'],
  'os-start': ['stopped'],
};
/** Actions whose body is `{"action": null}`. */
const POWER = new Set(['os-stop', 'os-start']);

function serverAction(req: NovaReq, server: ServerRec): Reply {
  const body = parseJson(req.ctx.body);
  if (!isObject(body) || Object.keys(body).length !== 1) return fault(400, 'badRequest', 'Malformed request body', req.h);
  const action = Object.keys(body)[0]!;
  const args = body[action];
  if (action === 'os-getConsoleOutput') {
    const { vmState } = req.w.state(server);
    // The fake driver's console, once the guest runs (Nova: 409 while it builds).
    if (vmState !== 'active')
      return fault(409, 'conflictingRequest', `Cannot 'get_console_output' instance ${server.id} while it is in vm_state ${vmState}`, req.h);
    return json(200, { output: FAKE_CONSOLE }, req.h);
  }
  const allowed = ALLOWED_VM_STATES[action];
  if (!allowed || (!isObject(args) && !POWER.has(action))) return fault(400, 'badRequest', `There is no such action: ${action}`, req.h);
  // raise_http_conflict_for_instance_invalid_state
  // Nova names os-stop and os-start by their methods (servers.py _stop_server, _start_server).
  const named = action.replace(/^os-/, '');
  const conflict = (attr: string, state: string) =>
    fault(409, 'conflictingRequest', `Cannot '${named}' instance ${server.id} while it is in ${attr} ${state}`, req.h);
  if (POWER.has(action)) {
    const { vmState, taskState } = req.w.state(server);
    if (!allowed.includes(vmState)) return conflict('vm_state', vmState);
    if (taskState !== null) return conflict('task_state', taskState);
    req.w.startPower(server, action === 'os-stop' ? 'stopped' : 'active');
    return empty(202, req.h);
  }
  if (!isObject(args)) return fault(400, 'badRequest', `There is no such action: ${action}`, req.h);
  // The request's schema first, then the state (check_instance_state wraps the compute API call), then what the call checks.
  const required = action === 'rebuild' ? 'imageRef' : 'name';
  if (typeof args[required] !== 'string' || !args[required]) {
    return fault(400, 'badRequest', `Invalid input for field/attribute ${action}. Value: ${JSON.stringify(args)}. '${required}' is a required property`, req.h);
  }
  // parameter_types.name: at most 255 characters.
  if (action === 'createImage' && (args.name as string).length > 255)
    return fault(400, 'badRequest', `Invalid input for field/attribute name. Value: ${args.name}. '${args.name}' is too long`, req.h);
  const { vmState, taskState } = req.w.state(server);
  if (!allowed.includes(vmState)) return conflict('vm_state', vmState);
  if (taskState !== null) return conflict('task_state', taskState);
  return action === 'rebuild' ? rebuild(req, server, args.imageRef as string) : createImage(req, server, args.name as string, args.metadata);
}

function createImage(req: NovaReq, server: ServerRec, name: string, requested: unknown): Reply {
  const { w, ctx } = req;
  const metadata = isObject(requested) ? (requested as Record<string, string>) : {};
  let imageId: string;
  if (server.volumeBacked) imageId = w.volumeBackedSnapshot(server, name, metadata).id;
  else {
    const f = w.faults.take({ method: ctx.method, service: 'compute', path: ctx.record.path, region: ctx.region, action: 'createImage' }, 'createImage');
    let outcome: { outcome: SnapshotOutcome; afterMs?: number; status?: string } | null = null;
    if (f) {
      ctx.record.fault = f.spec.kind;
      const spec = f.spec;
      outcome =
        spec.kind === 'image-killed'
          ? { outcome: 'killed', afterMs: spec.afterMs, status: spec.status }
          : spec.kind === 'image-vanish'
            ? { outcome: 'vanish', afterMs: spec.afterMs }
            : { outcome: 'stuck' };
    }
    imageId = w.startImageSnapshot(server, name, metadata, outcome).id;
  }
  server.actions.push({ action: 'createImage', requestId: req.h['X-Openstack-Request-Id'] ?? '', start: w.now(), job: server.job });
  if (atLeast(req.v, '2.45')) return json(202, { image_id: imageId }, req.h);
  // Before 2.45: no body, the image only in Location (Nova builds it from the Glance endpoint it
  // found, version stripped: hence the double slash the loopback cloud sends).
  return empty(202, { ...req.h, Location: `${w.base}/glance/${server.region}//images/${imageId}` });
}

/** Why Nova refuses to rebuild with this image (400), in nova/compute/api.py's order. */
function rebuildRefusal(req: NovaReq, server: ServerRec, ref: string): Reply | undefined {
  const image = req.w.region(server.region).images.get(ref);
  if (!image || (image.owner !== req.w.demo.projectId && image.visibility !== 'public'))
    return fault(400, 'badRequest', 'Cannot find image for rebuild', req.h);
  // Before 2.93 the boot volume of a volume-backed server cannot be reimaged: only its own image is accepted.
  if (server.volumeBacked && ref !== server.imageRef && !atLeast(req.v, '2.93')) {
    return fault(400, 'badRequest', `Image ${ref} is unacceptable: Unable to rebuild with a different image for a volume-backed server.`, req.h);
  }
  if (image.status !== 'active') return fault(400, 'badRequest', `Image ${ref} is not active.`, req.h);
  return undefined;
}

/**
 * 202 with the server (status REBUILD, the new image, an adminPass), then rebuilding ->
 * rebuild_block_device_mapping -> rebuild_spawning -> its state before. From 2.93 a volume-backed
 * server's boot volume is reimaged (reimage_boot_volume, whatever the image): on the loopback
 * cloud that failed in nova-compute, the volume left reserved, so here it ends in ERROR so.
 */
function rebuild(req: NovaReq, server: ServerRec, imageRef: string): Reply {
  const refused = rebuildRefusal(req, server, imageRef);
  if (refused) return refused;
  const { ctx } = req;
  const f = req.w.faults.take({ method: ctx.method, service: 'compute', path: ctx.record.path, region: ctx.region, action: 'rebuild' }, 'rebuild');
  if (f) ctx.record.fault = f.spec.kind;
  const failing = f?.spec.kind === 'rebuild-error' ? { fault: f.spec.message } : server.volumeBacked && atLeast(req.v, '2.93') ? {} : null;
  req.w.startRebuild(server, imageRef, failing);
  const detail = serverDetail(req, server);
  // Before 2.75 the answer has the base attributes only.
  if (!atLeast(req.v, '2.75')) for (const key of Object.keys(detail)) if (/^(OS-EXT-STS|os-extended-volumes):/.test(key)) delete detail[key];
  return json(202, { server: { ...detail, adminPass: uuid().slice(0, 12) } }, { ...req.h, Location: `${req.root}/servers/${server.id}` });
}

/**
 * GET /servers/{id}/os-instance-actions[/{request_id}]: the actions newest first; one action's
 * events (from 2.51 for a non-admin). Their details (2.84) are admin-only under Zed's default
 * policy (os_compute_api:os-instance-actions:events:details), and this cloud's user is not one.
 */
function instanceActions(req: NovaReq, serverId: string, requestId: string | undefined): Reply {
  const server = req.w.region(req.ctx.region!).servers.get(serverId);
  if (!server) return fault(404, 'itemNotFound', `Instance ${serverId} could not be found.`, req.h);
  const shown = (a: ActionRec) => ({
    action: a.action,
    instance_uuid: server.id,
    request_id: a.requestId,
    user_id: req.w.demo.userId,
    project_id: server.projectId,
    start_time: isoMicroNaive(a.start),
    message: req.w.actionFailure(a) ? 'Error' : null,
  });
  if (requestId === undefined) return json(200, { instanceActions: [...server.actions].reverse().map(shown) }, req.h);
  const action = server.actions.find((a) => a.requestId === requestId);
  if (!action) return fault(404, 'itemNotFound', `Action ${requestId} not found`, req.h);
  const done = req.w.actionDone(action);
  const failed = req.w.actionFailure(action);
  const event = {
    event: 'compute_snapshot_instance',
    start_time: isoMicroNaive(action.start),
    finish_time: done ? isoMicroNaive(action.job?.taskEndAt ?? action.start) : null,
    result: done ? (failed ? 'Error' : 'Success') : null,
  };
  return json(200, { instanceAction: { ...shown(action), ...(atLeast(req.v, '2.51') ? { events: [event] } : {}) } }, req.h);
}
