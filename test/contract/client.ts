// The requests of src/openstack/*.ts, sent raw: the headers, microversions and paths the action
// uses, so that an answer's shape is checked as the action will read it.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { findEndpoint, type Interface } from '../../src/openstack/catalog.ts';
import { imageRoot } from '../../src/openstack/image.ts';
import { VOLUME_SERVICE_TYPES } from '../../src/openstack/volume.ts';
import type { Credentials, Target } from './target.ts';

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  /** Parsed JSON, else the text: untyped, since checking its shape is the point. */
  body: any;
}

/** The action's compute microversion (compute.ts). */
export const MICROVERSION = '2.45';

export async function send(method: string, url: string, opts: { token?: string; json?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
  const response = await fetch(url, {
    method,
    headers: {
      accept: 'application/json',
      ...(opts.token ? { 'x-auth-token': opts.token } : {}),
      ...(opts.json !== undefined ? { 'content-type': 'application/json' } : {}),
      ...opts.headers,
    },
    body: opts.json === undefined ? undefined : JSON.stringify(opts.json),
    redirect: 'manual',
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: kept as text (Glance's HTML, an empty 202)
  }
  return { status: response.status, headers: response.headers, text, body };
}

/** identity.ts's authentication bodies. */
export const passwordAuth = (c: Credentials, scope: unknown = { project: { name: c.projectName, domain: { name: c.projectDomainName } } }) => ({
  auth: { identity: { methods: ['password'], password: { user: { name: c.username, domain: { name: c.userDomainName }, password: c.password } } }, scope },
});
export const appcredAuth = (id: string, secret: string) => ({
  auth: { identity: { methods: ['application_credential'], application_credential: { id, secret } } },
});

/** A token and its catalog, and the services' requests as the action sends them. */
export class Session {
  readonly token: string;
  readonly projectId: string;
  readonly catalog: Parameters<typeof findEndpoint>[0];
  readonly #target: Target;

  private constructor(target: Target, token: string, body: { token: { project: { id: string }; catalog: Session['catalog'] } }) {
    this.#target = target;
    this.token = token;
    this.projectId = body.token.project.id;
    this.catalog = body.token.catalog;
  }

  static async open(target: Target): Promise<Session> {
    const answer = await send('POST', `${target.authUrl}/auth/tokens`, { json: passwordAuth(target.password) });
    assert.equal(answer.status, 201, answer.text);
    return new Session(target, answer.headers.get('x-subject-token')!, answer.body);
  }

  endpoint(types: readonly string[], region = this.#target.region, iface: Interface = 'public'): string {
    return findEndpoint(this.catalog, types, region, iface);
  }

  /** Nova at the action's microversion (null: none, the base version). */
  nova(method: string, path: string, opts: { json?: unknown; version?: string | null; region?: string } = {}): Promise<Answer> {
    const version = opts.version === undefined ? MICROVERSION : opts.version;
    return send(method, `${this.endpoint(['compute'], opts.region)}${path}`, {
      token: this.token,
      json: opts.json,
      headers: version ? { 'openstack-api-version': `compute ${version}` } : {},
    });
  }

  /** Glance, from the unversioned root (`next` links are paths from there). */
  glance(method: string, path: string, region?: string): Promise<Answer> {
    return send(method, `${imageRoot(this.endpoint(['image'], region))}${path}`, { token: this.token });
  }

  cinder(method: string, path: string): Promise<Answer> {
    return send(method, `${this.endpoint(VOLUME_SERVICE_TYPES)}${path}`, { token: this.token });
  }

  /** The one server of that exact name, as compute.ts finds it. */
  async serverNamed(name: string, region?: string): Promise<Answer['body']> {
    const answer = await this.nova('GET', `/servers/detail?${new URLSearchParams({ limit: '1000', name })}`, { region });
    assert.equal(answer.status, 200, answer.text);
    const matches = answer.body.servers.filter((s: { name: string }) => s.name === name);
    assert.equal(matches.length, 1, `one server named ${name}`);
    return matches[0];
  }

  async server(id: string): Promise<Answer['body']> {
    const answer = await this.nova('GET', `/servers/${id}`);
    assert.equal(answer.status, 200, answer.text);
    return answer.body.server;
  }

  async image(id: string): Promise<Answer['body'] | undefined> {
    const answer = await this.glance('GET', `/v2/images/${id}`);
    assert.ok(answer.status === 200 || answer.status === 404, answer.text);
    return answer.status === 200 ? answer.body : undefined;
  }

  /** createImage as compute.ts sends it, tagged so that the run's cleanup finds the image. */
  createImage(serverId: string, name: string, version?: string | null): Promise<Answer> {
    return this.nova('POST', `/servers/${serverId}/action`, {
      json: { createImage: { name: `${this.#target.tag}-${name}`, metadata: { osa_e2e_run: this.#target.tag } } },
      version,
    });
  }
}

/** Poll until `check` returns something (every 100 ms, at most `ms`). */
export async function until<T>(what: string, check: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await sleep(100);
  }
}

/**
 * Until `done` holds for the server (default: it has no task): the [task_state, status] it went
 * through before, in order.
 */
export async function watchTasks(
  session: Session,
  id: string,
  done: (server: Answer['body']) => boolean = (s) => s['OS-EXT-STS:task_state'] === null,
): Promise<{ seen: [string | null, string][]; server: Answer['body'] }> {
  const seen: [string | null, string][] = [];
  const server = await until(`server ${id} to be done`, async () => {
    const s = await session.server(id);
    if (done(s)) return s;
    const state: [string | null, string] = [s['OS-EXT-STS:task_state'], s.status];
    if (JSON.stringify(seen.at(-1)) !== JSON.stringify(state)) seen.push(state);
    return undefined;
  });
  return { seen, server };
}
