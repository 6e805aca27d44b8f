// A minimal OpenStack client (fetch) for the benchmark's own work on the real cloud: setting up the
// bench server, seeding images to prune, cleaning up, and the "floor" (the fewest requests that do
// create + wait + delete). Independent of the action's code.
import { readFileSync } from 'node:fs';
import { now, sleep } from './clock.ts';

export interface OpenRc {
  OS_AUTH_URL: string;
  OS_USERNAME: string;
  OS_PASSWORD: string;
  OS_PROJECT_NAME: string;
  OS_USER_DOMAIN_NAME: string;
  OS_PROJECT_DOMAIN_NAME: string;
  OS_REGION_NAME: string;
  OS_INTERFACE: string;
  [key: string]: string;
}

/** `export K=V` lines of an openrc file (e.g. /tmp/osl/demo.env). */
export function readOpenRc(path: string): OpenRc {
  const vars: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^export (\w+)=(.*)$/.exec(line.trim());
    if (m) vars[m[1]!] = m[2]!.replace(/^"(.*)"$/, '$1').replace(/^'(.*)'$/, '$1');
  }
  return vars as OpenRc;
}

export interface Image {
  id: string;
  name: string | null;
  status: string;
  created_at: string;
  updated_at: string;
  [key: string]: unknown;
}

interface CatalogEntry {
  type: string;
  endpoints: { interface: string; region_id?: string; region?: string; url: string }[];
}

export class Api {
  readonly rc: OpenRc;
  readonly authUrl: string;
  token = '';
  projectId = '';
  catalog: CatalogEntry[] = [];

  constructor(rc: OpenRc, authUrl = rc.OS_AUTH_URL) {
    this.rc = rc;
    this.authUrl = authUrl.replace(/\/+$/, '');
  }

