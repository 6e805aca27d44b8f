// The real cloud the tier runs against, and a small independent OpenStack client (plain fetch)
// that checks what the action did through the APIs: Keystone, Glance, Nova and Cinder. The
// benchmark (bench/) uses the same client for its own work: setup, seeding and the floor.
//
// The cloud comes from the openrc variables (OS_AUTH_URL, OS_USERNAME, OS_PASSWORD,
// OS_PROJECT_ID / OS_PROJECT_NAME, OS_USER_DOMAIN_NAME, OS_PROJECT_DOMAIN_NAME,
// OS_APPLICATION_CREDENTIAL_ID / _SECRET, OS_REGION_NAME, OS_INTERFACE) plus:
//   OSA_E2E_INSTANCE         server to snapshot in OS_REGION_NAME (must exist, image-backed)
//   OSA_E2E_REGION2          a second region (optional elsewhere; SBG5 on the loopback cloud)
//   OSA_E2E_INSTANCE2        server in that region (default: OSA_E2E_INSTANCE)
//   OSA_E2E_VOLUME_INSTANCE  a volume-backed server in OS_REGION_NAME (optional elsewhere)
//   OSA_E2E_APPCRED_ID / OSA_E2E_APPCRED_SECRET  an application credential of the same project,
//                            when OS_* holds a password (so both kinds can be tested)
//   OSA_E2E_LOOPBACK=0|1     override the loopback detection (by OS_AUTH_URL)
// Without OS_AUTH_URL (or with the loopback's own), the defaults are the loopback cloud of
// ../shared/openstack-loopback: user demo, regions GRA7 and SBG5, osl-test-server, osl-volume-server.

import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const LOOPBACK_AUTH_URL = 'http://127.0.0.1:5000/v3';
/** The Glance custom property every image the tier makes carries: cleanup finds them by it. */
export const RUN_PROPERTY = 'osa_e2e_run';

export interface PasswordAuth {
  username: string;
  password: string;
  userDomainName: string;
  projectId?: string;
  projectName?: string;
  projectDomainName: string;
}
export interface AppCredAuth {
  id: string;
  secret: string;
}

export interface RealConfig {
  authUrl: string;
  /** The loopback cloud of ../shared/openstack-loopback (its knobs and cheap servers are available). */
  loopback: boolean;
  /** The loopback's scripts directory (start.sh, stop.sh), when it is there. */
  oslDir?: string;
  /** The loopback's state directory (/tmp/osl). */
  oslState: string;
  region: string;
  region2?: string;
  instance: string;
  instance2?: string;
  volumeInstance?: string;
  iface: string;
  password?: PasswordAuth;
  appcred?: AppCredAuth;
  /** Unique to this run of the tier: in every name and in RUN_PROPERTY. */
  tag: string;
}

const env = (...names: string[]): string | undefined => names.map((n) => process.env[n]?.trim()).find((v) => v);

