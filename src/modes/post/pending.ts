import { isUuid } from '../../openstack/compute.ts';
import type { CreateResult } from '../create/create.ts';
import type { FleetResult } from '../fleet.ts';

/** The name of the one GITHUB_STATE entry the main step leaves the post step. */
export const PENDING_STATE = 'uploading';

/**
 * A snapshot the main step left uploading: IDs and a time only. GITHUB_STATE is a file on the
 * runner that later steps can read, so no token, password or secret ever goes there: the post
 * step logs in again.
 */
export interface Pending {
  imageId: string;
  serverId: string;
  /** When the disk was seen captured (ms since the epoch). */
  capturedAt: number;
}

/** The snapshots a create left uploading (wait: captured), of one server or a fleet. */
export function pendingOf(result: CreateResult | FleetResult<{ mode: string }> | undefined): Pending[] {
  const results =
    result?.mode === 'fleet' ? result.items.flatMap((item) => (item.result?.mode === 'create' ? [item.result as CreateResult] : [])) : result ? [result] : [];
  return results.flatMap((r) => (r.uploading && r.capturedAt ? [{ imageId: r.image.id, serverId: r.server.id, capturedAt: r.capturedAt.getTime() }] : []));
}

/** The state as written; what the post step reads back is checked again (a state file is not to be trusted more than an input). */
export const encodePending = (pending: readonly Pending[]) => JSON.stringify(pending.map((p) => [p.imageId, p.serverId, p.capturedAt]));

export function decodePending(text: string): Pending[] {
  if (!text) return [];
  const rows: unknown = JSON.parse(text);
  if (!Array.isArray(rows)) throw new Error('the state of the main step is not a list');
  return rows.map((row: unknown) => {
    if (!Array.isArray(row)) throw new Error('the state of the main step is malformed');
    const [imageId, serverId, capturedAt] = row as unknown[];
    if (typeof imageId !== 'string' || !isUuid(imageId) || typeof serverId !== 'string' || !isUuid(serverId) || typeof capturedAt !== 'number') {
      throw new Error('the state of the main step names something that is not a snapshot and an instance');
    }
    return { imageId, serverId, capturedAt };
  });
}
