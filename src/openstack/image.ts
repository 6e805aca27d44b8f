import type { Got } from 'got';
import { linkedPages } from './client.ts';
import { MANAGED_BY, Property } from '../lib/constants.ts';
import { statusOf, type ApiError } from './errors.ts';

/** Glance v2 image statuses (an unknown one is kept as Glance gave it). */
export type ImageStatus = 'queued' | 'saving' | 'uploading' | 'importing' | 'active' | 'killed' | 'deleted' | 'pending_delete' | 'deactivated';

/** A Glance image as the action reads it: base attributes typed, what the properties say decoded. */
export interface Image {
  id: string;
  name: string | null;
  status: ImageStatus;
  createdAt: Date;
  size: number | null;
  /** The root disk it needs, in GiB (Glance's min_disk). */
  minDisk: number;
  protected: boolean;
  owner: string | null;
  /**
   * The instances the image says it is a snapshot of: this action's property and Nova's. Both are
   * anyone's to edit in the project, so an image is one instance's only when every one names it.
   */
  instances: string[];
  /** This action made it (its managed_by property). */
  managed: boolean;
  /** Restore took it of the server just before rebuilding it (snapshot-before): the image it then restored. */
  beforeRestoreOf: string | null;
  /**
   * A snapshot of an instance: Nova's mark on an image-backed one, the block device mapping of a
   * volume-backed one, or this action's mark. Anything else (an uploaded image) is not ours to delete.
   */
  instanceSnapshot: boolean;
  /** The Cinder snapshots behind a volume-backed snapshot (its block_device_mapping): deleting the image alone leaks them. */
  volumeSnapshotIds: string[];
  /** Every attribute and property as Glance sent it: what a listing's filters are checked against. */
  properties: Readonly<Record<string, unknown>>;
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

function toImage(body: Record<string, unknown>): Image {
  const volumeSnapshotIds = snapshotIdsOf(body.block_device_mapping);
  const managed = body[Property.ManagedBy] === MANAGED_BY;
  const text = (value: unknown) => (typeof value === 'string' ? value : null);
  return {
    id: String(body.id),
    name: text(body.name),
    status: String(body.status) as ImageStatus,
    createdAt: new Date(String(body.created_at)),
    size: typeof body.size === 'number' ? body.size : null,
    minDisk: typeof body.min_disk === 'number' ? body.min_disk : 0,
    protected: body.protected === true,
    owner: text(body.owner),
    instances: [...new Set([body[Property.InstanceId], body.instance_uuid].filter((id): id is string => typeof id === 'string' && id !== ''))],
    managed,
    beforeRestoreOf: text(body[Property.BeforeRestoreOf]) || null,
    instanceSnapshot: body.image_type === 'snapshot' || managed || (String(body.bdm_v2).toLowerCase() === 'true' && volumeSnapshotIds.length > 0),
    volumeSnapshotIds,
    properties: body,
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

export class ImageService {
  readonly #http: Got;
  readonly root: string;

  constructor(http: Got, endpoint: string) {
    this.#http = http;
    this.root = imageRoot(endpoint);
  }

  /** The image, or undefined once Glance no longer has it. */
  async get(id: string, signal?: AbortSignal): Promise<Image | undefined> {
    try {
      return toImage((await this.#http<Record<string, unknown>>(`${this.root}/v2/images/${encodeURIComponent(id)}`, { signal })).body);
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  /**
   * Every image matching Glance's server-side `query` (exact base attributes and custom
   * properties, `created_at=gte:…`, `sort`), page after page.
   */
  list(query: Record<string, string>): AsyncIterable<Image> {
    const search = new URLSearchParams({ limit: String(PAGE_SIZE), ...query });
    return linkedPages<Image, ImagePage>(
      this.#http,
      `${this.root}/v2/images?${search}`,
      (page) => page.images.map(toImage),
      // `next` is a path from the unversioned root (also under a prefix such as devstack's /image).
      (page) => (page.next ? new URL(`${this.root}${page.next}`) : undefined),
    );
  }

  /** Several images in one request (Glance's `id=in:` filter): those Glance still has, by ID. */
  async some(ids: readonly string[]): Promise<Map<string, Image>> {
    const found = new Map<string, Image>();
    for await (const image of this.list({ id: `in:${ids.join(',')}` })) if (ids.includes(image.id)) found.set(image.id, image);
    return found;
  }

  async listAll(query: Record<string, string>): Promise<Image[]> {
    const images: Image[] = [];
    for await (const image of this.list(query)) images.push(image);
    return images;
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
}
