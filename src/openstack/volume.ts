import type { Got } from 'got';
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
