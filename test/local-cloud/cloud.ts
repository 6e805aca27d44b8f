// LocalCloud: an in-process OpenStack double (Keystone v3, Nova v2.1, Glance v2, Cinder v3) on one
// 127.0.0.1 port, with fault injection, a controllable clock and a request log, for the mode tests
// (in-process), the end-to-end tests, the contract suite, the benchmarks and the demo. It does what the action relies on, as
// the loopback cloud does it (test/contract checks both agree), and nothing else.
//
//   /identity/v3/...                  Keystone     (also /identity-internal, /identity-admin)
//   /compute/REGION/v2.1/PROJECT/...  Nova         (also /compute-internal/REGION, /compute-admin/REGION)
//   /glance/REGION/v2/...             Glance       (the catalog URL is /glance/REGION, unversioned)
//   /volume/REGION/v3/PROJECT/...     Cinder       (GRA7 only)
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import { createServer as createHttpsServer, Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { handleVolume } from './cinder.ts';
import { matches, statusFaultReply, type ArmedFault } from './faults.ts';
import { handleImage } from './glance.ts';
import { handleIdentity, serviceUnauthorized } from './keystone.ts';
import { handleCompute } from './nova.ts';
import type {
  DemoCredentials,
  EndpointInterface,
  FaultMatch,
  FaultSpec,
  Image,
  ImageSpec,
  LocalCloudOptions,
  RequestRecord,
  ServiceName,
  Server,
  ServerSpec,
  VolumeSnapshot,
  VolumeSnapshotSpec,
  VolumeSpec,
} from './types.ts';
import { isObject, parseJson, pyJson, type Ctx, type Reply } from './http.ts';
import { World } from './world.ts';

export type * from './types.ts';

type Route = Pick<Ctx, 'service' | 'iface' | 'region' | 'rest'>;

const SERVICES: Record<string, ServiceName> = { identity: 'identity', compute: 'compute', glance: 'image', volume: 'volume' };
const HANDLERS: Record<ServiceName, (w: World, ctx: Ctx) => Reply> = {
  identity: handleIdentity,
  compute: handleCompute,
  image: handleImage,
  volume: handleVolume,
};

export class LocalCloud {
  readonly url: string;
  readonly authUrl: string;
  readonly demo: DemoCredentials;
  readonly regionNames: string[];
  readonly cinderRegions: string[];
  /** The model behind the APIs (for tests that need more than the helpers below). */
  readonly world: World;
  readonly #http: HttpServer;
  readonly #t0 = performance.now();
  #records: RequestRecord[] = [];
  readonly #timers = new Set<{ timer: NodeJS.Timeout; resolve: (ok: boolean) => void }>();
  #watches: { match: FaultMatch; skip: number; act: (record: RequestRecord) => void }[] = [];
  #stopped = false;

  private constructor(world: World, http: HttpServer) {
    this.world = world;
    this.#http = http;
    this.url = `${http instanceof HttpsServer ? 'https' : 'http'}://127.0.0.1:${(http.address() as AddressInfo).port}`;
    this.authUrl = `${this.url}/identity/v3`;
    world.base = this.url;
    this.demo = world.demo;
    this.regionNames = [...world.regions.keys()];
    this.cinderRegions = [...world.regions.values()].filter((r) => r.hasCinder).map((r) => r.name);
  }

  static async start(opts: LocalCloudOptions = {}): Promise<LocalCloud> {
    let cloud: LocalCloud | undefined;
    const onRequest = (req: IncomingMessage, res: ServerResponse) => {
      if (cloud) void cloud.#onRequest(req, res);
    };
    const http = opts.tls ? createHttpsServer(opts.tls, onRequest) : createServer(onRequest);
    http.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(opts.port ?? 0, '127.0.0.1', resolve);
    });
    cloud = new LocalCloud(new World(opts), http);
    return cloud;
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const t of this.#timers) {
      clearTimeout(t.timer);
      t.resolve(false);
    }
    await new Promise<void>((resolve) => {
      this.#http.close(() => resolve());
      this.#http.closeAllConnections();
    });
  }

  /** The demo user's credentials as an OpenStack RC file exports them. */
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

  // ---------------------------------------------------------------------------------------------
  // Test helpers

  /** Every request so far (a copy; a record is filled in until its response is sent). */
  get requests(): RequestRecord[] {
    return this.#records.slice();
  }

  resetRequests(): void {
    this.#records = [];
  }

  addServer(spec: ServerSpec): Server {
    return this.world.serverView(this.world.addServer(spec));
  }

  setServer(id: string, patch: { status?: string; taskState?: string | null; name?: string }): Server {
    return this.world.serverView(this.world.setServer(id, patch));
  }

  /** Every server of the region, as the tests see them. */
  servers(region: string): Server[] {
    this.world.settle();
    return [...this.world.region(region).servers.values()].map((s) => this.world.serverView(s));
  }

  /** Every volume of the region as Cinder lists it (the servers' root volumes, then the others). */
  volumes(region: string): ReturnType<World['volumes']> {
    this.world.settle();
    return this.world.volumes(region);
  }

  server(id: string): Server | undefined {
    this.world.settle();
    const s = this.world.findServer(id);
    return s && this.world.serverView(s);
  }

  addImage(spec: ImageSpec): Image {
    return this.world.imageView(this.world.addImage(spec));
  }

  /** Bulk seeding: `fn(i)` returns the image's spec (name defaults to image-<i>). */
  addImages(region: string, count: number, fn?: (i: number) => Partial<ImageSpec>): Image[] {
    return this.world.addImages(region, count, fn).map((i) => this.world.imageView(i));
  }

  /** The region's images, in insertion order (the public base image first). */
  images(region: string): Image[] {
    this.world.settle();
    return [...this.world.region(region).images.values()].map((i) => this.world.imageView(i));
  }

  image(id: string): Image | undefined {
    this.world.settle();
    const i = this.world.findImage(id);
    return i && this.world.imageView(i);
  }

  setImage(id: string, patch: { status?: string; protected?: boolean }): Image {
    const i = this.world.findImage(id);
    if (!i) throw new Error(`no image ${id}`);
    Object.assign(i, patch);
    return this.world.imageView(i);
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

  /** Call `act` when a request that matches arrives (the first after `after` of them), before it is executed: a test acts at that moment of a run. */
  once(match: FaultMatch, act: (record: RequestRecord) => void, after = 0): void {
    this.#watches.push({ match, skip: after, act });
  }

  clearFaults(): void {
    this.world.faults.clear();
  }

  /** Armed faults with their counters (seen = matching requests, applied = times used). */
  get faults(): readonly ArmedFault[] {
    return this.world.faults.armed;
  }

  /** Move the cloud's clock forward (snapshots, rebuilds, token expiry, Cinder deletes). */
  advance(ms: number): void {
    this.world.advance(ms);
  }

  // ---------------------------------------------------------------------------------------------
  // HTTP

  #route(pathname: string): Route | undefined {
    const m = /^\/(identity|compute|glance|volume)(?:-(internal|admin))?(\/.*)?$/.exec(pathname);
    if (!m) return undefined;
    const service = SERVICES[m[1]!]!;
    const iface = (m[2] ?? 'public') as EndpointInterface;
    if (service === 'identity') return { service, iface, region: null, rest: m[3] ?? '' };
    const rm = /^\/([^/]+)(\/.*)?$/.exec(m[3] ?? '');
    const region = rm ? decodeURIComponent(rm[1]!) : '';
    return this.world.regions.has(region) ? { service, iface, region, rest: rm![2] ?? '' } : undefined;
  }

  #sleep(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.#timers.delete(entry);
          resolve(true);
        }, ms),
        resolve,
      };
      this.#timers.add(entry);
    });
  }

  #dispatch(ctx: Ctx): Reply {
    try {
      return HANDLERS[ctx.service as ServiceName](this.world, ctx);
    } catch (e) {
      // A bug of the double shows as a 500 naming it (and fails the test that met it).
      return {
        status: 500,
        headers: { 'Content-Type': 'application/json' },
        body: pyJson({ error: { code: 500, message: `local cloud bug: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}` } }),
      };
    }
  }

  /** ms since the cloud started. */
  #elapsed(): number {
    return Math.round((performance.now() - this.#t0) * 1000) / 1000;
  }

  /**
   * Once no request has been awaiting its answer, nor come, for `quietMs`: what a client left
   * running in the background has ended (a test waits for it before it stops the cloud).
   */
  async settled(quietMs = 50): Promise<void> {
    const busyUntil = () => Math.max(0, ...this.#records.map((r) => r.end ?? Infinity));
    while (this.#elapsed() - busyUntil() < quietMs) await new Promise((resolve) => setTimeout(resolve, quietMs / 2));
  }

  async #onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const path = req.url ?? '/';
    const route = this.#route(new URL(path, this.url).pathname);
    const rec: RequestRecord = {
      t: this.#elapsed(),
      method,
      path,
      service: route?.service ?? 'local',
      region: route?.region ?? null,
      interface: route?.iface ?? null,
      status: 0,
      mutating: method !== 'GET' && !(route?.service === 'identity' && method === 'POST'),
    };
    this.#records.push(rec);
    try {
      await this.#handle(req, res, rec, route);
    } finally {
      rec.end = this.#elapsed();
    }
  }

  async #handle(req: IncomingMessage, res: ServerResponse, rec: RequestRecord, route: Route | undefined): Promise<void> {
    const { method, path } = rec;
    const url = new URL(path, this.url);
    // An upload of image data refused before it ended (Glance's 413 over image_size_cap, a 503 from a front end): answered at once, the rest of the data drained.
    if (route?.service === 'image' && method === 'PUT' && /\/file$/.test(route.rest)) {
      const early = this.world.faults.take({ method, service: route.service, path, region: route.region }, 'upload');
      if (early?.spec.kind === 'upload-refused') {
        rec.fault = early.spec.kind;
        req.resume();
        return this.#send(res, rec, method, statusFaultReply({ match: {}, kind: 'status', status: early.spec.status, body: early.spec.body }));
      }
    }
    const chunks: Buffer[] = [];
    try {
      for await (const c of req) chunks.push(c as Buffer);
    } catch {
      return; // the client went away mid-body
    }
    const body = Buffer.concat(chunks);
    if (!route)
      return this.#send(res, rec, method, {
        status: 404,
        headers: { 'Content-Type': 'text/plain; charset=UTF-8' },
        body: '404 Not Found\n\nThe resource could not be found.\n\n   ',
      });
    const ctx: Ctx = { method, url, headers: req.headers, body, ...route, record: rec };
    if (route.service === 'compute' && method === 'POST' && /\/action$/.test(route.rest)) {
      const parsed = parseJson(body);
      const [only, ...more] = isObject(parsed) ? Object.entries(parsed) : [];
      if (only && !more.length) [rec.action, rec.args] = only;
    }
    const target = { method, service: route.service, path, region: route.region, ...(rec.action ? { action: rec.action } : {}) };
    for (const watch of this.#watches.filter((w) => matches(w.match, target) && w.skip-- <= 0)) {
      this.#watches.splice(this.#watches.indexOf(watch), 1);
      watch.act(rec);
    }

    const fault = this.world.faults.take(target, 'request');
    const spec = fault?.spec;
    if (spec) rec.fault = spec.kind;
    if (spec?.kind === 'reset') return void req.socket.destroy();
    if (spec?.kind === 'delay' && spec.beforeExecute && !(await this.#sleep(spec.ms))) return;
    let reply: Reply;
    if (spec?.kind === 'status') reply = spec.executed ? (this.#dispatch(ctx), statusFaultReply(spec)) : statusFaultReply(spec);
    else if (spec?.kind === 'expire-token') {
      const token = this.world.tokens.get(String(req.headers['x-auth-token']));
      if (token) token.revoked = true;
      reply = serviceUnauthorized(this.world, ctx);
    } else reply = this.#dispatch(spec?.kind === 'unfiltered' ? { ...ctx, unfiltered: true } : spec?.kind === 'corrupt-data' ? { ...ctx, corrupt: true } : ctx);
    rec.status = reply.status;
    if (spec?.kind === 'delay' && !spec.beforeExecute && !(await this.#sleep(spec.ms))) return;
    // The request was executed; its answer never arrives.
    if (spec?.kind === 'lose-response') return void req.socket.destroy();
    this.#send(res, rec, method, reply);
  }

  #send(res: ServerResponse, rec: RequestRecord, method: string, reply: Reply): void {
    rec.status = reply.status;
    if (res.destroyed || this.#stopped) return;
    const payload = typeof reply.body === 'string' ? Buffer.from(reply.body, 'utf8') : reply.body;
    res.writeHead(reply.status, reply.status === 204 ? reply.headers : { ...reply.headers, 'Content-Length': payload.length });
    res.end(reply.status === 204 || method === 'HEAD' ? undefined : payload);
  }
}