  /** One password authentication (one POST /auth/tokens). */
  async authenticate(): Promise<void> {
    const response = await fetch(`${this.authUrl}/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: { methods: ['password'], password: { user: { name: this.rc.OS_USERNAME, domain: { name: this.rc.OS_USER_DOMAIN_NAME || 'Default' }, password: this.rc.OS_PASSWORD } } },
          scope: { project: { name: this.rc.OS_PROJECT_NAME, domain: { name: this.rc.OS_PROJECT_DOMAIN_NAME || 'Default' } } },
        },
      }),
    });
    if (response.status !== 201) throw new Error(`Keystone: ${response.status} ${await response.text()}`);
    this.token = response.headers.get('x-subject-token') ?? '';
    const body = (await response.json()) as { token: { project: { id: string }; catalog: CatalogEntry[] } };
    this.projectId = body.token.project.id;
    this.catalog = body.token.catalog;
  }

  endpoint(type: string, region = this.rc.OS_REGION_NAME, iface = this.rc.OS_INTERFACE || 'public'): string {
    const url = this.catalog
      .find((c) => c.type === type)
      ?.endpoints.find((e) => (e.region_id ?? e.region) === region && e.interface === iface)?.url;
    if (!url) throw new Error(`no ${type} endpoint for ${region}/${iface}`);
    return url.replace(/\/+$/, '');
  }

  get nova(): string {
    return this.endpoint('compute');
  }

  get glance(): string {
    return this.endpoint('image').replace(/\/v2(\.\d+)?$/, '');
  }

  async call(method: string, url: string, init: { json?: unknown; body?: Buffer; headers?: Record<string, string> } = {}): Promise<Response> {
    const headers: Record<string, string> = { 'x-auth-token': this.token, accept: 'application/json', ...init.headers };
    let body: string | Blob | undefined = init.body ? new Blob([new Uint8Array(init.body)]) : undefined;
    if (init.json !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = JSON.stringify(init.json);
    }
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await fetch(url, { method, headers, body });
      } catch (error) {
        // Setup traffic only: a transient network error is retried (never for createImage).
        if (attempt >= 3 || (method === 'POST' && /\/action$/.test(url))) throw error;
        await sleep(200 * (attempt + 1));
      }
    }
  }

  async json<T>(method: string, url: string, init: { json?: unknown; headers?: Record<string, string> } = {}, ok = [200]): Promise<T> {
    const response = await this.call(method, url, init);
    if (!ok.includes(response.status)) throw new Error(`${method} ${url}: ${response.status} ${(await response.text()).slice(0, 500)}`);
    return (await response.json()) as T;
  }

  // --- Nova

  async serverByName(name: string): Promise<{ id: string; name: string; status: string; 'OS-EXT-STS:task_state': string | null } | undefined> {
    const body = await this.json<{ servers: { id: string; name: string; status: string; 'OS-EXT-STS:task_state': string | null }[] }>(
      'GET',
      `${this.nova}/servers/detail?name=${encodeURIComponent(`^${name}$`)}`,
    );
    return body.servers.find((s) => s.name === name);
  }

  async server(id: string): Promise<{ id: string; name: string; status: string; 'OS-EXT-STS:task_state': string | null } | undefined> {
    const response = await this.call('GET', `${this.nova}/servers/${id}`, { headers: { 'openstack-api-version': 'compute 2.45' } });
    if (response.status === 404) return undefined;
    if (response.status !== 200) throw new Error(`GET server ${id}: ${response.status}`);
    return ((await response.json()) as { server: { id: string; name: string; status: string; 'OS-EXT-STS:task_state': string | null } }).server;
  }

  async createServer(name: string, imageRef: string, flavorRef: string): Promise<string> {
    const body = await this.json<{ server: { id: string } }>(
      'POST',
      `${this.nova}/servers`,
      { json: { server: { name, imageRef, flavorRef, networks: 'none' } }, headers: { 'openstack-api-version': 'compute 2.37' } },
      [202],
    );
    return body.server.id;
  }

  async deleteServer(id: string): Promise<void> {
    const response = await this.call('DELETE', `${this.nova}/servers/${id}`);
    if (response.status !== 204 && response.status !== 404) throw new Error(`DELETE server ${id}: ${response.status}`);
  }

  /** Until the server is ACTIVE with no task_state (it can be snapshotted again). */
  async untilIdle(id: string, timeoutMs = 180_000): Promise<void> {
    const deadline = now() + timeoutMs;
    for (;;) {
      const s = await this.server(id);
      if (!s) throw new Error(`server ${id} is gone`);
      if (s.status === 'ERROR') throw new Error(`server ${id} is in ERROR`);
      if (s.status === 'ACTIVE' && !s['OS-EXT-STS:task_state']) return;
      if (now() > deadline) throw new Error(`server ${id} still ${s.status}/${s['OS-EXT-STS:task_state']} after ${timeoutMs} ms`);
      await sleep(250);
    }
  }

  /** createImage with microversion 2.45 (the image ID comes in the body). */
  async createImage(serverId: string, name: string, metadata: Record<string, string>): Promise<{ status: number; imageId?: string; text: string }> {
    const response = await this.call('POST', `${this.nova}/servers/${serverId}/action`, {
      json: { createImage: { name, metadata } },
      headers: { 'openstack-api-version': 'compute 2.45' },
    });
    const text = await response.text();
    let imageId: string | undefined;
    try {
      imageId = (JSON.parse(text) as { image_id?: string }).image_id;
    } catch {
      // not JSON (an error page)
    }
    return { status: response.status, imageId, text };
  }

  // --- Glance

  async image(id: string): Promise<Image | undefined> {
    const response = await this.call('GET', `${this.glance}/v2/images/${id}`);
    if (response.status === 404) return undefined;
    if (response.status !== 200) throw new Error(`GET image ${id}: ${response.status}`);
    return (await response.json()) as Image;
  }

  async images(query: Record<string, string>): Promise<Image[]> {
    const out: Image[] = [];
    let url: string | undefined = `${this.glance}/v2/images?${new URLSearchParams({ limit: '1000', ...query })}`;
    while (url) {
      const body: { images: Image[]; next?: string } = await this.json('GET', url);
      out.push(...body.images);
      url = body.next ? `${this.glance}${body.next}` : undefined;
    }
    return out;
  }

  async deleteImage(id: string): Promise<number> {
    const response = await this.call('DELETE', `${this.glance}/v2/images/${id}`);
    await response.arrayBuffer();
    if (![204, 404].includes(response.status)) throw new Error(`DELETE image ${id}: ${response.status}`);
    return response.status;
  }

  /**
   * A private, active 1-byte image with the given properties (POST /v2/images, then PUT the byte
   * with disk and container formats set): the cheapest image the action's prune will consider.
   */
  async tinyImage(name: string, properties: Record<string, string>): Promise<string> {
    const created = await this.json<{ id: string }>(
      'POST',
      `${this.glance}/v2/images`,
      { json: { name, disk_format: 'raw', container_format: 'bare', visibility: 'private', ...properties } },
      [201],
    );
    const response = await this.call('PUT', `${this.glance}/v2/images/${created.id}/file`, {
      body: Buffer.from('x'),
      headers: { 'content-type': 'application/octet-stream' },
    });
    await response.arrayBuffer();
    if (response.status !== 204) throw new Error(`PUT image ${created.id} data: ${response.status}`);
    return created.id;
  }
}

/** Run `fn` over `items` with at most `limit` in flight. */
export async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i]!, i);
      }
    }),
  );
  return results;
}
