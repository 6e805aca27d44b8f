import type { Got } from 'got';
import { linkedPages } from './client.ts';
import { AmbiguousError, NotFoundError, ProtocolError, statusOf } from './errors.ts';

export interface Server {
  id: string;
  name: string;
  status: string;
  taskState: string | null;
  /** Its project (Nova's `tenant_id`): an admin login is shown any project's server by its ID. */
  projectId?: string;
  /** Booted from a volume: its snapshot is Cinder snapshots plus an empty image. */
  volumeBacked: boolean;
  /** Attached volumes: Nova names the snapshots of a volume-backed server only through them. */
  volumeIds: string[];
  /** The image an image-backed server was booted from (or last rebuilt with). */
  imageId?: string;
  flavorId?: string;
  /** Why Nova put the server in ERROR (its `fault.message`). */
  fault?: string;
  metadata: Record<string, string>;
  /** Nova server tags (shown from microversion 2.26; undefined below it). */
  tags?: string[];
  /** When Nova made it. */
  createdAt?: Date;
}

/** A flavor, as a boot needs it: memory in MiB, root disk in GiB (0: the image's size). */
export interface Flavor {
  id: string;
  name: string;
  ram: number;
  disk: number;
  vcpus: number;
}

/** What a new server is made of: no key pair, no user data; `networks: "none"` unless a network is named. */
export interface ServerRequest {
  name: string;
  imageRef: string;
  flavorRef: string;
  /** A network's ID, or none at all (microversion 2.37). */
  networkId?: string;
  metadata: Record<string, string>;
}

interface ServerBody {
  id: string;
  name: string;
  status: string;
  tenant_id?: string;
  image?: unknown;
  flavor?: { id?: string };
  fault?: { message?: string };
  metadata?: Record<string, string>;
  tags?: string[];
  'OS-EXT-STS:task_state'?: string | null;
  'os-extended-volumes:volumes_attached'?: { id: string }[];
  created?: string;
}

interface ServerPage {
  servers: ServerBody[];
  servers_links?: { rel: string; href: string }[];
}

/** From 2.45 createImage answers `{"image_id"}`; before it, only a Location header names the image. */
const IMAGE_ID_MICROVERSION = '2.45';
const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
/** An OpenStack resource ID (Nova and Glance accept the hyphens left out). */
export const isUuid = (value: string) => UUID.test(value);
/**
 * Retries for an action that must not be done twice: only after failures that prove Nova never
 * saw it (connection refused, a name that did not resolve, and 429, which a rate limiter answers first).
 */