export function loadConfig(): RealConfig {
  const authUrl = (env('OS_AUTH_URL') ?? LOOPBACK_AUTH_URL).replace(/\/+$/, '');
  // OSA_E2E_LOOPBACK=0 treats even the loopback cloud as foreign (to try the skips).
  const forced = env('OSA_E2E_LOOPBACK');
  const loopback = forced ? forced === '1' : /^https?:\/\/(127\.0\.0\.1|localhost):5000(\/v3)?$/.test(authUrl);
  const oslState = env('OSL') ?? '/tmp/osl';
  const oslDirCandidate = env('OSL_DIR') ?? resolve(import.meta.dirname, '../../../shared/openstack-loopback');
  const oslDir = loopback && existsSync(resolve(oslDirCandidate, 'start.sh')) ? oslDirCandidate : undefined;

  let password: PasswordAuth | undefined;
  const username = env('OS_USERNAME') ?? (loopback ? 'demo' : undefined);
  const secret = env('OS_PASSWORD') ?? (loopback ? 'demo' : undefined);
  if (username && secret) {
    const projectId = env('OS_PROJECT_ID', 'OS_TENANT_ID');
    password = {
      username,
      password: secret,
      userDomainName: env('OS_USER_DOMAIN_NAME') ?? 'Default',
      projectId,
      projectName: env('OS_PROJECT_NAME', 'OS_TENANT_NAME') ?? (loopback && !projectId ? 'demo' : undefined),
      projectDomainName: env('OS_PROJECT_DOMAIN_NAME') ?? 'Default',
    };
  }

  let appcred: AppCredAuth | undefined;
  const acId = env('OSA_E2E_APPCRED_ID', 'OS_APPLICATION_CREDENTIAL_ID');
  const acSecret = env('OSA_E2E_APPCRED_SECRET', 'OS_APPLICATION_CREDENTIAL_SECRET');
  if (acId && acSecret) appcred = { id: acId, secret: acSecret };
  else if (loopback && existsSync(`${oslState}/appcred-demo.json`)) {
    const file = JSON.parse(readFileSync(`${oslState}/appcred-demo.json`, 'utf8')) as { id: string; secret: string };
    appcred = { id: file.id, secret: file.secret };
  }

  const instance = env('OSA_E2E_INSTANCE') ?? (loopback ? 'osl-test-server' : undefined);
  if (!instance) throw new Error('OSA_E2E_INSTANCE: required on a cloud other than the loopback one (an existing image-backed server to snapshot)');
  const region2 = env('OSA_E2E_REGION2') ?? (loopback ? 'SBG5' : undefined);
  return {
    authUrl: /\/v3$/.test(authUrl) ? authUrl : `${authUrl}/v3`,
    loopback,
    oslDir,
    oslState,
    region: env('OS_REGION_NAME') ?? 'GRA7',
    region2,
    instance,
    instance2: region2 ? (env('OSA_E2E_INSTANCE2') ?? instance) : undefined,
    volumeInstance: env('OSA_E2E_VOLUME_INSTANCE') ?? (loopback ? 'osl-volume-server' : undefined),
    iface: (env('OS_INTERFACE') ?? 'public').replace(/URL$/i, '').toLowerCase(),
    password,
    appcred,
    tag: `osa-real-${new Date().toISOString().slice(11, 19).replace(/:/g, '')}-${randomBytes(3).toString('hex')}`,
  };
}

/** Action inputs that authenticate with a password (no OS_* needed). */
export function passwordInputs(cfg: RealConfig): Record<string, string> {
  const p = cfg.password!;
  return {
    'auth-url': cfg.authUrl,
    username: p.username,
    password: p.password,
    'user-domain-name': p.userDomainName,
    ...(p.projectId ? { 'project-id': p.projectId } : { 'project-name': p.projectName! }),
    'project-domain-name': p.projectDomainName,
  };
}

/** Action inputs that authenticate with the application credential. */
export function appcredInputs(cfg: RealConfig): Record<string, string> {
  return { 'auth-url': cfg.authUrl, 'application-credential-id': cfg.appcred!.id, 'application-credential-secret': cfg.appcred!.secret };
}

/** Only the openrc variables, as `source openrc.sh` would leave them (password if there is one). */
export function openrcEnv(cfg: RealConfig): Record<string, string> {
  const base = { OS_AUTH_URL: cfg.authUrl, OS_IDENTITY_API_VERSION: '3', OS_REGION_NAME: cfg.region, OS_INTERFACE: cfg.iface };
  if (cfg.password) {
    const p = cfg.password;
    return {
      ...base,
      OS_USERNAME: p.username,
      OS_PASSWORD: p.password,
      OS_USER_DOMAIN_NAME: p.userDomainName,
      ...(p.projectId ? { OS_PROJECT_ID: p.projectId } : { OS_PROJECT_NAME: p.projectName! }),
      OS_PROJECT_DOMAIN_NAME: p.projectDomainName,
    };
  }
  return {
    ...base,
    OS_AUTH_TYPE: 'v3applicationcredential',
    OS_APPLICATION_CREDENTIAL_ID: cfg.appcred!.id,
    OS_APPLICATION_CREDENTIAL_SECRET: cfg.appcred!.secret,
  };
}

export interface Image {
  id: string;
  name: string | null;
  status: string;
  size: number | null;
  protected: boolean;
  created_at: string;
  [property: string]: unknown;
}
export interface Server {
  id: string;
  name: string;
  status: string;
  'OS-EXT-STS:task_state': string | null;
  image: unknown;
  [key: string]: unknown;
}
export interface VolumeSnapshot {
  id: string;
  name: string | null;
  status: string;
  volume_id: string;
}

