import type { Got } from 'got';
import type { Duplex, Readable } from 'node:stream';
import { linkedPages } from './client.ts';
import { OpenStackError, statusOf, type ApiError } from './errors.ts';

/** Glance v2 image statuses (an unknown one is kept as Glance gave it). */
export type ImageStatus = 'queued' | 'saving' | 'uploading' | 'importing' | 'active' | 'killed' | 'deleted' | 'pending_delete' | 'deactivated';

/**
 * A Glance image: base attributes typed, what Nova writes on a snapshot decoded, and of everything
 * else only the properties `P` the caller named. A long listing keeps these few fields per image,
 * never Glance's bodies.
 */
export interface Image<P extends string = never> {
  id: string;
  name: string | null;
  status: ImageStatus;
  createdAt: Date;
  size: number | null;
  /** The root disk it needs, in GiB (Glance's min_disk). */
  minDisk: number;
  /** The memory it needs, in MiB (Glance's min_ram). */
  minRam: number;
  protected: boolean;
  owner: string | null;
  /** Nova's `image_type`: `snapshot` on an instance snapshot. */
  imageType: string | null;
  /** Nova's `instance_uuid`: the instance an image-backed snapshot was taken of. */
  instanceUuid: string | null;
  /** Nova's `bdm_v2` flag: `block_device_mapping` is in the v2 format (a volume-backed instance's snapshot). */
  bdmV2: boolean;
  /** The Cinder snapshots behind a volume-backed snapshot (its block_device_mapping): deleting the image alone leaks them. */
  volumeSnapshotIds: string[];
  /** The attributes and properties the caller named, as Glance sent them; one the image lacks is absent. */
  properties: Readonly<Partial<Record<P, unknown>>>;
}

/** Nova lists a volume-backed snapshot's Cinder snapshots in `block_device_mapping`, a JSON string. */
function snapshotIdsOf(mapping: unknown): string[] {
  if (typeof mapping !== 'string' || !mapping) return [];
  try {
    const devices = JSON.parse(mapping) as { snapshot_id?: string | null }[];
    return Array.isArray(devices) ? devices.flatMap((device) => (device?.snapshot_id ? [device.snapshot_id] : [])) : [];
  } catch {
    return [];
  }
}

function toImage<P extends string = never>(body: Record<string, unknown>, properties: readonly P[] = []): Image<P> {
  const text = (value: unknown) => (typeof value === 'string' ? value : null);
  const kept: Partial<Record<P, unknown>> = {};
  for (const key of properties) if (key in body) kept[key] = body[key];
  return {
    id: String(body.id),
    name: text(body.name),
    status: String(body.status) as ImageStatus,
    createdAt: new Date(String(body.created_at)),
    size: typeof body.size === 'number' ? body.size : null,
    minDisk: typeof body.min_disk === 'number' ? body.min_disk : 0,
    minRam: typeof body.min_ram === 'number' ? body.min_ram : 0,
    protected: body.protected === true,
    owner: text(body.owner),
    imageType: text(body.image_type),
    instanceUuid: text(body.instance_uuid),
    bdmV2: String(body.bdm_v2).toLowerCase() === 'true',
    volumeSnapshotIds: snapshotIdsOf(body.block_device_mapping),
    properties: kept,
  };
}

interface ImagePage {
  images: Record<string, unknown>[];
  next?: string;
}

/** Glance's own page cap (api_limit_max): the fewest pages for a long listing. */
const PAGE_SIZE = 1000;

/**
 * The endpoint without its version: Glance's `next` links are paths from there (`/v2/images?…`),
 * and catalogs list Glance either bare (OVH) or with /v2.
 */
export function imageRoot(endpoint: string): string {
  return endpoint.replace(/\/+$/, '').replace(/\/v2(\.\d+)?$/, '');
}

/**
 * Glance's filter for exactly this name, or none when Glance would read the name as an operator
 * (`in:a,b`, `gte:x`): the caller compares names itself anyway.
 */
export function exactNameFilter(name: string): Record<string, string> {
  return /^(in|eq|neq|gt|gte|lt|lte):/.test(name) ? {} : { name };
}

/** Glance's import methods (`GET /v2/info/import`): `glance-direct`, `web-download`, `copy-image`, `glance-download`… */
export interface ImportInfo {
  methods: string[];
}

/** An image's data could not be read or written in full: `stage` says which side, `status` the answer (if any). */
export class ImageDataError extends OpenStackError {
  override name = 'ImageDataError';
  readonly stage: 'download' | 'upload';
  readonly status: number | undefined;
  constructor(message: string, stage: 'download' | 'upload', status: number | undefined, options?: ErrorOptions) {
    super(message, options);
    this.stage = stage;
    this.status = status;
  }
}

/** Image data moves for as long as it takes, but a connection silent this long is dead. */
const DATA_IDLE_MS = 120_000;

export class ImageService {
  readonly #http: Got;
  readonly root: string;

  constructor(http: Got, endpoint: string) {
    this.#http = http;
    this.root = imageRoot(endpoint);
  }

