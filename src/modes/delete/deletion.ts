import type { Cloud } from '../../openstack/cloud.ts';
import { ConflictError, statusOf } from '../../openstack/errors.ts';
import type { Image, ImageService } from '../../openstack/image.ts';
import { log, t } from '../../lib/log.ts';
import { StepError } from '../outcome.ts';
import type { Planned } from './guard.ts';

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
  for (const s of kept) log.warning(t`Volume snapshot ${s.id} named by snapshot ${label} is left alone: ${s.reason}`);
  const doomed = snapshots.filter((s) => !s.keep).map((s) => s.id);
  if (dryRun) {
    log.info(t`Dry run: would delete snapshot ${label}${doomed.length ? t` and volume snapshots ${doomed.join(', ')}` : ''}`);
    return { image, outcome: 'would-delete', volumeSnapshots: [...doomed.map((id) => ({ id, outcome: 'would-delete' as const })), ...kept] };
  }
  const outcome = await deleteImage(await cloud.images(), image);
  log.info(outcome === 'deleted' ? t`Deleted snapshot ${label}` : t`Snapshot ${label} was already gone`);
  const volumeSnapshots: Deletion['volumeSnapshots'] = [];
  if (doomed.length) {
    const volumes = await cloud.volumes();
    for (const id of doomed) {
      try {
        const result = await volumes.deleteSnapshot(id);
        log.info(
          result === 'deleted' ? t`Deleted volume snapshot ${id} of snapshot ${image.id}` : t`Volume snapshot ${id} of snapshot ${image.id} was already gone`,
        );
        volumeSnapshots.push({ id, outcome: result });
      } catch (error) {
        log.warning(t`Could not delete volume snapshot ${id} of snapshot ${image.id}: ${error}. Delete it with: openstack volume snapshot delete ${id}`);
        volumeSnapshots.push({ id, outcome: 'failed', reason: error instanceof Error ? error.message : String(error) });
      }
    }
  }
  return { image, outcome, volumeSnapshots: [...volumeSnapshots, ...kept] };
}

/** Glance's DELETE, with its refusals in words: neither a protected image nor one in use goes away by trying again. */
async function deleteImage(images: ImageService, image: Image): Promise<'deleted' | 'missing'> {
  try {
    return await images.delete(image.id);
  } catch (error) {
    const label = `snapshot ${image.id}${image.name ? ` (${image.name})` : ''}`;
    if (statusOf(error) === 403) {
      throw new StepError(
        `Glance refused to delete ${label}: it is protected (or this user may not delete it). Unprotect it first (openstack image set --unprotected ${image.id}) if it really should go`,
        { cause: error },
      );
    }
    if (error instanceof ConflictError) {
      throw new StepError(
        `Glance refused to delete ${label}: it is in use (for example an instance or volume was created from it and still exists). Delete or rebuild what uses it, then retry`,
        { cause: error },
      );
    }
    throw error;
  }
}