export class ApiError extends Error {
  readonly status: number;
  readonly body: string;
  constructor(method: string, url: string, status: number, body: string) {
    super(`${method} ${url} answered ${status}: ${body.slice(0, 500)}`);
    this.status = status;
    this.body = body;
  }
}

interface CatalogEntry {
  type: string;
  endpoints: { interface: string; region_id?: string; region?: string; url: string }[];
}

/** A project-scoped session of the tier's own (not the action's code). */
export class Api {
  readonly cfg: RealConfig;
  token = '';
  projectId = '';
  userId = '';
  #catalog: CatalogEntry[] = [];
  #expires = 0;

  constructor(cfg: RealConfig) {
    this.cfg = cfg;
  }

  static async connect(cfg: RealConfig): Promise<Api> {
    const api = new Api(cfg);
    await api.#authenticate();
    return api;
  }

  async #authenticate(): Promise<void> {
    const { password, appcred } = this.cfg;
    const identity = password
      ? {
          methods: ['password'],
          password: { user: { name: password.username, domain: { name: password.userDomainName }, password: password.password } },
        }
      : { methods: ['application_credential'], application_credential: { id: appcred!.id, secret: appcred!.secret } };
    const scope = password
      ? { project: password.projectId ? { id: password.projectId } : { name: password.projectName, domain: { name: password.projectDomainName } } }
      : undefined;
    const response = await fetch(`${this.cfg.authUrl}/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ auth: { identity, ...(scope ? { scope } : {}) } }),
    });
    if (response.status !== 201) throw new ApiError('POST', `${this.cfg.authUrl}/auth/tokens`, response.status, await response.text());
    const body = (await response.json()) as { token: { project: { id: string }; user: { id: string }; catalog: CatalogEntry[]; expires_at: string } };
    this.token = response.headers.get('x-subject-token')!;
    this.projectId = body.token.project.id;
    this.userId = body.token.user.id;
    this.#catalog = body.token.catalog;
    this.#expires = new Date(body.token.expires_at).getTime();
  }

  /** The endpoint of a service type in a region, as the catalog lists it. */
  endpoint(types: string[], region: string): string | undefined {
    for (const entry of this.#catalog.filter((e) => types.includes(e.type))) {
      const match = entry.endpoints.find((e) => (e.region_id ?? e.region) === region && e.interface === this.cfg.iface);
      if (match) return match.url.replace(/\/+$/, '');
    }
    return undefined;
  }

  /** Every endpoint of the catalog, by service type: what a proxy put in front of the cloud must listen for. */
  catalogEndpoints(): { type: string; url: string }[] {
    return this.#catalog.flatMap((entry) => entry.endpoints.map((e) => ({ type: entry.type, url: e.url })));
  }

  #base(service: 'image' | 'compute' | 'volume', region: string): string {
    const types = service === 'volume' ? ['block-storage', 'volumev3'] : [service];
    const url = this.endpoint(types, region);
    if (!url) throw new Error(`no ${service} endpoint in region ${region}`);
    return service === 'image' ? url.replace(/\/v2(\.\d+)?$/, '') : url;
  }

  hasVolumes(region: string): boolean {
    return this.endpoint(['block-storage', 'volumev3'], region) !== undefined;
  }

  /** One request; JSON in and out; throws ApiError on a status outside `ok`. */
  async request<T = unknown>(
    service: 'image' | 'compute' | 'volume',
    region: string,
    method: string,
    path: string,
    options: { json?: unknown; body?: Uint8Array<ArrayBuffer>; headers?: Record<string, string>; ok?: number[] } = {},
  ): Promise<{ status: number; body: T; headers: Headers }> {
    if (Date.now() > this.#expires - 120_000) await this.#authenticate();
    const url = `${this.#base(service, region)}${path}`;
    const headers: Record<string, string> = { 'x-auth-token': this.token, accept: 'application/json', ...options.headers };
    let body: string | Uint8Array<ArrayBuffer> | undefined;
    if (options.json !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = JSON.stringify(options.json);
    } else if (options.body) {
      headers['content-type'] ??= 'application/octet-stream';
      body = options.body;
    }
    const response = await fetch(url, { method, headers, body });
    const text = await response.text();
    const ok = options.ok ?? [200, 201, 202, 204];
    if (!ok.includes(response.status)) throw new ApiError(method, url, response.status, text);
    let parsed: unknown = text;
    if (text && (response.headers.get('content-type') ?? '').includes('json')) parsed = JSON.parse(text);
    return { status: response.status, body: parsed as T, headers: response.headers };
  }

  // ---------------------------------------------------------------- Glance

  async getImage(region: string, id: string): Promise<Image | undefined> {
    const r = await this.request<Image>('image', region, 'GET', `/v2/images/${id}`, { ok: [200, 404] });
    return r.status === 404 ? undefined : r.body;
  }

  /** One page of GET /v2/images, as Glance gives it (no limit: Glance's default page size). */
  async imagePage(region: string, query: Record<string, string>): Promise<{ images: Image[]; next?: string }> {
    return (await this.request<{ images: Image[]; next?: string }>('image', region, 'GET', `/v2/images?${new URLSearchParams(query)}`)).body;
  }

  /** Every image matching the query, following `next`. */
  async listImages(region: string, query: Record<string, string>): Promise<Image[]> {
    const all: Image[] = [];
    let path: string | undefined = `/v2/images?${new URLSearchParams(query)}`;
    while (path) {
      const page: { images: Image[]; next?: string } = (await this.request<{ images: Image[]; next?: string }>('image', region, 'GET', path)).body;
      all.push(...page.images);
      path = page.next;
    }
    return all;
  }

  async patchImage(region: string, id: string, ops: unknown[]): Promise<Image> {
    return (
      await this.request<Image>('image', region, 'PATCH', `/v2/images/${id}`, {
        json: ops,
        headers: { 'content-type': 'application/openstack-images-v2.1-json-patch' },
      })
    ).body;
  }

  async setProtected(region: string, id: string, value: boolean): Promise<Image> {
    return this.patchImage(region, id, [{ op: 'replace', path: '/protected', value }]);
  }

  /** 'deleted' or 'missing'. */
  async deleteImage(region: string, id: string): Promise<'deleted' | 'missing'> {
    const r = await this.request('image', region, 'DELETE', `/v2/images/${id}`, { ok: [204, 404] });
    return r.status === 404 ? 'missing' : 'deleted';
  }

  /**
   * An active image made directly in Glance (POST, then 1 byte of data), carrying `properties`:
   * what a snapshot of this action looks like to a listing, at a fraction of its cost. Without
   * data it stays queued, like a snapshot still being made.
   */
  async seedImage(region: string, name: string, properties: Record<string, string>, withData = true): Promise<Image> {
    const created = (
      await this.request<Image>('image', region, 'POST', '/v2/images', {
        json: { name, disk_format: 'raw', container_format: 'bare', visibility: 'private', [RUN_PROPERTY]: this.cfg.tag, ...properties },
      })
    ).body;
    if (!withData) return created;
    await this.request('image', region, 'PUT', `/v2/images/${created.id}/file`, { body: new Uint8Array([0]) });
    return (await this.getImage(region, created.id))!;
  }

  // ---------------------------------------------------------------- Nova

  async getServer(region: string, id: string): Promise<Server | undefined> {
    const r = await this.request<{ server: Server }>('compute', region, 'GET', `/servers/${id}`, {
      ok: [200, 404],
      headers: { 'openstack-api-version': 'compute 2.60' },
    });
    return r.status === 404 ? undefined : r.body.server;
  }

  /** Servers named exactly `name` (Nova's filter is a regex; anchored here). */
  async serversNamed(region: string, name: string): Promise<Server[]> {
    const pattern = `^${name.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&')}$`;
    const r = await this.request<{ servers: Server[] }>('compute', region, 'GET', `/servers/detail?name=${encodeURIComponent(pattern)}`, {
      headers: { 'openstack-api-version': 'compute 2.60' },
    });
    return r.body.servers.filter((s) => s.name === name);
  }

  async serverNamed(region: string, name: string): Promise<Server> {
    const found = await this.serversNamed(region, name);
    if (found.length !== 1) throw new Error(`expected one server named ${name} in ${region}, found ${found.length}`);
    return found[0]!;
  }

  /** Boot a server with no network (microversion 2.37+ for "networks": "none"); wait until ACTIVE. */
  async createServer(region: string, body: Record<string, unknown>, timeoutMs = 120_000): Promise<Server> {
    const r = await this.request<{ server: { id: string } }>('compute', region, 'POST', '/servers', {
      json: { server: { networks: 'none', ...body } },
      headers: { 'openstack-api-version': 'compute 2.60' },
    });
    return this.waitServer(region, r.body.server.id, (s) => s?.status === 'ACTIVE' || s?.status === 'ERROR', timeoutMs);
  }

  async deleteServer(region: string, id: string, timeoutMs = 60_000): Promise<void> {
    await this.request('compute', region, 'DELETE', `/servers/${id}`, { ok: [204, 404] });
    await this.waitServer(region, id, (s) => s === undefined, timeoutMs);
  }

  async waitServer(region: string, id: string, done: (s: Server | undefined) => boolean, timeoutMs: number): Promise<Server> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const server = await this.getServer(region, id);
      if (done(server)) return server!;
      if (Date.now() > deadline) throw new Error(`server ${id}: still ${server?.status}/${server?.['OS-EXT-STS:task_state']} after ${timeoutMs} ms`);
      await sleep(500);
    }
  }

  /** Nova's createImage, as Horizon or the CLI would send it (not through the action). */
  async novaCreateImage(region: string, serverId: string, name: string, metadata: Record<string, string>): Promise<string> {
    const r = await this.request<{ image_id: string }>('compute', region, 'POST', `/servers/${serverId}/action`, {
      json: { createImage: { name, metadata: { [RUN_PROPERTY]: this.cfg.tag, ...metadata } } },
      headers: { 'openstack-api-version': 'compute 2.45' },
    });
    return r.body.image_id;
  }

  // ---------------------------------------------------------------- Cinder

  async getVolumeSnapshot(region: string, id: string): Promise<VolumeSnapshot | undefined> {
    const r = await this.request<{ snapshot: VolumeSnapshot }>('volume', region, 'GET', `/snapshots/${id}`, { ok: [200, 404] });
    return r.status === 404 ? undefined : r.body.snapshot;
  }

  /** A Cinder snapshot taken by hand, as `openstack volume snapshot create --force` does (the volume may be in use). */
  async createVolumeSnapshot(region: string, volumeId: string, name: string): Promise<VolumeSnapshot> {
    const r = await this.request<{ snapshot: VolumeSnapshot }>('volume', region, 'POST', '/snapshots', {
      json: { snapshot: { volume_id: volumeId, name, force: true } },
    });
    return eventually(`volume snapshot ${r.body.snapshot.id} available`, async () => {
      const snapshot = await this.getVolumeSnapshot(region, r.body.snapshot.id);
      return snapshot?.status === 'available' ? snapshot : undefined;
    });
  }

  /** A volume made from a Cinder snapshot (what puts the snapshot, and its image, in use); waits until available. */
  async createVolumeFromSnapshot(region: string, snapshotId: string, name: string): Promise<string> {
    const r = await this.request<{ volume: { id: string } }>('volume', region, 'POST', '/volumes', {
      json: { volume: { size: 1, snapshot_id: snapshotId, name } },
    });
    const id = r.body.volume.id;
    await eventually(`volume ${id} available`, async () => {
      const v = await this.request<{ volume: { status: string } }>('volume', region, 'GET', `/volumes/${id}`);
      if (v.body.volume.status === 'error') throw new Error(`volume ${id} went to error`);
      return v.body.volume.status === 'available' ? true : undefined;
    });
    return id;
  }

  async deleteVolume(region: string, id: string): Promise<void> {
    await this.request('volume', region, 'DELETE', `/volumes/${id}`, { ok: [202, 404] });
    await eventually(`volume ${id} gone`, async () =>
      (await this.request('volume', region, 'GET', `/volumes/${id}`, { ok: [200, 404] })).status === 404 ? true : undefined,
    );
  }

  async listVolumeSnapshots(region: string): Promise<VolumeSnapshot[]> {
    return (await this.request<{ snapshots: VolumeSnapshot[] }>('volume', region, 'GET', '/snapshots/detail')).body.snapshots;
  }

  async deleteVolumeSnapshot(region: string, id: string): Promise<void> {
    await this.request('volume', region, 'DELETE', `/snapshots/${id}`, { ok: [202, 404] });
  }

  /** Until the volume snapshot is gone (Cinder deletes asynchronously: deleting → 404). */
  async volumeSnapshotGone(region: string, id: string, timeoutMs = 30_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const snapshot = await this.getVolumeSnapshot(region, id);
      if (!snapshot) return true;
      if (Date.now() > deadline) return false;
      await sleep(300);
    }
  }
}