const SENT_ONCE = { limit: 4, methods: ['POST' as const], statusCodes: [429], errorCodes: ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN'] };
/** Characters that mean something to Nova's name filter: a regex on MySQL/PostgreSQL, LIKE elsewhere. */
const FILTER_SPECIAL = /[\\^$.|?*+()[\]{}%_]/;

function toServer(body: ServerBody): Server {
  return {
    id: body.id,
    name: body.name,
    status: body.status,
    taskState: body['OS-EXT-STS:task_state'] ?? null,
    projectId: body.tenant_id,
    // Nova shows "" (not an image reference) for a server booted from a volume.
    volumeBacked: !body.image || (typeof body.image === 'object' && !(body.image as { id?: string }).id),
    volumeIds: (body['os-extended-volumes:volumes_attached'] ?? []).map((volume) => volume.id),
    imageId: typeof body.image === 'object' && body.image ? (body.image as { id?: string }).id : undefined,
    flavorId: body.flavor?.id,
    fault: body.fault?.message,
    metadata: body.metadata ?? {},
    tags: body.tags,
    ...(body.created ? { createdAt: new Date(body.created) } : {}),
  };
}

/**
 * The longest run of the name that every backend of Nova's `?name=` filter reads literally: the
 * filter then returns a superset of the exact matches whatever the database, and the exact match
 * is made here.
 */
export function literalFragment(name: string): string {
  return name.split(FILTER_SPECIAL).reduce((longest, part) => (part.length > longest.length ? part : longest), '');
}

/** What Nova recorded of one server action (os-instance-actions). */
export interface InstanceAction {
  requestId: string;
  /** Nova's message for the action ("Error" when an event failed). */
  message: string | null;
  events: { event: string; result: string | null; details: string | null }[];
  /** The microversion Nova showed it at. */
  microversion: string;
}

interface InstanceActionBody {
  action: string;
  request_id: string;
  start_time: string;
  message?: string | null;
  events?: { event: string; result?: string | null; details?: string | null }[];
}

interface FlavorBody {
  id: string;
  name: string;
  ram: number;
  disk: number;
  vcpus: number;
}
const toFlavor = (body: FlavorBody): Flavor => ({ id: body.id, name: body.name, ram: body.ram, disk: body.disk, vcpus: body.vcpus });
/** `networks: "none"` needs 2.37; a server create asks for it itself (an old Nova's fallback to 2.1 would make it a 400). */
const NO_NETWORK_MICROVERSION = '2.37';

/** Event details from 2.84, events for a non-admin from 2.51, and the base version last. */
const ACTION_MICROVERSIONS = ['2.84', '2.51', '2.1'];
/** The microversion a request asks for itself (its got context), instead of the client's. */
const askedFor = (context: Record<string, unknown>) => (typeof context.microversion === 'string' ? context.microversion : undefined);

export class Compute {
  readonly #http: Got;
  readonly #endpoint: string;
  /** Learnt from the first 406: an old Nova (OVH still has some at 2.38) gets no microversion. */
  #microversion: string | undefined = IMAGE_ID_MICROVERSION;

  constructor(http: Got, endpoint: string) {
    this.#endpoint = endpoint;
    this.#http = http.extend({
      hooks: {
        beforeRequest: [
          (options) => {
            const version = askedFor(options.context) ?? this.#microversion;
            if (version) options.headers['openstack-api-version'] = `compute ${version}`;
            else delete options.headers['openstack-api-version'];
          },
        ],
        afterResponse: [
          (response, retryWithMergedOptions) => {
            // Nova refuses an unknown microversion with 406 before acting: fall back to the base version, once.
            // A request that asked for its own microversion handles the 406 itself.
            if (response.statusCode !== 406 || !this.#microversion || askedFor(response.request.options.context)) return response;
            this.#microversion = undefined;
            return retryWithMergedOptions({});
          },
        ],
      },
    });
  }

  get microversion(): string {
    return this.#microversion ?? '2.1';
  }

  async getServer(id: string, signal?: AbortSignal): Promise<Server | undefined> {
    try {
      return toServer((await this.#http<{ server: ServerBody }>(`${this.#endpoint}/servers/${encodeURIComponent(id)}`, { signal })).body.server);
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  /** Every server of the project that Nova's `query` matches (a superset: callers check exactly), page after page. */
  async *servers(query: Record<string, string> = {}, signal?: AbortSignal): AsyncIterable<Server> {
    const pages = linkedPages<ServerBody, ServerPage>(
      this.#http,
      `${this.#endpoint}/servers/detail?${new URLSearchParams({ limit: '1000', ...query })}`,
      (page) => page.servers,
      // Nova builds the link from its own idea of its URL: only the marker is taken from it.
      (page) => {
        const next = page.servers_links?.find((link) => link.rel === 'next')?.href;
        return next ? new URL(`${this.#endpoint}/servers/detail${new URL(next).search}`) : undefined;
      },
      signal,
    );
    for await (const body of pages) yield toServer(body);
  }

  /** The one server whose ID or exact name is `nameOrId`: NotFoundError or AmbiguousError otherwise. */
  async findServer(nameOrId: string): Promise<Server> {
    if (isUuid(nameOrId)) {
      const server = await this.getServer(nameOrId);
      if (server) return server;
    }
    const matches: Server[] = [];
    const fragment = literalFragment(nameOrId);
    for await (const server of this.servers(fragment ? { name: fragment } : {})) if (server.name === nameOrId) matches.push(server);
    const [only, ...others] = matches;
    if (!only) throw new NotFoundError('server', nameOrId);
    if (!others.length) return only;
    throw new AmbiguousError(
      'server',
      nameOrId,
      matches.map((server) => server.id),
    );
  }

  /**
   * Nova's createImage, sent once (SENT_ONCE). Anything else is left to the caller, which knows
   * how to look for an image an ambiguous failure may have created.
   */
  async createImage(serverId: string, name: string, metadata: Record<string, string>, timeoutMs: number): Promise<string> {
    const response = await this.#http.post<{ image_id?: string } | string>(`${this.#endpoint}/servers/${encodeURIComponent(serverId)}/action`, {
      json: { createImage: { name, metadata } },
      timeout: { request: timeoutMs },
      retry: SENT_ONCE,
    });
    const body = response.body;
    const fromBody = typeof body === 'object' && body ? body.image_id : undefined;
    const fromLocation = response.headers.location?.split('/').pop();
    const imageId = fromBody ?? fromLocation;
    if (!imageId) throw new ProtocolError(`Nova accepted the snapshot of ${serverId} but named no image (no image_id, no Location header)`);
    return imageId;
  }

  /**
   * Nova's rebuild of an image-backed server with `imageRef`. Sent once, like createImage: a
   * rebuild whose answer was lost is looked for on the server, never sent again.
   */
  async rebuild(serverId: string, imageRef: string): Promise<void> {
    await this.#http.post(`${this.#endpoint}/servers/${encodeURIComponent(serverId)}/action`, {
      json: { rebuild: { imageRef } },
      retry: SENT_ONCE,
    });
  }

  /** os-stop or os-start: Nova answers 202 and acts; sending either again to a server already there is refused with 409, never done twice. */
  async power(serverId: string, action: 'os-stop' | 'os-start'): Promise<void> {
    await this.#http.post(`${this.#endpoint}/servers/${encodeURIComponent(serverId)}/action`, { json: { [action]: null }, retry: SENT_ONCE });
  }

  /**
   * What Nova recorded of the server's newest createImage (its instance actions): the request,
   * and each event's result (shown to a non-admin from 2.51), with Nova's words for a failure
   * where the policy shows them (event `details` from 2.84, admin-only by default). Undefined when Nova shows none.
   */
  async lastSnapshotAction(serverId: string): Promise<InstanceAction | undefined> {
    const base = `${this.#endpoint}/servers/${encodeURIComponent(serverId)}/os-instance-actions`;
    for (const microversion of ACTION_MICROVERSIONS) {
      try {
        const context = { microversion };
        const list = (await this.#http<{ instanceActions: InstanceActionBody[] }>(base, { context })).body.instanceActions;
        const newest = list.filter((action) => action.action === 'createImage').sort((a, b) => b.start_time.localeCompare(a.start_time))[0];
        if (!newest) return undefined;
        const detail = (await this.#http<{ instanceAction: InstanceActionBody }>(`${base}/${encodeURIComponent(newest.request_id)}`, { context })).body
          .instanceAction;
        return {
          requestId: detail.request_id,
          message: detail.message ?? null,
          events: (detail.events ?? []).map((event) => ({ event: event.event, result: event.result ?? null, details: event.details ?? null })),
          microversion,
        };
      } catch (error) {
        // Below the microversion Nova refuses it before acting (406): try the next one down.
        if (statusOf(error) !== 406) throw error;
      }
    }
    return undefined;
  }

  /** The root disk of a flavor in GiB (0: the size of the image, as for volume-backed flavors). */
  async flavorDiskGb(flavorId: string): Promise<number> {
    return (await this.#http<{ flavor: { disk: number } }>(`${this.#endpoint}/flavors/${encodeURIComponent(flavorId)}`)).body.flavor.disk;
  }

  /** The flavor of this ID, else the one of this exact name (NotFoundError, AmbiguousError otherwise). */
  async findFlavor(nameOrId: string): Promise<Flavor> {
    try {
      return toFlavor((await this.#http<{ flavor: FlavorBody }>(`${this.#endpoint}/flavors/${encodeURIComponent(nameOrId)}`)).body.flavor);
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
    const flavors = (await this.#http<{ flavors: FlavorBody[] }>(`${this.#endpoint}/flavors/detail`)).body.flavors.filter((f) => f.name === nameOrId);
    const [only, ...others] = flavors;
    if (!only) throw new NotFoundError('flavor', nameOrId);
    if (others.length)
      throw new AmbiguousError(
        'flavor',
        nameOrId,
        flavors.map((f) => f.id),
      );
    return toFlavor(only);
  }

  /**
   * Boot a server, sent once (SENT_ONCE): a create whose answer was lost is looked for by its
   * metadata by the caller, never sent again. Returns the new server's ID.
   */
  async createServer(request: ServerRequest): Promise<string> {
    const body = {
      server: {
        name: request.name,
        imageRef: request.imageRef,
        flavorRef: request.flavorRef,
        networks: request.networkId ? [{ uuid: request.networkId }] : 'none',
        metadata: request.metadata,
      },
    };
    const response = await this.#http.post<{ server: { id: string } }>(`${this.#endpoint}/servers`, {
      json: body,
      retry: SENT_ONCE,
      context: { microversion: NO_NETWORK_MICROVERSION },
    });
    const id = response.body?.server?.id;
    if (!id) throw new ProtocolError('Nova accepted the server but named none (no server.id)');
    return id;
  }

  /** Delete a server: 'missing' when it was already gone. Nova deletes in the background: look until getServer finds none. */
  async deleteServer(id: string): Promise<'deleted' | 'missing'> {
    try {
      await this.#http.delete(`${this.#endpoint}/servers/${encodeURIComponent(id)}`);
      return 'deleted';
    } catch (error) {
      if (statusOf(error) === 404) return 'missing';
      throw error;
    }
  }

  /**
   * The last lines of the server's console log (os-getConsoleOutput), or the status Nova refused
   * it with (404 or 501: this cloud's driver serves none; 409: not yet).
   */
  async consoleOutput(id: string, lines = 200, signal?: AbortSignal): Promise<{ output: string } | { refused: number }> {
    try {
      const response = await this.#http.post<{ output?: string }>(`${this.#endpoint}/servers/${encodeURIComponent(id)}/action`, {
        json: { 'os-getConsoleOutput': { length: lines } },
        signal,
      });
      return { output: typeof response.body?.output === 'string' ? response.body.output : '' };
    } catch (error) {
      const status = statusOf(error);
      if (status === 400 || status === 404 || status === 409 || status === 501) return { refused: status };
      throw error;
    }
  }
}
