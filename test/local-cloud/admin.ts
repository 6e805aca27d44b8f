// The admin API under /_local/ (not in the catalog; service 'local' in request records, never
// mutating, never subject to faults), used by the standalone server's clients: benchmarks and the
// README quick start. All bodies are JSON; errors are 400/404 {"error": "..."}.
//
//   GET    /_local/info                     {url, authUrl, demo, regions}
//   GET    /_local/requests                 RequestRecord[]
//   POST   /_local/reset-requests           204
//   GET    /_local/faults                   armed faults with counters {id, kind, match, times, after, seen, applied}
//   POST   /_local/faults                   FaultSpec or FaultSpec[]; match.path is a regex source string; times -1 = forever
//   DELETE /_local/faults                   204
//   GET    /_local/images?region=GRA7       Image[]
//   POST   /_local/images                   {region, count, template} bulk seed, or an ImageSpec (one image).
//                                            template: any ImageSpec fields; '{i}' / '{i:5}' in strings become the index
//                                            (zero-padded to 5); createdAt (default now) is the newest image and each next
//                                            one is stepSeconds (default 60) older. -> {count, ids}
//   POST   /_local/images/{id}/in-use       {inUse?: boolean} -> DELETE of that image answers 409
//   GET    /_local/servers[?region=]        Server[]
//   POST   /_local/servers                  ServerSpec -> Server
//   PATCH  /_local/servers/{id}             {status?, taskState?} -> Server
//   GET    /_local/volume-snapshots?region= VolumeSnapshot[]
//   POST   /_local/volume-snapshots         VolumeSnapshotSpec -> VolumeSnapshot
//   POST   /_local/expire-tokens            204 (every token issued so far becomes invalid)
//   POST   /_local/advance                  {ms} -> 204 (moves the cloud clock forward)
import type { Ctx } from './context.ts';
import { faultFromJson } from './faults.ts';
import type { ArmedFault } from './faults.ts';
import type { FaultSpec, Image, ImageSpec, RequestRecord, Server, ServerSpec, VolumeSnapshot, VolumeSnapshotSpec } from './types.ts';
import { isObject, parseJson } from './util.ts';
import type { Reply } from './util.ts';

/** What the admin API needs from LocalCloud (structural, to keep the import graph acyclic). */
export interface AdminHost {
  readonly url: string;
  readonly authUrl: string;
  readonly demo: unknown;
  readonly requests: RequestRecord[];
  resetRequests(): void;
  fault(spec: FaultSpec): void;
  clearFaults(): void;
  readonly faults: readonly ArmedFault[];
  addImage(spec: ImageSpec): Image;
  addImages(region: string, count: number, fn?: (i: number) => Partial<ImageSpec>): Image[];
  images(region: string): Image[];
  markInUse(id: string, inUse?: boolean): void;
  addServer(spec: ServerSpec): Server;
  setServer(id: string, patch: { status?: string; taskState?: string | null }): Server;
  servers(region?: string): Server[];
  volumeSnapshots(region: string): VolumeSnapshot[];
  addVolumeSnapshot(spec: VolumeSnapshotSpec): VolumeSnapshot;
  expireTokens(): void;
  advance(ms: number): void;
  readonly regionNames: string[];
}

const ok = (status: number, body?: unknown): Reply => ({
  status,
  headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
  body: body === undefined ? '' : JSON.stringify(body),
});
const bad = (msg: string, status = 400): Reply => ok(status, { error: msg });

function substitute(v: unknown, i: number): unknown {
  if (typeof v === 'string') return v.replace(/\{i\}/g, String(i)).replace(/\{i:(\d+)\}/g, (_m, w: string) => String(i).padStart(Number(w), '0'));
  if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, substitute(x, i)]));
  return v;
}

function faultJson(f: ArmedFault) {
  const { match, ...rest } = f.spec;
  return {
    id: f.id,
    ...rest,
    times: rest.times === Number.POSITIVE_INFINITY ? -1 : rest.times,
    match: { ...match, ...(match.path ? { path: match.path.source } : {}) },
    seen: f.seen,
    applied: f.applied,
  };
}

