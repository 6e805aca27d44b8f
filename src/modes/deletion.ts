import type { Cloud } from '../openstack/cloud.ts';
import type { Image } from '../openstack/image.ts';
import { log, t } from '../log.ts';
import type { Planned } from './safety.ts';

type Outcome = 'deleted' | 'missing' | 'would-delete';

export interface Deletion {
  image: Image;
  /** 'would-delete' under dry-run: nothing was sent. */
  outcome: Outcome;
  /** 'kept': not Nova's for this image, or still used (`reason`); never sent a DELETE. */
  volumeSnapshots: { id: string; outcome: Outcome | 'failed' | 'kept'; reason?: string }[];
}

/**
 * Delete a snapshot image, then the Cinder snapshots Nova made for it (Glance does not know them,
 * so deleting the image alone leaves them billed). The image goes first: if it cannot be deleted,
 * its volume snapshots must stay for it to remain usable. Under dry run nothing is sent.
 */
export async function deleteSnapshot(cloud: Cloud, { image, volumeSnapshots: snapshots }: Planned, dryRun: boolean): Promise<Deletion> {
  const label = t`${image.id} "${image.name ?? ''}"`;
  const kept = snapshots.filter((s) => s.keep).map((s) => ({ id: s.id, outcome: 'kept' as const, reason: s.keep! }));
  for (const s of kept) log.warning(t`Volume snapshot ${s.id} named by image ${label} is left alone: ${s.reason}`);
  const doomed = snapshots.filter((s) => !s.keep).map((s) => s.id);
  if (dryRun) {
    log.info(t`Dry run: would delete image ${label}${doomed.length ? t` and volume snapshots ${doomed.join(', ')}` : ''}`);
    return { image, outcome: 'would-delete', volumeSnapshots: [...doomed.map((id) => ({ id, outcome: 'would-delete' as const })), ...kept] };
  }
  const outcome = await (await cloud.images()).delete(image);
  log.info(outcome === 'deleted' ? t`Deleted image ${label}` : t`Image ${label} was already gone`);
  const volumeSnapshots: Deletion['volumeSnapshots'] = [];
  if (doomed.length) {
    const volumes = await cloud.volumes();
    for (const id of doomed) {
      try {
        const result = await volumes.deleteSnapshot(id);
        log.info(result === 'deleted' ? t`Deleted volume snapshot ${id} of image ${image.id}` : t`Volume snapshot ${id} of image ${image.id} was already gone`);
        volumeSnapshots.push({ id, outcome: result });
      } catch (error) {
        log.warning(t`Could not delete volume snapshot ${id} of image ${image.id}: ${error}. Delete it with: openstack volume snapshot delete ${id}`);
        volumeSnapshots.push({ id, outcome: 'failed', reason: String((error as Error).message) });
      }
    }
  }
  return { image, outcome, volumeSnapshots: [...volumeSnapshots, ...kept] };
}
