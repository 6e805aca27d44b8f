import type { Got, RequestError } from 'got';
import { linkedPages } from './client.ts';
import { MANAGED_BY, Property } from '../constants.ts';
import { ActionError, statusOf } from './errors.ts';
import { volumeSnapshotIds } from './volume.ts';

/** A Glance v2 image: base attributes, and custom properties at the top level. */
export interface Image {
  id: string;
  name: string | null;
  status: string;
  created_at: string;
  updated_at: string;
  size: number | null;
  protected: boolean;
  visibility: string;
  owner: string | null;
  [property: string]: unknown;
}

/**
 * The instances the image says it is a snapshot of: this action's property and Nova's. Both are
 * anyone's to edit in the project, so an image is one instance's only when every one names it.
 */
export function recordedInstances(image: Image): string[] {
  return [...new Set([image[Property.InstanceId], image.instance_uuid].filter((id): id is string => typeof id === 'string' && id !== ''))];
}

export const isManaged = (image: Image) => image[Property.ManagedBy] === MANAGED_BY;

/**
 * A snapshot of an instance: Nova's mark on an image-backed one, the block device mapping of a
 * volume-backed one, or this action's mark. Anything else (an uploaded image) is not ours to delete.
 */
export function isInstanceSnapshot(image: Image): boolean {
  return image.image_type === 'snapshot' || isManaged(image) || (String(image.bdm_v2).toLowerCase() === 'true' && volumeSnapshotIds(image).length > 0);
}

interface ImagePage {
  images: Image[];
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
      return (await this.#http<Image>(`${this.root}/v2/images/${encodeURIComponent(id)}`, { signal })).body;
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
      (page) => page.images,
      // `next` is a path from the unversioned root (also under a prefix such as devstack's /image).
      (page) => (page.next ? new URL(`${this.root}${page.next}`) : undefined),
    );
  }

  async listAll(query: Record<string, string>): Promise<Image[]> {
    const images: Image[] = [];
    for await (const image of this.list(query)) images.push(image);
    return images;
  }

  /**
   * Delete one image. 'missing' when it was already gone. Glance's 403 (protected) and 409 (in use)
   * become errors that say what to do: neither goes away by trying again.
   */
  async delete(image: Pick<Image, 'id' | 'name'>): Promise<'deleted' | 'missing'> {
    try {
      await this.#http.delete(`${this.root}/v2/images/${encodeURIComponent(image.id)}`);
      return 'deleted';
    } catch (error) {
      const status = statusOf(error);
      const label = `image ${image.id}${image.name ? ` (${image.name})` : ''}`;
      // A 404 to a retry means the attempt whose answer was lost did the deleting.
      if (status === 404) return (error as RequestError).request?.retryCount ? 'deleted' : 'missing';
      if (status === 403) {
        throw new ActionError(
          `Glance refused to delete ${label}: it is protected (or this user may not delete it). Unprotect it first (openstack image set --unprotected ${image.id}) if it really should go`,
          { cause: error },
        );
      }
      if (status === 409) {
        throw new ActionError(
          `Glance refused to delete ${label}: it is in use (for example an instance or volume was created from it and still exists). Delete or rebuild what uses it, then retry`,
          { cause: error },
        );
      }
      throw error;
    }
  }
}

