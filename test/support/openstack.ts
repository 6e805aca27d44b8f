// The checking client of the tests and the benchmark: Keystone, Nova, Glance and Cinder with plain
// fetch, not the action's code. The contract suite sends the action's requests raw through it
// (the headers, microversion and paths of src/openstack/, answers untyped: their shape is what
// it checks); the real tier, the contract's real target and the benchmark read results and make
// their fixtures with its few typed calls. Everything it makes carries RUN_PROPERTY = its tag.
import assert from 'node:assert/strict';
import { findEndpoint, type CatalogEntry, type Interface } from '../../src/openstack/catalog.ts';
import { imageRoot } from '../../src/openstack/image.ts';
import { VOLUME_SERVICE_TYPES } from '../../src/openstack/volume.ts';
import { poll } from './poll.ts';

/** The Glance property (and Nova metadata) every image made by a test carries: cleanup finds them by it. */
export const RUN_PROPERTY = 'osa_e2e_run';
/** The action's compute microversion (compute.ts). */
export const MICROVERSION = '2.45';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface Answer {
  method: string;
  url: string;
  status: number;
  headers: Headers;
  text: string;
  /** Parsed JSON, else the text: untyped, since checking its shape is the point. */
  body: any;
}

export async function send(
  method: string,
  url: string,
  opts: { token?: string; json?: unknown; body?: Uint8Array<ArrayBuffer>; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const type = opts.json !== undefined ? 'application/json' : opts.body ? 'application/octet-stream' : undefined;
  const response = await fetch(url, {
    method,
    headers: { accept: 'application/json', ...(opts.token ? { 'x-auth-token': opts.token } : {}), ...(type ? { 'content-type': type } : {}), ...opts.headers },
    body: opts.json !== undefined ? JSON.stringify(opts.json) : opts.body,
    redirect: 'manual',
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: kept as text (Glance's HTML, an empty 202)
  }
  return { method, url, status: response.status, headers: response.headers, text, body };
}

/** The answer, when its status is one of `statuses` (by default any 2xx). */
export function expect(answer: Answer, ...statuses: number[]): Answer {
  const ok = statuses.length ? statuses.includes(answer.status) : answer.status >= 200 && answer.status < 300;
  assert.ok(ok, `${answer.method} ${answer.url} answered ${answer.status}: ${answer.text.slice(0, 500)}`);
  return answer;
}

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
export type Credentials = { password: PasswordAuth } | { appcred: AppCredAuth };

/** identity.ts's authentication bodies. */
export const passwordAuth = (
  p: PasswordAuth,
  scope: unknown = { project: p.projectId ? { id: p.projectId } : { name: p.projectName, domain: { name: p.projectDomainName } } },
) => ({
  auth: { identity: { methods: ['password'], password: { user: { name: p.username, domain: { name: p.userDomainName }, password: p.password } } }, scope },
});
export const appcredAuth = (c: AppCredAuth) => ({
  auth: { identity: { methods: ['application_credential'], application_credential: { id: c.id, secret: c.secret } } },
});

/** What the tests read of the services' records; the rest as the service gave it. */
export interface Image {
  id: string;
  name: string | null;
  status: string;
  created_at: string;
  protected: boolean;
  [property: string]: any;
}
export interface Server {
  id: string;
  name: string;
  status: string;
  'OS-EXT-STS:task_state': string | null;
  [key: string]: any;
}
export interface VolumeSnapshot {
  id: string;
  name: string | null;
  status: string;
  volume_id: string;
  [key: string]: any;
}

/** ACTIVE with no task: running, and free for a snapshot. */
export const isIdle = (s: Server) => s.status === 'ACTIVE' && s['OS-EXT-STS:task_state'] === null;

type Service = 'compute' | 'image' | 'volume';
const TYPES: Record<Service, readonly string[]> = { compute: ['compute'], image: ['image'], volume: VOLUME_SERVICE_TYPES };
interface Where {
  region: string;
  iface?: Interface;
  tag: string;
}
interface Call {
  region?: string;
  json?: unknown;
  body?: Uint8Array<ArrayBuffer>;
  headers?: Record<string, string>;
}

/** A project-scoped session: a token (renewed before it expires), its catalog, and the calls. */
export class OpenStack {
  /** The region and interface of every call that names none. */
  readonly region: string;
  readonly iface: Interface;
  /** RUN_PROPERTY of everything it makes. */
  readonly tag: string;
  token = '';
  projectId = '';
  catalog: CatalogEntry[] = [];
  readonly #authUrl: string;
  readonly #credentials: Credentials;
  #expires = 0;

  private constructor(authUrl: string, credentials: Credentials, opts: Where) {
    this.#authUrl = authUrl;
    this.#credentials = credentials;
    this.region = opts.region;
    this.iface = opts.iface ?? 'public';
    this.tag = opts.tag;
  }

  static async login(authUrl: string, credentials: Credentials, opts: Where): Promise<OpenStack> {
    const session = new OpenStack(authUrl, credentials, opts);
    await session.#login();
    return session;
  }

  async #login(): Promise<void> {
    const json = 'password' in this.#credentials ? passwordAuth(this.#credentials.password) : appcredAuth(this.#credentials.appcred);
    const answer = expect(await send('POST', `${this.#authUrl}/auth/tokens`, { json }), 201);
    this.token = answer.headers.get('x-subject-token') ?? '';
    this.projectId = answer.body.token.project.id;
    this.catalog = answer.body.token.catalog;
    this.#expires = Date.parse(answer.body.token.expires_at);
  }

  /** The URL of a service (any of `types`) as the action finds it; CatalogError when there is none. */
  endpoint(types: readonly string[], region = this.region, iface = this.iface): string {
    return findEndpoint(this.catalog, types, region, iface);
  }

  has(service: Service, region = this.region): boolean {
    return this.catalog.some((entry) => TYPES[service].includes(entry.type) && entry.endpoints.some((e) => (e.region_id ?? e.region) === region));
  }

  async #call(service: Service, method: string, path: string, { region, ...opts }: Call): Promise<Answer> {
    if (Date.now() > this.#expires - 120_000) await this.#login();
    const endpoint = this.endpoint(TYPES[service], region);
    return send(method, `${service === 'image' ? imageRoot(endpoint) : endpoint}${path}`, { token: this.token, ...opts });
  }

  /** Nova at the action's microversion (null: none, the base version). */
  nova(method: string, path: string, { version = MICROVERSION, ...opts }: Call & { version?: string | null } = {}): Promise<Answer> {
    return this.#call('compute', method, path, {
      ...opts,
      headers: { ...(version ? { 'openstack-api-version': `compute ${version}` } : {}), ...opts.headers },
    });
  }

  /** Glance, from the unversioned root (`next` links are paths from there). */
  glance(method: string, path: string, opts: Call = {}): Promise<Answer> {
    return this.#call('image', method, path, opts);
  }

  cinder(method: string, path: string, opts: Call = {}): Promise<Answer> {
    return this.#call('volume', method, path, opts);
  }

  // Glance

  async image(id: string, region?: string): Promise<Image | undefined> {
    const answer = expect(await this.glance('GET', `/v2/images/${id}`, { region }), 200, 404);
    return answer.status === 200 ? answer.body : undefined;
  }

  /** Every image the query lists, following `next`. */
  async images(query: Record<string, string>, region?: string): Promise<Image[]> {
    const all: Image[] = [];
    for (let path: string | undefined = `/v2/images?${new URLSearchParams(query)}`; path;) {
      const page: { images: Image[]; next?: string } = expect(await this.glance('GET', path, { region })).body;
      all.push(...page.images);
      path = page.next;
    }
    return all;
  }

  /**
   * An image made directly in Glance, carrying `properties`: what a snapshot of this action looks
   * like to a listing, at a fraction of its cost. Active with 1 byte of data, unless `active` is
   * false: then queued, like a snapshot still being made.
   */
  async seedImage(name: string, properties: Record<string, string>, opts: { region?: string; active?: boolean; protected?: boolean } = {}): Promise<Image> {
    const json = {
      name,
      disk_format: 'raw',
      container_format: 'bare',
      visibility: 'private',
      protected: opts.protected ?? false,
      [RUN_PROPERTY]: this.tag,
      ...properties,
    };
    const { id } = expect(await this.glance('POST', '/v2/images', { region: opts.region, json })).body;
    if (opts.active !== false) expect(await this.glance('PUT', `/v2/images/${id}/file`, { region: opts.region, body: new Uint8Array([0]) }));
    return (await this.image(id, opts.region)) ?? assert.fail(`image ${id} is gone`);
  }

  async patchImage(id: string, ops: unknown[], region?: string): Promise<Image> {
    const headers = { 'content-type': 'application/openstack-images-v2.1-json-patch' };
    return expect(await this.glance('PATCH', `/v2/images/${id}`, { region, json: ops, headers })).body;
  }

  setProtected(id: string, value: boolean, region?: string): Promise<Image> {
    return this.patchImage(id, [{ op: 'replace', path: '/protected', value }], region);
  }

  async deleteImage(id: string, region?: string): Promise<'deleted' | 'missing'> {
    return expect(await this.glance('DELETE', `/v2/images/${id}`, { region }), 204, 404).status === 204 ? 'deleted' : 'missing';
  }

  // Nova

  async server(id: string, region?: string): Promise<Server> {
    return expect(await this.nova('GET', `/servers/${id}`, { region }), 200).body.server;
  }

  /** Servers named exactly `name` (Nova's filter is a regex: anchored here). */
  async serversNamed(name: string, region?: string): Promise<Server[]> {
    const filter = `^${name.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&')}$`;
    const answer = expect(await this.nova('GET', `/servers/detail?${new URLSearchParams({ limit: '1000', name: filter })}`, { region }));
    return answer.body.servers.filter((s: Server) => s.name === name);
  }

  /** The server with this ID, or else the one server of this exact name. */
  async serverNamed(nameOrId: string, region?: string): Promise<Server> {
    if (UUID.test(nameOrId)) {
      const answer = expect(await this.nova('GET', `/servers/${nameOrId}`, { region }), 200, 404);
      if (answer.status === 200) return answer.body.server;
    }
    const found = await this.serversNamed(nameOrId, region);
    assert.equal(found.length, 1, `one server named ${nameOrId} in ${region ?? this.region}`);
    return found[0]!;
  }

  async waitServer(
    id: string,
    done: (server: Server) => boolean,
    { region, timeoutMs = 120_000 }: { region?: string; timeoutMs?: number } = {},
  ): Promise<Server> {
    return poll(
      `server ${id} in ${region ?? this.region}`,
      async () => {
        const server = await this.server(id, region);
        return done(server) && server;
      },
      { timeoutMs, everyMs: 500 },
    );
  }

  /** A server with no network (2.37+ for "networks": "none", 2.52+ for tags), marked with the tag, once it is ACTIVE or ERROR. */
  async createServer(body: Record<string, unknown>, { region, timeoutMs }: { region?: string; timeoutMs?: number } = {}): Promise<Server> {
    const json = { server: { networks: 'none', metadata: { [RUN_PROPERTY]: this.tag }, ...body } };
    const { id } = expect(await this.nova('POST', '/servers', { region, json, version: '2.60' })).body.server;
    return this.waitServer(id, (s) => s.status === 'ACTIVE' || s.status === 'ERROR', { region, timeoutMs });
  }

  async deleteServer(id: string, region?: string): Promise<void> {
    expect(await this.nova('DELETE', `/servers/${id}`, { region }), 204, 404);
    await poll(`server ${id} gone`, async () => expect(await this.nova('GET', `/servers/${id}`, { region }), 200, 404).status === 404, { everyMs: 500 });
  }

  /** createImage as compute.ts sends it (as Horizon or the CLI would), marked with the tag. */
  createImage(serverId: string, name: string, opts: { version?: string | null; region?: string } = {}): Promise<Answer> {
    return this.nova('POST', `/servers/${serverId}/action`, { ...opts, json: { createImage: { name, metadata: { [RUN_PROPERTY]: this.tag } } } });
  }

  // Cinder

  async volumeSnapshot(id: string, region?: string): Promise<VolumeSnapshot | undefined> {
    const answer = expect(await this.cinder('GET', `/snapshots/${id}`, { region }), 200, 404);
    return answer.status === 200 ? answer.body.snapshot : undefined;
  }

  async volumeSnapshots(region?: string): Promise<VolumeSnapshot[]> {
    return expect(await this.cinder('GET', '/snapshots/detail', { region })).body.snapshots;
  }

  async deleteVolumeSnapshot(id: string, region?: string): Promise<void> {
    expect(await this.cinder('DELETE', `/snapshots/${id}`, { region }), 202, 404);
  }

  /** Until the volume snapshot is gone (Cinder deletes asynchronously: deleting, then 404). */
  async volumeSnapshotGone(id: string, region?: string): Promise<void> {
    await poll(`volume snapshot ${id} gone`, async () => !(await this.volumeSnapshot(id, region)), { timeoutMs: 30_000, everyMs: 300 });
  }
}
