import type { Got } from 'got';
import { linkedPages } from './client.ts';
import { statusOf } from './errors.ts';

/** Catalog types of Cinder v3 (keystoneauth treats volumev3 as an alias of block-storage). */
export const VOLUME_SERVICE_TYPES = ['block-storage', 'volumev3'] as const;

/**
 * The Cinder snapshots behind a volume-backed instance's snapshot image: Nova lists them in the
 * image's `block_device_mapping` property, a JSON string. Deleting the image alone leaks them.
 */
export function volumeSnapshotIds(image: Record<string, unknown>): string[] {
  const mapping = image.block_device_mapping;
  if (typeof mapping !== 'string' || !mapping) return [];
  try {
    const devices = JSON.parse(mapping) as { snapshot_id?: string | null }[];
    return Array.isArray(devices) ? devices.flatMap((device) => (device?.snapshot_id ? [device.snapshot_id] : [])) : [];
  } catch {
    return [];
  }
}

export class VolumeService {
  readonly #http: Got;
  readonly #endpoint: string;

  constructor(http: Got, endpoint: string) {
    this.#http = http;
    this.#endpoint = endpoint;
  }

  /** The IDs of every snapshot of these volumes, page after page. */
  async snapshotIdsOf(volumeIds: readonly string[]): Promise<Set<string>> {
    const ids = new Set<string>();
    for (const volumeId of volumeIds) {
      const pages = linkedPages<{ id: string }, { snapshots: { id: string }[]; snapshots_links?: { rel: string; href: string }[] }>(
        this.#http,
        `${this.#endpoint}/snapshots?${new URLSearchParams({ volume_id: volumeId, limit: '1000' })}`,
        (page) => page.snapshots,
        (page) => {
          const next = page.snapshots_links?.find((link) => link.rel === 'next')?.href;
          return next ? new URL(next) : undefined;
        },
      );
      for await (const snapshot of pages) ids.add(snapshot.id);
    }
    return ids;
  }

  /** Delete a volume snapshot; 'missing' when it was already gone. */
  async deleteSnapshot(id: string): Promise<'deleted' | 'missing'> {
    try {
      await this.#http.delete(`${this.#endpoint}/snapshots/${encodeURIComponent(id)}`);
      return 'deleted';
    } catch (error) {
      if (statusOf(error) === 404) return 'missing';
      throw error;
    }
  }
}
