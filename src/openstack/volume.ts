import type { Got } from 'got';
import { linkedPages } from './client.ts';
import { statusOf } from './errors.ts';

/** Catalog types of Cinder v3 (keystoneauth treats volumev3 as an alias of block-storage). */
export const VOLUME_SERVICE_TYPES = ['block-storage', 'volumev3'] as const;

/** A Cinder snapshot, as far as deciding whether it may be deleted needs. */
export interface VolumeSnapshot {
  id: string;
  name: string | null;
  status: string;
  volumeId: string;
  /** Shown to admins only (`os-extended-snapshot-attributes:project_id`). */
  projectId?: string;
}

/** A Cinder volume: what it was created from, and who has it attached. */
export interface Volume {
  id: string;
  snapshotId: string | null;
  serverIds: string[];
  status?: string;
  metadata?: Record<string, string>;
  createdAt?: Date;
}

interface SnapshotBody {
  id: string;
  name: string | null;
  status: string;
  volume_id: string;
  'os-extended-snapshot-attributes:project_id'?: string;
}
interface VolumeBody {
  id: string;
  snapshot_id?: string | null;
  attachments?: { server_id?: string }[];
  status?: string;
  metadata?: Record<string, string>;
  created_at?: string;
}

const toVolume = (v: VolumeBody): Volume => ({
  id: v.id,
  snapshotId: v.snapshot_id ?? null,
  serverIds: (v.attachments ?? []).flatMap((a) => (a.server_id ? [a.server_id] : [])),
  ...(v.status ? { status: v.status } : {}),
  metadata: v.metadata ?? {},
  // Cinder's times have no zone: they are UTC.
  ...(v.created_at ? { createdAt: new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(v.created_at) ? v.created_at : `${v.created_at}Z`) } : {}),
});
interface Link {
  rel: string;
  href: string;
}

const nextLink = (links: Link[] | undefined) => {
  const next = links?.find((link) => link.rel === 'next')?.href;
  return next ? new URL(next) : undefined;
};

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
      const pages = linkedPages<SnapshotBody, { snapshots: SnapshotBody[]; snapshots_links?: Link[] }>(
        this.#http,
        `${this.#endpoint}/snapshots?${new URLSearchParams({ volume_id: volumeId, limit: '1000' })}`,
        (page) => page.snapshots,
        (page) => nextLink(page.snapshots_links),
      );
      for await (const snapshot of pages) ids.add(snapshot.id);
    }
    return ids;
  }

  /** The snapshot, or undefined when Cinder has none of that ID (in this project). */
  async getSnapshot(id: string): Promise<VolumeSnapshot | undefined> {
    try {
      const body = (await this.#http<{ snapshot: SnapshotBody }>(`${this.#endpoint}/snapshots/${encodeURIComponent(id)}`)).body.snapshot;
      return { id: body.id, name: body.name, status: body.status, volumeId: body.volume_id, projectId: body['os-extended-snapshot-attributes:project_id'] };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  /** Every volume of the project (Cinder lets no user filter on snapshot_id, so the caller does). */
  async volumes(): Promise<Volume[]> {
    const volumes: Volume[] = [];
    const pages = linkedPages<VolumeBody, { volumes: VolumeBody[]; volumes_links?: Link[] }>(
      this.#http,
      `${this.#endpoint}/volumes/detail?limit=1000`,
      (page) => page.volumes,
      (page) => nextLink(page.volumes_links),
    );
    for await (const v of pages) volumes.push(toVolume(v));
    return volumes;
  }

  /** The volume, or undefined once Cinder has none of that ID. */
  async getVolume(id: string, signal?: AbortSignal): Promise<Volume | undefined> {
    try {
      return toVolume((await this.#http<{ volume: VolumeBody }>(`${this.#endpoint}/volumes/${encodeURIComponent(id)}`, { signal })).body.volume);
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  /** Add these metadata pairs to the volume (the others are kept). */
  async tagVolume(id: string, metadata: Record<string, string>): Promise<void> {
    await this.#http.post(`${this.#endpoint}/volumes/${encodeURIComponent(id)}/metadata`, { json: { metadata } });
  }

  /** Delete a volume; 'missing' when it was already gone. Cinder refuses (400) one that is still attached or busy. */
  async deleteVolume(id: string): Promise<'deleted' | 'missing'> {
    try {
      await this.#http.delete(`${this.#endpoint}/volumes/${encodeURIComponent(id)}`);
      return 'deleted';
    } catch (error) {
      if (statusOf(error) === 404) return 'missing';
      throw error;
    }
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