export function handleLocal(host: AdminHost, ctx: Ctx): Reply {
  const p = ctx.rest;
  const m = ctx.method;
  const body = parseJson(ctx.body);
  const q = ctx.url.searchParams;
  const regionParam = () => {
    const r = q.get('region');
    if (r !== null) return r;
    return host.regionNames[0]!;
  };
  try {
    if (p === '/info' && m === 'GET') return ok(200, { url: host.url, authUrl: host.authUrl, demo: host.demo, regions: host.regionNames });
    if (p === '/requests' && m === 'GET') return ok(200, host.requests);
    if (p === '/reset-requests' && m === 'POST') {
      host.resetRequests();
      return ok(204);
    }
    if (p === '/faults') {
      if (m === 'GET') return ok(200, host.faults.map(faultJson));
      if (m === 'DELETE') {
        host.clearFaults();
        return ok(204);
      }
      if (m === 'POST') {
        const specs = Array.isArray(body) ? body : [body];
        for (const s of specs) host.fault(faultFromJson(s));
        return ok(201, { armed: host.faults.length });
      }
    }
    if (p === '/images') {
      if (m === 'GET') return ok(200, host.images(regionParam()));
      if (m === 'POST') {
        if (!isObject(body) || typeof body.region !== 'string') return bad('body must be {region, count, template} or an image spec with region and name');
        if (body.count === undefined) return ok(201, host.addImage(body as unknown as ImageSpec));
        const count = Number(body.count);
        if (!Number.isInteger(count) || count < 0) return bad('count must be a non-negative integer');
        const template = isObject(body.template) ? body.template : {};
        const base = template.createdAt !== undefined ? Date.parse(String(template.createdAt)) : Date.now();
        if (Number.isNaN(base)) return bad('template.createdAt is not a date');
        const step = template.stepSeconds === undefined ? 60 : Number(template.stepSeconds);
        const { stepSeconds: _s, createdAt: _c, ...rest } = template;
        void _s;
        void _c;
        const images = host.addImages(body.region, count, (i) => ({
          name: `image-${i}`,
          ...(substitute(rest, i) as Partial<ImageSpec>),
          createdAt: new Date(base - i * step * 1000),
        }));
        return ok(201, { count: images.length, ids: images.map((x) => x.id) });
      }
    }
    const inUse = /^\/images\/([^/]+)\/in-use$/.exec(p);
    if (inUse && m === 'POST') {
      host.markInUse(decodeURIComponent(inUse[1]!), !(isObject(body) && body.inUse === false));
      return ok(204);
    }
    if (p === '/servers') {
      if (m === 'GET') return ok(200, host.servers(q.get('region') ?? undefined));
      if (m === 'POST') {
        if (!isObject(body)) return bad('body must be a server spec');
        return ok(201, host.addServer(body as unknown as ServerSpec));
      }
    }
    const srv = /^\/servers\/([^/]+)$/.exec(p);
    if (srv && (m === 'PATCH' || m === 'POST')) {
      if (!isObject(body)) return bad('body must be {status?, taskState?}');
      return ok(200, host.setServer(decodeURIComponent(srv[1]!), body as { status?: string; taskState?: string | null }));
    }
    if (p === '/volume-snapshots') {
      if (m === 'GET') return ok(200, host.volumeSnapshots(regionParam()));
      if (m === 'POST') {
        if (!isObject(body)) return bad('body must be a volume snapshot spec');
        return ok(201, host.addVolumeSnapshot(body as unknown as VolumeSnapshotSpec));
      }
    }
    if (p === '/expire-tokens' && m === 'POST') {
      host.expireTokens();
      return ok(204);
    }
    if (p === '/advance' && m === 'POST') {
      const ms = isObject(body) ? Number(body.ms) : Number.NaN;
      if (!Number.isFinite(ms)) return bad('body must be {ms}');
      host.advance(ms);
      return ok(204);
    }
  } catch (e) {
    return bad(e instanceof Error ? e.message : String(e));
  }
  return bad(`no such admin route: ${m} /_local${p}`, 404);
}