/** The Cinder snapshot IDs named by a volume-backed snapshot image (a JSON string property). */
export function bdmSnapshotIds(image: Image): string[] {
  const raw = image.block_device_mapping;
  if (typeof raw !== 'string') return [];
  return (JSON.parse(raw) as { snapshot_id?: string | null }[]).flatMap((d) => (d.snapshot_id ? [d.snapshot_id] : []));
}

/** Poll `check` until it returns a value other than undefined, or throw after timeoutMs. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000, everyMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/**
 * Remove everything this run made in a region: images carrying RUN_PROPERTY = tag (unprotected
 * first; a snapshot still being written is given time to finish), the Cinder snapshots behind
 * them, and Cinder snapshots Nova named after our images ("snapshot for <name>"). Returns what
 * it removed, for the log.
 */
export async function cleanupRegion(api: Api, region: string): Promise<string[]> {
  const removed: string[] = [];
  const tag = api.cfg.tag;
  const images = await api.listImages(region, { [RUN_PROPERTY]: tag, owner: api.projectId });
  const volumeSnapshots = new Set<string>();
  for (const image of images) {
    for (const id of bdmSnapshotIds(image)) volumeSnapshots.add(id);
    if (image.status === 'saving') {
      // Deleting it mid-upload makes Nova's upload fail loudly; it finishes within seconds here.
      await eventually(
        `image ${image.id} to finish saving`,
        async () => ((await api.getImage(region, image.id))?.status === 'saving' ? undefined : true),
        60_000,
      ).catch(() => undefined);
    }
    if (image.protected) await api.setProtected(region, image.id, false).catch(() => undefined);
    if ((await api.deleteImage(region, image.id)) === 'deleted') removed.push(`image ${image.id} (${image.name})`);
  }
  if (api.hasVolumes(region)) {
    for (const snapshot of await api.listVolumeSnapshots(region)) {
      if (snapshot.name?.startsWith(`snapshot for ${tag}`)) volumeSnapshots.add(snapshot.id);
    }
    for (const id of volumeSnapshots) {
      if (await api.getVolumeSnapshot(region, id)) {
        await api.deleteVolumeSnapshot(region, id);
        removed.push(`volume snapshot ${id}`);
      }
    }
  }
  return removed;
}

