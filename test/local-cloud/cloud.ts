// LocalCloud: an in-process OpenStack-compatible cloud (Keystone v3, Nova v2.1, Glance v2, Cinder v3)
// on one 127.0.0.1 port, with fault injection and a request log. Used by the end-to-end tests (in
// the test process), by benchmarks and the README quick start (standalone: server.ts).
//
//   /identity/v3/...                 Keystone     (also /identity-internal, /identity-admin)
//   /compute/REGION/v2.1/...         Nova         (also /compute-internal/REGION, /compute-admin/REGION)
//   /glance/REGION/v2/...            Glance       (catalog URL is /glance/REGION, unversioned, by default)
//   /volume/REGION/v3/{project}/...  Cinder       (only in cinderRegions)
//   /_local/...                      admin API    (see admin.ts)
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { handleLocal } from './admin.ts';
import type { AdminHost } from './admin.ts';
import { handleVolume } from './cinder.ts';
import type { Ctx } from './context.ts';
import type { ArmedFault } from './faults.ts';
import { statusFaultReply } from './faults.ts';
import { handleImage } from './glance.ts';
import { catalog, handleIdentity, serviceUnauthorized } from './keystone.ts';
import { handleCompute } from './nova.ts';
import type {
  DemoCredentials,
  EndpointInterface,
  FaultSpec,
  Image,
  ImageSpec,
  LocalCloudOptions,
  RecordService,
  RequestRecord,
  Server,
  ServerSpec,
  VolumeSnapshot,
  VolumeSnapshotSpec,
  VolumeSpec,
} from './types.ts';
import { parseJson, isObject, pyJson } from './util.ts';
import type { Reply } from './util.ts';
import { World } from './world.ts';

export type * from './types.ts';

const SERVICE_BY_SEGMENT: Record<string, RecordService> = { identity: 'identity', compute: 'compute', glance: 'image', volume: 'volume' };

interface Route {
  service: RecordService | null;
  iface: EndpointInterface | null;
  region: string | null;
  prefix: string;
  rest: string;
}

export class LocalCloud implements AdminHost {
  readonly url: string;
  readonly authUrl: string;
  readonly demo: DemoCredentials;
  readonly regionNames: string[];
  readonly cinderRegions: string[];
  /** The model behind the APIs (for tests that need more than the helpers below). */
  readonly world: World;
  private readonly http: HttpServer;
  private readonly t0: number;
  private records: RequestRecord[] = [];
  private readonly timers = new Set<{ timer: NodeJS.Timeout; resolve: (ok: boolean) => void }>();
  private stopped = false;

  private constructor(world: World, http: HttpServer, port: number, t0: number) {
    this.world = world;
    this.http = http;
    this.t0 = t0;
    this.url = `http://127.0.0.1:${port}`;
    this.authUrl = `${this.url}/identity/v3`;
    world.base = this.url;
    this.demo = world.demo;
    this.regionNames = [...world.regions.keys()];
    this.cinderRegions = [...world.regions.values()].filter((r) => r.hasCinder).map((r) => r.name);
  }

  /** The demo user's credentials as an OpenStack RC file exports them, for a client of this cloud. */
  openrc(region = 'GRA7', authUrl = this.authUrl): Record<string, string> {
    return {
      OS_AUTH_URL: authUrl,
      OS_IDENTITY_API_VERSION: '3',
      OS_USERNAME: this.demo.username,
      OS_PASSWORD: this.demo.password,
      OS_PROJECT_NAME: this.demo.projectName,
      OS_USER_DOMAIN_NAME: 'Default',
      OS_PROJECT_DOMAIN_NAME: 'Default',
      OS_REGION_NAME: region,
      OS_INTERFACE: 'public',
    };
  }

