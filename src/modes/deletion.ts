import * as core from '@actions/core';
import type { Cloud } from '../openstack/cloud.ts';
import type { Image } from '../openstack/image.ts';
import { volumeSnapshotIds } from '../openstack/volume.ts';

export interface Deletion {
  image: Image;
  /** 'would-delete' under dry-run: nothing was sent. */
  outcome: 'deleted' | 'missing' | 'would-delete';
  volumeSnapshots: { id: string; outcome: 'deleted' | 'missing' | 'would-delete' | 'failed'; error?: string }[];
}

/**
 * Delete a snapshot image, then the Cinder snapshots a volume-backed one stands on (Glance does
 * not know them, so deleting the image alone leaves them billed). The image goes first: if it
 * cannot be deleted, its volume snapshots must stay for it to remain usable.
 */
export async function deleteSnapshot(cloud: Cloud, image: Image, dryRun: boolean): Promise<Deletion> {
  const label = `${image.id} (${image.name ?? 'no name'})`;
  const snapshotIds = volumeSnapshotIds(image);
  if (dryRun) {
    core.info(`Dry run: would delete image ${label}${snapshotIds.length ? ` and volume snapshots ${snapshotIds.join(', ')}` : ''}`);
    return { image, outcome: 'would-delete', volumeSnapshots: snapshotIds.map((id) => ({ id, outcome: 'would-delete' })) };
  }
  const outcome = await (await cloud.images()).delete(image);
  core.info(outcome === 'deleted' ? `Deleted image ${label}` : `Image ${label} was already gone`);
  const volumeSnapshots: Deletion['volumeSnapshots'] = [];
  if (snapshotIds.length) {
    const volumes = await cloud.volumes().catch((error: Error) => error);
    for (const id of snapshotIds) {
      try {
        if (volumes instanceof Error) throw volumes;
        const result = await volumes.deleteSnapshot(id);
        core.info(result === 'deleted' ? `Deleted volume snapshot ${id} of image ${image.id}` : `Volume snapshot ${id} of image ${image.id} was already gone`);
        volumeSnapshots.push({ id, outcome: result });
      } catch (error) {
        const message = (error as Error).message;
        core.warning(`Could not delete volume snapshot ${id} of image ${image.id}: ${message}. Delete it with: openstack volume snapshot delete ${id}`);
        volumeSnapshots.push({ id, outcome: 'failed', error: message });
      }
    }
  }
  return { image, outcome, volumeSnapshots };
}