/**
 * Leftovers of earlier runs that were killed before their after hooks ran: images carrying
 * RUN_PROPERTY (any run) created more than `maxAgeMs` ago, and the Cinder snapshots Nova named
 * after them. A run of the tier takes minutes, so an hour-old one is not running any more.
 */
export async function sweepStale(api: Api, region: string, maxAgeMs = 3_600_000): Promise<string[]> {
  const removed: string[] = [];
  const cutoff = Date.now() - maxAgeMs;
  const images = (await api.listImages(region, { owner: api.projectId, limit: '1000' })).filter(
    (i) => typeof i[RUN_PROPERTY] === 'string' && Date.parse(i.created_at) < cutoff,
  );
  for (const image of images) {
    if (image.protected) await api.setProtected(region, image.id, false).catch(() => undefined);
    for (const id of bdmSnapshotIds(image)) await api.deleteVolumeSnapshot(region, id).catch(() => undefined);
    if ((await api.deleteImage(region, image.id)) === 'deleted') removed.push(`image ${image.id} (${image.name}, ${image.created_at})`);
  }
  if (api.hasVolumes(region)) {
    for (const snapshot of await api.listVolumeSnapshots(region)) {
      const created = (snapshot as unknown as { created_at?: string }).created_at;
      if (snapshot.name?.startsWith('snapshot for osa-real-') && created && Date.parse(`${created.replace(/Z?$/, 'Z')}`) < cutoff) {
        await api.deleteVolumeSnapshot(region, snapshot.id);
        removed.push(`volume snapshot ${snapshot.id} (${snapshot.name})`);
      }
    }
  }
  return removed;
}