  static async start(opts: LocalCloudOptions = {}): Promise<LocalCloud> {
    const world = new World(opts);
    const t0 = performance.now();
    let cloud: LocalCloud | undefined;
    const http = createServer((req, res) => {
      if (!cloud) {
        res.writeHead(503).end();
        return;
      }
      void cloud.onRequest(req, res);
    });
    http.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(opts.port ?? 0, '127.0.0.1', () => {
        http.off('error', reject);
        resolve();
      });
    });
    const port = (http.address() as AddressInfo).port;
    cloud = new LocalCloud(world, http, port, t0);
    return cloud;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) {
      clearTimeout(t.timer);
      t.resolve(false);
    }
    this.timers.clear();
    await new Promise<void>((resolve) => {
      this.http.close(() => resolve());
      this.http.closeAllConnections();
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Test helpers

  /** Every request so far (a copy; the records themselves are live until their response is sent). */
  get requests(): RequestRecord[] {
    return this.records.slice();
  }

  resetRequests(): void {
    this.records = [];
  }

  addServer(spec: ServerSpec): Server {
    return this.world.serverView(this.world.addServer(spec));
  }

  setServer(id: string, patch: { status?: string; taskState?: string | null; name?: string }): Server {
    return this.world.serverView(this.world.setServer(id, patch));
  }

  server(id: string): Server | undefined {
    this.world.settle();
    const s = this.world.findServer(id);
    return s && this.world.serverView(s);
  }

  servers(region?: string): Server[] {
    this.world.settle();
    const regions = region === undefined ? [...this.world.regions.values()] : [this.world.region(region)];
    return regions.flatMap((r) => [...r.servers.values()].map((s) => this.world.serverView(s)));
  }

  addImage(spec: ImageSpec): Image {
    return this.world.imageView(this.world.addImage(spec));
  }

  /** Bulk seeding: `fn(i)` returns the per-image spec (name defaults to image-<i>). */
  addImages(region: string, count: number, fn?: (i: number) => Partial<ImageSpec>): Image[] {
    return this.world.addImages(region, count, fn).map((i) => this.world.imageView(i));
  }

  /** Current images of a region (insertion order), including the public base image unless baseImages: false. */
  images(region: string): Image[] {
    this.world.settle();
    return [...this.world.region(region).images.values()].map((i) => this.world.imageView(i));
  }

  image(id: string): Image | undefined {
    this.world.settle();
    const i = this.world.findImage(id);
    return i && this.world.imageView(i);
  }

  /** Make DELETE of this image answer 409 (in use by the backend store), or undo it. */
  markInUse(id: string, inUse = true): void {
    const i = this.world.findImage(id);
    if (!i) throw new Error(`no image ${id}`);
    i.inUse = inUse;
  }

  volumeSnapshots(region: string): VolumeSnapshot[] {
    this.world.settle();
    return [...this.world.region(region).volSnaps.values()].map((s) => this.world.volSnapView(s));
  }

  addVolumeSnapshot(spec: VolumeSnapshotSpec): VolumeSnapshot {
    return this.world.volSnapView(this.world.addVolumeSnapshot(spec));
  }

  /** A volume (made from a Cinder snapshot, or attached to a server): what makes a volume snapshot, and its image, in use. */
  addVolume(spec: VolumeSpec): string {
    const id = spec.id ?? randomUUID();
    this.world.region(spec.region).volumes.set(id, { ...spec, id });
    return id;
  }

  fault(spec: FaultSpec): void {
    this.world.faults.add(spec);
  }

  clearFaults(): void {
    this.world.faults.clear();
  }

  /** Armed faults with their counters (seen = matching requests, applied = times used). */
  get faults(): readonly ArmedFault[] {
    return this.world.faults.armed;
  }

  /** Invalidate every token issued so far (clients must re-authenticate). */
  expireTokens(): void {
    this.world.expireTokens();
  }

  /** Move the cloud's clock forward (snapshot progress, token expiry, Cinder deletes). */
  advance(ms: number): void {
    this.world.advance(ms);
  }

  /** The cloud's current time (real time plus everything advance()d). */
  now(): Date {
    return new Date(this.world.now());
  }

  /** The service catalog a token gets. */
  catalog(): unknown[] {
    return catalog(this.world);
  }

  // ---------------------------------------------------------------------------------------------
  // HTTP

  private route(pathname: string): Route {
    if (pathname === '/_local' || pathname.startsWith('/_local/')) {
      return { service: 'local', iface: null, region: null, prefix: '/_local', rest: pathname.slice('/_local'.length) };
    }
    const m = /^\/(identity|compute|glance|volume)(?:-(internal|admin))?(\/.*)?$/.exec(pathname);
    if (!m) return { service: null, iface: null, region: null, prefix: '', rest: pathname };
    const service = SERVICE_BY_SEGMENT[m[1]!]!;
    const iface = (m[2] ?? 'public') as EndpointInterface;
    const seg = `/${m[1]}${m[2] ? `-${m[2]}` : ''}`;
    const after = m[3] ?? '';
    if (service === 'identity') return { service, iface, region: null, prefix: seg, rest: after };
    const rm = /^\/([^/]+)(\/.*)?$/.exec(after);
    const region = rm ? decodeURIComponent(rm[1]!) : null;
    const known = region !== null && this.world.regions.has(region) && (service !== 'volume' || this.world.regions.get(region)!.hasCinder);
    if (!known) return { service, iface, region: null, prefix: seg, rest: after };
    return { service, iface, region, prefix: `${seg}/${rm![1]}`, rest: rm![2] ?? '' };
  }

  private sleep(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.timers.delete(entry);
          resolve(true);
        }, ms),
        resolve,
      };
      this.timers.add(entry);
    });
  }

  private dispatch(ctx: Ctx, route: Route): Reply {
    try {
      switch (ctx.service) {
        case 'local':
          return handleLocal(this, ctx);
        case 'identity':
          return handleIdentity(this.world, ctx);
        case 'compute':
          return route.region ? handleCompute(this.world, ctx) : notFound();
        case 'image':
          return route.region ? handleImage(this.world, ctx) : notFound();
        case 'volume':
          return route.region ? handleVolume(this.world, ctx) : notFound();
        default:
          return notFound();
      }
    } catch (e) {
      const msg = e instanceof Error ? (e.stack ?? e.message) : String(e);
      return { status: 500, headers: { 'Content-Type': 'application/json' }, body: pyJson({ error: { code: 500, message: `local cloud bug: ${msg}` } }) };
    }
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const rawPath = req.url ?? '/';
    const url = new URL(rawPath, this.url);
    const route = this.route(url.pathname);
    const service: RecordService | null = route.service;
    const rec: RequestRecord = {
      t: Math.round((performance.now() - this.t0) * 1000) / 1000,
      method,
      path: rawPath,
      service: service ?? 'local',
      region: route.region,
      interface: route.iface,
      status: 0,
      mutating: false,
    };
    this.records.push(rec);

    const chunks: Buffer[] = [];
    try {
      for await (const c of req) chunks.push(c as Buffer);
    } catch {
      return; // client went away mid-body
    }
    const body = Buffer.concat(chunks);
    const ctx: Ctx = { method, url, headers: req.headers, body, service: service ?? 'local', iface: route.iface, region: route.region, prefix: route.prefix, rest: route.rest, record: rec };
    if (service === 'compute' && method === 'POST' && /\/action$/.test(route.rest)) {
      const parsed = parseJson(body);
      if (isObject(parsed) && Object.keys(parsed).length === 1) rec.action = Object.keys(parsed)[0];
    }
    rec.mutating =
      service !== 'local' &&
      service !== null &&
      method !== 'GET' &&
      method !== 'HEAD' &&
      !(service === 'identity' && method === 'POST' && /\/auth\/tokens\/?$/.test(route.rest));

    let fault: ArmedFault | undefined;
    if (service !== null && service !== 'local') {
      fault = this.world.faults.takeRequestFault({ method, service, path: rawPath, region: route.region, ...(rec.action ? { action: rec.action } : {}) });
    }
    let reply: Reply | undefined;
    if (fault) {
      const spec = fault.spec;
      rec.fault = spec.kind;
      switch (spec.kind) {
        case 'status':
          reply = statusFaultReply(spec);
          break;
        case 'reset':
          rec.status = 0;
          req.socket.destroy();
          return;
        case 'expire-token': {
          const tok = req.headers['x-auth-token'];
          const t = typeof tok === 'string' ? this.world.tokens.get(tok) : undefined;
          if (t) t.revoked = true;
          reply = serviceUnauthorized(this.world, ctx);
          break;
        }
        case 'delay':
          if (spec.beforeExecute) {
            if (!(await this.sleep(spec.ms))) return;
          }
          break;
        default:
          break;
      }
    }
    reply ??= this.dispatch(ctx, route);
    rec.status = reply.status;
    if (fault?.spec.kind === 'delay' && !fault.spec.beforeExecute) {
      if (!(await this.sleep(fault.spec.ms))) return;
    }
    if (fault?.spec.kind === 'lose-response') {
      req.socket.destroy();
      return;
    }
    if (res.destroyed || this.stopped) return;
    const payload = typeof reply.body === 'string' ? Buffer.from(reply.body, 'utf8') : reply.body;
    const headers: Record<string, string | number> = { ...reply.headers };
    if (reply.status !== 204 && reply.status !== 304) headers['Content-Length'] = payload.length;
    res.writeHead(reply.status, headers);
    res.end(reply.status === 204 || method === 'HEAD' ? undefined : payload);
  }
}

function notFound(): Reply {
  return { status: 404, headers: { 'Content-Type': 'text/plain; charset=UTF-8' }, body: '404 Not Found\n\nThe resource could not be found.\n\n   ' };
}