  /** The image with the named `properties`, or undefined once Glance no longer has it. */
  async get<P extends string = never>(id: string, properties: readonly P[] = [], signal?: AbortSignal): Promise<Image<P> | undefined> {
    try {
      return toImage((await this.#http<Record<string, unknown>>(`${this.root}/v2/images/${encodeURIComponent(id)}`, { signal })).body, properties);
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  /**
   * Every image matching Glance's server-side `query` (exact base attributes and custom
   * properties, `created_at=gte:…`, `sort`), page after page, each with the named `properties`.
   */
  list<P extends string = never>(query: Record<string, string>, properties: readonly P[] = []): AsyncIterable<Image<P>> {
    const search = new URLSearchParams({ limit: String(PAGE_SIZE), ...query });
    return linkedPages<Image<P>, ImagePage>(
      this.#http,
      `${this.root}/v2/images?${search}`,
      (page) => page.images.map((body) => toImage(body, properties)),
      // `next` is a path from the unversioned root (also under a prefix such as devstack's /image).
      (page) => (page.next ? new URL(`${this.root}${page.next}`) : undefined),
    );
  }

  /** Several images in one request (Glance's `id=in:` filter): those Glance still has, by ID. */
  async some<P extends string = never>(ids: readonly string[], properties: readonly P[] = []): Promise<Map<string, Image<P>>> {
    const found = new Map<string, Image<P>>();
    for await (const image of this.list({ id: `in:${ids.join(',')}` }, properties)) if (ids.includes(image.id)) found.set(image.id, image);
    return found;
  }

  async listAll<P extends string = never>(query: Record<string, string>, properties: readonly P[] = []): Promise<Image<P>[]> {
    const images: Image<P>[] = [];
    for await (const image of this.list(query, properties)) images.push(image);
    return images;
  }

  /** The image with every attribute and property Glance sends (what a copy of it keeps), or undefined once Glance no longer has it. */
  async getAll(id: string, signal?: AbortSignal): Promise<Image<string> | undefined> {
    try {
      const { body } = await this.#http<Record<string, unknown>>(`${this.root}/v2/images/${encodeURIComponent(id)}`, { signal });
      return toImage(body, Object.keys(body));
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  /**
   * Create an image record (no data yet) with the ID the caller chose: a request whose answer was
   * lost is sent again and, once Glance has the image (409, or an answer lost again), the image is
   * read back instead of a second one being made. `reused`: an earlier attempt made it.
   */
  async createWithId(id: string, fields: Record<string, unknown>, signal?: AbortSignal): Promise<{ image: Image<string>; reused: boolean }> {
    const url = `${this.root}/v2/images`;
    for (let attempt = 0; ; attempt++) {
      try {
        const { body } = await this.#http.post<Record<string, unknown>>(url, { json: { ...fields, id }, signal, retry: { limit: 0 } });
        return { image: toImage(body, Object.keys(body)), reused: attempt > 0 };
      } catch (error) {
        if (signal?.aborted) throw error;
        const status = statusOf(error);
        const lost = status === undefined || status >= 500;
        if (status === 409 || (lost && attempt < 4)) {
          // Made by an earlier attempt (409), or maybe by this one (no answer, or a 5xx after Glance acted).
          const made = await this.getAll(id, signal);
          if (made) return { image: made, reused: true };
          if (status === 409) throw error;
          await new Promise((resolve) => setTimeout(resolve, 1000 * 2 ** attempt));
          continue;
        }
        throw error;
      }
    }
  }

  /**
   * The image's data as a stream (`GET /v2/images/{id}/file`), read as fast as the consumer takes
   * it (backpressure). Errors are ImageDataError (stage download).
   */
  download(id: string, signal?: AbortSignal): Readable {
    return this.#http.stream(`${this.root}/v2/images/${encodeURIComponent(id)}/file`, {
      headers: { accept: 'application/octet-stream' },
      timeout: { connect: 15_000, response: 60_000, socket: DATA_IDLE_MS, request: undefined },
      retry: { limit: 0 },
      signal,
    });
  }

  /**
   * Where to write the image's data (`PUT /v2/images/{id}/file`): a duplex that takes the bytes as
   * fast as Glance does and whose readable side is Glance's answer.
   */
  upload(id: string, size: number | null, signal?: AbortSignal): Duplex {
    return this.#http.stream.put(`${this.root}/v2/images/${encodeURIComponent(id)}/file`, {
      headers: { 'content-type': 'application/octet-stream', ...(size !== null ? { 'content-length': String(size) } : {}) },
      timeout: { connect: 15_000, response: DATA_IDLE_MS, socket: DATA_IDLE_MS, request: undefined },
      retry: { limit: 0 },
      signal,
    });
  }

  /** The import methods this Glance offers (`GET /v2/info/import`); none when it has no such API. */
  async importInfo(): Promise<ImportInfo> {
    try {
      const { body } = await this.#http<{ 'import-methods'?: { value?: unknown } }>(`${this.root}/v2/info/import`);
      const value = body['import-methods']?.value;
      return { methods: Array.isArray(value) ? value.map(String) : [] };
    } catch (error) {
      if (statusOf(error) === 404) return { methods: [] };
      throw error;
    }
  }

  /**
   * Delete one image: 'missing' when it was already gone. Glance's 403 (protected, or not this
   * user's) and 409 (in use) are ApiError and ConflictError: neither goes away by trying again.
   */
  async delete(id: string): Promise<'deleted' | 'missing'> {
    try {
      await this.#http.delete(`${this.root}/v2/images/${encodeURIComponent(id)}`);
      return 'deleted';
    } catch (error) {
      // A 404 to a retry means the attempt whose answer was lost did the deleting.
      if (statusOf(error) === 404) return (error as ApiError).retried ? 'deleted' : 'missing';
      throw error;
    }
  }

  /** Set these properties on the image (JSON patch `add`, which replaces a property that is there: RFC 6902, as Glance does). */
  async setProperties(id: string, properties: Record<string, string>): Promise<void> {
    const patch = Object.entries(properties).map(([key, value]) => ({ op: 'add', path: `/${key}`, value }));
    await this.#http.patch(`${this.root}/v2/images/${encodeURIComponent(id)}`, {
      body: JSON.stringify(patch),
      headers: { 'content-type': 'application/openstack-images-v2.1-json-patch' },
    });
  }
}
